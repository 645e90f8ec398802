"""Runs one helper operation for git: read the request, answer it, never hang or leak.

    stdin (bytes) --protocol.parse--> Request --agent (unlocked)--> stdout
                                              \\--session (locked: store, prompts)--> stdout

The agent path imports only sockets and the protocol; everything heavier is imported by
the fallback. Messages for people go to stderr as one line; stdout carries protocol only.
"""

from __future__ import annotations

import os
import sys
import time
import zlib
from collections.abc import Mapping
from typing import BinaryIO

from git_credential_sagemaker import agentclient, paths, protocol

PREFIX = "git-credential-sagemaker: "
EXPIRY_WARNING_DAYS = 7


def say(message: str) -> None:
    text = message if message.startswith(PREFIX) else PREFIX + message
    print(text.splitlines()[0], file=sys.stderr)


def run(
    operation: str,
    options: Mapping[str, str],
    env: Mapping[str, str],
    stdin: BinaryIO,
    stdout: BinaryIO,
) -> int:
    if operation == "capability":
        stdout.write(protocol.capability_answer())
        stdout.flush()
        return 0
    if operation not in ("get", "store", "erase"):
        return 0  # git-credential(1): unknown operations are ignored
    raw = stdin.read()
    try:
        request = protocol.parse(raw)
    except protocol.ProtocolError as exc:
        say(f"invalid request from git ({exc}); nothing was read or stored")
        return 1
    store_dir = paths.store_dir(env, options.get("dir"))
    runtime_dir = paths.runtime_dir(env)
    sock = agentclient.socket_path(runtime_dir, store_dir)
    reply = agentclient.call(sock, agentclient.encode(operation, store_dir, raw))
    if reply is not None and reply[0] == agentclient.OK:
        stdout.write(reply[1])
        stdout.flush()
        if operation == "get":
            warn_if_expiring(request, reply[1], runtime_dir)
        return 0
    if reply is not None and reply[0] == agentclient.ERROR:
        say(reply[1].decode(errors="replace"))
        return 1
    from git_credential_sagemaker import session

    nomatch = reply is not None and reply[0] == agentclient.NOMATCH
    code = session.serve(operation, request, options, env, stdout, known_nomatch=nomatch)
    stdout.flush()
    return code


def warn_if_expiring(request: protocol.Request, answer: bytes, runtime_dir: str,
                     now: float | None = None) -> None:
    """Warn once (per token and expiry) when the answered token expires within 7 days."""
    fields = dict(line.partition(b"=")[::2] for line in answer.splitlines())
    try:
        expiry = int(fields.get(b"password_expiry_utc", b""))
    except ValueError:
        return
    now = time.time() if now is None else now
    if expiry - now > EXPIRY_WARNING_DAYS * 86400:
        return
    user = fields.get(b"username", b"").decode(errors="replace")
    tag = zlib.crc32(f"{request.host}\0{user}\0{expiry}".encode()) & 0xFFFFFFFF
    marker = os.path.join(runtime_dir, f"expiry-warned-{tag:08x}")
    try:
        os.makedirs(runtime_dir, mode=0o700, exist_ok=True)
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return
    except OSError:
        pass
    when = time.strftime("%Y-%m-%d", time.gmtime(expiry))
    state = "expired on" if expiry <= now else "expires on"
    say(f"the token for {request.host} ({user}) {state} {when}; replace it with: "
        f"git-credential-sagemaker login {request.host}")
