"""A smart-HTTP git server on 127.0.0.1 that demands HTTP basic auth.

Tests of the credential helper need a real git remote that asks for credentials,
accepts a known token and rejects a revoked one, without any network access or
third-party packages.  This module wraps ``git http-backend`` (run as CGI) in a
``http.server.ThreadingHTTPServer`` running in a daemon thread.

Tokens live only in the server's in-memory ``allow`` dict: the request log and the
auth-attempt record never contain them, and nothing is printed to stdout/stderr.
Every git it runs gets the tests' one isolated environment (``support.isolated_env``).
The ``git_server`` fixture in conftest starts one for the whole session.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
import shutil
import subprocess
import tempfile
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Callable, NamedTuple, Optional, Union

from support import isolated_env

__all__ = ["AuthAttempt", "GitServer"]

#: Seconds one ``git http-backend`` CGI run may take before it is killed.
BACKEND_TIMEOUT = 30.0
#: Seconds ``GitServer.shutdown`` waits for the serving thread to stop.
SHUTDOWN_TIMEOUT = 10.0
#: Seconds for the helper git commands that build repositories.
GIT_TIMEOUT = 30.0
#: Socket timeout for client connections, so a stalled client cannot pin a thread.
SOCKET_TIMEOUT = 30.0

REALM = "test"
_REPO_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class AuthAttempt(NamedTuple):
    """One request that carried an Authorization header (never the password itself)."""

    username: str
    ok: bool


def _http_backend() -> str:
    """Path of ``git-http-backend``, found via ``git --exec-path`` (not on PATH)."""
    exec_path = subprocess.run(
        ["git", "--exec-path"],
        check=True,
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT,
    ).stdout.strip()
    backend = Path(exec_path) / "git-http-backend"
    if not backend.is_file():
        raise RuntimeError(f"git-http-backend not found at {backend}")
    return str(backend)


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its owning GitServer (for auth and logging)."""

    daemon_threads = True  # server_close() must not wait on stuck handler threads
    owner: GitServer


class _Handler(BaseHTTPRequestHandler):
    """Checks basic auth, then runs ``git http-backend`` as a CGI for the request."""

    # HTTP/1.0: one request per connection, so an unread body or an error can never
    # desynchronise a keep-alive stream.
    protocol_version = "HTTP/1.0"
    timeout = SOCKET_TIMEOUT
    server: _Server

    # -- logging: in memory only, never to stderr -------------------------------
    def log_message(self, format: str, *args: object) -> None:
        """Record the request line/status instead of writing to stderr.

        The request line never contains headers, so the Authorization header (and
        thus the token) can not end up here.
        """
        self.server.owner._log(format % args)

    # -- HTTP verbs ---------------------------------------------------------------
    def do_GET(self) -> None:
        """Ref advertisement (``info/refs``) and dumb-protocol file fetches."""
        self._handle(b"")

    def do_POST(self) -> None:
        """``git-upload-pack`` / ``git-receive-pack`` RPCs."""
        # Read the body before answering (even with 401) so the client never sees a
        # connection reset caused by closing a socket with unread data.
        self._handle(self._read_body())

    # -- internals ------------------------------------------------------------------
    def _read_body(self) -> bytes:
        """Return the raw (possibly gzip'd) request body, de-chunking if needed."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # Skip trailers up to the blank line.
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)  # CRLF after each chunk
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _authenticate(self) -> Optional[str]:
        """Return the username if the Authorization header is valid, else None."""
        header = self.headers.get("Authorization")
        if header is None:
            return None
        scheme, _, encoded = header.partition(" ")
        username, password = "", None
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                decoded = None
            if decoded is not None and ":" in decoded:
                username, password = decoded.split(":", 1)
        ok = password is not None and self.server.owner._check(username, password)
        self.server.owner._record(AuthAttempt(username, ok))
        return username if ok else None

    def _send_401(self) -> None:
        """Challenge the client so git asks its credential helper / askpass."""
        body = b"Authentication required\n"
        self.send_response(401)
        self.send_header("WWW-Authenticate", f'Basic realm="{REALM}"')
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self, body: bytes) -> None:
        """Authenticate, then proxy the request through git http-backend."""
        user = self._authenticate()
        if user is None:
            self._send_401()
            return
        owner = self.server.owner
        path, _, query = self.path.partition("?")
        env = isolated_env(owner.root, identity=False)
        env.update(
            {
                "GATEWAY_INTERFACE": "CGI/1.1",
                "SERVER_PROTOCOL": "HTTP/1.1",
                "SERVER_NAME": "127.0.0.1",
                "SERVER_PORT": str(owner.port),
                "GIT_PROJECT_ROOT": str(owner.root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "PATH_INFO": urllib.parse.unquote(path),
                "REQUEST_METHOD": self.command,
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_USER": user,  # also enables receive-pack for authenticated users
                "REMOTE_ADDR": self.client_address[0],
            }
        )
        # Passed through untouched: http-backend inflates gzip'd bodies itself.
        encoding = self.headers.get("Content-Encoding")
        if encoding:
            env["HTTP_CONTENT_ENCODING"] = encoding
        protocol = self.headers.get("Git-Protocol")
        if protocol:
            env["HTTP_GIT_PROTOCOL"] = protocol
        try:
            proc = subprocess.run(
                [owner.backend],
                input=body,
                capture_output=True,
                env=env,
                cwd=owner.root,
                timeout=BACKEND_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            owner._log(f"http-backend timed out: {self.command} {path}")
            self.send_error(504, "git http-backend timed out")
            return
        if proc.stderr:
            owner._log("http-backend stderr: " + proc.stderr.decode("utf-8", "replace").strip())
        self._send_cgi_output(proc.stdout)

    def _send_cgi_output(self, output: bytes) -> None:
        """Translate CGI output (headers, optional ``Status:``, body) to a response."""
        sep = output.find(b"\r\n\r\n")
        sep_len = 4
        lf_sep = output.find(b"\n\n")
        if sep < 0 or (0 <= lf_sep < sep):
            sep, sep_len = lf_sep, 2
        if sep < 0:
            self.send_error(502, "malformed CGI output from git http-backend")
            return
        head, payload = output[:sep].decode("latin-1"), output[sep + sep_len :]
        status, reason = 200, None
        headers: list[tuple[str, str]] = []
        for line in head.splitlines():
            name, _, value = line.partition(":")
            name, value = name.strip(), value.strip()
            if not name:
                continue
            if name.lower() == "status":
                code, _, text = value.partition(" ")
                status, reason = int(code), (text or None)
            elif name.lower() not in ("content-length", "connection"):
                headers.append((name, value))
        self.send_response(status, reason)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


class GitServer:
    """Smart-HTTP git server on 127.0.0.1 with a mutable basic-auth user table.

    ``with GitServer(root) as srv:`` starts it; leaving the block stops it (bounded).
    """

    def __init__(self, root: Union[str, os.PathLike[str]]) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.backend = _http_backend()
        self._lock = threading.Lock()
        self._accepted: dict[str, str] = {}
        # When set, decides every login instead of the table (a fake OAuth server's tokens).
        self.validator: Optional[Callable[[str, str], bool]] = None
        self._attempts: list[AuthAttempt] = []
        self._requests: list[str] = []
        self._httpd: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> GitServer:
        """Bind an ephemeral port on 127.0.0.1 and serve from a daemon thread."""
        if self._httpd is not None:
            raise RuntimeError("GitServer already started")
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"gitserver-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def shutdown(self, timeout: float = SHUTDOWN_TIMEOUT) -> None:
        """Stop serving, waiting at most ``timeout`` seconds (never hangs a test run)."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._httpd = self._thread = None
        # httpd.shutdown() blocks until serve_forever notices; run it on a helper
        # thread so the wait itself is bounded.
        stopper = threading.Thread(target=httpd.shutdown, daemon=True)
        stopper.start()
        stopper.join(timeout)
        httpd.server_close()
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive() or stopper.is_alive():
                raise TimeoutError(f"GitServer did not stop within {timeout} s")

    def __enter__(self) -> GitServer:
        return self.start()

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.shutdown()

    # -- addresses ----------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The ephemeral port the server is bound to."""
        if self._httpd is None:
            raise RuntimeError("GitServer is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, name: str) -> str:
        """HTTP URL of the repository ``name`` (with or without ``.git``)."""
        return f"{self.base_url}/{self._bare_name(name)}"

    def repo_path(self, name: str) -> Path:
        """Filesystem path of the bare repository ``name``, for direct inspection."""
        return self.root / self._bare_name(name)

    # -- auth table -----------------------------------------------------------------
    def allow(self, username: str, token: str) -> None:
        """Accept ``token`` as the password for ``username`` (replacing any old one)."""
        if ":" in username:
            raise ValueError("basic-auth usernames can not contain ':'")
        with self._lock:
            self._accepted[username] = token

    def revoke(self, username: str) -> None:
        """Stop accepting any token for ``username``; its requests now get 401."""
        with self._lock:
            self._accepted.pop(username, None)

    @property
    def auth_attempts(self) -> list[AuthAttempt]:
        """Every Authorization header seen, as (username, password-was-correct)."""
        with self._lock:
            return list(self._attempts)

    @property
    def request_log(self) -> list[str]:
        """Request lines/status messages (never headers, so never credentials)."""
        with self._lock:
            return list(self._requests)

    def clear_records(self) -> None:
        """Forget recorded auth attempts and log lines (e.g. between test phases)."""
        with self._lock:
            self._attempts.clear()
            self._requests.clear()

    def _check(self, username: str, password: str) -> bool:
        validator = self.validator
        if validator is not None:
            return validator(username, password)
        with self._lock:
            expected = self._accepted.get(username)
        # Always run a constant-time compare so timing does not reveal usernames.
        ok = hmac.compare_digest(
            (expected or "").encode("utf-8"), password.encode("utf-8", "surrogatepass")
        )
        return expected is not None and ok

    def _record(self, attempt: AuthAttempt) -> None:
        with self._lock:
            self._attempts.append(attempt)

    def _log(self, line: str) -> None:
        with self._lock:
            self._requests.append(line)

    # -- repositories ---------------------------------------------------------------
    @staticmethod
    def _bare_name(name: str) -> str:
        stem = name[: -len(".git")] if name.endswith(".git") else name
        if not _REPO_NAME.match(stem) or ".." in stem:
            raise ValueError(f"invalid repository name: {name!r}")
        return f"{stem}.git"

    def create_repo(self, name: str) -> str:
        """Create a bare repo with one commit on ``main``; return its HTTP URL.

        Built with local git and pushed by file path, so creating fixtures never
        goes through (or is recorded by) the HTTP auth layer.
        """
        bare = self.repo_path(name)
        if bare.exists():
            raise FileExistsError(bare)
        with tempfile.TemporaryDirectory(prefix="gitserver-seed-") as tmp:
            env = isolated_env(Path(tmp))
            work = Path(tmp) / "work"

            def git(*args: str, cwd: Optional[Path] = None) -> None:
                subprocess.run(
                    ["git", *args],
                    cwd=cwd,
                    env=env,
                    check=True,
                    capture_output=True,
                    timeout=GIT_TIMEOUT,
                )

            try:
                git("init", "--bare", "--quiet", "--initial-branch=main", str(bare))
                git("config", "http.receivepack", "true", cwd=bare)
                git("init", "--quiet", "--initial-branch=main", str(work))
                (work / "README.md").write_text(f"# {bare.stem}\n", encoding="utf-8")
                git("add", "README.md", cwd=work)
                git("commit", "--quiet", "-m", "Initial commit", cwd=work)
                git("push", "--quiet", str(bare), "main:main", cwd=work)
            except BaseException:
                shutil.rmtree(bare, ignore_errors=True)
                raise
        return self.url(name)
