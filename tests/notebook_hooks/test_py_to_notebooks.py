"""py-to-notebooks called in-process after real commits, merges and checkouts between refs."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from notebook_hooks_support import (
    code_sources,
    git,
    make_notebook,
    printed_commands,
    read_notebook,
    rebuilt,
    run_printed,
    write_notebook,
)

from git_credential_sagemaker.hooks import notebooks_to_py, py_to_notebooks

main = py_to_notebooks.main


def hook(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def commit_notebook(repo: Path, capsys: pytest.CaptureFixture[str], name: str = "a") -> str:
    """Save a notebook with outputs, commit its script as the pre-commit hook asks; return HEAD."""
    write_notebook(repo / f"{name}.ipynb", make_notebook(["x = 1", "y = 2"]))
    assert notebooks_to_py.main([]) == 1
    for command in printed_commands(capsys.readouterr().out):
        run_printed(repo, command)
    git(repo, "commit", "-q", "-m", f"Add {name}")
    return head(repo)


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").stdout.strip()


def commit_script_change(repo: Path, py: str, old: str, new: str) -> str:
    """A teammate's change to the script, committed; the local notebook is not touched."""
    path = repo / py
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    git(repo, "commit", "-q", "-am", f"Change {py}")
    return head(repo)


def test_a_pulled_change_rebuilds_the_notebook_and_keeps_its_outputs(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = commit_notebook(repo, capsys)
    after = commit_script_change(repo, "a.py", "y = 2\n", "y = 20\n\n# %%\nz = x + y\n")

    assert hook(capsys, "--from-ref", before, "--to-ref", after) == (0, rebuilt("a.ipynb"))

    notebook = read_notebook(repo / "a.ipynb")
    nbformat.validate(notebook)
    assert code_sources(notebook) == ["x = 1", "y = 20", "z = x + y"]
    assert notebook.cells[1].outputs[0]["text"] == "output 1\n"  # unchanged cell keeps output
    assert notebook.cells[1].execution_count == 1
    assert notebook.cells[2].outputs == []  # y = 2 became y = 20: "output 2" is stale
    assert notebook.cells[2].execution_count is None
    assert notebook.cells[3].outputs == []  # a new cell has none
    assert notebook.metadata["kernelspec"]["display_name"] == "Python 3 (ipykernel)"
    assert notebook.metadata["language_info"]["version"] == "3.11.7"
    # Back in sync: the next commit neither rewrites the pulled script nor complains.
    script = (repo / "a.py").read_bytes()
    assert notebooks_to_py.main([]) == 0
    assert (repo / "a.py").read_bytes() == script


def test_a_missing_notebook_is_created(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = commit_notebook(repo, capsys)
    (repo / "b.py").write_text((repo / "a.py").read_text().replace("x = 1", "b = 'new'"))
    git(repo, "add", "b.py")
    git(repo, "commit", "-q", "-m", "Add b")

    assert hook(capsys, "--from-ref", before, "--to-ref", head(repo)) == (0, rebuilt("b.ipynb"))

    notebook = read_notebook(repo / "b.ipynb")
    nbformat.validate(notebook)
    assert code_sources(notebook) == ["b = 'new'", "y = 2"]
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert notebook.metadata["kernelspec"]["display_name"]


def test_a_local_notebook_edit_is_never_overwritten(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = commit_notebook(repo, capsys)
    after = commit_script_change(repo, "a.py", "y = 2", "y = 'from upstream'")
    write_notebook(repo / "a.ipynb", make_notebook(["x = 1", "y = 'my unsaved idea'"]))
    local = (repo / "a.ipynb").read_bytes()

    code, out = hook(capsys, "--from-ref", before, "--to-ref", after)

    assert code == 1
    assert (repo / "a.ipynb").read_bytes() == local
    assert f"a.ipynb has edits that are not in a.py at {before}" in out
    assert "git-credential-sagemaker-notebooks-to-py --overwrite a.ipynb" in out
    assert "git-credential-sagemaker-py-to-notebooks --overwrite a.py" in out
    # The pre-commit hook does not quietly revert the pulled script from the stale notebook.
    assert notebooks_to_py.main([]) == 1
    assert "a.ipynb and a.py were both edited" in capsys.readouterr().out
    assert "from upstream" in (repo / "a.py").read_text()

    assert hook(capsys, "--overwrite", "a.py") == (0, rebuilt("a.ipynb"))
    assert code_sources(read_notebook(repo / "a.ipynb")) == ["x = 1", "y = 'from upstream'"]


def test_a_plain_module_is_never_turned_into_a_notebook(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = commit_notebook(repo, capsys)
    (repo / "train.py").write_text("# %%\ndef train():\n    return 1\n")
    (repo / "pkg").mkdir()
    (repo / "pkg/model.py").write_text("import os\n")
    git(repo, "add", "train.py", "pkg/model.py")
    git(repo, "commit", "-q", "-m", "Add the training module")

    assert hook(capsys, "--from-ref", before, "--to-ref", head(repo)) == (0, "")
    assert hook(capsys, "--all") == (0, "")

    assert sorted(p.name for p in repo.rglob("*.ipynb")) == ["a.ipynb"]


def test_a_merge_rebuilds_from_orig_head(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    commit_notebook(repo, capsys)
    git(repo, "checkout", "-q", "-b", "teammate")
    commit_script_change(repo, "a.py", "x = 1", "x = 'merged'")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "teammate")  # sets ORIG_HEAD, as `git pull` does

    assert hook(capsys) == (0, rebuilt("a.ipynb"))
    assert code_sources(read_notebook(repo / "a.ipynb"))[0] == "x = 'merged'"


def test_an_amend_rebuilds_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    commit_notebook(repo, capsys)
    git(repo, "checkout", "-q", "-b", "teammate")
    commit_script_change(repo, "a.py", "x = 1", "x = 'merged'")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "teammate")
    before = (repo / "a.ipynb").read_bytes()
    monkeypatch.setenv("PRE_COMMIT_REWRITE_COMMAND", "amend")

    assert hook(capsys) == (0, "")
    assert (repo / "a.ipynb").read_bytes() == before


def test_a_fresh_clone_creates_notebooks_for_jupytext_scripts_only(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    commit_notebook(repo, capsys)
    (repo / "train.py").write_text("print('train')\n")
    git(repo, "add", "train.py")
    git(repo, "commit", "-q", "-m", "Add train")
    (repo / "a.ipynb").unlink()

    assert hook(capsys, "--from-ref", "0" * 40, "--to-ref", head(repo)) == (0, rebuilt("a.ipynb"))

    assert sorted(p.name for p in repo.glob("*.ipynb")) == ["a.ipynb"]


def test_a_notebook_in_sync_with_an_unpushed_script_is_still_rebuilt(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A rebase first checks out upstream, then rewrites: the notebook matches neither old ref."""
    first = commit_notebook(repo, capsys)
    second = commit_script_change(repo, "a.py", "x = 1", "x = 2")
    assert hook(capsys, "--from-ref", first, "--to-ref", second) == (0, rebuilt("a.ipynb"))
    third = commit_script_change(repo, "a.py", "x = 2", "x = 3")

    assert hook(capsys, "--from-ref", first, "--to-ref", third) == (0, rebuilt("a.ipynb"))
    assert code_sources(read_notebook(repo / "a.ipynb"))[0] == "x = 3"


def test_the_pairing_config_singles_out_scripts_without_a_header(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "jupytext.toml").write_text('formats = "notebooks///ipynb,scripts///py:percent"\n')
    (repo / "scripts").mkdir()
    (repo / "scripts/explore.py").write_text("# %%\nimport math\n\n# %%\nmath.pi\n")
    (repo / "helpers.py").write_text("# %%\nVALUE = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Add scripts")

    assert hook(capsys, "--from-ref", "HEAD~1", "--to-ref", "HEAD") == (
        0,
        rebuilt("notebooks/explore.ipynb"),
    )

    assert code_sources(read_notebook(repo / "notebooks/explore.ipynb")) == [
        "import math",
        "math.pi",
    ]
    assert not (repo / "helpers.ipynb").exists()


def test_a_corrupt_local_notebook_is_left_alone_with_an_error(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = commit_notebook(repo, capsys)
    after = commit_script_change(repo, "a.py", "x = 1", "x = 5")
    (repo / "a.ipynb").write_text("{not json")

    code, out = hook(capsys, "--from-ref", before, "--to-ref", after)

    assert code == 1
    assert out.startswith("py-to-notebooks: error: a.py -> a.ipynb: not valid JSON")
    assert (repo / "a.ipynb").read_text() == "{not json"


def test_explicit_paths_must_be_scripts(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "notes.txt").write_text("hello")

    code, out = hook(capsys, "notes.txt", "missing.py")

    assert code == 1
    assert "notes.txt is not a .py script" in out
    assert "missing.py is not a .py script" in out


def test_cache_file_is_json_under_the_git_dir(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    commit_notebook(repo, capsys)
    data = json.loads((repo / ".git/git-credential-sagemaker/notebooks.json").read_text())
    assert data["notebooks"]["a.ipynb"][2] == "a.py"
    assert git(repo, "status", "--porcelain").stdout == ""


def test_only_cells_whose_code_is_unchanged_keep_their_outputs(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_notebook(repo / "a.ipynb", make_notebook(["a = 1", "b = 2", "c = 3", "d = 4"]))
    assert notebooks_to_py.main([]) == 1
    for command in printed_commands(capsys.readouterr().out):
        run_printed(repo, command)
    git(repo, "commit", "-q", "-m", "Add a")
    before = head(repo)
    # A teammate edits one cell, swaps two others, and leaves trailing spaces after one.
    text = (repo / "a.py").read_text()
    text = text.replace("a = 1", "a = 10").replace("c = 3", "@@C@@").replace("d = 4", "c = 3")
    text = text.replace("@@C@@", "d = 4").replace("b = 2", "b = 2   ")
    (repo / "a.py").write_text(text)
    git(repo, "commit", "-q", "-am", "Rework a")

    assert hook(capsys, "--from-ref", before, "--to-ref", head(repo)) == (0, rebuilt("a.ipynb"))

    notebook = read_notebook(repo / "a.ipynb")
    assert code_sources(notebook) == ["a = 10", "b = 2   ", "d = 4", "c = 3"]
    outputs = {c.source: [o["text"] for o in c.outputs] for c in notebook.cells[1:]}
    assert outputs == {
        "a = 10": [],  # changed: "output 1" came from a = 1
        "b = 2   ": ["output 2\n"],  # only whitespace changed
        "d = 4": ["output 4\n"],  # moved: the output follows its code
        "c = 3": ["output 3\n"],
    }
