"""Shared fixtures: an isolated user, a git server, and a check that nothing outlives the run."""

from __future__ import annotations

import glob
import shutil
from collections.abc import Iterator
from pathlib import Path

import motoserver
import pytest
from gitserver import GitServer
from support import RUNTIME_PREFIX, User, directory, leftovers, stop


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Fail the run if a process or runtime directory of this run outlived its test.

    Each test's own teardown stops what it started; this is the check that it did. What is
    found is stopped and removed, then reported, so a failed run still leaves nothing behind.
    """
    yield
    processes = leftovers([directory(tmp_path_factory.getbasetemp()), RUNTIME_PREFIX])
    stop(processes)
    runtimes = sorted(glob.glob(glob.escape(RUNTIME_PREFIX) + "*"))
    for path in runtimes:
        shutil.rmtree(path, ignore_errors=True)
    found = [f"process {pid}: {' '.join(argv)}" for pid, argv in sorted(processes.items())]
    found += [f"directory {path}" for path in runtimes]
    if found:
        message = "left behind by this test run (now stopped and removed):\n" + "\n".join(found)
        pytest.fail(message, pytrace=False)


@pytest.fixture
def user(tmp_path: Path) -> Iterator[User]:
    with User(tmp_path) as user:
        yield user


@pytest.fixture(scope="session")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServer]:
    with GitServer(tmp_path_factory.mktemp("gitserver")) as server:
        yield server


@pytest.fixture
def aws(tmp_path: Path) -> Iterator[motoserver.MotoServer]:
    """moto's server on loopback for one test; pass `aws.env` to the processes under test."""
    server = motoserver.start(tmp_path / "moto.log")
    try:
        yield server
    finally:
        server.stop()
