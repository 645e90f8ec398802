"""Small helpers shared by the notebook hooks: running git, splitting its `-z` output, quoting.

Everything here is stdlib-only and cheap to import, because the hooks' "nothing changed" path
must finish in a few tens of milliseconds. Git output is handled as bytes split on NUL and
decoded with `surrogateescape`, so any file name git can store round-trips unchanged.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
from collections.abc import Iterable, Sequence
from typing import NamedTuple

ENCODING = "utf-8"
ERRORS = "surrogateescape"


class GitError(RuntimeError):
    """A git command exited non-zero; the message holds its stderr."""


class ConfigError(RuntimeError):
    """The repository's jupytext configuration cannot be read; str() names the file."""


class Repo(NamedTuple):
    """Where a work tree lives: its top folder and its own git dir (per worktree)."""

    root: str
    git_dir: str


def decode(raw: bytes) -> str:
    return raw.decode(ENCODING, ERRORS)


def encode(text: str) -> bytes:
    return text.encode(ENCODING, ERRORS)


def zsplit(raw: bytes) -> list[str]:
    """Split NUL-terminated git output (`-z`) into decoded paths, dropping the empty tail."""
    return [decode(part) for part in raw.split(b"\0") if part]


def git_popen(args: Sequence[str], cwd: str, stdin: bool = False) -> subprocess.Popen[bytes]:
    """Start `git ARGS` in cwd with captured output, so several can run at once."""
    return subprocess.Popen(
        ["git", *args],
        cwd=cwd,
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def git_wait(proc: subprocess.Popen[bytes], input_: bytes | None = None) -> bytes:
    """Collect a started git command's stdout; raise GitError if it failed."""
    out, err = proc.communicate(input_)
    if proc.returncode != 0:
        raise GitError(decode(err).strip() or f"git exited with {proc.returncode}")
    return out


def git(args: Sequence[str], cwd: str, input_: bytes | None = None) -> bytes:
    return git_wait(git_popen(args, cwd, stdin=input_ is not None), input_)


def find_repo(cwd: str | None = None) -> Repo:
    """Top folder and git dir of the work tree that contains cwd (GitError outside one)."""
    out = git(["rev-parse", "--show-toplevel", "--absolute-git-dir"], cwd or os.getcwd())
    root, git_dir = decode(out).splitlines()[:2]
    return Repo(root, git_dir)


def read_blobs(root: str, rev: str, paths: Iterable[str]) -> dict[str, bytes]:
    """Contents of `rev:path` for each path that exists there, using one `git cat-file` process."""
    wanted = [p for p in paths if "\n" not in p]
    if not wanted:
        return {}
    request = b"".join(encode(f"{rev}:{p}\n") for p in wanted)
    out = git(["cat-file", "--batch"], root, request)
    blobs: dict[str, bytes] = {}
    pos = 0
    for path in wanted:
        eol = out.index(b"\n", pos)
        header = out[pos:eol].split(b" ")
        pos = eol + 1
        if header[-1] == b"missing" or len(header) != 3:
            continue
        size = int(header[2])
        if header[1] == b"blob":
            blobs[path] = out[pos : pos + size]
        pos += size + 1
    return blobs


def ignored_paths(root: str, paths: Sequence[str], no_index: bool = False) -> set[str]:
    """The paths a .gitignore rule covers; with no_index, tracked paths are checked too."""
    if not paths:
        return set()
    args = ["check-ignore", "-z", "--stdin", *(["--no-index"] if no_index else [])]
    proc = git_popen(args, root, stdin=True)
    out, err = proc.communicate(b"".join(encode(p) + b"\0" for p in paths))
    if proc.returncode not in (0, 1):  # 1 means "none of them is ignored"
        raise GitError(decode(err).strip())
    return set(zsplit(out))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def shell_join(args: Iterable[str]) -> str:
    """A command line the user can paste into a POSIX shell as is."""
    return " ".join(shlex.quote(arg) for arg in args)


def write_if_changed(path: str, data: bytes) -> bool:
    """Write data unless the file already holds exactly it; True if it wrote."""
    try:
        with open(path, "rb") as handle:
            if handle.read() == data:
                return False
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)
    return True


def read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
