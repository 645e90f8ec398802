"""What lets a notebook instance come back after a restart: all of it kept on the volume.

    setup --> wheelhouse (no network needed) + saved on-start script + pre-commit cache
              (the Lifecycle Configuration runs it; without one, `sudo bash` it by hand)
          --> the user's half of the on-start script, run once now, so the venv that git
              config, pre-commit's hooks and the kernel startup file point at exists from
              day one

Every step checks first and changes only what is missing; with dry_run it only reports.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from git_credential_sagemaker import children
from git_credential_sagemaker.credential.files import atomic_write, prepare_store_dir
from git_credential_sagemaker.errors import SetupError
from git_credential_sagemaker.provision import launcher, lifecycle, wheelhouse
from git_credential_sagemaker.provision.machine import Layout, Machine


def persist_for_restart(machine: Machine, dry_run: bool, extras: tuple[str, ...] = ()) -> list[str]:
    """Wheelhouse, saved on-start script and pre-commit cache on the volume.

    `extras` (`aws` when a KMS key or a secret is in use) go into the wheelhouse too, so
    the venv the on-start script rebuilds can still reach AWS.
    """
    layout = machine.layout
    if layout is None:
        return []
    changes: list[str] = []
    if not dry_run:
        prepare_store_dir(Path(layout.state))
    wheels = Path(layout.wheels)
    fresh = not wheelhouse.current(wheels, extras)
    if fresh:
        changes.append(f"wheelhouse for a restart without network: {wheels}")
        if not dry_run:
            wheelhouse.build(wheels, extras)
    script = lifecycle.render(layout)
    saved = machine.script_path
    if saved and (not saved.exists() or saved.read_text() != script):
        changes.append(
            f"on-start script saved to {saved}; paste `git-credential-sagemaker "
            "lifecycle-script` into the instance's Lifecycle Configuration, or, without one, "
            f"after each restart run in a terminal: {layout.restore_line}"
        )
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
    if fresh or not Path(layout.python).exists():
        # The venv the on-start script rebuilds: made now too, so pre-commit's hooks point
        # at an interpreter that exists after every restart.
        changes.append(f"helper installed from the wheelhouse into {layout.venv}")
        if not dry_run:
            run_user_part(layout)
    elif not Path(layout.helper).exists():  # a venv made before the launcher existed
        changes.append(f"the helper's launcher: {layout.helper}")
        if not dry_run:
            write_launcher(layout)
    return changes


def write_launcher(layout: Layout) -> None:
    """The launcher, written by the venv's own Python, as the on-start script writes it."""
    args = children.argv(launcher.__name__, [layout.helper], layout.python)
    done = subprocess.run(
        args, cwd=layout.home, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    if done.returncode != 0:
        said = (done.stdout + done.stderr).strip().splitlines() or ["no output"]
        raise SetupError(f"{said[-1]}; fix: rm -rf {layout.venv}, then run setup again")


def run_user_part(layout: Layout) -> None:
    python = getattr(sys, "_base_executable", sys.executable)
    done = subprocess.run(
        ["bash", "-s"],
        input=lifecycle.render_user_part(layout),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=False,
        cwd=layout.home,  # the on-start script's folder too; never the repository setup ran in
        env={**os.environ, "GCS_PYTHON": os.path.realpath(python)},
    )
    if done.returncode != 0:
        said = (done.stdout.strip().splitlines() or ["no output"])[-1]
        raise SetupError(f"installing from the wheelhouse failed: {said}")


def pre_commit_python(machine: Machine) -> str:
    """The interpreter pre-commit's git hooks should call: one that survives restarts."""
    if machine.layout:
        venv_python = Path(machine.layout.venv) / "bin" / "python"
        if venv_python.exists():
            return str(venv_python)
    return sys.executable
