"""What the hooks remember between runs: which notebook was last in sync with which `.py` text.

The cache lives in the work tree's own git dir (`.git/git-credential-sagemaker/notebooks.json`),
so it is never committed and each worktree has its own. For each notebook it keeps the notebook's
`(mtime_ns, size)` when it was last converted or rebuilt, the paired `.py` path, and the sha256
of the `.py` text that notebook corresponds to. The pre-commit hook uses it in two ways:

* a notebook whose stat still matches is skipped without reading it or importing jupytext;
* a `.py` whose sha still matches was produced from (or rebuilt into) the notebook, so it may be
  replaced; any other content is an edit of its own and is never overwritten.

The repository's jupytext configuration files (stat only) are part of the cache key: editing
them makes every notebook stale (the sha of each `.py` is kept, so the hook may still rewrite
it). A missing, unreadable or foreign cache is simply empty. It is read and written with the
hooks' safe file functions (util), with the git dir as the root: never through a symlink that
leads out of it, and replaced atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import NamedTuple

from .jupytext_config import CONFIG_FILE_NAMES
from .util import PathError, read_in_tree, write_in_tree

CACHE_VERSION = 1
CACHE_DIR = "git-credential-sagemaker"
CACHE_FILE = "notebooks.json"


class Entry(NamedTuple):
    mtime_ns: int
    size: int
    py: str
    py_sha: str


def config_fingerprint(root: str) -> list[list[object]]:
    """(name, mtime_ns, size) of each jupytext configuration candidate at the repository root."""
    found: list[list[object]] = []
    for name in CONFIG_FILE_NAMES:
        try:
            st = os.stat(os.path.join(root, name))
        except OSError:
            continue
        found.append([name, st.st_mtime_ns, st.st_size])
    return found


def cache_path(git_dir: str) -> str:
    return os.path.join(git_dir, CACHE_DIR, CACHE_FILE)


CACHE_REL = os.path.join(CACHE_DIR, CACHE_FILE)


class SyncCache:
    """Notebook path (relative, '/'-separated) -> Entry, bound to one configuration fingerprint."""

    def __init__(self, fingerprint: list[list[object]], entries: dict[str, Entry] | None = None):
        self.fingerprint = fingerprint
        self.entries: dict[str, Entry] = dict(entries or {})
        self.dirty = False

    @classmethod
    def load(cls, git_dir: str, fingerprint: list[list[object]]) -> SyncCache:
        try:
            raw = read_in_tree(git_dir, CACHE_REL)
            if raw is None:
                return cls(fingerprint)
            data = json.loads(raw.decode("utf-8"))
            if data["version"] != CACHE_VERSION:
                return cls(fingerprint)
            entries = {nb: Entry(*fields) for nb, fields in data["notebooks"].items()}
            if data["config"] != fingerprint:
                # Convert everything again, but remember which .py texts were ours.
                entries = {nb: e._replace(mtime_ns=-1, size=-1) for nb, e in entries.items()}
        except (PathError, ValueError, KeyError, TypeError):
            return cls(fingerprint)
        return cls(fingerprint, entries)

    def get(self, notebook: str) -> Entry | None:
        return self.entries.get(notebook)

    def fresh(self, notebook: str, st: os.stat_result) -> Entry | None:
        """The entry if the notebook's stat is unchanged since it was recorded."""
        entry = self.entries.get(notebook)
        if entry is None or entry.mtime_ns != st.st_mtime_ns or entry.size != st.st_size:
            return None
        return entry

    def record(self, notebook: str, st: os.stat_result, py: str, py_sha: str) -> None:
        self.entries[notebook] = Entry(st.st_mtime_ns, st.st_size, py, py_sha)
        self.dirty = True

    def forget(self, notebook: str) -> None:
        if self.entries.pop(notebook, None) is not None:
            self.dirty = True

    def notebook_for_py(self, py: str) -> str | None:
        for notebook, entry in self.entries.items():
            if entry.py == py:
                return notebook
        return None

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def save(self, git_dir: str) -> str | None:
        """Write atomically (rename), so a crash never leaves a half-written cache.

        Returns None, or the one-line reason the cache could not be written (the hooks work
        without it, only slower, so this is reported rather than raised).
        """
        if not self.dirty:
            return None
        data = {
            "version": CACHE_VERSION,
            "config": self.fingerprint,
            "notebooks": {nb: list(entry) for nb, entry in sorted(self.entries.items())},
        }
        try:
            write_in_tree(git_dir, CACHE_REL, json.dumps(data, separators=(",", ":")).encode())
        except PathError as err:
            return f"{cache_path(git_dir)} {err.reason}"
        self.dirty = False
        return None
