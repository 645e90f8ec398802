"""`doctor`: check each piece `setup` wires up, and print the command that fixes each one off.

Checks are pure reads; each yields (problem, fix). Nothing here changes anything.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Optional

from git_credential_sagemaker import lifecycle, paths, wheelhouse
from git_credential_sagemaker.configure import Machine, git_config
from git_credential_sagemaker.store import StoreError, ensure_private_dir

PROG = paths.APP
Problem = tuple[str, str]


def machine_problems(env: Mapping[str, str], machine: Machine) -> Iterator[Problem]:
    if shutil.which(PROG, path=env.get("PATH")) is None:
        fix = ("run the on-start script (sudo bash " + str(machine.script_path) + ")"
               if machine.script_path else f"pip install {wheelhouse.PROJECT}")
        yield f"git can't find {PROG} on PATH", fix
    if not any(h.split()[:1] == ["sagemaker"] for h in git_config("--get-all",
                                                                 "credential.helper")):
        yield "git is not configured to use the helper", f"{PROG} setup"
    layout = machine.layout
    if layout and layout.gitconfig not in git_config("--global", "--get-all", "include.path"):
        yield ("~/.gitconfig does not include the settings kept on the volume",
               f"git config --global --add include.path {layout.gitconfig}")
    try:
        ensure_private_dir(Path(paths.store_dir(env)), create=False)
    except StoreError as exc:
        message = str(exc)
        fix = message.split("fix it with: ", 1)[1] if "fix it with: " in message else \
            f"move {paths.store_dir(env)} aside and run: {PROG} login"
        yield message.split(";")[0], fix
    if layout:
        saved = machine.script_path
        if not wheelhouse.current(Path(layout.wheels)):
            yield "the wheelhouse on the volume lacks the installed version", f"{PROG} setup"
        elif saved is None or not saved.exists() or saved.read_text() != lifecycle.render(layout):
            yield ("the saved on-start script is not current",
                   f"{PROG} setup, then paste `{PROG} lifecycle-script` into the Lifecycle "
                   "Configuration")


def diagnose(env: Mapping[str, str], repo: Optional[Path]) -> list[Problem]:
    problems = list(machine_problems(env, Machine.detect(env)))
    if repo is not None:
        from git_credential_sagemaker.repo_setup import repo_problems

        problems += repo_problems(repo)
    return problems
