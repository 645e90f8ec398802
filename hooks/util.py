"""Small helpers shared by the notebook hooks: running git, splitting its `-z` output, quoting,
escaping what reaches the terminal, and reading and writing files in the work tree without being
led out of it.

Everything here is stdlib-only and cheap to import, because the hooks' "nothing changed" path
must finish in a few tens of milliseconds. Git output is handled as bytes split on NUL and
decoded with `surrogateescape`, so any file name git can store round-trips unchanged.

A pulled commit can hold symbolic links (`a.ipynb -> /anywhere/file`, a folder `notebooks ->
/elsewhere`), so the hooks treat every path in the work tree with suspicion:

* `write_in_tree` never writes through a symlink: a symlink (or anything but a regular file)
  at the path itself is refused, and so is a path whose folder leads outside the repository.
  A folder symlink that stays inside the tree is followed. The folders are then opened one by
  one below the root with O_NOFOLLOW, so a symlink swapped in meanwhile is refused too. The
  file is written atomically: a temp file in the same folder, fsync, `os.replace`, keeping the
  old file's mode. A crash leaves the old file or the new one, never half of one; a hard link
  to the old file keeps the old content. The folder is not fsynced (that would double the cost
  of writing 200 scripts): after a crash the old file may be back, which the hooks handle.
* `read_in_tree` follows symlinks only while they stay inside the work tree (a notebook linked
  to another notebook of the repository is read); one that leads outside is refused, so
  nothing from outside the repository can end up in a script that gets committed.

Each refusal is a `PathError` whose str() is one line naming the file and the reason.

File names come from whoever made the commit, so they are data for git and for the terminal
alike. Every git command runs with `GIT_LITERAL_PATHSPECS=1`, so a file named `:(glob)x.ipynb`
is that file and not pathspec magic; the few calls that pass our own patterns (`*.py`) say so
with `patterns=True` and spell their magic out. Every line the hooks print goes through
`escape`, which turns control characters (`\\033[2K\\r` would redraw the line above) and the
bytes of a name that is not UTF-8 into `%XX`, as the credential helper's prompt does; and
`shell_join` quotes such a name as `$'...'`, so a printed command still names the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shlex
import stat
import subprocess
import sys
from collections.abc import Iterable, Sequence
from typing import NamedTuple, Optional, TextIO

ENCODING = "utf-8"
ERRORS = "surrogateescape"


class GitError(RuntimeError):
    """A git command exited non-zero; the message holds its stderr on one line, escaped."""

    def __init__(self, stderr: str):
        super().__init__(" ".join(escape(line.strip()) for line in stderr.splitlines() if line))


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


# Control characters (C0, DEL, C1), and the lone surrogates that stand for bytes that are not
# UTF-8 after decoding with surrogateescape.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\udc80-\udcff]")


def _bytes_of(char: str) -> bytes:
    code = ord(char)
    return bytes([code - 0xDC00]) if code >= 0xDC80 else char.encode(ENCODING)


def _percent(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"%{code - 0xDC00 if code >= 0xDC80 else code:02X}"


def escape(text: str) -> str:
    """Text that is safe to print: each control character or stray byte becomes `%XX`."""
    return _UNPRINTABLE.sub(_percent, text)


def escape_lines(text: str) -> str:
    """`escape` for a message of several lines: its own line breaks are kept."""
    return "\n".join(escape(line) for line in text.split("\n"))


def say(message: str, file: Optional[TextIO] = None) -> None:
    """Print one of the hooks' messages, escaped."""
    print(escape_lines(message), file=file or sys.stdout)


def zsplit(raw: bytes) -> list[str]:
    """Split NUL-terminated git output (`-z`) into decoded paths, dropping the empty tail."""
    return [decode(part) for part in raw.split(b"\0") if part]


# The user's own pathspec defaults, set aside: each call says whether its paths are literal.
_PATHSPECS = {f"GIT_{kind}_PATHSPECS": "0" for kind in ("GLOB", "NOGLOB", "ICASE")}


def git_popen(
    args: Sequence[str], cwd: str, stdin: bool = False, patterns: bool = False
) -> subprocess.Popen[bytes]:
    """Start `git ARGS` in cwd with captured output, so several can run at once.

    Paths in args are literal (a file may be named `:(glob)x`); `patterns` is for our own
    pathspecs, which then write their magic out (`:(glob)**/*.py`). The user's own
    GIT_*_PATHSPECS settings are set aside either way.
    """
    return subprocess.Popen(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **_PATHSPECS, "GIT_LITERAL_PATHSPECS": "0" if patterns else "1"},
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


def git(
    args: Sequence[str], cwd: str, input_: bytes | None = None, patterns: bool = False
) -> bytes:
    return git_wait(git_popen(args, cwd, stdin=input_ is not None, patterns=patterns), input_)


def glob_pathspec(extension: str) -> str:
    """Our pathspec for every file with this extension, in any folder."""
    return f":(glob)**/*{extension}"


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
    """The paths a .gitignore rule covers; with no_index, tracked paths are checked too.

    Paths beyond a symlinked folder or outside the repository are left out: git refuses to
    check them (it could not track them either), and its refusal here would hide the one-line
    refusal of the write.
    """
    if paths:
        beyond = _beyond_symlinks(root, paths)
        paths = [p for p in paths if p not in beyond]
    if not paths:
        return set()
    asked = {check_ignore_path(p): p for p in paths}
    args = ["check-ignore", "-z", "--stdin", *(["--no-index"] if no_index else [])]
    proc = git_popen(args, root, stdin=True, patterns=True)
    out, err = proc.communicate(b"".join(encode(p) + b"\0" for p in asked))
    if proc.returncode not in (0, 1):  # 1 means "none of them is ignored"
        raise GitError(decode(err).strip())
    return {asked.get(p, p) for p in zsplit(out)}


def check_ignore_path(path: str) -> str:
    """A path as `git check-ignore` takes it: a name, but for a leading `:` (pathspec magic).

    check-ignore accepts no magic but `top`, not even literal mode, and it takes what follows
    one magic prefix as the name; it answers with what it was given.
    """
    return f":(top){path}" if path.startswith(":") else path


def _beyond_symlinks(root: str, paths: Sequence[str]) -> set[str]:
    """The paths whose folder is not where it seems (a symlink, `..`): one realpath per folder."""
    real_root = os.path.realpath(root)
    folders = {os.path.dirname(p) for p in paths} - {""}
    linked = {
        f for f in folders if os.path.realpath(os.path.join(root, f)) != os.path.join(real_root, f)
    }
    return {p for p in paths if os.path.dirname(p) in linked}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pathspec(path: str) -> str:
    """A path for a git command the user runs, where paths are pathspecs: `:(literal)` when
    the name would otherwise be read as magic or as a glob that matches other files too."""
    return f":(literal){path}" if path.startswith(":") or any(c in path for c in "*?[\\") else path


def shell_quote(arg: str) -> str:
    """One word for a shell; a name holding control characters or stray bytes as `$'...'`.

    `$'...'` is bash's and zsh's (and POSIX's since 2024), the shells of a SageMaker terminal;
    a name like that could not be pasted raw into any shell anyway.
    """
    if not _UNPRINTABLE.search(arg):
        return shlex.quote(arg)
    out = []
    for char in arg:
        if _UNPRINTABLE.match(char):
            out.append("".join(f"\\x{byte:02x}" for byte in _bytes_of(char)))
        else:
            out.append("\\" + char if char in "\\'" else char)
    return "$'" + "".join(out) + "'"


def shell_join(args: Iterable[str]) -> str:
    """A command line the user can paste into a POSIX shell as is."""
    return " ".join(shell_quote(arg) for arg in args)


class PathError(Exception):
    """A file the hooks refuse to read or write, or could not write; str() is one line."""

    def __init__(self, path: str, reason: str):
        super().__init__(escape(f"{path} {reason}"))
        self.path = path
        self.reason = escape(reason)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _outside_reason(root: str, rel: str) -> str | None:
    """Why `rel` (relative to root) leads outside the repository, or None if it stays inside."""
    real_root = os.path.realpath(root)
    if _inside(os.path.realpath(os.path.join(root, rel)), real_root):
        return None
    parts = os.path.normpath(rel).split(os.sep)
    for end in range(1, len(parts) + 1):
        sub = os.sep.join(parts[:end])
        path = os.path.join(root, sub)
        real = os.path.realpath(path)
        if _inside(real, real_root):
            continue
        if not os.path.islink(path):
            break
        where = f"a symbolic link leading outside the repository (to {real})"
        return f"is {where}" if end == len(parts) else f"is in {sub}/, {where}"
    return f"is outside the repository ({os.path.realpath(os.path.join(root, rel))})"


def read_in_tree(root: str, rel: str) -> bytes | None:
    """The bytes of `rel` under root (None if missing), refusing a path that leads outside."""
    why = _outside_reason(root, rel)
    if why is not None:
        raise PathError(rel, f"{why}, so the hooks leave it alone")
    try:
        return read_bytes(os.path.join(root, rel))
    except OSError as err:
        raise PathError(rel, f"cannot be read ({describe(err)})") from None


def write_in_tree(root: str, rel: str, data: bytes) -> os.stat_result:
    """Atomically replace or create `rel` under root with data; return the new file's stat.

    Refuses (PathError) a symlink or non-regular file at `rel` and a folder that leads outside
    the work tree; any other failure is a PathError too, with the old file left unchanged.
    """
    folder, name = os.path.split(os.path.normpath(rel))
    if name in ("", ".", ".."):
        raise PathError(rel, "is not a file name")
    why = _outside_reason(root, rel)
    if why is not None:
        raise PathError(rel, f"{why}, so the hooks leave it alone")
    real_root = os.path.realpath(root)
    below = os.path.relpath(os.path.realpath(os.path.join(root, folder)), real_root)
    try:
        dir_fd = _open_folder(real_root, [] if below == "." else below.split(os.sep))
    except OSError as err:
        raise PathError(rel, f"could not be written ({describe(err)})") from None
    try:
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            mode = None
        else:
            if stat.S_ISLNK(st.st_mode):
                target = os.readlink(name, dir_fd=dir_fd)
                raise PathError(
                    rel, f"is a symbolic link (to {target}), and the hooks never write through one"
                )
            if not stat.S_ISREG(st.st_mode):
                raise PathError(rel, "is not a regular file, so the hooks do not replace it")
            mode = stat.S_IMODE(st.st_mode)
        _replace(dir_fd, name, data, mode)
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError as err:
        raise PathError(
            rel, f"could not be written ({describe(err)}); the previous file is unchanged"
        ) from None
    finally:
        os.close(dir_fd)


def _open_folder(real_root: str, parts: list[str]) -> int:
    """A descriptor of root/parts, creating missing folders, never following a symlink."""
    fd = os.open(real_root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o777, dir_fd=fd)
            flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
            inner = os.open(part, flags, dir_fd=fd)
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


def _replace(dir_fd: int, name: str, data: bytes, mode: int | None) -> None:
    """Temp file in the same folder, fsync, rename over `name`."""
    tmp = f".{name}.{secrets.token_hex(4)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(tmp, flags, 0o666, dir_fd=dir_fd)
    try:
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise


def describe(err: OSError) -> str:
    """An OSError as a short phrase ("No space left on device"), without file names."""
    return err.strerror or type(err).__name__


def write_if_changed(path: str, data: bytes) -> bool:
    """Write data unless the file already holds exactly it; True if it wrote.

    The write is `write_in_tree`'s, with the file's own folder as the root: atomic, and a
    symlink at `path` is refused (PathError) rather than written through.
    """
    folder, name = os.path.split(path)
    try:
        if not os.path.islink(path):
            with open(path, "rb") as handle:
                if handle.read() == data:
                    return False
    except FileNotFoundError:
        os.makedirs(folder or ".", exist_ok=True)
    write_in_tree(folder or ".", name, data)
    return True


def read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
