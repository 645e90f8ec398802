"""Set up one repository for the notebook hooks, and tell `doctor` what is missing there.

What it sets up, each only when missing (so running it again changes nothing):

1. `.gitignore` ignores `*.ipynb` and `.ipynb_checkpoints/`;
2. `jupytext.toml` pairs notebooks with `py:percent` scripts, unless jupytext already finds a
   configuration at the repository root;
3. `.pre-commit-config.yaml` runs the two notebook hooks (merged by precommit_config, which
   keeps the user's other hooks and comments byte for byte);
4. pre-commit's git hooks are installed for `HOOK_TYPES`;
5. with `migrate`, tracked notebooks are converted to their scripts, which are staged, and the
   notebooks leave the index (they stay on disk), so the index is ready to commit;
6. notebooks missing next to their tracked jupytext scripts (a fresh clone) are built.

Data flow: everything is first read and checked (git plumbing, the YAML, the notebooks to
migrate), so a predictable failure raises `SetupError` before any file changes; then each
step writes and says what it did as a `Change`. With `dry_run` the same checks run and the same
`Change` list comes back, but nothing is written and no state-changing command runs. The files
of steps 1-3 are staged, because pre-commit refuses to run with an unstaged config.

Conversion and notebook discovery are the hooks' own code (`git_credential_sagemaker.hooks`),
so a migrated script is byte-identical to what the pre-commit hook writes, and the hooks' sync
cache records it: the first commit after setup finds everything in sync.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from git_credential_sagemaker.credential import gitconfig
from git_credential_sagemaker.errors import SetupError
from git_credential_sagemaker.hooks import cache as hook_cache
from git_credential_sagemaker.hooks import discover, notebooks_to_py, py_to_notebooks, util
from git_credential_sagemaker.provision.precommit_config import CONFIG, config_state

HOOK_TYPES = ("pre-commit", "post-checkout", "post-merge", "post-rewrite")

SETUP = "git-credential-sagemaker setup"
GITIGNORE = ".gitignore"
JUPYTEXT_TOML = "jupytext.toml"
JUPYTEXT_TOML_TEXT = (
    "# Pair each notebook with a py:percent script; commits hold the scripts.\n"
    'formats = "ipynb,py:percent"\n'
)

# Each .gitignore line we want, with paths that line ignores (checked with git check-ignore,
# so `**/*.ipynb`, `.ipynb_checkpoints` or a whitelist already count as covering notebooks).
GITIGNORE_LINES: dict[str, tuple[str, ...]] = {
    "*.ipynb": ("probe.ipynb", "folder/probe.ipynb"),
    ".ipynb_checkpoints/": (".ipynb_checkpoints/probe", "folder/.ipynb_checkpoints/probe"),
}

HOOK_PURPOSE = {
    "pre-commit": "commits are not checked for notebooks, and their scripts are not written",
    "post-checkout": "notebooks are not rebuilt after a checkout",
    "post-merge": "notebooks are not rebuilt after a merge or pull",
    "post-rewrite": "notebooks are not rebuilt after a rebase",
}


class Change(NamedTuple):
    """One thing setup changed, or would change with dry_run, as a line for the user."""

    what: str
    advice: bool = False  # a step left to the user, not a change made


class _Migration(NamedTuple):
    scripts: list[tuple[str, str]]  # (notebook, .py) for each notebook to convert
    untrack: list[str]  # every tracked notebook, checkpoints and deleted ones included


# --- locating the repository -------------------------------------------------------------


def _locate(repo: Path) -> util.Repo:
    """The work tree's top folder and git dir; a one-line error outside a work tree."""
    try:
        return util.find_repo(str(repo))
    except (util.GitError, OSError) as err:
        raise SetupError(f"{repo} is not inside a git work tree ({err})") from None


def _git(args: Sequence[str], root: str) -> bytes:
    try:
        return util.git(args, root)
    except util.GitError as err:
        said = " ".join(str(err).split())  # git's message on one line
        raise SetupError(f"git {util.shell_join(args)} failed: {said}") from None


def _tracked_notebooks(root: str) -> list[str]:
    return sorted(util.zsplit(_git(["ls-files", "-z", "--cached", "--", "*.ipynb"], root)))


# --- .gitignore ----------------------------------------------------------------------------


def _gitignore_missing(root: str) -> list[str]:
    """The lines of GITIGNORE_LINES that no committed-style .gitignore rule covers yet.

    Only `.gitignore` files count: `.git/info/exclude` and the global excludes file are not
    shared with the repository, and the latter is lost when a SageMaker instance restarts.
    """
    probes = [p for paths in GITIGNORE_LINES.values() for p in paths]
    proc = util.git_popen(["check-ignore", "-v", "-n", "-z", "--stdin", "--no-index"], root, True)
    out, err = proc.communicate(b"".join(p.encode() + b"\0" for p in probes))
    if proc.returncode not in (0, 1):
        raise SetupError(f"git check-ignore failed: {util.decode(err).strip()}")
    fields = [util.decode(field) for field in out.split(b"\0")[:-1]]  # unmatched: empty fields
    covered = set()
    for i in range(0, len(fields) - 3, 4):
        source, _line, pattern, path = fields[i : i + 4]
        if (
            os.path.basename(source) == GITIGNORE
            and not os.path.isabs(source)
            and not source.startswith(".git/")
            and not pattern.startswith("!")
        ):
            covered.add(path)
    return [line for line, paths in GITIGNORE_LINES.items() if not set(paths) <= covered]


def _gitignore_text(root: str, lines: list[str]) -> bytes:
    """The .gitignore with the lines appended, in its own line ending, ending in a newline."""
    text = util.read_bytes(os.path.join(root, GITIGNORE)) or b""
    eol = b"\r\n" if b"\r\n" in text else b"\n"
    if text and not text.endswith(b"\n"):
        text += eol
    return text + b"".join(line.encode() + eol for line in lines)


# --- jupytext configuration ------------------------------------------------------------------


def _has_jupytext_config(root: str) -> bool:
    """Whether jupytext finds a configuration at the root (a file, or pyproject's table)."""
    from jupytext.config import (  # type: ignore[import-untyped]
        find_jupytext_configuration_file,
    )

    try:
        return bool(find_jupytext_configuration_file(root, search_parent_dirs=False))
    except Exception as err:  # a pyproject.toml that is not valid TOML
        raise SetupError(
            f"pyproject.toml: {type(err).__name__}: {err}; fix it, then rerun {SETUP}"
        ) from None


# --- pre-commit's git hooks ------------------------------------------------------------------


def _is_pre_commit_script(path: str) -> bool:
    try:
        from pre_commit.commands.install_uninstall import (  # type: ignore[import-untyped]
            is_our_script,
        )
    except ImportError:  # pre-commit moved it: fall back to the line its template writes
        data = util.read_bytes(path)
        return data is not None and b"# File generated by pre-commit" in data
    return bool(is_our_script(path))


def _missing_hook_types(root: str) -> list[str]:
    """The HOOK_TYPES whose git hook (core.hooksPath respected) is not pre-commit's script."""
    missing = []
    for hook_type in HOOK_TYPES:
        rel = util.decode(_git(["rev-parse", "--git-path", f"hooks/{hook_type}"], root)).strip()
        if not _is_pre_commit_script(os.path.join(root, rel)):
            missing.append(hook_type)
    return missing


def _hooks_path_unset(root: str) -> str | None:
    """The command that unsets core.hooksPath, when it is set (pre-commit refuses it)."""
    scope = gitconfig.scope_of("core.hooksPath", root)
    if scope is None:
        return None
    flag = [f"--{scope}"] if scope in ("local", "global", "system", "worktree") else []
    return util.shell_join(["git", "config", *flag, "--unset-all", "core.hooksPath"])


def _install_hooks(root: str, hook_types: list[str], python: str) -> None:
    args = [python, "-m", "pre_commit", "install"]
    for hook_type in hook_types:
        args += ["--hook-type", hook_type]
    proc = subprocess.run(
        args, cwd=root, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    still = _missing_hook_types(root)
    if proc.returncode != 0 or set(still) & set(hook_types):
        said = (proc.stderr or proc.stdout).strip().splitlines()
        raise SetupError(
            f"pre-commit install failed ({said[-1] if said else f'exit {proc.returncode}'}); "
            f"run it yourself in {root}: {util.shell_join(['pre-commit', 'install', *args[4:]])}"
        )


# --- migrating tracked notebooks -------------------------------------------------------------


def _convert(
    root: str, git_dir: str, notebooks: list[str]
) -> tuple[list[notebooks_to_py.Converted], hook_cache.SyncCache]:
    """Each notebook's script text, exactly as the pre-commit hook would write it."""
    from git_credential_sagemaker.hooks.pairing import Pairing  # imports jupytext: only now

    try:
        pairing = Pairing(root)
    except util.ConfigError as err:
        raise SetupError(str(err)) from None
    cache = hook_cache.SyncCache.load(git_dir, hook_cache.config_fingerprint(root))
    stale = [(nb, os.stat(os.path.join(root, nb))) for nb in notebooks]
    return notebooks_to_py.convert_stale(root, stale, pairing, cache), cache


def _plan_migration(root: str, git_dir: str, tracked: list[str]) -> _Migration:
    """What migrating does; raises before any change if a notebook cannot be migrated safely."""
    notebooks = [
        nb
        for nb in tracked
        if discover.is_notebook_candidate(nb, ()) and os.path.isfile(os.path.join(root, nb))
    ]
    converted, cache = _convert(root, git_dir, notebooks)
    problems = [f"{c.notebook}: {c.error}" for c in converted if c.text is None]
    ok = [c for c in converted if c.text is not None]
    current = {c.py: util.read_bytes(os.path.join(root, c.py)) for c in ok}
    heads = util.read_blobs(root, "HEAD", [c.py for c in ok if current[c.py] not in (None, c.text)])
    for c in ok:
        now = current[c.py]
        if (
            now is not None
            and now != c.text
            and not notebooks_to_py.may_replace(now, cache.get(c.notebook), heads.get(c.py))
        ):
            overwrite = util.shell_join([notebooks_to_py.PROG, "--overwrite", c.notebook])
            problems.append(
                f"{c.py} has edits of its own, so it is not {c.notebook}'s script; move it "
                f"away, or replace it with the notebook's script: {overwrite}"
            )
    for py in sorted(util.ignored_paths(root, [c.py for c in ok])):
        problems.append(f"{py} is ignored by .gitignore, so it cannot be committed; unignore it")
    untrack = ["--literal-pathspecs", "rm", "-n", "--cached", "--quiet", "--", *tracked]
    proc = util.git_popen(untrack, root)
    _, err = proc.communicate()
    if proc.returncode != 0:  # git would refuse: a notebook has staged edits found nowhere else
        problems.append(" ".join(util.decode(err).split()) + " (commit or unstage them first)")
    if problems:
        raise SetupError(f"cannot migrate the tracked notebooks: {'; '.join(problems)}")
    return _Migration([(c.notebook, c.py) for c in ok], tracked)


def _migrate(root: str, git_dir: str, plan: _Migration) -> None:
    """Write the scripts (as the hook would), untrack the notebooks, stage the scripts."""
    converted, cache = _convert(root, git_dir, [nb for nb, _ in plan.scripts])
    report = notebooks_to_py.apply(root, converted, cache, set())
    cache.save(git_dir)
    if report.errors or report.conflicts:
        found = [*report.errors, *(f"{py} changed meanwhile" for _, py in report.conflicts)]
        raise SetupError(f"cannot migrate the tracked notebooks: {'; '.join(found)}")
    _git(["--literal-pathspecs", "rm", "--cached", "--quiet", "--", *plan.untrack], root)
    if plan.scripts:
        _git(["--literal-pathspecs", "add", "--", *(py for _, py in plan.scripts)], root)


def _migration_changes(plan: _Migration) -> list[Change]:
    scripts = dict(plan.scripts)
    changes = []
    for nb in plan.untrack:
        if nb in scripts:
            what = f"{nb}: converted to {scripts[nb]} (staged); {nb} left the index, kept on disk"
        else:
            what = f"{nb}: left the index (a checkpoint or deleted notebook; no file removed)"
        changes.append(Change(what))
    return changes


# --- building notebooks in a fresh clone -----------------------------------------------------


def _missing_notebooks(
    root: str, git_dir: str
) -> tuple[list[py_to_notebooks.Script], py_to_notebooks.Changes, hook_cache.SyncCache]:
    """The tracked jupytext scripts whose notebook is not on disk, as the post-checkout hook
    recognises them after a clone: plain modules like `train.py` are never included."""
    changes = py_to_notebooks.find_changes(root, py_to_notebooks.parse_args(["--all"]))
    cache = hook_cache.SyncCache.load(git_dir, hook_cache.config_fingerprint(root))
    try:
        scripts = py_to_notebooks.recognise(root, changes, cache)
    except util.ConfigError as err:
        raise SetupError(str(err)) from None
    missing = [s for s in scripts if not os.path.lexists(os.path.join(root, s.notebook))]
    return missing, changes, cache


# --- the two entry points --------------------------------------------------------------------


def setup_repo(
    repo: Path, *, migrate: bool = False, dry_run: bool = False, python: str = sys.executable
) -> list[Change]:
    """Idempotent: changes only what is missing; returns what it changed (or would, with dry_run).

    `python` runs pre-commit, whose git hooks then call that interpreter: on a notebook
    instance, the venv the on-start script rebuilds at the same path on every start.

    Checks come first, so an error (bad YAML, core.hooksPath, a notebook that cannot be
    migrated) raises SetupError before anything is written.
    """
    root, git_dir = _locate(repo)
    ignore_lines = _gitignore_missing(root)
    write_jupytext = not _has_jupytext_config(root)
    config = config_state(root)
    hook_types = _missing_hook_types(root)
    if hook_types and (unset := _hooks_path_unset(root)):
        raise SetupError(
            f"core.hooksPath is set, so pre-commit cannot install its hooks; run `{unset}`, "
            f"then rerun {SETUP}"
        )
    tracked = _tracked_notebooks(root)
    plan = _plan_migration(root, git_dir, tracked) if migrate and tracked else None

    changes: list[Change] = []
    staged: list[str] = []
    if ignore_lines:
        verb = "added" if os.path.exists(os.path.join(root, GITIGNORE)) else "created with"
        changes.append(Change(f"{GITIGNORE}: {verb} {' and '.join(ignore_lines)} (staged)"))
        staged.append(GITIGNORE)
        if not dry_run:
            util.write_if_changed(
                os.path.join(root, GITIGNORE), _gitignore_text(root, ignore_lines)
            )
    if write_jupytext:
        changes.append(Change(f"{JUPYTEXT_TOML}: created, pairing ipynb with py:percent (staged)"))
        staged.append(JUPYTEXT_TOML)
        if not dry_run:
            util.write_if_changed(os.path.join(root, JUPYTEXT_TOML), JUPYTEXT_TOML_TEXT.encode())
    if config.merged is not None:
        verb = "added" if config.text is not None else "created with"
        ids = " and ".join(hook["id"] for hook in config.missing)
        changes.append(Change(f"{CONFIG}: {verb} the {ids} hooks (repo: local, staged)"))
        staged.append(CONFIG)
        if not dry_run:
            util.write_if_changed(
                os.path.join(root, CONFIG), config.merged.encode("utf-8", "surrogateescape")
            )
    if staged and not dry_run:
        _git(["--literal-pathspecs", "add", "--", *staged], root)
    if hook_types:
        changes.append(Change(f"pre-commit hooks installed for {', '.join(hook_types)}"))
        if not dry_run:
            _install_hooks(root, hook_types, python)
    if plan is not None:
        changes += _migration_changes(plan)
        if not dry_run:
            _migrate(root, git_dir, plan)
    elif tracked:
        listed = ", ".join(tracked[:3]) + (", ..." if len(tracked) > 3 else "")
        changes.append(
            Change(
                f"nothing done yet for the {len(tracked)} tracked notebook(s) ({listed}): "
                f"rerun with --migrate to commit their .py scripts instead",
                advice=True,
            )
        )
    missing, p2n_changes, cache = _missing_notebooks(root, git_dir)
    changes += [Change(f"{s.notebook}: built from {s.py}") for s in missing]
    if missing and not dry_run:
        messages = py_to_notebooks.rebuild(root, missing, p2n_changes, cache, overwrite=False)
        cache.save(git_dir)
        if messages:
            raise SetupError("; ".join(m.replace("\n", " ") for m in messages))
    return changes


def repo_problems(repo: Path) -> list[tuple[str, str]]:
    """For doctor: (problem, exact command that fixes it) for each part of the setup missing.

    It checks the pre-commit git hooks of each of HOOK_TYPES, our two hooks in
    .pre-commit-config.yaml, notebooks tracked by git, and .gitignore covering notebooks.
    """
    root, _ = _locate(repo)
    cd = f"cd {util.shell_join([root])} && "
    setup = util.shell_join([*SETUP.split(), "--repo", root])
    problems: list[tuple[str, str]] = []
    unset = _hooks_path_unset(root)
    for hook_type in _missing_hook_types(root):
        install = f"pre-commit install --hook-type {hook_type}"
        fix = f"{cd}{unset} && {install}" if unset else f"{cd}{install}"
        problems.append(
            (f"the {hook_type} git hook is not installed: {HOOK_PURPOSE[hook_type]}", fix)
        )
    try:
        config = config_state(root)
    except SetupError as err:
        problems.append((str(err), f"{cd}pre-commit validate-config {CONFIG}"))
    else:
        if config.text is None:
            problems.append((f"there is no {CONFIG}, so the notebook hooks never run", setup))
        elif config.missing:
            ids = " and ".join(hook["id"] for hook in config.missing)
            problems.append((f"{CONFIG} lacks the {ids} hook(s)", setup))
    lines = _gitignore_missing(root)
    if lines:
        existing = util.read_bytes(os.path.join(root, GITIGNORE))
        args = ["", *lines] if existing and not existing.endswith(b"\n") else lines
        append = f"printf '%s\\n' {util.shell_join(args)} >> {GITIGNORE} && git add {GITIGNORE}"
        problems.append((f"{GITIGNORE} does not ignore {' and '.join(lines)}", f"{cd}{append}"))
    tracked = _tracked_notebooks(root)
    if tracked:
        listed = ", ".join(tracked[:3]) + (", ..." if len(tracked) > 3 else "")
        problems.append(
            (f"{len(tracked)} notebook(s) tracked by git ({listed})", f"{setup} --migrate")
        )
    return problems
