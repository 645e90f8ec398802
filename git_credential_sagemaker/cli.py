"""Command-line entry point: git's helper operations, and the user's commands.

git runs `git-credential-sagemaker [--dir D] [--timeout S] get|store|erase|capability` with
the request on stdin. Those are dispatched here without argparse, since `get` runs on every
push; everything else (setup, login, ...) goes through argparse.

    launcher --> program() --> main(argv) --> helper.run | commands.main
                           \\--> _exit once the agent alone answered (no teardown)

A helper call reads the environment through `posix`, not `os`: the launcher starts Python
without `site`, so `os` is not loaded yet, and loading it would cost a tenth of the call.
"""

from __future__ import annotations

import posix
import sys

TYPE_CHECKING = False  # git runs this on every push: typing and collections stay unimported
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Optional

HELPER_OPTIONS = ("--dir", "--timeout")
# Every module of ours an unlocked request loads. When no other one was loaded, the process
# holds nothing that needs the interpreter's orderly teardown.
FAST_PATH = frozenset(
    {
        "git_credential_sagemaker",
        "git_credential_sagemaker.__main__",
        "git_credential_sagemaker.cli",
        "git_credential_sagemaker.errors",
        "git_credential_sagemaker.credential",
        "git_credential_sagemaker.credential.agentclient",
        "git_credential_sagemaker.credential.helper",
        "git_credential_sagemaker.credential.paths",
        "git_credential_sagemaker.credential.protocol",
    }
)
# The user's commands, as commands.build_parser() names them (a test keeps the two equal);
# any other word is a helper operation (unknown ones are ignored).
COMMANDS = (
    "setup",
    "login",
    "logout",
    "list",
    "status",
    "check",
    "lock",
    "unlock",
    "passphrase",
    "reset",
    "doctor",
    "lifecycle-script",
    "notebooks",
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


def environ() -> Mapping[str, str]:
    """os.environ, or when os is not loaded, its contents decoded as os would decode them."""
    if "os" in sys.modules:
        environ: Mapping[str, str] = sys.modules["os"].environ
        return environ
    code = sys.getfilesystemencoding()
    return {
        name.decode(code, "surrogateescape"): value.decode(code, "surrogateescape")
        for name, value in posix.environ.items()
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    call = split_helper_args(args)
    if call is not None:
        options, operation = call
        from git_credential_sagemaker.credential import helper

        return helper.run(operation, options, environ(), sys.stdin.buffer, sys.stdout.buffer)
    from git_credential_sagemaker import commands

    return commands.main(args)


def program() -> int:
    """The console script: main(), then, if the request never left the fast path, exit at once.

    The interpreter's teardown costs about a seventh of its start-up, and git waits for it
    twice per push. Exit hooks still run and output is flushed; nothing else is pending
    when only the fast path's modules were loaded and no other thread runs.
    """
    code = main()
    ours = {name for name in sys.modules if name.startswith("git_credential_sagemaker")}
    threading = sys.modules.get("threading")  # not imported on the fast path, unless by a hook
    alone = threading is None or threading.active_count() == 1
    if "git_credential_sagemaker.credential.helper" in ours and ours <= FAST_PATH and alone:
        import atexit

        atexit._run_exitfuncs()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except OSError:
            code = code or 1
        posix._exit(code)
    return code
