"""Find the repo's notebooks and the index state of `.py` files, with two parallel `git ls-files`.

pre-commit only hands hooks the files git knows about, and never ignored ones, yet SageMaker users
usually gitignore `*.ipynb`. So the hook asks git itself:

* `ls-files -t --cached --others --modified --exclude-standard -- *.ipynb *.py` gives tracked
  notebooks and `.py` files (`H`), untracked ones (`?`) and `.py` files whose work tree content
  differs from the index (`C`);
* `ls-files --others --ignored --exclude-standard -- *.ipynb` adds the ignored notebooks.

Notebooks under `.ipynb_checkpoints/` and those matching an `--exclude` glob are dropped.
Ignored notebooks are kept apart: the hook skips those whose `.py` would be ignored too (a
gitignored `scratch/` folder is private, while `*.ipynb` only keeps notebook JSON out).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from .util import git_popen, git_wait, glob_pathspec, zsplit

CHECKPOINTS = ".ipynb_checkpoints"
STATUS_ARGS = ("ls-files", "-z", "-t", "--cached", "--others", "--modified", "--exclude-standard")
NOTEBOOKS = glob_pathspec(".ipynb")
SCRIPTS = glob_pathspec(".py")


class IndexStatus(NamedTuple):
    tracked: frozenset[str]
    untracked: frozenset[str]
    modified: frozenset[str]

    def unstaged(self, path: str) -> bool:
        """True when `git add path` would change the index."""
        return path not in self.tracked or path in self.modified


class Listing(NamedTuple):
    notebooks: list[str]
    status: IndexStatus
    ignored: frozenset[str]  # the notebooks that .gitignore rules cover


def parse_status(raw: bytes) -> IndexStatus:
    """Parse `git ls-files -z -t` output into tracked / untracked / modified path sets."""
    tracked: set[str] = set()
    untracked: set[str] = set()
    modified: set[str] = set()
    for item in zsplit(raw):
        tag, path = item[:1], item[2:]
        if tag == "?":
            untracked.add(path)
        elif tag == "C":
            modified.add(path)
        else:
            tracked.add(path)
    return IndexStatus(frozenset(tracked), frozenset(untracked), frozenset(modified))


def is_notebook_candidate(path: str, excludes: Sequence[str]) -> bool:
    if not path.endswith(".ipynb"):
        return False
    if CHECKPOINTS in path.split("/")[:-1]:
        return False
    return not any(fnmatch.fnmatchcase(path, pattern) for pattern in excludes)


def select_notebooks(paths: Iterable[str], excludes: Sequence[str]) -> list[str]:
    return sorted({p for p in paths if is_notebook_candidate(p, excludes)})


def index_status(root: str, pathspecs: Sequence[str] = (SCRIPTS,)) -> IndexStatus:
    """The index state of the files our pathspecs (`glob_pathspec`) match."""
    return parse_status(git_wait(git_popen([*STATUS_ARGS, "--", *pathspecs], root, patterns=True)))


def list_notebooks(root: str, excludes: Sequence[str]) -> Listing:
    """Tracked, untracked and ignored notebooks (sorted), plus the index state of `.py` files."""
    status_proc = git_popen([*STATUS_ARGS, "--", NOTEBOOKS, SCRIPTS], root, patterns=True)
    ignored_proc = git_popen(
        ["ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--", NOTEBOOKS],
        root,
        patterns=True,
    )
    status = parse_status(git_wait(status_proc))
    ignored = zsplit(git_wait(ignored_proc))
    found = [p for p in status.tracked | status.untracked if p.endswith(".ipynb")]
    return Listing(select_notebooks([*found, *ignored], excludes), status, frozenset(ignored))
