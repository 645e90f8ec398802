"""post-checkout/merge/rewrite/commit hook: rebuild the notebooks whose `.py` git changed.

Data flow: git lists the `.py` files that changed between `PRE_COMMIT_FROM_REF` and
`PRE_COMMIT_TO_REF` (post-checkout), between `ORIG_HEAD` and `HEAD` (post-merge, and
post-rewrite after a rebase), or, after a commit (post-commit), between the first parent and
`HEAD` when that commit concluded a merge, a cherry-pick or a revert (HEAD's reflog says so:
git runs no post-merge hook for the commit that concludes a conflicted merge) -> only jupytext
scripts are kept: a jupytext header, a pairing the cache remembers, an existing paired
notebook, or a prefix/suffix pairing in the repo's jupytext configuration; plain modules like
`train.py` are never touched -> each notebook is rebuilt from its `.py` with jupytext, keeping
the outputs of the cells whose code is unchanged, or created if missing.

A notebook is only replaced when that loses nothing: it is unchanged since it was last in sync
(the cache), or its inputs equal the `.py` at the old ref, or already equal the new `.py`.
Otherwise it is left as is and the hook prints both ways to resolve it, and exits 1.

Files go through util's `read_in_tree` / `write_in_tree`: a `.py` or notebook that is a symlink
is read only while it stays inside the work tree, and a notebook is never written through a
symlink (`a.ipynb -> /anywhere/file` in a pulled commit) or into a folder that leads outside the
work tree, but replaced atomically. Each refusal is one error line naming the file; exit 1.

Without refs it can be run by hand: explicit `.py` paths, or `--all` for every tracked jupytext
script, which is also what a run outside a git hook does (`pre-commit run --hook-stage manual
py-to-notebooks`, e.g. after a clone); `--overwrite` replaces notebooks with local edits.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple, Optional

from .cache import SyncCache, config_fingerprint
from .header import has_jupytext_header
from .util import (
    ConfigError,
    GitError,
    PathError,
    decode,
    escape,
    find_repo,
    git,
    glob_pathspec,
    read_blobs,
    read_bytes,
    read_in_tree,
    say,
    sha256,
    shell_join,
    write_in_tree,
    zsplit,
)

if TYPE_CHECKING:
    from nbformat import NotebookNode

NAME = "py-to-notebooks"
PROG = "git-credential-sagemaker-py-to-notebooks"
NOTEBOOKS_TO_PY = "git-credential-sagemaker-notebooks-to-py"


class Script(NamedTuple):
    py: str
    notebook: str
    text: bytes


class Changes(NamedTuple):
    scripts: list[str]
    old_ref: str | None  # the ref the notebooks were in sync with before; None after a clone
    explicit: bool


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Rebuild notebooks from the jupytext .py scripts a checkout or merge changed.",
    )
    parser.add_argument("paths", nargs="*", help="rebuild the notebooks of these .py scripts")
    parser.add_argument("--all", action="store_true", help="every tracked jupytext script")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace notebooks even if they have local edits"
    )
    parser.add_argument("--from-ref", default=os.environ.get("PRE_COMMIT_FROM_REF"))
    parser.add_argument("--to-ref", default=os.environ.get("PRE_COMMIT_TO_REF"))
    parser.add_argument(
        "--rewrite-command",
        default=os.environ.get("PRE_COMMIT_REWRITE_COMMAND"),
        help=argparse.SUPPRESS,
    )
    return parser.parse_args(argv)


def is_null_ref(ref: str) -> bool:
    return bool(ref) and set(ref) == {"0"}


def ref_exists(root: str, ref: str) -> bool:
    try:
        git(["rev-parse", "--quiet", "--verify", f"{ref}^{{commit}}"], root)
    except GitError:
        return False
    return True


def changed_between(root: str, old: str, new: str) -> list[str]:
    out = git(["diff", "-z", "--name-only", "--no-renames", "--diff-filter=d", old, new], root)
    return [p for p in zsplit(out) if p.endswith(".py")]


def find_changes(root: str, args: argparse.Namespace) -> Changes:
    if args.paths:
        scripts = []
        for path in args.paths:
            rel = os.path.relpath(os.path.abspath(path), root).replace(os.sep, "/")
            scripts.append(rel)
        return Changes(scripts, "HEAD", True)
    if args.all:
        listed = git(["ls-files", "-z", "--", glob_pathspec(".py")], root, patterns=True)
        return Changes(zsplit(listed), "HEAD", False)
    if args.from_ref and args.to_ref:
        if is_null_ref(args.from_ref):  # post-checkout of a fresh clone
            out = git(["ls-tree", "-r", "-z", "--name-only", args.to_ref], root)
            return Changes([p for p in zsplit(out) if p.endswith(".py")], None, False)
        return Changes(changed_between(root, args.from_ref, args.to_ref), args.from_ref, False)
    if args.rewrite_command == "amend":
        return Changes([], None, False)  # an amend only re-commits what the notebooks wrote
    if args.rewrite_command is None and not os.environ.get("PRE_COMMIT_IS_SQUASH_MERGE"):
        after = after_commit(root)  # neither post-rewrite nor post-merge
        if after is not None:
            return after
    if not ref_exists(root, "ORIG_HEAD"):
        return Changes([], None, False)
    changed = changed_between(root, "ORIG_HEAD", "HEAD")
    onto = rebase_onto(root) if args.rewrite_command == "rebase" else None
    if onto is not None:  # the notebooks were rebuilt at onto when the rebase began
        changed += [p for p in changed_between(root, onto, "HEAD") if p not in changed]
    return Changes(changed, "ORIG_HEAD", False)


# How HEAD's last reflog entry starts after a commit that brings in someone else's change.
CONCLUDED = ("commit (merge)", "commit (cherry-pick)", "cherry-pick", "commit (revert)", "revert")


def rebase_folders(root: str) -> list[str]:
    found = git(["rev-parse", "--git-path", "rebase-merge", "--git-path", "rebase-apply"], root)
    return [os.path.join(root, p) for p in decode(found).splitlines()]


def rebase_in_progress(root: str) -> bool:
    """A rebase (or `git am`) is under way: its post-rewrite rebuilds when it ends."""
    return any(os.path.isdir(folder) for folder in rebase_folders(root))


def rebase_onto(root: str) -> str | None:
    """The commit a finishing rebase started from (post-rewrite runs before its state goes).

    Its first checkout rebuilt the notebooks there, so a conflict resolved back to the
    rebased branch's own version changes nothing between ORIG_HEAD and HEAD, yet the
    notebook shows onto's.
    """
    for folder in rebase_folders(root):
        onto = read_bytes(os.path.join(folder, "onto"))
        if onto and ref_exists(root, decode(onto).strip()):
            return decode(onto).strip()
    return None


def after_commit(root: str) -> Changes | None:
    """What a post-commit hook, or a run by hand without refs, rebuilds; None: after a merge.

    git runs post-commit with GIT_INDEX_FILE set; a run by hand (no git hook) builds the
    notebooks of every tracked script, as `--all` does.
    """
    if rebase_in_progress(root):
        return Changes([], None, False)
    try:
        last = decode(git(["reflog", "-1", "--format=%gs", "HEAD"], root)).strip()
    except GitError:
        last = ""
    if last.startswith(CONCLUDED) and ref_exists(root, "HEAD^1"):
        return Changes(changed_between(root, "HEAD^1", "HEAD"), "HEAD^1", False)
    if last.startswith(("merge", "pull")) and ref_exists(root, "ORIG_HEAD"):
        return None  # by hand after a merge or pull: ORIG_HEAD, as post-merge does
    if os.environ.get("GIT_INDEX_FILE"):
        return Changes([], None, False)  # after a commit of the user's own
    listed = git(["ls-files", "-z", "--", glob_pathspec(".py")], root, patterns=True)
    return Changes(zsplit(listed), "HEAD", False)


def recognise(
    root: str, changes: Changes, cache: SyncCache, refused: list[str] | None = None
) -> list[Script]:
    """The changed `.py` files that are jupytext notebooks, each with its notebook path.

    A `.py` the hooks do not read (a symlink leading outside the work tree) is left out, with
    one line saying why appended to `refused`.
    """
    scripts: list[Script] = []
    undecided: list[tuple[str, bytes]] = []
    for py in changes.scripts:
        try:
            text = read_in_tree(root, py)
        except PathError as err:
            if refused is not None:
                refused.append(f"{NAME}: error: {err}; no notebook was built from it")
            continue
        if text is None or not py.endswith(".py"):
            continue
        known = cache.notebook_for_py(py)
        default_nb = py[: -len(".py")] + ".ipynb"
        if known is not None:
            scripts.append(Script(py, known, text))
        elif (
            changes.explicit
            or has_jupytext_header(decode(text))
            or os.path.exists(os.path.join(root, default_nb))
        ) or cache.fingerprint:
            undecided.append((py, text))
    if not undecided:
        return scripts
    from .pairing import Pairing

    pairing = Pairing(root)
    for py, text in undecided:
        notebook, singled_out = pairing.notebook_for_py(py)
        if (
            singled_out
            or changes.explicit
            or has_jupytext_header(decode(text))
            or os.path.exists(os.path.join(root, notebook))
        ):
            scripts.append(Script(py, notebook, text))
    return scripts


def local_edits_message(script: Script, old_ref: str | None) -> str:
    py, notebook = escape(script.py), escape(script.notebook)
    where = f"{py} at {old_ref}" if old_ref else "any commit"
    return (
        f"{NAME}: {notebook} has edits that are not in {where}, so it was left as is; "
        f"{py} holds the new version. Resolve it one way or the other:\n"
        f"  keep your edits: {shell_join([NOTEBOOKS_TO_PY, '--overwrite', script.notebook])}"
        f" then merge the new version back into {py} by hand (git diff -- "
        f"{shell_join([script.py])}) and run {shell_join([PROG, '--overwrite', script.py])}\n"
        f"  drop your edits (outputs are kept): {shell_join([PROG, '--overwrite', script.py])}"
    )


class Rebuilt(NamedTuple):
    built: list[Script]  # the notebooks written, rebuilt or created
    messages: list[str]  # one for each notebook left alone, saying why and what to run


def rebuild(
    root: str, scripts: list[Script], changes: Changes, cache: SyncCache, overwrite: bool
) -> Rebuilt:
    """Rebuild or create each notebook whose inputs differ from its `.py`."""
    from .convert import (
        NotebookError,
        inputs_text,
        load_notebook,
        notebook_bytes,
        rebuild_notebook,
        text_format_name,
        text_to_notebook,
    )

    messages: list[str] = []
    built: list[Script] = []
    existing: dict[str, bytes | None] = {}
    for script in scripts:
        try:
            existing[script.notebook] = read_in_tree(root, script.notebook)
        except PathError as err:
            messages.append(not_written_message(script, err))
    scripts = [s for s in scripts if s.notebook in existing]
    need_old = [s.py for s in scripts if existing[s.notebook] is not None]
    old_blobs = read_blobs(root, changes.old_ref, need_old) if changes.old_ref and need_old else {}
    for script in scripts:
        nb_path = os.path.join(root, script.notebook)
        try:
            source = text_to_notebook(script.text.decode("utf-8"))
            fmt_name = text_format_name(source)
            raw = existing[script.notebook]
            old_nb = load_notebook(raw) if raw is not None else None
            if old_nb is not None:
                same = inputs_text(old_nb, fmt_name) == inputs_text(source, fmt_name)
                if (
                    not same
                    and not overwrite
                    and not in_sync_before(
                        script, old_nb, old_blobs.get(script.py), fmt_name, cache, nb_path
                    )
                ):
                    messages.append(local_edits_message(script, changes.old_ref))
                    continue
                if same:
                    cache.record(script.notebook, os.stat(nb_path), script.py, sha256(script.text))
                    continue
            data = notebook_bytes(rebuild_notebook(source, old_nb))
        except (NotebookError, UnicodeDecodeError) as err:
            messages.append(
                f"{NAME}: error: {escape(script.py)} -> {escape(script.notebook)}: "
                f"{escape(str(err))}; the notebook was left as is. Fix it, then run "
                f"{shell_join([PROG, script.py])}"
            )
            continue
        try:
            st = write_in_tree(root, script.notebook, data)
        except PathError as err:
            messages.append(not_written_message(script, err))
            continue
        cache.record(script.notebook, st, script.py, sha256(script.text))
        built.append(script)
    return Rebuilt(built, messages)


def built_line(built: list[Script], shown: int = 3) -> str:
    """One line naming the notebooks a hook wrote: pre-commit shows it (`verbose: true`)."""
    names = [escape(s.notebook) for s in built]
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return (
        f"{NAME}: {', '.join(names[:shown])}{more} rebuilt from the .py "
        "(outputs of unchanged cells kept)"
    )


def out_of_date(root: str, scripts: list[Script], cache: SyncCache) -> list[Script]:
    """The scripts whose notebook is missing, or whose inputs differ from the `.py`.

    A notebook the cache saw in sync with this very `.py` is not read; one that cannot be
    read or converted is left to the hooks, which say why when they run.
    """
    from .convert import (
        NotebookError,
        inputs_text,
        load_notebook,
        text_format_name,
        text_to_notebook,
    )

    stale: list[Script] = []
    for script in scripts:
        try:
            raw = read_in_tree(root, script.notebook)
        except PathError:
            continue
        if raw is None:
            stale.append(script)
            continue
        entry = cache.fresh(script.notebook, os.stat(os.path.join(root, script.notebook)))
        if entry is not None and entry.py_sha == sha256(script.text):
            continue
        try:
            source = text_to_notebook(script.text.decode("utf-8"))
            fmt_name = text_format_name(source)
            if inputs_text(load_notebook(raw), fmt_name) != inputs_text(source, fmt_name):
                stale.append(script)
        except (NotebookError, UnicodeDecodeError):
            continue
    return stale


def not_written_message(script: Script, err: PathError) -> str:
    return (
        f"{NAME}: error: {escape(script.py)} -> {err}; the notebook was left as is. Fix it, "
        "then run "
        f"{shell_join([PROG, script.py])}"
    )


def in_sync_before(
    script: Script,
    notebook: NotebookNode,
    old_text: bytes | None,
    fmt_name: str,
    cache: SyncCache,
    nb_path: str,
) -> bool:
    """Whether replacing the notebook loses nothing: it holds no edit missing from a commit."""
    from .convert import inputs_text, text_to_notebook

    if cache.fresh(script.notebook, os.stat(nb_path)) is not None:
        return True
    if old_text is None:
        return False
    try:
        old = text_to_notebook(old_text.decode("utf-8"))
    except Exception:
        return False
    return inputs_text(notebook, fmt_name) == inputs_text(old, fmt_name)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        root, git_dir = find_repo()
        changes = find_changes(root, args)
    except GitError as err:
        say(f"{NAME}: error: {err}", sys.stderr)
        return 1
    try:
        return run(root, git_dir, args, changes)
    except GitError as err:  # git refused what it was asked: one line, never a traceback
        say(f"{NAME}: error: git failed: {err}", sys.stderr)
        return 1


def run(root: str, git_dir: str, args: argparse.Namespace, changes: Changes) -> int:
    bad = [
        p
        for p in changes.scripts
        if changes.explicit and (not p.endswith(".py") or not os.path.isfile(os.path.join(root, p)))
    ]
    for path in bad:
        say(f"{NAME}: error: {escape(path)} is not a .py script; run {PROG} with .py paths")
    cache = SyncCache.load(git_dir, config_fingerprint(root))
    refused: list[str] = []
    try:
        scripts = recognise(root, changes, cache, refused)
    except ConfigError as err:
        say(f"{NAME}: error: {err}")
        return 1
    done = rebuild(root, scripts, changes, cache, args.overwrite) if scripts else Rebuilt([], [])
    if done.built:
        say(built_line(done.built))
    messages = refused + done.messages
    cache_problem = cache.save(git_dir)
    if cache_problem:
        messages.append(f"{NAME}: error: {cache_problem}; the hook's cache was not saved")
    for message in messages:
        say(message)
    return 1 if messages or bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
