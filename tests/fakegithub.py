"""A loopback stand-in for GitHub's REST API root, answering with the real header shapes.

Each token the test registers picks a scenario: the headers GitHub sends for a classic token
(X-OAuth-Scopes), a fine-grained one (no scope header), an expiring one (both expiry header
formats), 401 and 500. `silent()` gives a second address that accepts and never answers, and
`trickling()` one that answers a byte at a time, never finishing.
Every request is recorded (path and which token, never the token itself), so a test can
prove that a `get` made none.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple


class Scenario(NamedTuple):
    status: int
    headers: tuple[tuple[str, str], ...] = ()


class FakeGitHub:
    def __init__(self) -> None:
        self.scenarios: dict[str, Scenario] = {}
        self.requests: list[tuple[str, str]] = []  # (path, the scenario's name for the token)
        self.names: dict[str, str] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                auth = self.headers.get("Authorization", "")
                token = auth.split(" ", 1)[1] if " " in auth else ""
                scenario = fake.scenarios.get(token, Scenario(401))
                fake.requests.append((self.path, fake.names.get(token, "unknown")))
                body = b'{"current_user_url": "https://api.github.com/user"}'
                self.send_response(scenario.status)
                for name, value in scenario.headers:
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, name: str, token: str, scenario: Scenario) -> None:
        self.scenarios[token] = scenario
        self.names[token] = name

    def __enter__(self) -> FakeGitHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def classic(*scopes: str) -> Scenario:
    return Scenario(200, (("X-OAuth-Scopes", ", ".join(scopes)),))


def fine_grained() -> Scenario:
    return Scenario(200)


def expiring(header_value: str, *scopes: str) -> Scenario:
    return Scenario(
        200,
        (
            ("X-OAuth-Scopes", ", ".join(scopes or ("repo",))),
            ("GitHub-Authentication-Token-Expiration", header_value),
        ),
    )


@contextmanager
def silent() -> Iterator[str]:
    """An address that accepts connections and never answers, until the test ends."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        listener.close()


TRICKLE_INTERVAL = 1.0  # well under the per-read timeout a client would otherwise rely on


@contextmanager
def trickling() -> Iterator[str]:
    """An address that answers every connection one byte per second, until the test ends.

    Each read gets its byte in time, so only a deadline for the whole exchange ends it: the
    status line comes, then a header line that never does.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def drip(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            text = b"HTTP/1.1 200 OK\r\nX-OAuth-Scopes: repo" + b"o" * 100_000
            for byte in text:
                if stop.wait(TRICKLE_INTERVAL):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return  # the client gave up

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            thread = threading.Thread(target=drip, args=(conn,), daemon=True)
            thread.start()
            threads.append(thread)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for each in threads:
            each.join(timeout=5)
        listener.close()
