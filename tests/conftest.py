"""Shared fixtures: an isolated user (HOME, git config, store, runtime dir) and a git server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gitserver import GitServer
from usertools import User


@pytest.fixture
def user(tmp_path: Path) -> User:
    return User(tmp_path)


@pytest.fixture(scope="session")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServer]:
    with GitServer(tmp_path_factory.mktemp("gitserver")) as server:
        yield server
