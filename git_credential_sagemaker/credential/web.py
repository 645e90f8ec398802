"""One bounded HTTP request: every step within one deadline, and never a redirect.

    url --safe_base()--> https, or http to a loopback address only
        --request()---> connect, TLS, send, read: all by one deadline (monotonic) --> Response

A socket timeout bounds each read alone, so a server that sends one byte a second would never
time out; reads here share the one deadline. Redirects are never followed, so a token is sent
only where the caller meant. Used for GitHub's API (github) and its OAuth endpoints (oauth).
"""

from __future__ import annotations

import io
import ipaddress
import socket
import time
from typing import TYPE_CHECKING, Any, NamedTuple, Optional
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from http.client import HTTPMessage

MAX_BODY = 65536


class Response(NamedTuple):
    status: int
    headers: HTTPMessage
    body: bytes


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def safe_base(base: str) -> Optional[str]:
    """The base URL when a secret may be sent there: https, or http to loopback only."""
    try:
        parts = urlsplit(base)
        hostname = parts.hostname or ""
    except ValueError:
        return None
    if parts.scheme == "https" and hostname:
        return base.rstrip("/")
    if parts.scheme == "http" and is_loopback(hostname):
        return base.rstrip("/")
    return None


class _Deadline(io.RawIOBase):
    """A socket's reads, all of them together bounded by one deadline (monotonic)."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self.sock.settimeout(left(self.deadline))
        return self.sock.recv_into(buffer)


def left(deadline: float) -> float:
    """Seconds until `deadline`; socket.timeout once it has passed."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise socket.timeout("no answer in time")
    return remaining


def request(
    method: str,
    url: str,
    headers: dict[str, str],
    body: Optional[bytes],
    deadline: float,
) -> Response:
    """One request, every step (connect, TLS, send, read) by `deadline`. Raises OSError,
    http.client.HTTPException or ValueError when there is no whole answer in time."""
    import http.client

    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    sock = socket.create_connection((host, port), timeout=left(deadline))
    try:
        if parts.scheme == "https":
            import ssl

            sock.settimeout(left(deadline))
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        connection = http.client.HTTPConnection(parts.netloc)
        connection.sock = sock  # http.client sends on it, and never reconnects
        sock.settimeout(left(deadline))  # sendall: one bound for the whole request
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request(method, target, body=body, headers=headers)
        response = http.client.HTTPResponse(sock, method=method)
        response.fp.close()
        response.fp = io.BufferedReader(_Deadline(sock, deadline))
        response.begin()
        return Response(response.status, response.headers, response.read(MAX_BODY))
    finally:
        sock.close()
