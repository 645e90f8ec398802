"""pre-commit hook: write each notebook's `.py` script, and stop commits that would hold notebooks.

Data flow: `git ls-files` finds every notebook (tracked, untracked, ignored) -> the cache under
`.git/` skips notebooks whose stat is unchanged since they were last in sync (no jupytext import)
-> the others are converted in this process with jupytext's API -> each `.py` is written only if
it is missing, or holds exactly what the hook last wrote or what HEAD has -> the hook prints the
`git add` / `git rm --cached` commands the commit still needs and exits 1, or exits 0.

The hook never edits the index: pre-commit stashes unstaged changes around hooks, so index edits
made here could be lost or conflict. A `.py` edited by hand while its notebook changed too is
left alone and reported as a conflict, with the two commands that resolve it either way.

Files are read and written with util's `read_in_tree` / `write_in_tree`: a notebook that is a
symlink is read only while it stays inside the work tree (so nothing from outside can reach a
committed script), and a `.py` is never written through a symlink or outside the work tree, but
replaced atomically. Each refusal is one error line naming the file, and the hook exits 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple, Optional

from .cache import SyncCache, config_fingerprint
from .discover import index_status, list_notebooks
from .util import (
    ConfigError,
    GitError,
    PathError,
    escape,
    find_repo,
    ignored_paths,
    pathspec,
    read_blobs,
    read_in_tree,
    say,
    sha256,
    shell_join,
    write_in_tree,
)

if TYPE_CHECKING:
    from .cache import Entry
    from .pairing import Pairing

NAME = "notebooks-to-py"
PROG = "git-credential-sagemaker-notebooks-to-py"
PY_TO_NOTEBOOKS = "git-credential-sagemaker-py-to-notebooks"
IGNORE_LINE = "*.ipynb"


class Converted(NamedTuple):
    notebook: str
    st: os.stat_result
    py: str
    text: bytes | None  # None when the notebook could not be converted
    error: str
    refused: bool = False  # the error is a path the hooks do not read (see util)


class Report(NamedTuple):
    in_sync: dict[str, str]  # notebook -> .py, for every notebook whose .py is up to date
    wrote: list[str]
    conflicts: list[tuple[str, str]]
    errors: list[str]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Write each notebook's .py script; commits hold the scripts only.",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="skip notebooks whose repository-relative path matches GLOB (repeatable)",
    )
    parser.add_argument(
        "--overwrite",
        action="append",
        default=[],
        metavar="NOTEBOOK",
        help="write this notebook's .py even if the .py has edits of its own (repeatable)",
    )
    return parser.parse_args(argv)


def may_replace(current: bytes, entry: Entry | None, head: bytes | None) -> bool:
    """Whether the `.py` holding `current` may be overwritten without losing work.

    It may if it is what the notebook was last in sync with (the cache's sha), or, for a
    notebook the cache does not know, if it is exactly the committed version.
    """
    if entry is not None:
        return sha256(current) == entry.py_sha
    return head is not None and current == head


def convert_stale(
    root: str, stale: list[tuple[str, os.stat_result]], pairing: Pairing, cache: SyncCache
) -> list[Converted]:
    """Convert notebooks with jupytext in this process (imported here, only when needed)."""
    from .convert import NotebookError, load_notebook, notebook_to_text

    results: list[Converted] = []
    for notebook, st in stale:
        entry = cache.get(notebook)
        py, fmt = pairing.py_for_notebook(notebook)
        if entry is not None and entry.py != py:
            cache.forget(notebook)
        try:
            data = read_in_tree(root, notebook)
        except PathError as err:
            results.append(Converted(notebook, st, py, None, str(err), refused=True))
            continue
        if data is None:
            continue
        try:
            nb = load_notebook(data)
            text = notebook_to_text(nb, pairing.text_format(fmt, nb.metadata), pairing.config)
        except NotebookError as err:
            results.append(Converted(notebook, st, py, None, str(err)))
            continue
        results.append(Converted(notebook, st, py, text.encode("utf-8"), ""))
    return results


def apply(root: str, converted: list[Converted], cache: SyncCache, overwrite: set[str]) -> Report:
    """Write the `.py` files that may be written; collect conflicts and errors."""
    report = Report({}, [], [], [])
    current: dict[str, bytes | None] = {}
    for c in converted:
        if c.text is None:
            report.errors.append(error_message(c.notebook, c.error, c.refused))
            continue
        try:
            current[c.py] = read_in_tree(root, c.py)
        except PathError as err:
            report.errors.append(not_written_message(c.notebook, err))
    need_head = [
        c.py
        for c in converted
        if c.py in current and current[c.py] not in (None, c.text) and cache.get(c.notebook) is None
    ]
    heads = read_blobs(root, "HEAD", need_head) if need_head else {}
    for c in converted:
        if c.text is None or c.py not in current:
            continue
        now = current[c.py]
        if now is not None and now != c.text and c.notebook not in overwrite:
            from .convert import same_cells

            if same_cells(now, c.text):  # JupyterLab's jupytext wrote it, or a header aged
                cache.record(c.notebook, c.st, c.py, sha256(now))
                report.in_sync[c.notebook] = c.py
                continue
        if now is not None and now != c.text:
            replace = c.notebook in overwrite or may_replace(
                now, cache.get(c.notebook), heads.get(c.py)
            )
            if not replace:
                report.conflicts.append((c.notebook, c.py))
                continue
        if now != c.text:
            try:
                write_in_tree(root, c.py, c.text)
            except PathError as err:
                report.errors.append(not_written_message(c.notebook, err))
                continue
            report.wrote.append(c.py)
        cache.record(c.notebook, c.st, c.py, sha256(c.text))
        report.in_sync[c.notebook] = c.py
    return report


def prune(root: str, cache: SyncCache, listed: set[str]) -> None:
    """Forget notebooks that are gone together with their `.py` (kept if either remains)."""
    for notebook in [nb for nb in cache if nb not in listed]:
        entry = cache.get(notebook)
        py_gone = entry is None or not os.path.exists(os.path.join(root, entry.py))
        if py_gone and not os.path.exists(os.path.join(root, notebook)):
            cache.forget(notebook)


def relative(root: str, path: str) -> str:
    """A path given on the command line (relative to the current folder) relative to the root."""
    return os.path.relpath(os.path.abspath(path), root).replace(os.sep, "/")


def private_notebooks(
    root: str,
    ignored: frozenset[str],
    in_sync: dict[str, str],
    stale: list[tuple[str, os.stat_result]],
    pairing: Pairing | None,
) -> set[str]:
    """Ignored notebooks whose `.py` would be ignored too: kept out of the repository on purpose."""
    py_of = {nb: py for nb, py in in_sync.items() if nb in ignored}
    if pairing is not None:
        py_of.update({nb: pairing.py_for_notebook(nb)[0] for nb, _ in stale if nb in ignored})
    hidden = ignored_paths(root, sorted(set(py_of.values())))
    return {nb for nb, py in py_of.items() if py in hidden}


def error_message(notebook: str, reason: str, refused: bool = False) -> str:
    skip = f"skip it with `args: [--exclude, {escape(notebook)}]` in .pre-commit-config.yaml"
    reason = escape(reason)  # what jupytext or nbformat said may quote the notebook
    if refused:
        return f"{NAME}: error: {reason}; make it a regular file in the repository, or {skip}"
    if reason.startswith("nbformat "):
        upgrade = (
            "import nbformat; "
            f"nbformat.write(nbformat.read({notebook!r}, as_version=4), {notebook!r})"
        )
        fix = f"upgrade it: {shell_join(['python', '-c', upgrade])}"
    else:
        fix = f"repair it by hand or delete it ({shell_join(['rm', '--', notebook])})"
    return f"{NAME}: error: {escape(notebook)}: {reason}; {fix}, or {skip}"


def not_written_message(notebook: str, err: PathError) -> str:
    notebook = escape(notebook)
    return (
        f"{NAME}: error: {err}; {notebook}'s script was not written. Fix it, or skip the "
        f"notebook with `args: [--exclude, {notebook}]` in .pre-commit-config.yaml"
    )


def gitignore_command(root: str) -> str:
    try:
        existing = read_in_tree(root, ".gitignore")
    except PathError:  # git reads no .gitignore that is a symlink: a new line starts it anew
        existing = None
    line = shell_join([IGNORE_LINE])
    if existing and not existing.endswith(b"\n"):
        append = f"printf '\\n%s\\n' {line} >> .gitignore"
    else:
        append = f"echo {line} >> .gitignore"
    return f"{append} && git add .gitignore"


def conflict_message(notebook: str, py: str) -> str:
    """Both ways out keep the `.py`: it may hold a merge or a pull, which the notebook's
    version would silently undo; the notebook's edits are kept in a copy, or dropped by name."""
    copy = f"{notebook}.mine"
    rebuild = [PY_TO_NOTEBOOKS, "--overwrite", py]
    return (
        f"{NAME}: {escape(notebook)} and {escape(py)} were both edited since they were last in "
        f"sync, so neither was changed. {escape(py)} may hold someone else's change (a merge or "
        "a pull), which the notebook's version would undo. Resolve it one way or the other:\n"
        f"  keep both: rebuild the notebook from {escape(py)} (outputs are kept) with your "
        f"version saved as {escape(copy)}, then bring your edits over from it: "
        f"{shell_join(['cp', '--', notebook, copy])} && {shell_join(rebuild)}\n"
        f"  keep {escape(py)} only (drops the notebook's edits, keeps its outputs): "
        f"{shell_join(rebuild)}"
    )


def print_report(root: str, report: Report, unstaged: list[str], tracked: list[str]) -> None:
    """Print what the commit still needs; every name from the tree escaped (see util)."""
    for line in report.errors:
        say(line)
    for notebook, py in report.conflicts:
        say(conflict_message(notebook, py))
    if unstaged:
        say(f"{NAME}: these scripts of your notebooks are not staged:")
        for py in unstaged:
            say(f"  {escape(py)}")
        say(f"  run: {shell_join(['git', 'add', '--', *map(pathspec, unstaged)])}")
    if tracked:
        say(f"{NAME}: commits should hold .py scripts, not these notebooks:")
        for notebook in tracked:
            say(f"  {escape(notebook)}")
        untrack = ["git", "rm", "--cached", "--quiet", "--", *map(pathspec, tracked)]
        say(f"  run: {shell_join(untrack)}")
        if set(tracked) - ignored_paths(root, tracked, no_index=True):
            say(f"  and ignore notebooks: {gitignore_command(root)}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        root, git_dir = find_repo()
    except GitError as err:
        say(f"{NAME}: error: {err}; run it inside a git work tree", sys.stderr)
        return 1
    try:
        return run(root, git_dir, args)
    except GitError as err:  # git refused what it was asked: one line, never a traceback
        say(f"{NAME}: error: git failed: {err}", sys.stderr)
        return 1


def run(root: str, git_dir: str, args: argparse.Namespace) -> int:
    listing = list_notebooks(root, args.exclude)
    overwrite = {relative(root, p) for p in args.overwrite}
    cache = SyncCache.load(git_dir, config_fingerprint(root))
    in_sync: dict[str, str] = {}
    stale: list[tuple[str, os.stat_result]] = []
    for notebook in listing.notebooks:
        try:
            st = os.stat(os.path.join(root, notebook))
        except OSError:
            continue  # in the index but deleted from the work tree
        entry = cache.fresh(notebook, st)
        if entry and notebook not in overwrite and os.path.exists(os.path.join(root, entry.py)):
            in_sync[notebook] = entry.py
        else:
            stale.append((notebook, st))
    pairing: Pairing | None = None
    if stale:
        from .pairing import Pairing

        try:
            pairing = Pairing(root)
        except ConfigError as err:
            say(f"{NAME}: error: {err}")
            return 1
    private = private_notebooks(root, listing.ignored, in_sync, stale, pairing)
    in_sync = {nb: py for nb, py in in_sync.items() if nb not in private}
    stale = [(nb, st) for nb, st in stale if nb not in private]
    prune(root, cache, set(listing.notebooks))
    report = Report({}, [], [], [])
    if stale and pairing is not None:
        report = apply(root, convert_stale(root, stale, pairing, cache), cache, overwrite)
        in_sync.update(report.in_sync)
    cache_problem = cache.save(git_dir)
    if cache_problem:
        report.errors.append(f"{NAME}: error: {cache_problem}; the hook's cache was not saved")
    status = index_status(root) if report.wrote else listing.status
    unstaged = sorted({py for py in in_sync.values() if status.unstaged(py)})
    tracked = [nb for nb in listing.notebooks if nb in listing.status.tracked]
    print_report(root, report, unstaged, tracked)
    failed = report.errors or report.conflicts or unstaged or tracked
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
