"""A reader that stops early (`git-credential-sagemaker status | head -1`) ends a command
quietly, as it ends git's own: no traceback, no "Exception ignored", exit 141 (128 + SIGPIPE).

stdout is a pipe whose reading end is closed before the command starts, so its first write
fails, whatever the machine's speed.
"""

from __future__ import annotations

import os
import subprocess

import pytest
from support import COMMAND_TIMEOUT, User, merged

PROG = "git-credential-sagemaker"
GH = b"protocol=https\nhost=github.com\n"


def with_closed_stdout(user: User, *args: str) -> tuple[int, bytes]:
    """(exit code, stderr) of a command whose stdout nobody reads."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [PROG, *args],
            stdin=subprocess.DEVNULL,
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=merged(user.env),
            cwd=user.root,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    finally:
        os.close(write_end)
    return done.returncode, done.stderr


@pytest.mark.parametrize(
    "args",
    [("status",), ("list",), ("lifecycle-script", "--fleet"), ("--help",), ("lock",)],
    ids=" ".join,
)
def test_a_command_whose_reader_went_away_ends_quietly(user: User, args: tuple[str, ...]) -> None:
    stored = user.helper("store", GH + b"username=alice\npassword=ghp_closedstdout1\n")
    assert stored.returncode == 0, stored.stderr

    code, said = with_closed_stdout(user, *args)

    assert (code, said) == (141, b"")
