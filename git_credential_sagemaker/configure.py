"""`setup`'s machine half: git config that survives a restart, and what the on-start script needs.

    notebook instance: settings --> <volume>/.git-credential-sagemaker/gitconfig
                       ~/.gitconfig --include.path--> that file (one line to restore)
                       wheelhouse + on-start script + pre-commit cache on the volume
    Studio, elsewhere: settings --> ~/.gitconfig (Studio's home persists)

Every step checks first and changes only what is missing, so running it twice changes
nothing; with dry_run it only reports.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from git_credential_sagemaker import lifecycle, paths, wheelhouse
from git_credential_sagemaker.store import StoreError, atomic_write, prepare_store_dir

Ask = Callable[[str], Optional[str]]


@dataclass(frozen=True)
class Machine:
    kind: str                               # notebook-instance, studio or other
    layout: Optional[lifecycle.Layout]      # only on a notebook instance

    @classmethod
    def detect(cls, env: Mapping[str, str]) -> Machine:
        volume, studio = paths.sagemaker_roots(env)
        kind = paths.environment_kind(volume, studio)
        if kind != "notebook-instance":
            return cls(kind, None)
        return cls(kind, lifecycle.Layout(home=os.path.dirname(volume),
                                          state=paths.store_dir(env)))

    @property
    def config_args(self) -> list[str]:
        """Where setup writes git settings: the volume's file, or the global config."""
        return ["--file", self.layout.gitconfig] if self.layout else ["--global"]

    @property
    def script_path(self) -> Optional[Path]:
        return Path(self.layout.state) / "on-start.sh" if self.layout else None


def git_config(*args: str) -> list[str]:
    done = subprocess.run(["git", "config", *args], capture_output=True, text=True,
                          check=False)
    if done.returncode not in (0, 1):  # 1: the key is unset
        raise StoreError(f"git config {' '.join(args[:2])} failed: {done.stderr.strip()}")
    return done.stdout.splitlines()


def configure_git(machine: Machine, name: Optional[str], email: Optional[str],
                  ask: Ask, dry_run: bool, notes: Optional[list[str]] = None) -> list[str]:
    """The helper, identity and pull.rebase, plus the include line on a notebook instance.

    An identity nobody could be asked for is left for `notes`: the rest still gets set up.
    """
    changes: list[str] = []
    target = machine.config_args

    def put(key: str, value: str, add: bool = False) -> None:
        changes.append(f"git config {' '.join(target)} {key} {value!r}")
        if not dry_run:
            git_config(*target, "--add" if add else "--replace-all", key, value)

    if machine.layout and machine.layout.gitconfig not in git_config(
            "--global", "--get-all", "include.path"):
        if not dry_run:
            prepare_store_dir(Path(machine.layout.state))
        changes.append(f"git config --global --add include.path {machine.layout.gitconfig}")
        if not dry_run:
            git_config("--global", "--add", "include.path", machine.layout.gitconfig)
    def current(key: str, *flags: str) -> list[str]:
        found = git_config(*flags, key)
        if not found and machine.layout:  # before the include line exists (dry run)
            found = git_config(*target, *flags, key)
        return found

    helpers = current("credential.helper", "--get-all")
    if not any(h.split()[:1] == ["sagemaker"] for h in helpers):
        put("credential.helper", "sagemaker", add=True)
    for key, given, label in (("user.name", name, "Your name for commits"),
                              ("user.email", email, "Your email for commits")):
        now = current(key, "--get")
        if given is not None and [given] != now:
            put(key, given)
        elif given is None and not now:
            answer = None if dry_run else ask(f"{label}: ")
            if dry_run:
                changes.append(f"would ask for {key}")
            elif not answer:
                if notes is not None:
                    flag = key.split(".")[1]
                    notes.append(f"{key} is not set, so git can't commit yet; run: "
                                 f"{paths.APP} setup --{flag} 'Your {flag.capitalize()}'")
            else:
                put(key, answer)
    if not current("pull.rebase", "--get"):
        put("pull.rebase", "false")
    return changes


def persist_for_restart(machine: Machine, dry_run: bool) -> list[str]:
    """Wheelhouse, saved on-start script and pre-commit cache on the volume."""
    layout = machine.layout
    if layout is None:
        return []
    changes: list[str] = []
    if not dry_run:
        prepare_store_dir(Path(layout.state))
    wheels = Path(layout.wheels)
    fresh = not wheelhouse.current(wheels)
    if fresh:
        changes.append(f"wheelhouse for a restart without network: {wheels}")
        if not dry_run:
            wheelhouse.build(wheels)
    script = lifecycle.render(layout)
    saved = machine.script_path
    if saved and (not saved.exists() or saved.read_text() != script):
        changes.append(f"on-start script saved to {saved}; paste `git-credential-sagemaker "
                       "lifecycle-script` into the instance's Lifecycle Configuration")
        if not dry_run:
            atomic_write(saved, script)
    cache = Path(layout.home) / ".cache" / "pre-commit"
    volume_cache = Path(layout.precommit_cache)
    if not cache.is_symlink():
        changes.append(f"pre-commit cache kept on the volume: {cache} -> {volume_cache}")
        if not dry_run:
            cache.parent.mkdir(parents=True, exist_ok=True)
            if cache.exists() and not volume_cache.exists():
                shutil.move(str(cache), str(volume_cache))  # keep the hook environments
            elif cache.exists():
                cache.rename(cache.with_name("pre-commit.before-setup"))
            volume_cache.mkdir(parents=True, exist_ok=True)
            cache.symlink_to(volume_cache)
    venv_helper = Path(layout.venv) / "bin" / paths.APP
    if fresh or not venv_helper.exists():
        # The venv the on-start script rebuilds: made now too, so pre-commit's hooks point
        # at an interpreter that exists after every restart.
        changes.append(f"helper installed from the wheelhouse into {layout.venv}")
        if not dry_run:
            run_user_part(layout)
    return changes


def run_user_part(layout: lifecycle.Layout) -> None:
    python = getattr(sys, "_base_executable", sys.executable)
    done = subprocess.run(["bash", "-s"], input=lifecycle.render_user_part(layout),
                          text=True, capture_output=True, check=False,
                          env={**os.environ, "GCS_PYTHON": os.path.realpath(python)})
    if done.returncode != 0:
        raise StoreError("installing from the wheelhouse failed: "
                         + (done.stderr.strip().splitlines() or ["no output"])[-1])


def pre_commit_python(machine: Machine) -> str:
    """The interpreter pre-commit's git hooks should call: one that survives restarts."""
    if machine.layout:
        venv_python = Path(machine.layout.venv) / "bin" / "python"
        if venv_python.exists():
            return str(venv_python)
    return sys.executable
