"""The one place that reads and writes git's configuration, by running `git config`.

    read_all()            every setting in one subprocess, for Settings (read once, passed down)
    read_entries()        the same in git's order, multi-valued keys repeated (the helper chain)
    get_all() / scope_of() / set() / add() / unset_all()   what setup and doctor need
    helper_configured()   "is our helper in credential.helper", answered one way everywhere

Asking git itself means includes, conditional includes and scopes resolve exactly as git
resolves them. Keys come back lower-cased, as git prints them.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Sequence
from typing import Optional

from git_credential_sagemaker.errors import SetupError

HELPER_NAME = "sagemaker"
TIMEOUT = 10.0

# Where a setting lives: () for git's merged view, ("--global",), or ("--file", PATH).
Where = Sequence[str]


def _git_config(
    args: Sequence[str], cwd: Optional[str] = None
) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", "config", *args],
            capture_output=True,
            timeout=TIMEOUT,
            cwd=cwd,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SetupError(f"could not run git config: {exc}") from None


def read_entries(cwd: Optional[str] = None) -> list[tuple[str, str]]:
    """Every setting git sees here, in git's order, multi-valued keys repeated; [] without git."""
    try:
        done = _git_config(["--list", "-z"], cwd)
    except SetupError:
        return []
    entries = []
    for item in done.stdout.split(b"\0"):
        key, _, value = item.decode("utf-8", "replace").partition("\n")
        if key:
            entries.append((key, value))
    return entries


def as_dict(entries: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The last value of each key, keys lower-cased."""
    return {key.lower(): value for key, value in entries}


def read_all(cwd: Optional[str] = None) -> dict[str, str]:
    """Every setting git sees here (the last value of a multi-valued key); {} without git."""
    return as_dict(read_entries(cwd))


def get_all(key: str, where: Where = (), cwd: Optional[str] = None) -> list[str]:
    """Every value of `key` in that scope, in order; [] when unset."""
    done = _git_config([*where, "--get-all", key], cwd)
    if done.returncode not in (0, 1):  # 1: the key is unset
        raise SetupError(f"git config {' '.join(where)} --get-all {key} failed: {_said(done)}")
    return done.stdout.decode("utf-8", "replace").splitlines()


def get(key: str, where: Where = (), cwd: Optional[str] = None) -> Optional[str]:
    values = get_all(key, where, cwd)
    return values[-1] if values else None


def get_urlmatch(key: str, url: str, cwd: Optional[str] = None) -> Optional[str]:
    """`key` for `url` by git's urlmatch rules (credential.<url>.name), or None when unset."""
    done = _git_config(["--get-urlmatch", key, url], cwd)
    if done.returncode != 0:
        return None
    lines = done.stdout.decode("utf-8", "replace").splitlines()
    return lines[-1] if lines else None


def get_bool(key: str, url: Optional[str] = None, cwd: Optional[str] = None) -> Optional[bool]:
    """A boolean `key` as git reads it, for `url` by git's urlmatch rules when one is given;
    None when unset."""
    lookup = ["--get"] if url is None else ["--get-urlmatch", key]
    done = _git_config(["--type=bool", *lookup, *([key] if url is None else [url])], cwd)
    if done.returncode != 0:
        return None
    lines = done.stdout.decode("utf-8", "replace").splitlines()
    return lines[-1] == "true" if lines else None


def scope_of(key: str, cwd: Optional[str] = None) -> Optional[str]:
    """Where git found `key` ("local", "global", ...), or None when it is unset."""
    done = _git_config(["--show-scope", "--get", key], cwd)
    if done.returncode != 0 or not done.stdout.strip():
        return None
    return done.stdout.decode("utf-8", "replace").split("\t", 1)[0]


def set(key: str, value: str, where: Where = ()) -> None:  # git's own verb
    _change([*where, "--replace-all", key, value])


def add(key: str, value: str, where: Where = ()) -> None:
    _change([*where, "--add", key, value])


def unset_all(key: str, where: Where = ()) -> None:
    done = _git_config([*where, "--unset-all", key])
    if done.returncode not in (0, 5):  # 5: nothing to unset
        raise SetupError(f"git config --unset-all {key} failed: {_said(done)}")


def _change(args: Sequence[str]) -> None:
    done = _git_config(args)
    if done.returncode != 0:
        raise SetupError(f"git config {' '.join(args[:-1])} failed: {_said(done)}")


def _said(done: subprocess.CompletedProcess[bytes]) -> str:
    return " ".join(done.stderr.decode("utf-8", "replace").split()) or f"exit {done.returncode}"


def is_our_helper(value: str, absolute: Iterable[str] = ()) -> bool:
    """Whether one credential.helper value runs this helper (by name or by absolute path)."""
    words = value.split()
    if not words:
        return False
    first = words[0]
    if first == HELPER_NAME or first == f"git-credential-{HELPER_NAME}":
        return True
    return os.path.isabs(first) and (
        os.path.basename(first) == f"git-credential-{HELPER_NAME}" or first in absolute
    )


def helper_configured(values: Optional[Iterable[str]] = None) -> bool:
    """Whether git runs this helper: from values already read, else by asking git."""
    if values is None:
        values = get_all("credential.helper")
    return any(is_our_helper(v) for v in values)
