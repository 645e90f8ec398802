"""The user's commands (`setup`, ...): argparse front ends over the modules that do the work.

Each command returns an exit code: 0 done, 1 failed with a one-line message on stderr,
2 bad usage (argparse's own convention).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence

PROG = "git-credential-sagemaker"


def _fail(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return 1


def _git_config_values(name: str) -> list[str]:
    done = subprocess.run(["git", "config", "--global", "--get-all", name],
                          capture_output=True, text=True, check=False)
    return done.stdout.splitlines()


def cmd_setup(args: argparse.Namespace) -> int:
    """Point git at this helper (idempotent)."""
    helpers = _git_config_values("credential.helper")
    if "sagemaker" in helpers:
        print("credential.helper already includes sagemaker")
        return 0
    if args.dry_run:
        print("would run: git config --global --add credential.helper sagemaker")
        return 0
    done = subprocess.run(["git", "config", "--global", "--add", "credential.helper",
                           "sagemaker"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return _fail(f"git config failed: {done.stderr.strip().splitlines()[-1:]}")
    print("set credential.helper = sagemaker in your global git config")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="git credential helper for SageMaker: tokens kept encrypted on the "
                    "persistent volume. git runs it as `credential.helper sagemaker`.",
    )
    parser.add_argument("--dir", help="store directory (default: on the persistent volume)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    setup = sub.add_parser("setup", help="configure git to use this helper")
    setup.add_argument("--dry-run", action="store_true", help="say what would change")
    setup.set_defaults(func=cmd_setup)
    return parser


def main(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.dir:
        os.environ.setdefault("GIT_CREDENTIAL_SAGEMAKER_DIR", args.dir)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    result: int = args.func(args)
    return result
