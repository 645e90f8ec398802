"""Notebook <-> text conversions with jupytext's Python API, in this one process.

* `load_notebook` reads an `.ipynb` (nbformat 4 only) and turns any problem into a one-line
  `NotebookError`.
* `notebook_to_text` writes the `.py` text, exactly as jupytext's own contents manager in
  JupyterLab writes it with the same configuration: outputs and execution counts never reach it
  (text formats hold inputs only), and the jupytext version is filtered out (see pairing; the
  `jupytext.toml` setup writes asks JupyterLab's jupytext for the same).
* `same_cells` tells two `.py` texts with the same cells apart from a real change: a `.py` that
  holds the notebook's cells is in sync whatever its header says (the kernel's display name,
  a jupytext version), so a header alone never makes the hooks rewrite it.
* `rebuild_notebook` turns `.py` text back into a notebook, keeping the cell ids and kernel
  display name of the existing notebook, like `jupytext --update`, and the outputs of the
  cells whose source is unchanged: a cell whose code changed loses its stale output.
* `inputs_text` is the canonical text of a notebook's cells only, to compare two notebooks'
  inputs whatever their metadata and outputs.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jupytext  # type: ignore[import-untyped]
from jupytext.combine import (  # type: ignore[import-untyped]
    combine_inputs_with_outputs,
    map_outputs_to_inputs,
)
from nbformat import NotebookNode
from nbformat.v4.nbjson import JSONReader

Format = dict[str, Any]


class NotebookError(Exception):
    """A notebook that cannot be read or converted; str() is a one-line reason."""


def load_notebook(data: bytes) -> NotebookNode:
    try:
        content = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise NotebookError(f"not UTF-8 text (byte {err.start})") from None
    except json.JSONDecodeError as err:
        raise NotebookError(
            f"not valid JSON ({err.msg} at line {err.lineno} column {err.colno})"
        ) from None
    if not isinstance(content, dict) or "nbformat" not in content:
        raise NotebookError("not a Jupyter notebook (no nbformat field)")
    if content["nbformat"] != 4:
        raise NotebookError(f"nbformat {content['nbformat']} is not supported, only nbformat 4")
    if not isinstance(content.get("cells"), list) or not isinstance(content.get("metadata"), dict):
        raise NotebookError("not a Jupyter notebook (no cells list or metadata)")
    try:
        notebook: NotebookNode = JSONReader().to_notebook(content)  # type: ignore[no-untyped-call]
    except Exception as err:
        raise NotebookError(f"malformed notebook ({err})") from None
    return notebook


def notebook_to_text(notebook: NotebookNode, fmt: Format, config: Any = None) -> str:
    try:
        text: str = jupytext.writes(notebook, fmt, config=config)
    except Exception as err:
        raise NotebookError(f"jupytext cannot convert it ({type(err).__name__}: {err})") from None
    return text if text.endswith("\n") else text + "\n"


def text_to_notebook(text: str, config: Any = None) -> NotebookNode:
    """Read `.py` text; the format comes from its header, else jupytext guesses it."""
    try:
        notebook: NotebookNode = jupytext.reads(text, fmt={"extension": ".py"}, config=config)
    except Exception as err:
        raise NotebookError(f"jupytext cannot read it ({type(err).__name__}: {err})") from None
    return notebook


def same_cells(one: bytes, other: bytes) -> bool:
    """Whether two `.py` texts hold the same cells, whatever their headers say."""
    try:
        first, second = text_to_notebook(one.decode()), text_to_notebook(other.decode())
        name = text_format_name(first)
        return name == text_format_name(second) and inputs_text(first, name) == inputs_text(
            second, name
        )
    except (NotebookError, UnicodeDecodeError):
        return False


def text_format_name(notebook: NotebookNode) -> str:
    """The format a notebook read from text was in (percent if the header does not say)."""
    rep = notebook.metadata.get("jupytext", {}).get("text_representation", {})
    name = rep.get("format_name")
    return name if isinstance(name, str) else "percent"


def inputs_text(notebook: NotebookNode, format_name: str) -> str:
    """The cells' inputs (type, source, metadata) as text, without header or outputs.

    The text is read back and written again once, so what a script cannot hold (a cell of
    spaces, say) is dropped on both sides of a comparison alike.
    """
    bare = copy.copy(notebook)
    bare.metadata = NotebookNode()  # type: ignore[no-untyped-call]
    fmt = {"extension": ".py", "format_name": format_name, "notebook_metadata_filter": "-all"}
    try:
        text: str = jupytext.writes(bare, fmt)
        again: str = jupytext.writes(jupytext.reads(text, fmt), fmt)
    except Exception as err:
        raise NotebookError(f"jupytext cannot convert it ({type(err).__name__}: {err})") from None
    return again


def _installed_display_name(name: str) -> str | None:
    """The display name of an installed kernel, when jupyter_client is there to ask."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager  # type: ignore[import-not-found,unused-ignore]

        display: Any = KernelSpecManager().get_kernel_spec(name).display_name
    except Exception:
        return None
    return display if isinstance(display, str) else None


def rebuild_notebook(source: NotebookNode, existing: NotebookNode | None) -> NotebookNode:
    """`source` (read from text) as a notebook, with `existing`'s outputs when there is one."""
    kernelspec = source.metadata.get("kernelspec")
    if existing is None:
        notebook = source
    else:
        matches = map_outputs_to_inputs(source.cells, existing.cells)
        combined: NotebookNode = combine_inputs_with_outputs(source, existing, {"extension": ".py"})
        _drop_stale_outputs(combined, existing, matches)
        notebook = combined
        old = existing.metadata.get("kernelspec")
        if (
            isinstance(kernelspec, dict)
            and isinstance(old, dict)
            and old.get("name") == kernelspec.get("name")
            and "display_name" in old
        ):
            notebook.metadata["kernelspec"] = {**kernelspec, "display_name": old["display_name"]}
            return notebook
    if isinstance(kernelspec, dict) and kernelspec.get("display_name") == kernelspec.get("name"):
        display = _installed_display_name(str(kernelspec.get("name")))
        if display:
            notebook.metadata["kernelspec"] = {**kernelspec, "display_name": display}
    return notebook


def _drop_stale_outputs(
    notebook: NotebookNode, existing: NotebookNode, matches: list[int | None]
) -> None:
    """Clear the outputs of code cells whose source changed: they show what it no longer does.

    jupytext also pairs a changed cell with the old one at its place (so ids and metadata
    survive an edit); only a cell whose code is the same, but for whitespace at line ends and
    around the cell, keeps its output.
    """
    for cell, j in zip(notebook.cells, matches):
        if cell.cell_type != "code":
            continue
        if j is not None and _code(existing.cells[j].source) == _code(cell.source):
            continue
        cell.outputs = []
        cell.execution_count = None


def _code(source: str) -> list[str]:
    return [line.rstrip() for line in source.strip().splitlines()]


def notebook_bytes(notebook: NotebookNode) -> bytes:
    text: str = jupytext.writes(notebook, fmt="ipynb")
    return (text if text.endswith("\n") else text + "\n").encode("utf-8")
