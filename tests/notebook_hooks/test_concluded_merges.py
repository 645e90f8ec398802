"""A conflicted merge, rebase or cherry-pick, concluded by each route git offers, rebuilds the
notebooks: real git, real pre-commit (the hooks' environment built once per session), jupytext.

Alice and Bob both change `report.py`'s second cell; Bob also changes `summary.py`, which
merges cleanly. Whatever side the conflict is resolved to, the notebooks end up showing what
their `.py` holds, and the cells whose code did not change keep their outputs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from notebook_hooks_support import (
    code_sources,
    git,
    install_hooks,
    make_notebook,
    read_notebook,
    run,
    write_notebook,
)

from git_credential_sagemaker.provision import hookscripts

MakeRepo = Callable[..., Path]
Team = tuple[Path, Path]
NO_EDITOR = {"GIT_EDITOR": "true"}


def editor_env() -> dict[str, str]:
    """`--continue` opens no editor for the message."""
    return {**os.environ, **NO_EDITOR}


def commit_with_scripts(repo: Path, message: str) -> None:
    """Commit the notebooks: the hook writes their scripts, which are then staged."""
    git(repo, "commit", "-q", "-m", message, check=False)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def change_line(repo: Path, py: str, old: str, new: str) -> None:
    path = repo / py
    path.write_text(path.read_text().replace(old, new))


@pytest.fixture
def team(tmp_path: Path, make_user_repo: MakeRepo) -> Team:
    """Alice and Bob share an origin; Bob pushed `y = 'bob'` and a new summary, Alice committed
    `y = 'alice'` and has not pulled yet."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    alice = make_user_repo("alice")
    hookscripts.amend(alice, None, dry_run=False)  # what setup adds after `pre-commit install`
    git(alice, "remote", "add", "origin", str(origin))
    write_notebook(alice / "report.ipynb", make_notebook(["x = 1", "y = 2"]))
    write_notebook(alice / "summary.ipynb", make_notebook(["total = 0"]))
    commit_with_scripts(alice, "Add the report")
    git(alice, "push", "-q", "-u", "origin", "main")
    bob = tmp_path / "bob"
    git(tmp_path, "clone", "-q", str(origin), str(bob))
    install_hooks(bob)
    change_line(bob, "report.py", "y = 2", "y = 'bob'")
    change_line(bob, "summary.py", "total = 0", "total = 'bob'")
    git(bob, "commit", "-q", "-am", "Bob's report")
    git(bob, "push", "-q")
    write_notebook(alice / "report.ipynb", make_notebook(["x = 1", "y = 'alice'"]))
    commit_with_scripts(alice, "Alice's report")
    return alice, bob


def resolve(repo: Path, side: str) -> None:
    """`git checkout --ours/--theirs report.py && git add report.py`, as users resolve a
    conflict: the post-checkout hook, run while the conflict is open, must not fail the chain."""
    line = f"git checkout --{side} report.py && git add report.py"
    done = run(["sh", "-c", line], repo, check=False)
    said = done.stdout + done.stderr
    assert done.returncode == 0 and "Unmerged" not in said, said
    assert "report.py" not in git(repo, "diff", "--name-only", "--diff-filter=U").stdout


def assert_notebooks_follow_the_scripts(repo: Path, y: str) -> None:
    report = read_notebook(repo / "report.ipynb")
    assert code_sources(report) == ["x = 1", y]
    assert report.cells[1].outputs[0]["text"] == "output 1\n"  # x = 1 is unchanged: kept
    assert code_sources(read_notebook(repo / "summary.ipynb")) == ["total = 'bob'"]
    assert f"y = {y[4:]}" in (repo / "report.py").read_text()
    assert git(repo, "status", "--porcelain").stdout == ""


@pytest.mark.parametrize("side", ["theirs", "ours"])
@pytest.mark.parametrize("route", ["commit", "merge --continue"])
def test_a_conflicted_pull_concluded_rebuilds_the_notebooks(
    team: Team, side: str, route: str
) -> None:
    alice, _ = team
    pull = run(["git", "pull", "-q", "--no-rebase"], alice, check=False)
    assert pull.returncode != 0 and "CONFLICT" in pull.stdout + pull.stderr
    resolve(alice, side)

    if route == "commit":
        done = run(["git", "commit", "--no-edit"], alice, check=False)
    else:
        done = run(["git", "merge", "--continue"], alice, check=False, env=editor_env())
    assert done.returncode == 0, done.stdout + done.stderr

    assert_notebooks_follow_the_scripts(alice, "y = 'bob'" if side == "theirs" else "y = 'alice'")


def test_a_conflicted_rebase_continued_rebuilds_the_notebooks(team: Team) -> None:
    alice, _ = team
    pull = run(["git", "pull", "-q", "--rebase"], alice, check=False)
    assert pull.returncode != 0 and "CONFLICT" in pull.stdout + pull.stderr
    resolve(alice, "theirs")  # in a rebase, theirs is Alice's commit being replayed

    done = run(["git", "rebase", "--continue"], alice, check=False, env=editor_env())
    assert done.returncode == 0, done.stdout + done.stderr

    assert_notebooks_follow_the_scripts(alice, "y = 'alice'")


def test_a_conflicted_cherry_pick_continued_rebuilds_the_notebooks(team: Team) -> None:
    alice, _ = team
    git(alice, "fetch", "-q")
    picked = run(["git", "cherry-pick", "origin/main"], alice, check=False)
    assert picked.returncode != 0 and "CONFLICT" in picked.stdout + picked.stderr
    resolve(alice, "theirs")

    done = run(["git", "cherry-pick", "--continue"], alice, check=False, env=editor_env())
    assert done.returncode == 0, done.stdout + done.stderr

    assert_notebooks_follow_the_scripts(alice, "y = 'bob'")
