"""A real Jupyter server with the jupyterlab-git extension, driven as the Git panel drives it.

    JupyterServer(root, env, lab).start() --> jupyter-server on 127.0.0.1:<a free port>, token
    .push(repo) / .pull(repo)        --POST /git/<repo>/push|pull, {}         --> the first try
    .push(repo, auth=...)            --POST with {"auth": {...}} from its dialog --> the rerun
    .stop()                          --SIGTERM, then SIGKILL, to the server and what it started

The panel's first try runs git with GIT_TERMINAL_PROMPT=0; when git's error says "could not
read Username", the panel opens its dialog and reruns git under pexpect with what was typed.
Both are what these requests do, through the extension's own handlers.

Everything the server writes (config, data, runtime files, its log) stays under `root`; its
token travels in the environment, not in argv. Each request is bounded by HANG_LIMIT: the
bound detects a hang, it does not measure speed.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Optional

from support import BIN, stop

#: Longer than any git push to the loopback server takes; only a hang reaches it.
HANG_LIMIT = 60.0
#: How long the server may take to start answering, on a busy machine.
START_LIMIT = 90.0
#: Starts to try when another process takes the chosen port first.
START_TRIES = 3
#: The messages on which the panel opens its credentials dialog (AUTH_ERROR_MESSAGES in
#: jupyterlab-git's frontend, src/git.ts).
DIALOG_TRIGGERS = (
    "Invalid username or password",
    "could not read Username",
    "could not read Password",
    "Authentication error",
)


class Reply(NamedTuple):
    """One answer of the panel's server: HTTP status and the JSON body."""

    status: int
    body: dict[str, Any]

    @property
    def message(self) -> str:
        return str(self.body.get("message", ""))

    @property
    def opens_dialog(self) -> bool:
        """Whether the panel would now ask for a username and token."""
        return self.status != 200 and any(text in self.message for text in DIALOG_TRIGGERS)


class Hang(AssertionError):
    """The panel's server did not answer within HANG_LIMIT."""


def free_port() -> int:
    """A port nobody listens on right now (the server may still lose it: then it retries)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """Every live process below `pid`, found through /proc's parent links."""
    children: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(proc.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class JupyterServer:
    """A jupyter-server process with jupyterlab_git enabled, rooted at `root_dir`."""

    def __init__(self, root: Path, env: Mapping[str, str], root_dir: Path) -> None:
        self.root = root / "jupyter"
        self.root_dir = root_dir
        self.token = secrets.token_hex(16)
        self.log = self.root / "server.log"
        self.env = {
            **env,
            "JUPYTER_CONFIG_DIR": str(self.root / "config"),
            "JUPYTER_DATA_DIR": str(self.root / "data"),
            "JUPYTER_RUNTIME_DIR": str(self.root / "runtime"),
            "JUPYTER_TOKEN": self.token,
        }
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.port = 0
        self._log_start = 0

    def __enter__(self) -> JupyterServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> JupyterServer:
        config = self.root / "config"
        config.mkdir(parents=True)
        (config / "jupyter_server_config.json").write_text(
            json.dumps({"ServerApp": {"jpserver_extensions": {"jupyterlab_git": True}}})
        )
        for _ in range(START_TRIES):
            self.port = free_port()
            if self._launch():
                return self
        raise RuntimeError(f"jupyter-server found no free port in {START_TRIES} tries")

    def _launch(self) -> bool:
        """Start on self.port; False when another process took that port first."""
        argv = [
            sys.executable,
            str(BIN / "jupyter-server"),
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.open_browser=False",
            f"--ServerApp.root_dir={self.root_dir}",
            "--ServerApp.log_level=DEBUG",  # the extension logs each git run's output
        ]
        if os.geteuid() == 0:  # CI and containers run tests as root
            argv.append("--allow-root")
        with self.log.open("ab") as log:
            self._log_start = log.tell()
            self.process = subprocess.Popen(
                argv,
                env=self.env,
                cwd=self.root_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            return self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_until_ready(self) -> bool:
        """Whether the server came up: it answers with our token (False: its port was taken)."""
        assert self.process is not None
        deadline = time.monotonic() + START_LIMIT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if b"is already in use" in self.log.read_bytes()[self._log_start :]:
                    self.process = None
                    return False
                raise RuntimeError(f"jupyter-server exited {self.process.returncode}:\n{self.text}")
            with contextlib.suppress(OSError, Hang):
                if self._request("GET", "/api/status", None, timeout=10).status == 200:
                    return True
            time.sleep(0.1)
        raise RuntimeError(f"jupyter-server did not start within {START_LIMIT} s:\n{self.text}")

    def stop(self) -> None:
        """Stop the server and everything it started (git runs, pexpect children), by PID."""
        if self.process is None:
            return
        doomed = [*descendants(self.process.pid), self.process.pid]
        stop(doomed)
        self.process.wait(timeout=10)
        self.process = None

    @property
    def text(self) -> str:
        """The server's log so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    @property
    def running_git(self) -> list[int]:
        """git processes the server started that are still running (a hang leaves them)."""
        if self.process is None:
            return []
        found = []
        for pid in descendants(self.process.pid):
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/comm").read_text().strip().startswith("git"):
                    found.append(pid)
        return found

    # -- the Git panel's requests ------------------------------------------------------------

    def push(self, repo: str, auth: Optional[Mapping[str, Any]] = None) -> Reply:
        """The panel's Push button; `auth` is what its dialog sends after a failed first try."""
        return self._git(repo, "push", {} if auth is None else {"auth": dict(auth)})

    def pull(self, repo: str, auth: Optional[Mapping[str, Any]] = None) -> Reply:
        """The panel's Pull button."""
        return self._git(repo, "pull", {} if auth is None else {"auth": dict(auth)})

    def add_all(self, repo: str) -> Reply:
        """The panel's "Stage all changes"."""
        return self._git(repo, "add", {"add_all": True})

    def commit(self, repo: str, message: str) -> Reply:
        """The panel's Commit button, with its summary."""
        return self._git(repo, "commit", {"commit_msg": message})

    def save(self, path: str, notebook: Mapping[str, Any]) -> Reply:
        """JupyterLab saving a notebook (File > Save): PUT /api/contents/<path>."""
        model = {"type": "notebook", "format": "json", "content": dict(notebook)}
        return self._request("PUT", f"/api/contents/{urllib.parse.quote(path)}", model, HANG_LIMIT)

    def _git(self, repo: str, action: str, body: Mapping[str, Any]) -> Reply:
        path = f"/git/{urllib.parse.quote(repo)}/{action}"
        return self._request("POST", path, body, timeout=HANG_LIMIT)

    def _request(
        self, method: str, path: str, body: Optional[Mapping[str, Any]], timeout: float
    ) -> Reply:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
                return Reply(answer.status, _json(answer.read()))
        except urllib.error.HTTPError as failed:
            with failed:
                return Reply(failed.code, _json(failed.read()))
        except (socket.timeout, TimeoutError):
            raise Hang(
                f"{method} {path} got no answer within {timeout:.0f} s: the panel hangs"
            ) from None


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {"message": raw.decode(errors="replace")}
    return value if isinstance(value, dict) else {"message": str(value)}
