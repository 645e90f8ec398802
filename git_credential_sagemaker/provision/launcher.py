"""The helper's launcher, the file git config names: ours, not the console script pip wrote.

    setup (off an instance), the on-start and fleet scripts (in the venv, after pip)
        --write(path)--> #!PYTHON -IS
                         sys.path: our package's folder, then its dependencies' (fixed now)
                         --> cli.program()
    git --runs it for every get and store--> the helper

Why not pip's script: what it holds depends on pip's version (before 25 it imports `re`,
which costs an unlocked `get` about half a Python start), and it lets PYTHON* variables and
every `.pth` file decide what is imported. The launcher runs
isolated (-I) and without `site` (-S): it imports from the folders named in it, so nothing
on the hot path depends on pip, on `.pth` files or on the folder git runs it from, and it
starts faster than any Python program that loads `site`. An editable install works: its
folder is named like any other. Where the interpreter's path can't follow `#!` (a space,
or too long for the kernel), the file starts through /bin/sh, as pip's scripts do.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Optional

from git_credential_sagemaker import children
from git_credential_sagemaker.credential import paths
from git_credential_sagemaker.credential.files import atomic_write, ensure_private_dir
from git_credential_sagemaker.errors import UserError

# Linux reads at most 127 bytes of a `#!` line on older kernels; only a plain path fits in it.
SHEBANG_MAX = 127
PLAIN_PATH = re.compile(r"/[A-Za-z0-9._/+-]+")

BODY = """\
# git-credential-sagemaker's helper: the file git config names. Written by
# `git-credential-sagemaker setup` (and the on-start script); setup rewrites it.
# Isolated (-I) and without site (-S): it imports only from the folders below, fixed when it
# was written, whatever folder git runs it from.
import sys

sys.path[:0] = {first!r}
sys.path += {rest!r}
from git_credential_sagemaker.cli import program

raise SystemExit(program())
"""


def render(python: str, import_path: Sequence[str]) -> str:
    """The launcher's text for `python`, importing our package from import_path[0]."""
    first, rest = list(import_path[:1]), list(import_path[1:])
    shebang = f"#!{python} -IS\n"
    if len(shebang) > SHEBANG_MAX or not PLAIN_PATH.fullmatch(python):
        quoted = "'" + python.replace("'", "'\"'\"'") + "'"
        shebang = f"#!/bin/sh\n'''exec' {quoted} -IS \"$0\" \"$@\"\n' '''\n"
    return shebang + BODY.format(first=first, rest=rest)


def default_path(env: Mapping[str, str]) -> str:
    """Where setup puts the launcher off a notebook instance: beside the user's data."""
    return os.path.join(paths.data_home(env), paths.APP, "bin", paths.APP)


def write(path: str, dry_run: bool = False) -> list[str]:
    """Write the launcher for this Python at `path`, unless it already says that. Only this
    process knows where it found the package, so another venv runs `main` itself."""
    text = render(sys.executable, children.import_path())
    target = Path(path)
    try:
        if target.read_text(encoding="utf-8") == text and os.access(target, os.X_OK):
            return []
    except (OSError, UnicodeDecodeError):
        pass
    if not dry_run:
        missing = [d for d in target.parents if not d.exists()]
        for folder in reversed(missing):  # private, as the store's own folder must be
            ensure_private_dir(folder)
        atomic_write(target, text, mode=0o755)
    return [f"the helper's launcher (isolated, no pip script in between): {path}"]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`python -I -m git_credential_sagemaker.provision.launcher PATH`: what the on-start and
    fleet scripts run in the venv they rebuilt, so the launcher names that venv's Python."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or not os.path.isabs(args[0]):
        print("usage: python -I -m git_credential_sagemaker.provision.launcher /ABS/PATH")
        return 2
    try:
        write(args[0])
    except (OSError, UserError) as exc:
        print(f"could not write the helper's launcher {args[0]}: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
