"""Set up one repository for the notebook hooks, and tell `doctor` what is missing there.

What it sets up, each only when missing (so running it again changes nothing):

1. `.gitignore` ignores `*.ipynb` and `.ipynb_checkpoints/`;
2. `jupytext.toml` pairs notebooks with `py:percent` scripts, unless jupytext already finds a
   configuration at the repository root;
3. `.pre-commit-config.yaml` runs the two notebook hooks, pinned to this version, and lists
   `HOOK_TYPES` to install (merged by precommit_config, which keeps the user's other hooks
   and comments byte for byte, and moves our old `language: system` hooks to `python`);
4. pre-commit's git hooks are installed for `HOOK_TYPES`, and reinstalled when the Python
   they name no longer runs pre-commit (a venv that a restart took away);
   on a notebook instance, the hooks' environment is then built from the wheelhouse into
   pre-commit's cache on the volume, so no commit or checkout ever needs the network;
5. with `migrate`, tracked notebooks are converted to their scripts, which are staged, and the
   notebooks leave the index (they stay on disk), so the index is ready to commit;
6. notebooks missing next to their tracked jupytext scripts (a fresh clone) are built.

Data flow: everything is first read and checked (git plumbing, the YAML, the notebooks to
migrate), so a predictable failure raises `SetupError` before any file changes; then each
step writes and says what it did as a `Change`. With `dry_run` the same checks run and the same
`Change` list comes back (but for building the hooks' environment, which only a real run can
tell), and nothing is written and no state-changing command runs. The files of steps 1-3 are
staged, because pre-commit refuses to run with an unstaged config.

Conversion and notebook discovery are the hooks' own code (`git_credential_sagemaker.hooks`),
so a migrated script is byte-identical to what the pre-commit hook writes, and the hooks' sync
cache records it: the first commit after setup finds everything in sync.

The repository's files are data written by whoever made its commits, as for the hooks: they
are read with the hooks' `read_in_tree` (never through a symlink that leads outside), the
jupytext configuration with `jupytext_config` (a `.jupytext.py` is refused, never run), file
names reach git as literal paths, and every line that goes back to the user (a `Change`, a
problem, a `SetupError`) is escaped at the two entry points, so no name can redraw the terminal.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple, Optional

from git_credential_sagemaker import children
from git_credential_sagemaker.credential import gitconfig, paths
from git_credential_sagemaker.credential.files import atomic_write
from git_credential_sagemaker.errors import SetupError
from git_credential_sagemaker.hooks import cache as hook_cache
from git_credential_sagemaker.hooks import (
    discover,
    jupytext_config,
    notebooks_to_py,
    py_to_notebooks,
    util,
)
from git_credential_sagemaker.provision import hookscripts, precommit_config, wheelhouse
from git_credential_sagemaker.provision.machine import Machine
from git_credential_sagemaker.provision.precommit_config import CONFIG, HOOK_TYPES, config_state

APP = paths.APP
SETUP = f"{APP} setup"
HOOKS_CONFIG = "notebook-hooks.pre-commit-config.yaml"  # our entry alone, to build its env
BUILD_TIMEOUT = 900.0  # pip installing the package and its dependencies from local wheels
GITIGNORE = ".gitignore"
JUPYTEXT_TOML = "jupytext.toml"
JUPYTEXT_TOML_TEXT = (
    "# Pair each notebook with a py:percent script; commits hold the scripts. JupyterLab's\n"
    "# jupytext and the notebook hooks both read this file, so both write the same .py: neither\n"
    "# puts jupytext's own version in it.\n"
    'formats = "ipynb,py:percent"\n'
    'notebook_metadata_filter = "-jupytext.text_representation.jupytext_version"\n'
)
# What setup wrote before: replaced by the text above (a file anyone edited stays theirs).
OLD_JUPYTEXT_TOML_TEXT = (
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
    "post-commit": "notebooks are not rebuilt after a conflicted merge or a cherry-pick",
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


def _git(args: Sequence[str], root: str, patterns: bool = False) -> bytes:
    try:
        return util.git(args, root, patterns=patterns)
    except util.GitError as err:
        raise SetupError(f"git {util.shell_join(args)} failed: {err}") from None


def _tracked_notebooks(root: str) -> list[str]:
    listed = _git(["ls-files", "-z", "--cached", "--", discover.NOTEBOOKS], root, patterns=True)
    return sorted(util.zsplit(listed))


def _read(root: str, rel: str) -> Optional[bytes]:
    """A file of the tree (None if missing); one that leads outside it is a SetupError."""
    try:
        return util.read_in_tree(root, rel)
    except util.PathError as err:
        raise SetupError(f"{err}; make it a regular file in the repository") from None


def _check_writable(root: str, rel: str) -> None:
    """Refuse, before anything changes, a file setup would replace that is not a plain file."""
    path = os.path.join(root, rel)
    if os.path.islink(path):
        raise SetupError(
            f"{rel} is a symbolic link (to {os.readlink(path)}), which setup never writes "
            f"through{' and git does not read' if rel == GITIGNORE else ''}; make it a "
            f"regular file, then rerun {SETUP}"
        )
    if os.path.lexists(path) and not os.path.isfile(path):
        raise SetupError(f"{rel} is not a regular file; move it away, then rerun {SETUP}")


def _write(root: str, rel: str, data: bytes) -> None:
    try:
        util.write_if_changed(os.path.join(root, rel), data)
    except util.PathError as err:
        raise SetupError(str(err)) from None


@contextlib.contextmanager
def _one_line_errors() -> Iterator[None]:
    """Every failure as one escaped SetupError line: names from the tree are data."""
    try:
        yield
    except SetupError as err:
        raise SetupError(util.escape(" ".join(str(err).splitlines()))) from None
    except util.GitError as err:
        raise SetupError(f"git failed: {err}") from None
    except (util.PathError, util.ConfigError) as err:
        raise SetupError(util.escape(str(err))) from None


# --- .gitignore ----------------------------------------------------------------------------


def _gitignore_missing(root: str) -> list[str]:
    """The lines of GITIGNORE_LINES that no committed-style .gitignore rule covers yet.

    Only `.gitignore` files count: `.git/info/exclude` and the global excludes file are not
    shared with the repository, and the latter is lost when a SageMaker instance restarts.
    """
    probes = [p for paths in GITIGNORE_LINES.values() for p in paths]
    args = ["check-ignore", "-v", "-n", "-z", "--stdin", "--no-index"]
    proc = util.git_popen(args, root, stdin=True, patterns=True)  # takes no literal mode
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
    text = _read(root, GITIGNORE) or b""
    eol = b"\r\n" if b"\r\n" in text else b"\n"
    if text and not text.endswith(b"\n"):
        text += eol
    return text + b"".join(line.encode() + eol for line in lines)


# --- jupytext configuration ------------------------------------------------------------------


def _has_jupytext_config(root: str) -> bool:
    """Whether jupytext finds a configuration at the root (a file, or pyproject's table).

    A `.jupytext.py` that jupytext would take, a configuration that leads outside the tree, or
    a pyproject.toml that is not TOML is a SetupError, before anything changes.
    """
    try:
        return jupytext_config.find(root) is not None
    except util.ConfigError as err:
        raise SetupError(f"{err}, then rerun {SETUP}") from None


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


def _hook_python(path: str) -> str:
    """The INSTALL_PYTHON that pre-commit wrote into its git hook script ('' if none)."""
    data = util.read_bytes(path) or b""
    for line in util.decode(data).splitlines():
        if line.startswith("INSTALL_PYTHON="):
            try:
                words = shlex.split(line[len("INSTALL_PYTHON=") :])
            except ValueError:
                return ""
            return words[0] if words else ""
    return ""


def _runs_pre_commit(python: str) -> bool:
    """Whether this interpreter runs pre-commit, as the git hook script will ask it to."""
    if not os.path.isabs(python) or not os.access(python, os.X_OK):
        return False
    try:
        done = subprocess.run(
            children.argv("pre_commit", ["--version"], python),
            cwd=children.own_folder(python),
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _shadows_pre_commit(root: str) -> Optional[str]:
    """What at the top of the tree `python -mpre_commit`, run there, would import instead of
    pre-commit (the git hook script pre-commit writes runs just that), or None.

    importlib finds it without running anything; a plain folder (a namespace package) loses
    to the installed pre-commit, so only a module or a real package counts.
    """
    import importlib.machinery

    spec = importlib.machinery.PathFinder.find_spec("pre_commit", [root])
    if spec is None or not spec.origin or not os.path.isabs(spec.origin):
        return None
    rel = os.path.relpath(spec.origin, root)
    return rel.split(os.sep)[0]


class HookState(NamedTuple):
    hook_type: str
    python: Optional[str]  # None: not pre-commit's script; else the Python it names
    works: bool


def _hook_states(root: str) -> list[HookState]:
    """Each of HOOK_TYPES (core.hooksPath respected): pre-commit's, and whether its Python runs.

    A hook whose Python is gone makes pre-commit print "`pre-commit` not found" on every
    commit or pull, unless some pre-commit happens to be on that process's PATH.
    """
    states = []
    runs: dict[str, bool] = {}  # each Python asked once
    for hook_type in HOOK_TYPES:
        rel = util.decode(_git(["rev-parse", "--git-path", f"hooks/{hook_type}"], root)).strip()
        path = os.path.join(root, rel)
        if not _is_pre_commit_script(path):
            states.append(HookState(hook_type, None, False))
            continue
        python = _hook_python(path)
        if python not in runs:
            runs[python] = _runs_pre_commit(python)
        states.append(HookState(hook_type, python, runs[python]))
    return states


def _missing_hook_types(root: str) -> list[str]:
    """The HOOK_TYPES whose git hook is not pre-commit's script, or names a Python that fails."""
    return [state.hook_type for state in _hook_states(root) if not state.works]


def _hooks_path_unset(root: str) -> str | None:
    """The command that unsets core.hooksPath, when it is set (pre-commit refuses it)."""
    scope = gitconfig.scope_of("core.hooksPath", root)
    if scope is None:
        return None
    flag = [f"--{scope}"] if scope in ("local", "global", "system", "worktree") else []
    return util.shell_join(["git", "config", *flag, "--unset-all", "core.hooksPath"])


def _install_hooks(root: str, hook_types: list[str], python: str) -> None:
    options = ["install"]
    for hook_type in hook_types:
        options += ["--hook-type", hook_type]
    proc = subprocess.run(
        children.argv("pre_commit", options, python),
        cwd=root,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    still = _missing_hook_types(root)
    if proc.returncode != 0 or set(still) & set(hook_types):
        said = (proc.stderr or proc.stdout).strip().splitlines()
        raise SetupError(
            f"pre-commit install failed ({said[-1] if said else f'exit {proc.returncode}'}); "
            f"run it yourself in {root}: {util.shell_join([python, '-m', 'pre_commit', *options])}"
        )


def _instance_wheels() -> Optional[str]:
    """The wheelhouse on a notebook instance's volume, when it holds the installed version."""
    layout = Machine.detect(os.environ).layout
    if layout is not None and wheelhouse.current(Path(layout.wheels)):
        return layout.wheels
    return None


def _build_hook_env(root: str, python: str, wheels: str) -> Optional[Change]:
    """Build our hooks' environment in pre-commit's cache now, from the wheelhouse alone.

    Only our `repo: local` entry goes into a config of its own, so the user's other hooks
    (which may need the network) are left for pre-commit to build when they first run. The
    environment is the one the repository's config uses (same dependencies, same language
    version), so later commits and checkouts find it ready. Says so when it had to be built,
    and when it could not be (a pin the wheelhouse lacks): the rest of setup stands.
    """
    hooks = precommit_config.our_hooks(root)
    if not hooks:
        return None
    env = {
        **os.environ,
        "PIP_CONFIG_FILE": os.devnull,  # nothing but the wheelhouse: no index, no other links
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": wheels,
        "VIRTUALENV_NO_PERIODIC_UPDATE": "1",  # no background download of newer seed wheels
    }
    # A fixed file next to the wheelhouse, rewritten each time: a setup that gets killed
    # leaves no temp file behind, and pre-commit's gc keeps the environment while it exists.
    config = os.path.join(os.path.dirname(os.path.abspath(wheels)), HOOKS_CONFIG)
    atomic_write(Path(config), precommit_config.local_config(hooks))
    try:
        proc = subprocess.run(
            children.argv("pre_commit", ["install-hooks", "--config", config], python),
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=BUILD_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        said = [str(err).splitlines()[0] if str(err) else type(err).__name__]
    else:
        said = [line.strip() for line in (proc.stdout + proc.stderr).splitlines()]
        if proc.returncode == 0:
            if "Installing environment" not in proc.stdout:
                return None
            return Change(f"the notebook hooks' environment built from the wheelhouse {wheels}")
    errors = [line for line in said if line.startswith("ERROR:")] or said or ["no output"]
    return Change(
        f"the notebook hooks' environment could not be built from the wheelhouse {wheels} "
        f"({errors[-1]}), so pre-commit builds it at the first commit or checkout, and that "
        "needs the network",
        advice=True,
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
    current: dict[str, Optional[bytes]] = {}
    for c in converted:
        if c.text is None:
            continue
        try:
            _check_writable(root, c.py)
            current[c.py] = _read(root, c.py)
        except SetupError as err:
            problems.append(str(err))
    ok = [c for c in converted if c.text is not None and c.py in current]
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
    untrack = ["rm", "-n", "--cached", "--quiet", "--", *tracked]
    proc = util.git_popen(untrack, root)
    _, said = proc.communicate()
    if proc.returncode != 0:  # git would refuse: a notebook has staged edits found nowhere else
        problems.append(" ".join(util.decode(said).split()) + " (commit or unstage them first)")
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
    _git(["rm", "--cached", "--quiet", "--", *plan.untrack], root)
    if plan.scripts:
        _git(["add", "--", *(py for _, py in plan.scripts)], root)


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


# --- notebooks out of date with their scripts ----------------------------------------------


def _out_of_date(
    root: str, git_dir: str
) -> tuple[list[py_to_notebooks.Script], py_to_notebooks.Changes, hook_cache.SyncCache]:
    """Every tracked jupytext script whose notebook is missing or shows other code."""
    changes = py_to_notebooks.find_changes(root, py_to_notebooks.parse_args(["--all"]))
    cache = hook_cache.SyncCache.load(git_dir, hook_cache.config_fingerprint(root))
    scripts = py_to_notebooks.recognise(root, changes, cache)
    return py_to_notebooks.out_of_date(root, scripts, cache), changes, cache


def rebuild_notebooks(repo: Path, overwrite: bool = False) -> tuple[list[Change], list[str]]:
    """The `notebooks` command: rebuild each notebook that is out of date with its `.py`.

    It is the post-checkout hook's own rebuild: the outputs of unchanged cells are kept, and
    a notebook with edits found in no commit is left as is (unless `overwrite`), with the
    hook's message saying how to resolve it. Returns what was built, and those messages.
    """
    with _one_line_errors():
        root, git_dir = _locate(repo)
        stale, changes, cache = _out_of_date(root, git_dir)
        if not stale:
            return [], []
        before = {s.notebook: os.path.lexists(os.path.join(root, s.notebook)) for s in stale}
        done, messages = py_to_notebooks.rebuild(root, stale, changes, cache, overwrite)
        cache.save(git_dir)
    built = [
        Change(
            util.escape(
                f"{s.notebook}: rebuilt from {s.py} (outputs of unchanged cells kept)"
                if before[s.notebook]
                else f"{s.notebook}: built from {s.py}"
            )
        )
        for s in done
    ]
    return built, [util.escape_lines(m) for m in messages]


# --- the two entry points --------------------------------------------------------------------


def setup_repo(
    repo: Path,
    *,
    migrate: bool = False,
    dry_run: bool = False,
    python: str = sys.executable,
    wheels: Optional[str] = None,
    restore_line: Optional[str] = None,
) -> list[Change]:
    """Idempotent: changes only what is missing; returns what it changed (or would, with dry_run).

    `python` runs pre-commit, whose git hooks then call that interpreter: on a notebook
    instance, the venv the on-start script rebuilds at the same path on every start.
    `wheels` is a wheelhouse to build the hooks' environment from (by default the notebook
    instance's, when there is one); without one, pre-commit builds it when a hook first runs.
    `restore_line` is what the git hooks name when pre-commit is gone (on an instance).

    Checks come first, so an error (bad YAML, core.hooksPath, a notebook that cannot be
    migrated) raises SetupError before anything is written.
    """
    with _one_line_errors():
        changes = _setup_repo(repo, migrate, dry_run, python, wheels, restore_line)
    return [Change(util.escape(change.what), change.advice) for change in changes]


def _setup_repo(
    repo: Path,
    migrate: bool,
    dry_run: bool,
    python: str,
    wheels: Optional[str],
    restore_line: Optional[str],
) -> list[Change]:
    root, git_dir = _locate(repo)
    ignore_lines = _gitignore_missing(root)
    write_jupytext = not _has_jupytext_config(root)
    ours_before = _read(root, JUPYTEXT_TOML) == OLD_JUPYTEXT_TOML_TEXT.encode()
    config = config_state(root)
    states = [state for state in _hook_states(root) if not state.works]
    hook_types = [state.hook_type for state in states]
    wheels = wheels or _instance_wheels()
    if hook_types and (unset := _hooks_path_unset(root)):
        raise SetupError(
            f"core.hooksPath is set, so pre-commit cannot install its hooks; run `{unset}`, "
            f"then rerun {SETUP}"
        )
    for rel, writes in (
        (GITIGNORE, ignore_lines),
        (JUPYTEXT_TOML, write_jupytext or ours_before),
        (CONFIG, config.merged is not None),
    ):
        if writes:
            _check_writable(root, rel)
    tracked = _tracked_notebooks(root)
    plan = _plan_migration(root, git_dir, tracked) if migrate and tracked else None

    changes: list[Change] = []
    staged: list[str] = []
    if ignore_lines:
        verb = "added" if os.path.exists(os.path.join(root, GITIGNORE)) else "created with"
        changes.append(Change(f"{GITIGNORE}: {verb} {' and '.join(ignore_lines)} (staged)"))
        staged.append(GITIGNORE)
        if not dry_run:
            _write(root, GITIGNORE, _gitignore_text(root, ignore_lines))
    if write_jupytext or ours_before:
        what = (
            "created, pairing ipynb with py:percent"
            if write_jupytext
            else "keeps jupytext's version out of the .py, as JupyterLab writes it too"
        )
        changes.append(Change(f"{JUPYTEXT_TOML}: {what} (staged)"))
        staged.append(JUPYTEXT_TOML)
        if not dry_run:
            _write(root, JUPYTEXT_TOML, JUPYTEXT_TOML_TEXT.encode())
    if config.merged is not None:
        changes += [Change(f"{CONFIG}: {what}") for what in config.changes()]
        staged.append(CONFIG)
        if not dry_run:
            _write(root, CONFIG, config.merged.encode("utf-8", "surrogateescape"))
    if staged and not dry_run:
        _git(["add", "--", *staged], root)
    absent = [state.hook_type for state in states if state.python is None]
    if absent:
        changes.append(Change(f"pre-commit hooks installed for {', '.join(absent)}"))
    for gone in sorted({state.python for state in states if state.python is not None}):
        types = ", ".join(state.hook_type for state in states if state.python == gone)
        changes.append(
            Change(
                f"pre-commit hooks reinstalled for {types}: their Python {gone!r} no longer runs"
            )
        )
    shadow = _shadows_pre_commit(root) if hook_types else None
    if shadow:
        changes = [c for c in changes if not c.what.startswith("pre-commit hooks ")]
        changes.append(
            Change(
                f"the git hooks were not installed: {shadow} at the top of this repository "
                "would run in place of pre-commit at every commit and checkout (pre-commit's "
                f"git hook runs python -mpre_commit there); remove it, then rerun {SETUP}",
                advice=True,
            )
        )
    elif hook_types and not dry_run:
        _install_hooks(root, hook_types, python)
    if not shadow:
        amended = hookscripts.amend(Path(root), restore_line, dry_run, fresh=hook_types)
        changes += [Change(what) for what in amended]
    if wheels and not dry_run and (built := _build_hook_env(root, python, wheels)):
        changes.append(built)
    elif not wheels and hook_types and not shadow:
        changes.append(
            Change(
                "the first commit builds the notebook hooks' environment, once (pip installs "
                "this package into pre-commit's cache, which can take half a minute); to build "
                "it now, run: pre-commit install-hooks",
                advice=True,
            )
        )
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
        messages = py_to_notebooks.rebuild(root, missing, p2n_changes, cache, False).messages
        cache.save(git_dir)
        if messages:
            raise SetupError("; ".join(m.replace("\n", " ") for m in messages))
    return changes


def repo_problems(repo: Path, prog: Sequence[str] = (APP,)) -> list[tuple[str, str]]:
    """For doctor: (problem, exact command that fixes it) for each part of the setup missing.

    It checks the pre-commit git hooks of each of HOOK_TYPES (and that the Python each one
    names still runs pre-commit), our two hooks in .pre-commit-config.yaml, notebooks tracked
    by git, .gitignore covering notebooks, and notebooks missing or out of date with their
    `.py` (the fix is `notebooks`). `prog` runs this program on the machine as it
    is (after a restart, pre-commit itself may be on no PATH): the fixes are its `setup`.
    Each problem is one escaped line; each fix is a command quoted for the shell.
    """
    with _one_line_errors():
        problems = _repo_problems(repo, prog)
    return [(util.escape(problem), fix) for problem, fix in problems]


def _repo_problems(repo: Path, prog: Sequence[str]) -> list[tuple[str, str]]:
    root, git_dir = _locate(repo)
    cd = f"cd {util.shell_join([root])} && "
    setup = util.shell_join([*prog, "setup", "--repo", root])
    problems: list[tuple[str, str]] = []
    unset = _hooks_path_unset(root)
    fix = f"{cd}{unset} && {setup}" if unset else setup
    states = _hook_states(root)
    for state in states:
        if state.python is None:
            purpose = HOOK_PURPOSE[state.hook_type]
            problems.append((f"the {state.hook_type} git hook is not installed: {purpose}", fix))
    for python in sorted({s.python for s in states if s.python is not None and not s.works}):
        types = [s.hook_type for s in states if s.python == python and not s.works]
        hooks = f"hooks {', '.join(types)} name" if len(types) > 1 else f"hook {types[0]} names"
        problems.append(
            (
                f"the git {hooks} {python or 'no Python'}, which does not run "
                "pre-commit, so git says '`pre-commit` not found' and notebooks are neither "
                "checked nor rebuilt",
                fix,
            )
        )
    if hookscripts.lacks_guard(Path(root)):
        problems.append(
            (
                "the post-checkout git hook fails `git checkout --theirs PATH` while a "
                "conflict is open (pre-commit refuses to run with unmerged paths)",
                setup,
            )
        )
    installed = [s.hook_type for s in states if s.python is not None]
    shadow = _shadows_pre_commit(root) if installed else None
    if shadow:
        types = [word for hook_type in installed for word in ("-t", hook_type)]
        uninstall = util.shell_join(["pre-commit", "uninstall", *types])
        problems.append(
            (
                f"{shadow} at the top of this repository runs in place of pre-commit at every "
                "commit and checkout: pre-commit's git hook runs python -mpre_commit there",
                f"{cd}{uninstall}",
            )
        )
    try:
        config = config_state(root)
    except SetupError as err:
        problems.append(
            (
                str(err),
                f"{cd}{util.shell_join([sys.executable, '-m', 'pre_commit'])} "
                f"validate-config {CONFIG}",
            )
        )
    else:
        if config.text is None:
            problems.append((f"there is no {CONFIG}, so the notebook hooks never run", setup))
        else:
            problems += [(problem, setup) for problem in config.problems()]
    lines = _gitignore_missing(root)
    if lines and os.path.islink(os.path.join(root, GITIGNORE)):
        problems.append(
            (
                f"{GITIGNORE} is a symbolic link, which git does not read, so notebooks are not "
                "ignored",
                f"{cd}rm -- {GITIGNORE} && {setup}",
            )
        )
    elif lines:
        existing = _read(root, GITIGNORE)
        args = ["", *lines] if existing and not existing.endswith(b"\n") else lines
        append = f"printf '%s\\n' {util.shell_join(args)} >> {GITIGNORE} && git add {GITIGNORE}"
        problems.append((f"{GITIGNORE} does not ignore {' and '.join(lines)}", f"{cd}{append}"))
    tracked = _tracked_notebooks(root)
    if tracked:
        listed = ", ".join(tracked[:3]) + (", ..." if len(tracked) > 3 else "")
        problems.append(
            (f"{len(tracked)} notebook(s) tracked by git ({listed})", f"{setup} --migrate")
        )
    stale = [s.notebook for s in _out_of_date(root, git_dir)[0]]
    if stale:
        listed = ", ".join(stale[:3]) + (", ..." if len(stale) > 3 else "")
        problems.append(
            (
                f"{len(stale)} notebook(s) missing or out of date with their .py ({listed}), "
                "so they show code that is not what is committed",
                util.shell_join([*prog, "notebooks", "--repo", root]),
            )
        )
    return problems
