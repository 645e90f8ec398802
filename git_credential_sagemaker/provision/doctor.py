"""`doctor`: check each piece `setup` wires up, and print the command that fixes each one off.

    Machine + env --machine_problems--> (problem, fix) ...
    repository    --repo.repo_problems--> (problem, fix) ...

Checks are reads; nothing here changes anything.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Optional

from git_credential_sagemaker.credential import gitconfig, paths, tokens, unlock
from git_credential_sagemaker.credential.files import ensure_private_dir
from git_credential_sagemaker.credential.settings import Settings
from git_credential_sagemaker.errors import UserError
from git_credential_sagemaker.provision import gitsetup, lifecycle, wheelhouse
from git_credential_sagemaker.provision.machine import Machine

PROG = paths.APP
Problem = tuple[str, str]


def _helper_found(value: str, env: Mapping[str, str]) -> bool:
    """Whether git can run this credential.helper value."""
    first = value.split()[0] if value.split() else ""
    if os.path.isabs(first):
        return os.access(first, os.X_OK)
    name = first if first.startswith("git-credential-") else f"git-credential-{first}"
    return shutil.which(name, path=env.get("PATH")) is not None


def machine_problems(env: Mapping[str, str], machine: Machine) -> Iterator[Problem]:
    helpers = [h for h in gitconfig.get_all("credential.helper") if gitconfig.is_our_helper(h)]
    if not helpers:
        yield "git is not configured to use the helper", f"{PROG} setup"
    elif not any(_helper_found(h, env) for h in helpers):
        fix = (
            f"run the on-start script (sudo bash {machine.script_path})"
            if machine.script_path
            else f"pip install {wheelhouse.PROJECT}"
        )
        yield f"git can't find the helper {helpers[-1]!r}", fix
    elif machine.layout and gitsetup.helper_value(machine) not in helpers:
        yield "git names the helper in a form that needs PATH", f"{PROG} setup"
    layout = machine.layout
    if layout and layout.gitconfig not in gitconfig.get_all("include.path", ("--global",)):
        yield (
            "~/.gitconfig does not include the settings kept on the volume",
            f"git config --global --add include.path {layout.gitconfig}",
        )
    store_dir = paths.store_dir(env)
    try:
        ensure_private_dir(Path(store_dir), create=False)
    except UserError as exc:
        message = str(exc)
        fix = (
            message.split("fix it with: ", 1)[1]
            if "fix it with: " in message
            else f"move {store_dir} aside and run: {PROG} login"
        )
        yield message.split(";")[0], fix
    if layout:
        saved = machine.script_path
        if not wheelhouse.current(Path(layout.wheels)):
            yield "the wheelhouse on the volume lacks the installed version", f"{PROG} setup"
        elif saved is None or not saved.exists() or saved.read_text() != lifecycle.render(layout):
            yield (
                "the saved on-start script is not current",
                f"{PROG} setup, then paste `{PROG} lifecycle-script` into the Lifecycle "
                "Configuration",
            )


def token_problems(env: Mapping[str, str]) -> Iterator[Problem]:
    """Each stored GitHub token asked about again: revoked, expiring, or too broad."""
    conf = Settings.load(env, gitconfig.read_all())
    store = unlock.open_store(conf)
    try:
        findings, blocked = tokens.recheck(conf, store, may_prompt=False)
    except UserError as exc:
        yield f"the stored tokens could not be checked: {exc}", f"{PROG} check"
        return
    for finding in findings:
        for line in finding.problems:
            problem, _, fix = line.partition("; fix: ")
            yield problem, fix or f"{PROG} check"
    if blocked:
        problem, _, fix = blocked.partition("; run: ")
        yield problem, fix or f"{PROG} unlock"


def diagnose(env: Mapping[str, str], repo: Optional[Path]) -> list[Problem]:
    problems = list(machine_problems(env, Machine.detect(env)))
    problems += token_problems(env)
    if repo is not None:
        from git_credential_sagemaker.provision.repo import repo_problems

        problems += repo_problems(repo)
    return problems
