"""Test support: an isolated user account driving real git, and an askpass program."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

BIN = Path(sys.executable).parent
PASSPHRASE = "correct horse battery staple"


class User:
    """A fresh user account in a temp dir: its env drives every subprocess of a test."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.home.mkdir()
        self.store_dir = root / "volume" / ".git-credential-sagemaker"
        # A short path: unix socket paths are limited to 107 bytes.
        self.runtime = Path(tempfile.mkdtemp(prefix="gcs-run-"))
        self.env: dict[str, str] = {
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CREDENTIAL_SAGEMAKER_DIR": str(self.store_dir),
            "GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE": PASSPHRASE,
            "XDG_RUNTIME_DIR": str(self.runtime),
            "GIT_AUTHOR_NAME": "A User",
            "GIT_AUTHOR_EMAIL": "user@example.com",
            "GIT_COMMITTER_NAME": "A User",
            "GIT_COMMITTER_EMAIL": "user@example.com",
        }

    def run(
        self,
        args: list[str],
        input: bytes = b"",
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[bytes]:
        merged = {**self.env, **(env or {})}
        merged = {k: v for k, v in merged.items() if v is not None}
        return subprocess.run(
            args,
            input=input,
            capture_output=True,
            env=merged,
            cwd=cwd or self.root,
            timeout=timeout,
            check=False,
        )

    def git(
        self,
        *args: str,
        input: bytes = b"",
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
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
        self, op: str, request: bytes, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        return self.run(["git-credential-sagemaker", op], input=request, env=env)


class Askpass:
    """A GIT_ASKPASS program for tests: answers from files, logs every prompt it gets."""

    def __init__(self, root: Path, username: str, token: str) -> None:
        self.dir = root / "askpass"
        self.dir.mkdir()
        self.program = self.dir / "askpass.sh"
        self.program.write_text(
            "#!/bin/sh\n"
            f'echo "$1" >> "{self.dir}/log"\n'
            'case "$1" in\n'
            f'  Username*) cat "{self.dir}/username" ;;\n'
            f'  *) cat "{self.dir}/token" ;;\n'
            "esac\n"
        )
        self.program.chmod(0o700)
        self.answer(username, token)

    def answer(self, username: str, token: str) -> None:
        (self.dir / "username").write_text(username + "\n")
        (self.dir / "token").write_text(token + "\n")

    @property
    def prompts(self) -> list[str]:
        log = self.dir / "log"
        return log.read_text().splitlines() if log.exists() else []
