"""`doctor`: check that each piece `setup` wires up works, and print the command that fixes it.

    git config + PATH  --machine_problems--> the helper resolves, runs, and a kernel finds it;
                                              useHttpPath is not on for every host
    keyring file       --keyring_problems--> its header opens
    stored tokens      --token_problems----> GitHub still accepts them
    repository         --repo.repo_problems-> hooks installed, their Python runs, config current
    pre-commit's cache --hook_env_problems--> on an instance, our hooks' environment (built by
                                              setup from the wheelhouse) is there and runs

Checks read, and run what git would run (the helper's `capability`, each git hook's Python);
nothing here changes anything. Each fix is a command that works on the machine as it is: after
a restart neither pre-commit nor this program may be on PATH, so this program is named by the
path it runs from unless the PATH finds that very program.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Optional

from git_credential_sagemaker.credential import gitconfig, keys, paths, tokens, unlock
from git_credential_sagemaker.credential.files import check_private_file, ensure_private_dir
from git_credential_sagemaker.credential.settings import Settings
from git_credential_sagemaker.credential.store import BACKUP, Store, parse
from git_credential_sagemaker.errors import UserError
from git_credential_sagemaker.provision import gitsetup, kernel_startup, lifecycle, wheelhouse
from git_credential_sagemaker.provision.machine import Machine

PROG = paths.APP
Problem = tuple[str, str]
# What a notebook instance's kernels surely have on PATH: the Jupyter server's conda env adds
# its own bin (which a restart resets), never the user's ~/.local/bin; on it, setup names the
# helper by its absolute path in the venv the on-start script rebuilds.
KERNEL_PATH = ("/usr/local/bin", "/usr/bin", "/bin")
RUN_TIMEOUT = 30.0


def program(env: Mapping[str, str]) -> list[str]:
    """This program as a shell with env's PATH can run it: by name only if PATH finds it."""
    script = Path(sys.executable).parent / PROG
    if not (script.is_file() and os.access(script, os.X_OK)):
        return [sys.executable, "-m", "git_credential_sagemaker"]
    found = shutil.which(PROG, path=env.get("PATH", os.defpath))
    if found and os.path.realpath(found) == os.path.realpath(script):
        return [PROG]
    return [str(script)]


def kernel_path(env: Mapping[str, str]) -> str:
    root = env.get("GIT_CREDENTIAL_SAGEMAKER_ROOT")
    dirs = [os.path.join(root, d.lstrip("/")) for d in KERNEL_PATH] if root else KERNEL_PATH
    return os.pathsep.join(dirs)


def resolve(value: str, path: str) -> Optional[str]:
    """The program git runs for this credential.helper value, with this PATH (None: not found)."""
    first = value.split()[0] if value.split() else ""
    if os.path.isabs(first):
        return first if os.path.isfile(first) and os.access(first, os.X_OK) else None
    name = first if first.startswith("git-credential-") else f"git-credential-{first}"
    return shutil.which(name, path=path)


def _run_fails(helper: str, env: Mapping[str, str]) -> Optional[str]:
    """Why `helper capability` (the cheapest request git makes) fails, or None when it works."""
    try:
        done = subprocess.run(
            [helper, "capability"],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            env=dict(env),
            timeout=RUN_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if done.returncode == 0 and done.stdout.startswith(b"version 0"):
        return None
    said = done.stderr.decode(errors="replace").strip().splitlines()
    return said[-1] if said else f"exit {done.returncode}"


def _reinstall(machine: Machine, helper: str, prog: Sequence[str]) -> str:
    """A command that puts a working helper back at `helper`."""
    layout = machine.layout
    if layout and helper == layout.helper:
        if os.path.realpath(prog[0]).startswith(os.path.realpath(layout.venv) + os.sep):
            return layout.restore_line  # the on-start script rebuilds it
        return f"rm -rf -- {shlex.quote(layout.venv)} && {shlex.join([*prog, 'setup'])}"
    version = f"{wheelhouse.PROJECT}=={wheelhouse.installed_version()}"
    return shlex.join([sys.executable, "-m", "pip", "install", "--force-reinstall", version])


def helper_problems(
    env: Mapping[str, str], machine: Machine, prog: Sequence[str]
) -> Iterator[Problem]:
    """git names our helper, finds it with this PATH and a kernel's, and it runs."""
    setup = shlex.join([*prog, "setup"])
    helpers = [h for h in gitconfig.get_all("credential.helper") if gitconfig.is_our_helper(h)]
    if not helpers:
        yield "git is not configured to use the helper", setup
        return
    value = helpers[-1]
    found = resolve(value, env.get("PATH", os.defpath))
    if found is None:
        fix = setup if machine.layout else f"pip install {wheelhouse.PROJECT}"
        yield f"git can't find the helper {value!r}", fix
        return
    failure = _run_fails(found, env)
    if failure is not None:
        yield f"the helper {found} does not run ({failure})", _reinstall(machine, found, prog)
        return
    if machine.layout and resolve(value, kernel_path(env)) is None:
        yield (
            f"git in a notebook kernel can't find the helper {value!r}: a kernel's PATH "
            f"({kernel_path(env)}) does not hold it, so `!git push` in a cell gets no token",
            setup,
        )
    elif gitsetup.helper_value(machine, env) not in helpers:
        if machine.layout:
            yield "git names the helper in a form that does not survive a restart", setup
        else:
            yield f"git names the helper {value!r}, not the isolated launcher setup writes", setup


def keyring_problems(env: Mapping[str, str], prog: Sequence[str]) -> Iterator[Problem]:
    """The store directory is private, and the keyring file's header opens."""
    store_dir = paths.store_dir(env)
    try:
        ensure_private_dir(Path(store_dir), create=False)
    except UserError as exc:
        message = str(exc)
        fix = (
            message.split("fix it with: ", 1)[1]
            if "fix it with: " in message
            else f"mv -- {shlex.quote(store_dir)} {shlex.quote(store_dir + '.moved')}"
        )
        yield message.split(";")[0], fix
        return
    store = Store(Path(store_dir))
    try:
        store.entries()  # opens the header: scheme, version, KDF parameters, check value
    except UserError as exc:
        message = str(exc)
        if "fix it with: " in message:  # a file others may read: its mode is the fix
            yield message.split(";")[0], message.split("fix it with: ", 1)[1]
            return
        yield (
            f"{message.split(';')[0]}, so git can neither use nor save tokens",
            _keyring_fix(store, prog),
        )
        return
    yield from kms_problems(store, prog, paths.resource_metadata(env))


def kms_problems(store: Store, prog: Sequence[str], metadata: str) -> Iterator[Problem]:
    """A store wrapped by KMS: this role can still unwrap its key (one bounded Decrypt)."""
    fields = store.settings() or {}
    key_id = keys.kms_key(fields)
    if key_id is None:
        return
    from git_credential_sagemaker.credential import aws, kms

    wrapping = keys.wrapping(str(store.path), fields, kms.instance_arn(metadata))
    try:
        data_key = kms.decrypt(key_id, wrapping.blob, wrapping.context, wrapping.why_not)
    except aws.AwsError as exc:
        fallback = (
            "the passphrase still opens it"
            if keys.has_passphrase(fields)
            else "nothing else opens it"
        )
        fix = (
            shlex.join([*prog, "setup", "--kms-key", key_id])  # wraps it for this instance
            if wrapping.why_not
            else f"give this instance's role kms:Decrypt on {key_id} "
            f"(then check with: {shlex.join([*prog, 'doctor'])})"
        )
        yield f"{exc}, so after a restart git asks for a passphrase ({fallback})", fix
        return
    if not Store(store.directory, key=data_key).opens():
        yield (
            f"KMS key {key_id} unwraps a key that does not open {store.path}",
            shlex.join([*prog, "setup", "--kms-key", key_id]),
        )


def _keyring_fix(store: Store, prog: Sequence[str]) -> str:
    """Back to the last good version when one was kept, else a new keyring (old kept aside)."""
    backup = store.directory / BACKUP
    try:
        good = check_private_file(backup) and bool(
            parse(backup.read_bytes(), store.scheme, store.version)
        )
    except (UserError, OSError, ValueError):
        good = False
    if good:
        return f"mv -- {shlex.quote(str(backup))} {shlex.quote(str(store.path))}"
    return shlex.join([*prog, "reset", "--yes"])


def machine_problems(
    env: Mapping[str, str], machine: Machine, prog: Sequence[str]
) -> Iterator[Problem]:
    setup = shlex.join([*prog, "setup"])
    yield from helper_problems(env, machine, prog)
    if not kernel_startup.is_current(machine, env):
        yield (
            "notebook kernels lack %git_unlock, %git_login and a git that never waits (the "
            "IPython startup file is missing or out of date)",
            setup,
        )
    if gitsetup.sends_paths():
        yield (
            "credential.useHttpPath is on for every host (SageMaker sets it for CodeCommit): git "
            "sends helpers each repository's path, so a token typed at a push serves that "
            "repository alone and every other one asks again",
            setup,
        )
    layout = machine.layout
    if layout and layout.gitconfig not in gitconfig.get_all("include.path", ("--global",)):
        yield (
            "~/.gitconfig does not include the settings kept on the volume",
            f"git config --global --add include.path {shlex.quote(layout.gitconfig)}",
        )
    if layout:
        saved = machine.script_path
        if not wheelhouse.current(Path(layout.wheels)):
            yield "the wheelhouse on the volume lacks the installed version", setup
        elif saved is None or not saved.exists() or saved.read_text() != lifecycle.render(layout):
            yield (
                "the saved on-start script is not current",
                f"{setup}, then paste `{PROG} lifecycle-script` into the Lifecycle Configuration",
            )


def token_problems(env: Mapping[str, str], prog: Sequence[str]) -> Iterator[Problem]:
    """Each stored GitHub token asked about again: revoked, expiring, or too broad."""
    conf = Settings.load(env, gitconfig.read_all())
    store = unlock.open_store(conf)
    try:
        findings, blocked = tokens.recheck(conf, store, may_prompt=False)
    except UserError as exc:
        yield f"the stored tokens could not be checked: {exc}", shlex.join([*prog, "check"])
        return
    for finding in findings:
        for line in finding.problems:
            problem, _, fix = line.partition("; fix: ")
            yield problem, fix or shlex.join([*prog, "check"])
    if blocked:
        problem, _, fix = blocked.partition("; run: ")
        yield problem, fix or shlex.join([*prog, "unlock"])


def precommit_home(env: Mapping[str, str]) -> Path:
    """pre-commit's cache, found as pre-commit finds it."""
    cache = env.get("XDG_CACHE_HOME") or os.path.join(env.get("HOME") or "~", ".cache")
    where = env.get("PRE_COMMIT_HOME") or os.path.join(os.path.expanduser(cache), "pre-commit")
    return Path(os.path.realpath(where))


def hook_env(home: Path, deps: Sequence[str], language_version: str) -> Optional[Path]:
    """Where pre-commit keeps the environment of `repo: local` python hooks with `deps`."""
    import sqlite3

    name = "local:" + ",".join(deps) if deps else "local"
    try:
        with contextlib.closing(sqlite3.connect(f"file:{home / 'db.db'}?mode=ro", uri=True)) as db:
            row = db.execute(
                "SELECT path FROM repos WHERE repo = ? AND ref = ?", (name, "1")
            ).fetchone()
    except sqlite3.Error:
        return None
    return None if row is None else Path(row[0]) / f"py_env-{language_version}"


def _env_runs(envdir: Path) -> bool:
    """Whether pre-commit would take the environment as installed: its state file, and a
    Python that starts."""
    states = (envdir / ".install_state_v2", envdir / ".install_state_v1")
    if not any(state.exists() for state in states):
        return False
    try:
        done = subprocess.run(
            [str(envdir / "bin" / "python"), "-I", "-c", "pass"],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=RUN_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def hook_env_problems(
    env: Mapping[str, str], machine: Machine, repo: Path, prog: Sequence[str]
) -> Iterator[Problem]:
    """On an instance, setup builds our hooks' environment from the wheelhouse; when it is
    gone or its Python no longer runs, the next commit asks the package index and fails."""
    layout = machine.layout
    if layout is None or not wheelhouse.current(Path(layout.wheels)):
        return  # nothing to build it from: the wheelhouse's own problem says so
    from git_credential_sagemaker.provision import precommit_config

    try:
        hooks = precommit_config.our_hooks(str(repo))
    except UserError:
        return  # a config that does not load is repo_problems' to name
    wanted = {
        (
            tuple(str(d) for d in hook.get("additional_dependencies") or ()),
            str(hook.get("language_version") or "default"),
        )
        for hook in hooks
        if hook.get("language") == "python"
    }
    home = precommit_home(env)
    for deps, version in sorted(wanted):
        envdir = hook_env(home, deps, version)
        if envdir is None or not _env_runs(envdir):
            where = f" ({envdir})" if envdir is not None else ""
            yield (
                f"the notebook hooks' environment in pre-commit's cache{where} is missing or "
                f"its Python does not run, so the next commit or checkout asks the package "
                f"index for {', '.join(deps) or 'it'} and fails",
                shlex.join([*prog, "setup", "--repo", str(repo)]),
            )


def diagnose(env: Mapping[str, str], repo: Optional[Path]) -> list[Problem]:
    prog = program(env)
    problems = list(machine_problems(env, Machine.detect(env), prog))
    keyring = list(keyring_problems(env, prog))
    problems += keyring
    if not keyring:
        problems += token_problems(env, prog)
    if repo is not None:
        from git_credential_sagemaker.provision.repo import repo_problems

        problems += repo_problems(repo, prog)
        # Named even beside the repository's own problems: a broken environment is what
        # leaves notebooks stale after a pull, and their rebuild would hide the cause.
        problems += hook_env_problems(env, Machine.detect(env), repo, prog)
    return problems
