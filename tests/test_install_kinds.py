"""Isolated children still find the package, however it was installed.

Isolation (-I) drops the user's site-packages and the current folder, and the launcher's -S
drops every `.pth` file: exactly what finds the package after `pip install --user`, an
editable install, or an install into a Python that is no venv (a conda env: its own prefix,
its own site-packages, no pyvenv.cfg). Each install here is made for real from the local
index, `setup` is run with the command it installed, and then git, in a clone that plants
packages named like ours, unlocks the keyring (which starts an agent) and gets the token.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from localindex import BASE_PYTHON, pip_env, wheel_dir
from support import PASSPHRASE, Askpass, User, run
from test_hostile_clone import IDENTITY, plant

ROOT = Path(__file__).resolve().parent.parent
PROG = "git-credential-sagemaker"
TOKEN = "ghp_installkinds0123456789"
REQUEST = "protocol=https\nhost=example.com\n"
PYTHON_LIB = f"python{sys.version_info[0]}.{sys.version_info[1]}"


def pip_install(user: User, python: str, *args: str, wheels: Path) -> None:
    run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--quiet", *args],
        env={**os.environ, "HOME": str(user.home), **pip_env(wheels)},  # --user: under HOME
        timeout=300,
        check=True,
    )


def source_copy(dest: Path) -> Path:
    """This checkout's package, as a user's own clone of it would hold it."""
    skip = shutil.ignore_patterns("__pycache__")
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    package = "git_credential_sagemaker"
    shutil.copytree(ROOT / package, dest / package, symlinks=True, ignore=skip)
    shutil.copytree(ROOT / "hooks", dest / "hooks", ignore=skip)
    return dest


def user_install(user: User, wheels: Path) -> Path:
    """`pip install --user` into a Python that is no venv (user site is on there)."""
    pip_install(user, BASE_PYTHON, "--user", "git-credential-sagemaker", wheels=wheels)
    return user.home / ".local" / "bin" / PROG


def editable_install(user: User, wheels: Path) -> Path:
    venv = user.root / "venv"
    run([BASE_PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True)
    source = source_copy(user.root / "source")
    pip_install(user, str(venv / "bin" / "python"), "-e", str(source), wheels=wheels)
    return venv / "bin" / PROG


def prefix_install(user: User, wheels: Path) -> Path:
    """A Python of its own prefix, as a conda env is: interpreter and standard library (hard
    links to this machine's), an empty site-packages of its own, and no pyvenv.cfg."""
    base = Path(BASE_PYTHON).resolve().parent.parent
    prefix = user.root / "conda-env"
    (prefix / "bin").mkdir(parents=True)
    shutil.copy2(Path(BASE_PYTHON).resolve(), prefix / "bin" / "python")
    stdlib = base / "lib" / PYTHON_LIB
    skip = shutil.ignore_patterns("site-packages", "test", "__pycache__")
    shutil.copytree(stdlib, prefix / "lib" / PYTHON_LIB, ignore=skip, copy_function=os.link)
    (prefix / "lib" / PYTHON_LIB / "site-packages").mkdir()
    python = str(prefix / "bin" / "python")
    found = run([python, "-c", "import sys; print(sys.prefix)"], check=True).stdout.decode()
    assert found.strip() == str(prefix), "the copy must be a prefix of its own"
    pip_install(user, python, "git-credential-sagemaker", wheels=wheels)
    return prefix / "bin" / PROG


INSTALLS = {"pip --user": user_install, "editable": editable_install, "conda-like": prefix_install}


@pytest.mark.parametrize("kind", list(INSTALLS))
def test_a_locked_get_in_a_hostile_clone_works_however_the_package_was_installed(
    user: User, tmp_path_factory: pytest.TempPathFactory, kind: str
) -> None:
    command = INSTALLS[kind](user, wheel_dir(tmp_path_factory))
    user.env["PATH"] = f"{command.parent}:/usr/bin:/bin"  # nothing of the test's own venv
    done = user.run([str(command), "setup", "--no-repo", *IDENTITY])
    assert done.returncode == 0, done.stderr
    helper = user.run(["git", "config", "--global", "credential.helper"]).stdout.decode().strip()
    assert helper != str(command) and os.path.isabs(helper)  # the launcher, not pip's script
    approve = user.run(
        ["git", "credential", "approve"], input=f"{REQUEST}username=me\npassword={TOKEN}\n".encode()
    )
    assert approve.returncode == 0, approve.stderr

    clone, markers = user.root / "clone", user.root / "markers"
    clone.mkdir()
    markers.mkdir()
    plant(clone, markers)
    (user.root / "ask").mkdir()
    askpass = Askpass(user.root / "ask", "me", "unused", PASSPHRASE)
    env: dict[str, str | None] = {
        "GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": None,
        "GIT_ASKPASS": str(askpass.program),
        "GIT_TERMINAL_PROMPT": None,
    }
    filled = user.run(["git", "credential", "fill"], input=REQUEST.encode(), env=env, cwd=clone)

    assert filled.returncode == 0, filled.stderr
    assert f"password={TOKEN}".encode() in filled.stdout
    assert user.agent_pids(), "the keyring was unlocked by an agent started from the clone"
    again = user.run(["git", "credential", "fill"], input=REQUEST.encode(), env=env, cwd=clone)
    assert f"password={TOKEN}".encode() in again.stdout
    assert len(askpass.prompts) == 1  # the agent answered the second time
    assert sorted(p.name for p in markers.iterdir()) == []
