"""The git binaries that tests of git's credential protocol run: this machine's git (2.39 on
Debian 12, as on many SageMaker images) and the newest git, which `.ci/build-git` builds from
Debian's source package into GCS_NEWEST_GIT.

    with_git(user, git) --> the user's PATH finds that git first
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support import User, run

NEWEST_ENV = "GCS_NEWEST_GIT"  # a prefix holding bin/git, as `make prefix=... install` lays out
KINDS = ("system", "newest")


def newest_bin() -> Path | None:
    prefix = os.environ.get(NEWEST_ENV)
    return Path(prefix) / "bin" if prefix and (Path(prefix) / "bin" / "git").exists() else None


def newest_source() -> Path | None:
    """The newest git's built source tree (.ci/build-git keeps it), for git's own tests."""
    found = newest_bin()
    return (
        found.parent / "src"
        if found is not None and (found.parent / "src" / "t").is_dir()
        else None
    )


def version(user: User) -> tuple[int, ...]:
    out = run(["git", "version"], env=user.env, check=True).stdout.decode()
    return tuple(int(part) for part in out.split()[2].split(".")[:2])


def with_git(user: User, kind: str) -> tuple[int, ...]:
    """Put git of this kind first on the user's PATH; its version. Skips the newest git when it
    was not built (`.ci/run` builds it; by hand: `bash .ci/build-git`)."""
    if kind == "newest":
        found = newest_bin()
        if found is None:
            pytest.skip(
                f"the newest git is not built: run `bash .ci/build-git` (sets {NEWEST_ENV})"
            )
        user.env["PATH"] = f"{found}{os.pathsep}{user.env['PATH']}"
    return version(user)
