"""The unlock agent: keeps the derived key in memory so later git calls need no passphrase.

    unlock --key over a pipe--> agent (detached) <--unix socket, same uid only-- helper

The key reaches the agent through its stdin pipe: never argv, the environment or disk.
The agent detaches fully (new session, every inherited fd closed), or `git credential
fill` would wait forever for EOF on a pipe it kept open. It lives until the machine stops,
`lock`, or its --timeout. Its socket lives in the runtime dir, never on the volume.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from git_credential_sagemaker.credential import agentclient, crypto, operations, protocol
from git_credential_sagemaker.credential.files import ensure_private_dir
from git_credential_sagemaker.credential.store import Store
from git_credential_sagemaker.errors import StoreError

MAX_MESSAGE = 1 << 20
START_TIMEOUT = 15.0


def peer_allowed(peer_uid: int, own_uid: int) -> bool:
    """Only the agent's own user may use its key (root is not special here)."""
    return peer_uid == own_uid


def peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[1])


def _read_all(conn: socket.socket) -> bytes:
    chunks, size = [], 0
    while chunk := conn.recv(65536):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_MESSAGE:
            raise OSError("message too large")
    return b"".join(chunks)


class Agent:
    """Answers helper requests with the store's key held in memory."""

    def __init__(self, store_dir: Path, key: bytes, timeout: Optional[float]) -> None:
        self.store_dir = store_dir.absolute()
        self.store = Store(store_dir, key=key)  # no passphrase source: never prompts
        self.started = time.time()
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.expires = None if timeout is None else self.started + timeout

    def handle(self, message: bytes) -> tuple[bytes, bool]:
        """(reply, keep serving)."""
        op_b, _, rest = message.partition(b"\n")
        store_b, _, payload = rest.partition(b"\n")
        if store_b.decode(errors="replace") != str(self.store_dir):
            return agentclient.ERROR + b"\nthis agent serves another store", True
        op = op_b.decode(errors="replace")
        if op == "lock":
            return agentclient.OK + b"\n", False
        if op == "status":
            expires = "never" if self.expires is None else f"{self.expires:.0f}"
            body = f"pid={os.getpid()}\nstarted={self.started:.0f}\nexpires={expires}\n"
            return agentclient.OK + b"\n" + body.encode(), True
        try:
            request = protocol.parse(payload)
            if op == "get":
                if operations.find(request, self.store) is None:
                    return agentclient.NOMATCH + b"\n", True
                return agentclient.OK + b"\n" + operations.get(request, self.store), True
            if op == "store":
                operations.store(request, self.store)
            elif op == "erase":
                operations.erase(request, self.store)
            return agentclient.OK + b"\n", True
        except (protocol.ProtocolError, StoreError) as exc:
            return agentclient.ERROR + b"\n" + str(exc).encode(), True

    def serve(self, listener: socket.socket) -> None:
        own = os.getuid()
        while True:
            remaining = None if self.deadline is None else self.deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            listener.settimeout(remaining)
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                return
            with conn:
                try:
                    if not peer_allowed(peer_uid(conn), own):
                        continue
                    conn.settimeout(10)
                    reply, keep = self.handle(_read_all(conn))
                    conn.sendall(reply)
                except OSError:
                    continue
            if not keep:
                return


def listen(path: str) -> socket.socket:
    """Bind the agent's socket, recovering silently from a stale one left by a dead agent."""
    if os.path.lexists(path):
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)  # nobody listens: a dead agent's leftover
        else:
            probe.close()
            raise StoreError(f"an agent already listens on {path}")
        finally:
            probe.close()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(path)
    finally:
        os.umask(old)
    listener.listen(16)
    return listener


def _detach(keep: int) -> None:
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.closerange(3, keep)
    os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 1024)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0


def spawn(store_dir: Path, runtime_dir: Path, key: bytes, timeout: Optional[float]) -> None:
    """Start a detached agent holding `key`; returns once its socket accepts connections."""
    ensure_private_dir(runtime_dir, create=True)
    path = agentclient.socket_path(str(runtime_dir), str(store_dir))
    if agentclient.call(path, agentclient.encode("lock", str(store_dir))) is not None:
        deadline = time.monotonic() + 5  # an older agent for this store steps aside
        while os.path.lexists(path) and time.monotonic() < deadline:
            time.sleep(0.01)
    args = [
        sys.executable,
        "-m",
        "git_credential_sagemaker.credential.agent",
        "--store",
        str(store_dir),
        "--socket",
        path,
    ]
    if timeout is not None:
        args += ["--timeout", str(timeout)]
    proc = subprocess.Popen(
        args,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        close_fds=True,
    )
    try:
        _, err = proc.communicate(key, timeout=START_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise StoreError("the unlock agent did not start in time") from None
    if proc.returncode != 0:
        reason = err.decode(errors="replace").strip().splitlines()[-1:] or ["no reason given"]
        raise StoreError(f"the unlock agent did not start: {reason[0]}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="git-credential-sagemaker agent",
        description="(internal) hold the key; read from stdin",
    )
    parser.add_argument("--store", required=True)
    parser.add_argument("--socket", required=True)
    parser.add_argument("--timeout", type=float)
    args = parser.parse_args(argv)
    key = sys.stdin.buffer.read(crypto.KEY_BYTES + 1)
    if len(key) != crypto.KEY_BYTES:
        print("agent: expected a key on stdin", file=sys.stderr)
        return 1
    try:
        ensure_private_dir(Path(args.socket).parent, create=False)
        listener = listen(args.socket)
    except (StoreError, OSError) as exc:
        print(f"agent: {exc}", file=sys.stderr)
        return 1
    if os.fork() != 0:
        os._exit(0)  # the caller reaps this parent; the agent lives on, reparented
    _detach(listener.fileno())
    bound = os.stat(args.socket).st_ino
    try:
        Agent(Path(args.store), key, args.timeout).serve(listener)
    finally:
        listener.close()
        with contextlib.suppress(OSError):
            if os.stat(args.socket).st_ino == bound:
                os.unlink(args.socket)
    os._exit(0)


if __name__ == "__main__":
    raise SystemExit(main())
