"""Test support: one isolation recipe, one way to run a command, and the processes a test left.

    isolated_env(home, ...) --> the whole environment of every subprocess (nothing inherited)
    User(root)              --> that environment for one test, with run/git/fill/approve/helper
    leftovers(paths)        --> processes whose argv or cwd is under paths, to stop by PID

Runtime directories hold the agent's socket, whose path may not exceed 107 bytes, so they live
in the temp dir rather than under pytest's long tmp_path. Their names carry this test run's PID,
so the session check in conftest can tell this run's directories and agents from any other.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Optional

import pytest

BIN = Path(sys.executable).parent
PASSPHRASE = "correct horse battery staple"
IDENTITY = {
    "GIT_AUTHOR_NAME": "A User",
    "GIT_AUTHOR_EMAIL": "user@example.com",
    "GIT_COMMITTER_NAME": "A User",
    "GIT_COMMITTER_EMAIL": "user@example.com",
}
#: Every runtime directory of this test run starts with this (the run's PID tells runs apart).
RUNTIME_PREFIX = os.path.join(tempfile.gettempdir(), f"gcs-run-{os.getpid()}-")
AGENT_MODULE = "git_credential_sagemaker.credential.agent"
COMMAND_TIMEOUT = 60.0
STOP_TIMEOUT = 5.0

Env = Mapping[str, Optional[str]]


def isolated_env(
    home: Path,
    *,
    store_dir: Path | None = None,
    runtime: Path | None = None,
    passphrase: str | None = None,
    identity: bool = True,
    may_prompt: bool = False,
) -> dict[str, str]:
    """The environment of every command a test runs: built from nothing, so no setting of the
    machine or of whoever runs the tests leaks in. git's global config is HOME's .gitconfig."""
    env = {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    if not may_prompt:
        env["GIT_TERMINAL_PROMPT"] = "0"
    if identity:
        env.update(IDENTITY)
    if store_dir is not None:
        env["GIT_CREDENTIAL_SAGEMAKER_DIR"] = str(store_dir)
    if runtime is not None:
        env["XDG_RUNTIME_DIR"] = str(runtime)
    if passphrase is not None:
        env["GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE"] = passphrase
    return env


def use_env(monkeypatch: pytest.MonkeyPatch, env: Mapping[str, str]) -> None:
    """Make this process's environment exactly `env`, for code under test called in-process."""
    for name in list(os.environ):
        if name not in env and not name.startswith("PYTEST_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def merged(env: Env, changes: Env | None = None) -> dict[str, str]:
    """`env` with `changes` applied; a change to None removes the variable."""
    both = {**env, **(changes or {})}
    return {name: value for name, value in both.items() if value is not None}


def run(
    args: Sequence[str],
    *,
    env: Env | None = None,
    cwd: Path | None = None,
    input: bytes = b"",
    timeout: float = COMMAND_TIMEOUT,
    check: bool = False,
) -> subprocess.CompletedProcess[bytes]:
    """Run a command to its end, bounded, output captured; `check` fails the test with both."""
    done = subprocess.run(
        list(args),
        input=input,
        capture_output=True,
        env=None if env is None else merged(env),
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        out, err = (text.decode(errors="replace") for text in (done.stdout, done.stderr))
        raise AssertionError(
            f"{list(args)} exited {done.returncode}\nstdout:\n{out}\nstderr:\n{err}"
        )
    return done


def output(*args: str, env: Env | None = None, cwd: Path | None = None) -> str:
    """The stdout of a command that must succeed, as text."""
    return run(args, env=env, cwd=cwd, check=True).stdout.decode()


def git(
    *args: str,
    env: Env | None = None,
    cwd: Path | None = None,
    input: bytes = b"",
    check: bool = False,
) -> subprocess.CompletedProcess[bytes]:
    """`run` for git."""
    return run(["git", *args], env=env, cwd=cwd, input=input, check=check)


# -- processes a test leaves behind ------------------------------------------------------------


def _under(value: str, prefixes: Iterable[str]) -> bool:
    return any(value == p.rstrip("/") or value.startswith(p) for p in prefixes)


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie only waits for its parent and holds nothing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def leftovers(prefixes: Iterable[str], agents_only: bool = False) -> dict[int, list[str]]:
    """Live processes, other than this one, whose argv or cwd is under one of `prefixes`.

    A prefix ending in "/" is a directory; one without is the start of a name.
    """
    prefixes = [str(p) for p in prefixes]
    found: dict[int, list[str]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
        except OSError:
            continue
        if agents_only and AGENT_MODULE not in argv:
            continue
        try:
            cwd = os.readlink(proc / "cwd")
        except OSError:  # the agent makes itself non-dumpable, which can hide its cwd
            cwd = ""
        if (any(_under(arg, prefixes) for arg in argv) or _under(cwd, prefixes)) and _alive(
            int(proc.name)
        ):
            found[int(proc.name)] = argv
    return found


def stop(pids: Iterable[int]) -> None:
    """SIGTERM each process, then SIGKILL the ones still there after STOP_TIMEOUT."""
    pids = list(pids)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
            time.sleep(0.02)
        pids = [pid for pid in pids if _alive(pid)]
        if not pids:
            return


def directory(path: Path) -> str:
    """`path` as a prefix for `leftovers`."""
    return str(path).rstrip("/") + "/"


# -- a user --------------------------------------------------------------------------------------


class User:
    """A fresh user account in a temp dir: its env drives every subprocess of a test.

    `close()` (or leaving a `with` block) stops every process the test left under the user's
    directories, agents first among them, then removes the runtime directory.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.home.mkdir()
        self.store_dir = root / "volume" / ".git-credential-sagemaker"
        self.runtime = Path(tempfile.mkdtemp(prefix=os.path.basename(RUNTIME_PREFIX)))
        self.env: dict[str, str] = isolated_env(
            self.home, store_dir=self.store_dir, runtime=self.runtime, passphrase=PASSPHRASE
        )

    def __enter__(self) -> User:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def processes(self, agents_only: bool = False) -> dict[int, list[str]]:
        """This user's live processes (by argv or cwd under root or runtime), by PID."""
        return leftovers([directory(self.root), directory(self.runtime)], agents_only)

    def agent_pids(self) -> list[int]:
        """This user's unlock agents."""
        return sorted(self.processes(agents_only=True))

    def close(self) -> None:
        stop(self.processes())
        shutil.rmtree(self.runtime, ignore_errors=True)

    def run(
        self,
        args: list[str],
        input: bytes = b"",
        env: Env | None = None,
        cwd: Path | None = None,
        timeout: float = COMMAND_TIMEOUT,
    ) -> subprocess.CompletedProcess[bytes]:
        return run(
            args, env=merged(self.env, env), cwd=cwd or self.root, input=input, timeout=timeout
        )

    def git(
        self,
        *args: str,
        input: bytes = b"",
        env: Env | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        """git with this package as its only credential helper."""
        return self.run(
            ["git", "-c", "credential.helper=", "-c", "credential.helper=sagemaker", *args],
            input=input,
            env=env,
            cwd=cwd,
        )

    def fill(self, request: str, **kw: str) -> dict[str, str]:
        done = self.git("credential", "fill", input=request.encode(), env=kw)
        assert done.returncode == 0, done.stderr
        return dict(line.split("=", 1) for line in done.stdout.decode().splitlines())

    def approve(self, request: str) -> None:
        done = self.git("credential", "approve", input=request.encode())
        assert done.returncode == 0 and done.stderr == b"", done.stderr

    def reject(self, request: str) -> None:
        done = self.git("credential", "reject", input=request.encode())
        assert done.returncode == 0 and done.stderr == b"", done.stderr

    def helper(
        self, op: str, request: bytes, env: Env | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        return self.run(["git-credential-sagemaker", op], input=request, env=env)


def helped_clone(user: User, bare: Path, url: str, work: Path) -> None:
    """A clone of `bare` made by path (nothing asked, nothing stored), then pointed at `url`,
    whose server wants a token, with git set to use the helper: a user's first push to come."""
    assert user.run(["git", "clone", "-q", str(bare), str(work)]).returncode == 0
    assert user.run(["git", "remote", "set-url", "origin", url], cwd=work).returncode == 0
    (user.home / ".gitconfig").write_text("[credential]\n\thelper = sagemaker\n")


class Askpass:
    """A GIT_ASKPASS program for tests: answers from files, logs every prompt it gets."""

    def __init__(
        self, root: Path, username: str, token: str, passphrase: str | None = None
    ) -> None:
        """With `passphrase`, a prompt for the keyring's passphrase gets it, not the token."""
        self.dir = root / "askpass"
        self.dir.mkdir()
        self.program = self.dir / "askpass.sh"
        keyring = f'  *assphrase*) cat "{self.dir}/passphrase" ;;\n' if passphrase else ""
        self.program.write_text(
            "#!/bin/sh\n"
            f'echo "$1" >> "{self.dir}/log"\n'
            'case "$1" in\n'
            f'  Username*) cat "{self.dir}/username" ;;\n'
            f"{keyring}"
            f'  *) cat "{self.dir}/token" ;;\n'
            "esac\n"
        )
        self.program.chmod(0o700)
        self.answer(username, token)
        if passphrase:
            (self.dir / "passphrase").write_text(passphrase + "\n")

    def answer(self, username: str, token: str) -> None:
        (self.dir / "username").write_text(username + "\n")
        (self.dir / "token").write_text(token + "\n")

    @property
    def prompts(self) -> list[str]:
        log = self.dir / "log"
        return log.read_text().splitlines() if log.exists() else []
