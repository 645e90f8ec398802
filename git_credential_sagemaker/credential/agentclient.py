"""Talking to the unlock agent: the hot path of every `get` once the keyring is unlocked.

    helper --(op, store dir, request bytes)--> agent-<hash>.sock --(status, answer)--> helper
    status: ok, nomatch (nothing stored), error (one line), several, gone, secret, cached (below)

It imports only C modules: `_socket`, since `socket` pulls in enum and selectors, the
built-in BLAKE2, since hashlib loads OpenSSL, and `posix`, since `os` builds ABCs (paths
says why). No keyring, no crypto. When no agent
answers, the caller falls back to opening the store itself.
"""

from __future__ import annotations

import _socket
import posix

from git_credential_sagemaker.credential.paths import absolute, fsencode, join

TIMEOUT = 10.0
OK, NOMATCH, ERROR = b"ok", b"nomatch", b"error"
# The request concerns a token from a Secrets Manager secret that the agent no longer holds
# (get) or that the server rejected (erase); the body is the secret's name.
SECRET = b"secret"
# An answer for a request that named no account, when several are stored for the host: the
# accounts' names (NUL between them), a newline, then the answer with the first.
SEVERAL = b"several"
# A GitHub App's token whose refresh was refused, now removed: the body is the line to show.
GONE = b"gone"
# A token the agent keeps from a secret: the secret's name, a newline, then the answer, good
# only while git config names that secret for the URL.
CACHED = b"cached"


def socket_path(runtime_dir: str, store_dir: str) -> str:
    """One agent per store, named by a 128-bit hash of the store's path (not a secret).

    A checksum would let two stores share one agent; 32 hex digits still leave a home
    directory's socket path under the 107 bytes a unix socket allows.
    """
    tag = _digest(fsencode(absolute(store_dir)))
    return join(runtime_dir, f"agent-{tag}.sock")


def _digest(data: bytes) -> str:
    try:
        from _blake2 import blake2b
    except ImportError:  # a Python built without its own BLAKE2: OpenSSL's SHA-256
        from hashlib import sha256

        return sha256(data).hexdigest()[:32]
    return blake2b(data, digest_size=16, usedforsecurity=False).hexdigest()


def encode(op: str, store_dir: str, payload: bytes = b"") -> bytes:
    return op.encode() + b"\n" + absolute(store_dir).encode() + b"\n" + payload


def call(path: str, message: bytes, timeout: float = TIMEOUT) -> tuple[bytes, bytes] | None:
    """(status, body) from the agent at `path`, or None when no agent is listening there."""
    try:
        st = posix.lstat(path)
    except OSError:
        return None
    if st.st_uid != posix.getuid():
        return None
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(message)
        sock.shutdown(_socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        sock.close()
    status, _, body = b"".join(chunks).partition(b"\n")
    return (status, body) if status else None
