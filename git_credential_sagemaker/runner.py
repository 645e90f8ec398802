"""Runs one helper operation for git: read the request, answer it, and never hang or leak.

stdin (bytes) --protocol.parse--> Request --helper.get/store/erase--> stdout (protocol only)

Everything a human should read goes to stderr as one line; stdout carries protocol lines
only. A request git could never have sent is answered with nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import BinaryIO

from git_credential_sagemaker import protocol

PREFIX = "git-credential-sagemaker: "


def _say(message: str) -> None:
    text = message if message.startswith(PREFIX) else PREFIX + message
    print(text.splitlines()[0] if text else text, file=sys.stderr)


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
    try:
        request = protocol.parse(stdin.read())
    except protocol.ProtocolError as exc:
        _say(f"invalid request from git ({exc}); nothing was read or stored")
        return 1
    return _run_with_store(operation, request, options, env, stdout)


def _run_with_store(
    operation: str,
    request: protocol.Request,
    options: Mapping[str, str],
    env: Mapping[str, str],
    stdout: BinaryIO,
) -> int:
    from git_credential_sagemaker import helper, settings
    from git_credential_sagemaker.prompt import PromptError
    from git_credential_sagemaker.store import StoreError

    try:
        timeout = float(options["timeout"]) if "timeout" in options else None
    except ValueError:
        _say(f"--timeout needs a number of seconds, not {options['timeout']!r}")
        return 1
    try:
        config = settings.read_git_config()
        conf = settings.Settings.load(env, config, options.get("dir"), timeout)
        store = conf.open_store()
        if operation == "get":
            if helper.find(request, store) is None:
                return 0
            conf.unlock(store)
            stdout.write(helper.get(request, store))
        elif operation == "store":
            if helper.storable(request):
                conf.unlock(store)
                helper.store(request, store)
        else:
            if helper.find(request, store) is not None:
                conf.unlock(store)
                helper.erase(request, store)
    except (StoreError, PromptError) as exc:
        _say(str(exc))
        return 1
    stdout.flush()
    return 0
