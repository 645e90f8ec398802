"""Which `.py` pairs with which notebook, and in which jupytext format, from the repo's config.

The configuration is the one at the repository root (`jupytext.toml` and the other names jupytext
knows, or `[tool.jupytext]` in `pyproject.toml`), read as data by jupytext_config; configuration
in parent folders or the user's home is not the repository's and is ignored. With no
configuration, or one whose `formats` do not name a `.py`, a notebook `a/b.ipynb` pairs with
`a/b.py` in `py:percent`.

The text format always gets `-jupytext.text_representation.jupytext_version` appended to its
notebook metadata filter, so upgrading jupytext never rewrites a `.py`. A `py` format without a
name means `percent` whatever the jupytext version, for the same reason.

This module imports jupytext, so the hooks import it only once they know they must convert.
"""

from __future__ import annotations

import os
from typing import Any

from jupytext.formats import long_form_multiple_formats  # type: ignore[import-untyped]
from jupytext.paired_paths import base_path, paired_paths  # type: ignore[import-untyped]

from . import jupytext_config

Format = dict[str, Any]

DEFAULT_FORMAT: Format = {"extension": ".py", "format_name": "percent"}
VERSION_FILTER = "-jupytext.text_representation.jupytext_version"


def stable_metadata_filter(base: object) -> str:
    """The notebook metadata filter `base` (a jupytext filter string) plus the version exclusion."""
    parts = [p.strip() for p in base.split(",")] if isinstance(base, str) else []
    parts = [p for p in parts if p]
    if VERSION_FILTER not in parts:
        parts.append(VERSION_FILTER)
    return ",".join(parts)


def _relative(root: str, path: str) -> str:
    return os.path.relpath(path, root).replace(os.sep, "/")


class Pairing:
    def __init__(self, root: str):
        """Raises ConfigError (one line) for a configuration the hooks cannot or will not read."""
        self.root = root
        self.config: Any = jupytext_config.load(root)

    def _formats(self, abs_path: str) -> list[Format]:
        if self.config is None:
            return []
        paired = self.config.default_formats(abs_path)
        return list(long_form_multiple_formats(paired)) if paired else []

    def text_format(self, py_fmt: Format, notebook_metadata: Any = None) -> Format:
        """The jupytext format to write with: config's filter, else the notebook's, plus ours."""
        fmt: Format = {k: v for k, v in py_fmt.items() if k not in ("prefix", "suffix")}
        fmt.setdefault("format_name", "percent")
        base = getattr(self.config, "notebook_metadata_filter", None) if self.config else None
        if not base and notebook_metadata is not None:
            base = notebook_metadata.get("jupytext", {}).get("notebook_metadata_filter")
        fmt["notebook_metadata_filter"] = stable_metadata_filter(base)
        return fmt

    def py_for_notebook(self, notebook: str) -> tuple[str, Format]:
        """The paired `.py` (relative path) of a notebook and its format before filters."""
        abs_nb = os.path.join(self.root, notebook)
        formats = self._formats(abs_nb)
        nb_fmts = [f for f in formats if f.get("extension") == ".ipynb"]
        if nb_fmts and any(f.get("extension") == ".py" for f in formats):
            try:
                for path, fmt in paired_paths(abs_nb, nb_fmts[0], formats):
                    if fmt.get("extension") == ".py":
                        return _relative(self.root, path), dict(fmt)
            except Exception:  # noqa: S110 - an inconsistent path falls back to the default pair
                pass
        return notebook[: -len(".ipynb")] + ".py", dict(DEFAULT_FORMAT)

    def notebook_for_py(self, py: str) -> tuple[str, bool]:
        """The notebook paired with a `.py`, and whether the configuration singles this `.py` out.

        The configuration singles a `.py` out when its paired `.py` format has a prefix or suffix
        (e.g. `notebooks///ipynb,scripts///py:percent`) that this path matches: then the path
        alone says it is a notebook. A bare `ipynb,py` pairing would claim every module.
        """
        abs_py = os.path.join(self.root, py)
        formats = self._formats(abs_py)
        for fmt in formats:
            if fmt.get("extension") != ".py":
                continue
            try:
                base_path(abs_py, fmt)
                pairs = paired_paths(abs_py, fmt, formats)
            except Exception:  # noqa: S112 - this format does not match the path; try the next
                continue
            for path, other in pairs:
                if other.get("extension") == ".ipynb":
                    singled_out = bool(fmt.get("prefix") or fmt.get("suffix"))
                    return _relative(self.root, path), singled_out
        return py[: -len(".py")] + ".ipynb", False
