"""The hooks' pure parts: git output parsing, header recognition, and conversion without churn."""

from __future__ import annotations

import jupytext
import jupytext.config
from hypothesis import given, settings
from hypothesis import strategies as st
from notebook_hooks_support import make_notebook

from git_credential_sagemaker.hooks.convert import (
    inputs_text,
    notebook_to_text,
    rebuild_notebook,
    same_cells,
    text_to_notebook,
)
from git_credential_sagemaker.hooks.discover import parse_status, select_notebooks
from git_credential_sagemaker.hooks.header import has_jupytext_header
from git_credential_sagemaker.hooks.jupytext_config import CONFIG_FILE_NAMES
from git_credential_sagemaker.hooks.pairing import VERSION_FILTER, stable_metadata_filter
from git_credential_sagemaker.hooks.util import encode, zsplit

FMT = {"extension": ".py", "format_name": "percent", "notebook_metadata_filter": VERSION_FILTER}
names = st.text(st.characters(blacklist_characters="\0", blacklist_categories=["Cs"]), min_size=1)
# Python-like cells; a cell holding a cell marker (`# %%`) or an unclosed string is a
# different script by nature, so those characters are left out.
sources = st.lists(st.text(st.sampled_from("abxyz =+1()\n#"), max_size=30), min_size=1, max_size=5)


@given(st.lists(names, max_size=20))
def test_zsplit_returns_every_path_git_printed(paths: list[str]) -> None:
    raw = b"".join(encode(p) + b"\0" for p in paths)
    assert zsplit(raw) == paths


def test_zsplit_keeps_bytes_that_are_not_utf8() -> None:
    assert encode(zsplit(b"caf\xe9.ipynb\0")[0]) == b"caf\xe9.ipynb"


def test_parse_status_sorts_tracked_untracked_and_modified() -> None:
    status = parse_status(b"H a.py\0? new.py\0C a.py\0H b.py\0S sparse.py\0")
    assert status.tracked == {"a.py", "b.py", "sparse.py"}
    assert status.untracked == {"new.py"}
    assert status.modified == {"a.py"}
    assert status.unstaged("a.py") and status.unstaged("new.py") and status.unstaged("x.py")
    assert not status.unstaged("b.py")


def test_select_notebooks_drops_checkpoints_excludes_and_other_files() -> None:
    paths = [
        "a.ipynb",
        "a.py",
        ".ipynb_checkpoints/a-checkpoint.ipynb",
        "deep/.ipynb_checkpoints/b-checkpoint.ipynb",
        "scratch/x.ipynb",
        "b.ipynb",
        "a.ipynb",
    ]
    assert select_notebooks(paths, ["scratch/*"]) == ["a.ipynb", "b.ipynb"]


def test_config_names_are_the_ones_jupytext_looks_for() -> None:
    expected = [*jupytext.config.JUPYTEXT_CONFIG_FILES, jupytext.config.PYPROJECT_FILE]
    assert list(CONFIG_FILE_NAMES) == expected  # in order: the first that is a file wins


def test_stable_metadata_filter_adds_the_version_exclusion_once() -> None:
    assert stable_metadata_filter(None) == VERSION_FILTER
    assert stable_metadata_filter("-all") == f"-all,{VERSION_FILTER}"
    assert stable_metadata_filter(f"a, {VERSION_FILTER}") == f"a,{VERSION_FILTER}"


def test_header_recognition() -> None:
    text = notebook_to_text(make_notebook(["x = 1"]), FMT)
    assert has_jupytext_header(text)
    assert has_jupytext_header("#!/usr/bin/env python\n" + text)
    assert not has_jupytext_header("# %%\nimport os\n")
    assert not has_jupytext_header('"""Train the model."""\n# ---\n# jupyter:\n')
    assert not has_jupytext_header("# ---\n# title: not a notebook\n# ---\n")
    assert not has_jupytext_header("# ---\nimport os\n# jupyter:\n")


@settings(max_examples=25, deadline=None)
@given(
    sources,
    st.text(min_size=1, max_size=20),
    st.from_regex(r"1\.[0-9]{1,2}\.[0-9]", fullmatch=True),
    st.integers(0, 500),
)
def test_kernel_name_version_and_execution_counts_never_change_the_script(
    cells: list[str], display: str, version: str, offset: int
) -> None:
    base = notebook_to_text(make_notebook(cells), FMT)
    rerun = make_notebook(cells, jupytext_version=version, execution_offset=offset)
    assert notebook_to_text(rerun, FMT) == base
    # Another kernel display name is in the header, as JupyterLab's jupytext writes it; the
    # cells are the same, so the hooks keep the script as it is.
    renamed = notebook_to_text(make_notebook(cells, kernel_display=display), FMT)
    assert same_cells(renamed.encode(), base.encode())


@settings(max_examples=25, deadline=None)
@given(sources)
def test_a_script_rebuilds_into_a_notebook_with_the_same_inputs(cells: list[str]) -> None:
    notebook = make_notebook(cells)
    text = notebook_to_text(notebook, FMT)
    rebuilt = rebuild_notebook(text_to_notebook(text), notebook)
    assert inputs_text(rebuilt, "percent") == inputs_text(notebook, "percent")
    assert [c.get("outputs") for c in rebuilt.cells] == [c.get("outputs") for c in notebook.cells]
    # Whatever a script cannot hold (a cell of spaces) is gone after one trip, then stable.
    settled = notebook_to_text(rebuilt, FMT)
    again = rebuild_notebook(text_to_notebook(settled), rebuilt)
    assert notebook_to_text(again, FMT) == settled
    assert jupytext.reads(text, fmt="py:percent").metadata["kernelspec"]["name"] == "python3"
