"""Fixtures for the notebook hooks: real git repos in temp folders, real notebooks, real pre-commit.

* Every test runs with its own git identity and global config (GIT_CONFIG_GLOBAL), so the
  user's settings never leak in.
* `hooks_repo` copies this work tree's files (committed or not, minus ignored ones) into a temp
  git repo and commits them: pre-commit installs the hooks from that path at that rev, exactly as
  a user's `.pre-commit-config.yaml` would from GitHub.
* PRE_COMMIT_HOME is one temp folder per test session, so the hooks' virtualenv is built once.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from notebook_hooks_support import BIN, WORKTREE, git, init_repo, install_hooks, run, write_config


@pytest.fixture(scope="session", autouse=True)
def git_identity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("git-home")
    config = home / "gitconfig"
    config.write_text(
        "[user]\n\tname = SageMaker User\n\temail = user@example.com\n"
        "[init]\n\tdefaultBranch = main\n"
        "[pull]\n\trebase = false\n"
        "[advice]\n\tdetachedHead = false\n"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GIT_CONFIG_GLOBAL", str(config))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
            mp.delenv(name, raising=False)
        for name in list(os.environ):
            if name.startswith("PRE_COMMIT_") and name != "PRE_COMMIT_HOME":
                mp.delenv(name)
        mp.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
        yield


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A committed repo that ignores notebooks, as the current folder (for calling main())."""
    path = init_repo(tmp_path / "repo")
    monkeypatch.chdir(path)
    return path


@pytest.fixture
def bare_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A committed repo with no .gitignore at all, as a new user starts, as the current folder."""
    path = init_repo(tmp_path / "repo", gitignore=False)
    monkeypatch.chdir(path)
    return path


@pytest.fixture(scope="session")
def hooks_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """This work tree's files committed in a temp repo: the `repo:` of .pre-commit-config.yaml."""
    dest = tmp_path_factory.mktemp("hooks-repo")
    listed = run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], WORKTREE
    ).stdout
    for rel in listed.split("\0"):
        src = WORKTREE / rel
        if rel and src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "The hooks under test")
    return dest, git(dest, "rev-parse", "HEAD").stdout.strip()


@pytest.fixture(scope="session")
def pre_commit_home(
    tmp_path_factory: pytest.TempPathFactory, hooks_repo: tuple[Path, str]
) -> Iterator[Path]:
    """PRE_COMMIT_HOME for the session, with the hooks' environment built once, up front."""
    home = tmp_path_factory.mktemp("pre-commit-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PRE_COMMIT_HOME", str(home))
        scratch = init_repo(tmp_path_factory.mktemp("env-build") / "repo")
        write_config(scratch, hooks_repo)
        run([str(BIN / "pre-commit"), "install-hooks"], scratch)
        yield home


@pytest.fixture
def make_user_repo(tmp_path: Path, hooks_repo: tuple[Path, str], pre_commit_home: Path) -> Any:
    """Factory: a repo using the hooks through pre-commit, e.g. make_user_repo("alice")."""

    def make(name: str, gitignore: bool = True) -> Path:
        path = init_repo(tmp_path / name, gitignore=gitignore)
        write_config(path, hooks_repo)
        install_hooks(path)
        return path

    return make
