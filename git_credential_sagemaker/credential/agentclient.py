"""Talking to the unlock agent: the hot path of every `get` once the keyring is unlocked.

    helper --(op, store dir, request bytes)--> agent.sock --(status, answer bytes)--> helper

It imports only the standard library's socket layer: no keyring, no crypto. When no agent
answers, the caller falls back to opening the store itself.
"""

from __future__ import annotations

import os
import socket
import zlib

TIMEOUT = 10.0
OK, NOMATCH, ERROR = b"ok", b"nomatch", b"error"


def socket_path(runtime_dir: str, store_dir: str) -> str:
    """One agent per store; the name is a checksum of the store's path, not a secret."""
    tag = zlib.crc32(os.path.abspath(store_dir).encode()) & 0xFFFFFFFF
    return os.path.join(runtime_dir, f"agent-{tag:08x}.sock")


def encode(op: str, store_dir: str, payload: bytes = b"") -> bytes:
    return op.encode() + b"\n" + os.path.abspath(store_dir).encode() + b"\n" + payload


def call(path: str, message: bytes, timeout: float = TIMEOUT) -> tuple[bytes, bytes] | None:
    """(status, body) from the agent at `path`, or None when no agent is listening there."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if st.st_uid != os.getuid():
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(message)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        sock.close()
    status, _, body = b"".join(chunks).partition(b"\n")
    return (status, body) if status else None
