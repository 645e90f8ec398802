"""A package index on disk, so tests of pre-commit's hook environments never need the network.

wheel_dir(tmp_path_factory) --> <run's basetemp>/local-index/*.whl, built once per test run:
    this package's wheel (from the source tree) and every installed dependency's, repacked
    by the wheelhouse code, plus the setuptools pip needs to build pre-commit's placeholder
pip_env(wheels)             --> env that points pip, and so pre-commit's pip, there alone
venv_with_pre_commit(...)   --> a venv holding pre-commit and nothing of ours: a colleague
aws_wheel_dir(tmp_path_factory) --> <run's basetemp>/local-index-aws: the same, plus boto3 and what
    it needs, so `git-credential-sagemaker[aws]` installs from it too
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support import run

BASE_PYTHON = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
BUILD = (
    "import sys; from pathlib import Path; "
    "from git_credential_sagemaker.provision import wheelhouse; "
    "wheelhouse.build(Path(sys.argv[1]))"
)
AWS_BUILD = (
    "import sys; from pathlib import Path; "
    "from git_credential_sagemaker.provision import wheelhouse; "
    "[wheelhouse.repack(d, Path(sys.argv[1])) for d in wheelhouse.closure('boto3')]"
)


def pip_env(wheels: Path) -> dict[str, str]:
    """pip reads no config file and no index: the wheels folder is all it sees."""
    return {
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheels),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_CACHE_DIR": "1",  # nothing written under the HOME of whoever runs the tests
        "VIRTUALENV_NO_PERIODIC_UPDATE": "1",
    }


def _run_root(factory: pytest.TempPathFactory) -> Path:
    """The base folder of the whole run: under pytest-xdist, the one all workers share."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _built_once(wheels: Path, fill: Callable[[Path], None]) -> Path:
    """`wheels`, filled by the first caller of this run, workers included; a marker says it is
    complete. The lock also keeps two builds from sharing the source tree's build folder."""
    done = wheels / "complete"
    with open(wheels.parent / f".{wheels.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(wheels, ignore_errors=True)  # what a failed build left
            wheels.mkdir()
            fill(wheels)
            done.write_text("")
    return wheels


def _build(script: str, wheels: Path) -> None:
    """Run a build script in a child, away from the source tree, so the installed metadata
    is what the wheelhouse code reads."""
    run(
        [sys.executable, "-c", script, str(wheels)],
        env={**os.environ, **pip_env(wheels)},
        cwd=wheels,
        timeout=300,
        check=True,
    )


def wheel_dir(factory: pytest.TempPathFactory) -> Path:
    """The local index of this run."""
    return _built_once(_run_root(factory) / "local-index", lambda w: _build(BUILD, w))


def venv_with_pre_commit(path: Path, wheels: Path) -> Path:
    """A venv with only pre-commit (and what it needs) installed, from the local index."""
    run([BASE_PYTHON, "-m", "venv", "--without-pip", str(path)], check=True)
    python = str(path / "bin" / "python")
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "pre-commit"]
    run(pip, env={**os.environ, **pip_env(wheels)}, timeout=300, check=True)
    ours = subprocess.run(
        [python, "-c", "import git_credential_sagemaker"],
        capture_output=True,
        cwd=path,
        check=False,
    )
    assert ours.returncode != 0, "the colleague's venv must not hold this package"
    return path


def aws_wheel_dir(factory: pytest.TempPathFactory) -> Path:
    """The local index with the `[aws]` extra's wheels added (boto3 and its closure)."""

    def fill(wheels: Path) -> None:
        base = wheel_dir(factory)
        for wheel in base.glob("*.whl"):
            shutil.copyfile(wheel, wheels / wheel.name)
        shutil.copyfile(base / "python-version", wheels / "python-version")
        _build(AWS_BUILD, wheels)

    return _built_once(_run_root(factory) / "local-index-aws", fill)
