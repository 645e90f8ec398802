"""Private files on disk: 0700 directories we own, a bounded lock, and atomic replacement.

    ensure_private_dir --> exclusive_lock(.lock) --> atomic_write(temp, fsync, rename, fsync dir)
                                                 --> move_aside(rename, fsync dir): never deletes

A crash leaves the old file or the new one, never a mix, and two writers never lose each
other's update (the store re-reads under the lock). Symlinks and other users' files are
refused, so nobody can point our writes elsewhere.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from git_credential_sagemaker.errors import StoreError

LOCKNAME = ".lock"
LOCK_TIMEOUT = 10.0


def refuse_unless_private(path: Path, st: os.stat_result, mode: int) -> None:
    """Refuse a symlink, another user's file, or one others can read; say how to fix it."""
    if stat.S_ISLNK(st.st_mode):
        raise StoreError(f"{path} is a symlink; refusing to use it")
    if st.st_uid != os.getuid():
        raise StoreError(f"{path} is owned by uid {st.st_uid}, not you; refusing to use it")
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise StoreError(
            f"{path} is readable by others (mode {stat.S_IMODE(st.st_mode):03o}); "
            f"fix it with: chmod {mode:o} '{path}'"
        )


def ensure_private_dir(path: Path, create: bool = True) -> bool:
    """Make or check a 0700 directory we own. Returns False when it is absent and not made."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if not create:
            return False
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                os.mkdir(path, 0o700)
            st = os.lstat(path)
            if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid():
                os.chmod(path, 0o700)  # whatever the umask
                st = os.lstat(path)
        except OSError as exc:
            raise StoreError(f"cannot create {path}: {describe(exc)}") from None
    if not stat.S_ISDIR(st.st_mode) and not stat.S_ISLNK(st.st_mode):
        raise StoreError(f"{path} is not a directory")
    refuse_unless_private(path, st, 0o700)
    return True


def check_private_file(path: Path) -> bool:
    """Whether a private regular file exists at `path`; anything unsafe is an error."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    refuse_unless_private(path, st, 0o600)
    return True


def prepare_store_dir(directory: Path) -> None:
    """A private directory whose `.gitignore` keeps it out of a repo made at the volume root."""
    ensure_private_dir(directory, create=True)
    gitignore = directory / ".gitignore"
    if not gitignore.exists():
        atomic_write(gitignore, "*\n")


def describe(exc: OSError) -> str:
    """An OSError as a short phrase ("No space left on device"), without its file names."""
    return exc.strerror or type(exc).__name__


@contextlib.contextmanager
def exclusive_lock(directory: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold `.lock` exclusively; give up with a clear error after `timeout` seconds."""
    lock_path = directory / LOCKNAME
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StoreError(f"cannot open {lock_path}: {describe(exc)}") from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"{lock_path} is held by another process for over {timeout:g}s; try again"
                    ) from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)


def atomic_write(path: Path, data: str | bytes, mode: int = 0o600) -> None:
    """Replace `path` so that a crash leaves the old file or the new one, never a mix.

    A failure (disk full, read-only directory) is one StoreError line; the old file stays.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            os.fchmod(fd, mode)
            view = memoryview(raw)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        tmp = None
        _sync_dir(path.parent)
    except OSError as exc:
        raise StoreError(
            f"could not write {path}: {describe(exc)}; the previous file is unchanged"
        ) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def move_aside(path: Path, target: Path) -> Path:
    """Rename `path` to `target` (which must not exist) and make the rename durable."""
    try:
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "File exists")
        os.rename(path, target)
        _sync_dir(path.parent)
    except OSError as exc:
        raise StoreError(f"could not move {path} aside: {describe(exc)}") from None
    return target


def _sync_dir(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
