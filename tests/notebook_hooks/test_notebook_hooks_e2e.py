"""The hooks as users get them: installed by real pre-commit, run by git commit/pull/checkout."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from notebook_hooks_support import (
    code_sources,
    git,
    install_hooks,
    make_notebook,
    printed_commands,
    read_notebook,
    run_printed,
    tree,
    write_notebook,
)

MakeRepo = Callable[..., Path]


def commit(repo: Path, message: str, *args: str) -> tuple[int, str]:
    proc = git(repo, "commit", "-m", message, *args, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def commit_following_hints(repo: Path, message: str, *args: str) -> str:
    """`git commit`, which must fail with hints; run them; commit again, which must succeed."""
    code, out = commit(repo, message, *args)
    assert code == 1, out
    commands = printed_commands(out)
    assert commands, out
    for command in commands:
        run_printed(repo, command)
    code, out = commit(repo, message)
    assert code == 0, out
    return out


def test_a_new_users_notebooks_reach_the_commit_as_scripts_only(make_user_repo: MakeRepo) -> None:
    repo = make_user_repo("new-user")
    write_notebook(repo / "analysis.ipynb", make_notebook(["x = 1"]))
    write_notebook(repo / "data prep/été 2024.ipynb", make_notebook(["y = 2"]))
    write_notebook(repo / ".ipynb_checkpoints/analysis-checkpoint.ipynb", make_notebook(["z"]))
    write_notebook(repo / "raw.ipynb", make_notebook(["r = 0"], kernel_display=None))

    code, out = commit(repo, "Add the analysis")

    assert code == 1
    assert "notebooks-to-py" in out and "Failed" in out
    assert "run: git add -- analysis.py 'data prep/été 2024.py' raw.py" in out
    commit_following_hints(repo, "Add the analysis")
    assert tree(repo) == [
        ".gitignore",
        ".pre-commit-config.yaml",
        "README.md",
        "analysis.py",
        "data prep/été 2024.py",
        "raw.py",
    ]

    # An edited notebook: its script is refreshed and must be staged again.
    write_notebook(repo / "analysis.ipynb", make_notebook(["x = 1", "x + 41"]))
    commit_following_hints(repo, "Extend the analysis", "--allow-empty")
    assert "x + 41" in git(repo, "show", "HEAD:analysis.py").stdout

    # Re-saved by a newer jupytext, with another kernel display name: no churn at all.
    resaved = make_notebook(
        ["x = 1", "x + 41"], kernel_display="conda_python3", jupytext_version="1.99.0"
    )
    write_notebook(repo / "analysis.ipynb", resaved)
    code, out = commit(repo, "Nothing to see", "--allow-empty")
    assert code == 0, out
    assert git(repo, "status", "--porcelain").stdout == ""


def test_a_staged_notebook_is_refused_until_only_its_script_is_committed(
    make_user_repo: MakeRepo,
) -> None:
    repo = make_user_repo("no-gitignore", gitignore=False)
    write_notebook(repo / "model.ipynb", make_notebook(["fit()"]))
    git(repo, "add", "model.ipynb")

    code, out = commit(repo, "Add the model")

    assert code == 1
    assert "git rm --cached --quiet -- model.ipynb" in out
    assert "echo '*.ipynb' >> .gitignore && git add .gitignore" in out
    commit_following_hints(repo, "Add the model")
    assert "model.ipynb" not in tree(repo)
    assert "model.py" in tree(repo)
    assert (repo / "model.ipynb").exists()


def test_a_corrupt_notebook_blocks_the_commit_with_one_line(make_user_repo: MakeRepo) -> None:
    repo = make_user_repo("corrupt")
    (repo / "broken.ipynb").write_text("{")
    write_notebook(repo / "fine.ipynb", make_notebook(["ok = True"]))

    code, out = commit(repo, "Try")

    assert code == 1
    mentions = [line for line in out.splitlines() if "broken.ipynb" in line]
    assert len(mentions) == 1
    assert mentions[0].startswith("notebooks-to-py: error: broken.ipynb: not valid JSON")
    assert (repo / "fine.py").exists()


@pytest.fixture
def team(tmp_path: Path, make_user_repo: MakeRepo) -> tuple[Path, Path]:
    """Alice (hooks installed) and Bob (a clone, hooks installed too) sharing a bare origin."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    alice = make_user_repo("alice")
    git(alice, "remote", "add", "origin", str(origin))
    write_notebook(alice / "report.ipynb", make_notebook(["x = 1", "y = 2"]))
    commit_following_hints(alice, "Add the report")
    git(alice, "push", "-q", "-u", "origin", "main")
    git(tmp_path, "clone", "-q", str(origin), str(tmp_path / "bob"))
    bob = tmp_path / "bob"
    install_hooks(bob)
    return alice, bob


def bob_changes_the_script(
    bob: Path, old: str, new: str, extra: dict[str, str] | None = None
) -> None:
    path = bob / "report.py"
    path.write_text(path.read_text().replace(old, new))
    for name, text in (extra or {}).items():
        (bob / name).write_text(text)
    git(bob, "add", "-A")
    code, out = commit(bob, "Tune the report")
    assert code == 0, out
    git(bob, "push", "-q")


def test_a_pull_rebuilds_the_notebook_with_its_outputs(team: tuple[Path, Path]) -> None:
    alice, bob = team
    bob_changes_the_script(
        bob, "y = 2", "y = 3", extra={"train.py": "# %%\ndef train():\n    return 1\n"}
    )

    pull = git(alice, "pull", "-q")

    said = pull.stdout + pull.stderr
    assert "Failed" not in said
    # pre-commit shows a passing hook's output only when the hook is verbose: one line names it.
    assert [line for line in said.splitlines() if "report.ipynb" in line] == [
        "py-to-notebooks: report.ipynb rebuilt from the .py (outputs of unchanged cells kept)"
    ]
    notebook = read_notebook(alice / "report.ipynb")
    nbformat.validate(notebook)
    assert code_sources(notebook) == ["x = 1", "y = 3"]
    assert notebook.cells[1].outputs[0]["text"] == "output 1\n"
    # The changed cell's old output ("output 2", from y = 2) would show what it no longer does.
    assert notebook.cells[2].outputs == []
    assert notebook.cells[2].execution_count is None
    assert not (alice / "train.ipynb").exists()  # a plain module stays a module
    assert (alice / "train.py").read_text() == "# %%\ndef train():\n    return 1\n"
    code, out = commit(alice, "Nothing new", "--allow-empty")  # in sync: no churn, no hint
    assert code == 0, out
    assert git(alice, "status", "--porcelain").stdout == ""


def test_a_local_unsaved_notebook_edit_survives_a_pull(team: tuple[Path, Path]) -> None:
    alice, bob = team
    write_notebook(alice / "report.ipynb", make_notebook(["x = 1", "y = 'my new idea'"]))
    mine = (alice / "report.ipynb").read_bytes()
    bob_changes_the_script(bob, "x = 1", "x = 10")

    pull = git(alice, "pull", "-q")

    assert (alice / "report.ipynb").read_bytes() == mine
    said = pull.stdout + pull.stderr
    assert "report.ipynb has edits that are not in report.py at ORIG_HEAD" in said
    assert "git-credential-sagemaker-py-to-notebooks --overwrite report.py" in said
    code, out = commit(alice, "Try to commit the stale notebook", "--allow-empty")
    assert code == 1
    assert "report.ipynb and report.py were both edited" in out
    assert "x = 10" in (alice / "report.py").read_text()


def test_a_rebasing_pull_rebuilds_the_notebook(team: tuple[Path, Path]) -> None:
    alice, bob = team
    (alice / "NOTES.md").write_text("local note\n")
    git(alice, "add", "NOTES.md")
    assert commit(alice, "Add notes")[0] == 0
    bob_changes_the_script(bob, "x = 1", "x = 'rebased'")

    git(alice, "pull", "-q", "--rebase")

    assert code_sources(read_notebook(alice / "report.ipynb")) == ["x = 'rebased'", "y = 2"]


def test_switching_branches_switches_the_notebook(team: tuple[Path, Path]) -> None:
    alice, _ = team
    git(alice, "checkout", "-q", "-b", "experiment")
    write_notebook(alice / "report.ipynb", make_notebook(["x = 1", "y = 'experiment'"]))
    commit_following_hints(alice, "Try an experiment", "--allow-empty")

    git(alice, "checkout", "-q", "main")
    assert code_sources(read_notebook(alice / "report.ipynb")) == ["x = 1", "y = 2"]
    git(alice, "checkout", "-q", "experiment")
    notebook = read_notebook(alice / "report.ipynb")
    assert code_sources(notebook) == ["x = 1", "y = 'experiment'"]
    assert notebook.cells[1].outputs[0]["text"] == "output 1\n"
