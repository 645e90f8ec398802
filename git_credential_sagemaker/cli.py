"""Command-line entry point: git's helper operations, and the user's commands.

git runs `git-credential-sagemaker [--dir D] [--timeout S] get|store|erase|capability` with
the request on stdin. Those are dispatched here without argparse, since `get` runs on every
push; everything else (setup, login, ...) goes through argparse.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Optional

HELPER_OPTIONS = ("--dir", "--timeout")
# The user's commands; any other word is a helper operation (unknown ones are ignored).
COMMANDS = (
    "setup",
    "login",
    "logout",
    "list",
    "status",
    "lock",
    "unlock",
    "doctor",
    "lifecycle-script",
)


def split_helper_args(argv: Sequence[str]) -> Optional[tuple[dict[str, str], str]]:
    """(options, operation) when argv is a helper call, else None for the user commands."""
    options: dict[str, str] = {}
    words = list(argv)
    while words and words[0].startswith("--"):
        name, eq, value = words.pop(0).partition("=")
        if name not in HELPER_OPTIONS:
            return None
        if not eq:
            if not words:
                return None
            value = words.pop(0)
        options[name[2:]] = value
    if not words or words[0] in COMMANDS or words[0].startswith("-"):
        return None
    return options, words[0]


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    call = split_helper_args(args)
    if call is not None:
        options, operation = call
        from git_credential_sagemaker.credential import helper

        return helper.run(operation, options, os.environ, sys.stdin.buffer, sys.stdout.buffer)
    from git_credential_sagemaker import commands

    return commands.main(args)
