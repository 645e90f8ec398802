"""`setup`'s git settings: the helper, the identity and pull.rebase, kept where they survive;
and credential.useHttpPath, where SageMaker's images set it for every host, kept for CodeCommit's.

    notebook instance: settings --> <volume>/.git-credential-sagemaker/gitconfig
                       ~/.gitconfig --include.path--> that file (one line to restore)
    Studio, elsewhere: settings --> ~/.gitconfig (Studio's home persists)

The helper is named by its launcher's absolute path (provision/launcher), so git finds it
with any PATH (a kernel's, the Jupyter server's, Code Editor's) and starts it isolated: on a
notebook instance the on-start script writes it for the venv it rebuilds, so nothing is
linked onto root's PATH; elsewhere setup writes it for the Python it runs in. Every
step checks first and changes only what is missing; with dry_run it only reports.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Callable, Optional

from git_credential_sagemaker.credential import gitconfig, paths
from git_credential_sagemaker.credential.files import prepare_store_dir
from git_credential_sagemaker.provision import launcher
from git_credential_sagemaker.provision.machine import Machine

Ask = Callable[[str], Optional[str]]


# SageMaker's images set credential.useHttpPath for every host, for CodeCommit's own helper,
# which signs each repository's path. Its hosts keep it; setup turns it off for the rest.
CODECOMMIT_URLS = (
    "https://git-codecommit.*.amazonaws.com",
    "https://git-codecommit-fips.*.amazonaws.com",
    "https://git-codecommit.*.amazonaws.com.cn",
)
# git runs an absolute helper path through the shell: only a plain path goes in unquoted.
PLAIN_PATH = re.compile(r"/[A-Za-z0-9._/+-]+")


def helper_value(machine: Machine, env: Mapping[str, str]) -> str:
    """What credential.helper should say on this machine: the launcher's absolute path (by
    name only where the shell would need quoting, so git still finds it on PATH)."""
    if machine.layout:
        return machine.layout.helper
    path = launcher.default_path(env)
    return path if PLAIN_PATH.fullmatch(path) else gitconfig.HELPER_NAME


def configure_git(
    machine: Machine,
    env: Mapping[str, str],
    name: Optional[str],
    email: Optional[str],
    ask: Ask,
    dry_run: bool,
    notes: Optional[list[str]] = None,
) -> list[str]:
    """The helper, identity and pull.rebase, plus the include line on a notebook instance.

    An identity nobody could be asked for is left for `notes`: the rest still gets set up.
    """
    changes: list[str] = []
    scope = machine.config_scope

    def put(key: str, value: str, add: bool = False) -> None:
        changes.append(f"git config {' '.join(scope)} {key} {value!r}")
        if not dry_run:
            (gitconfig.add if add else gitconfig.set)(key, value, scope)

    layout = machine.layout
    if layout and layout.gitconfig not in gitconfig.get_all("include.path", ("--global",)):
        changes.append(f"git config --global --add include.path {layout.gitconfig}")
        if not dry_run:
            prepare_store_dir(Path(layout.state))
            gitconfig.add("include.path", layout.gitconfig, ("--global",))

    def current(key: str) -> list[str]:
        found = gitconfig.get_all(key)
        if not found and layout:  # before the include line exists (dry run)
            found = gitconfig.get_all(key, scope)
        return found

    wanted = helper_value(machine, env)
    if machine.layout is None and wanted != gitconfig.HELPER_NAME:
        changes += launcher.write(wanted, dry_run=dry_run)  # on an instance, the venv's own
    helpers = current("credential.helper")
    if wanted not in helpers:
        before = gitconfig.get_all("credential.helper", scope)
        if any(gitconfig.is_our_helper(h) for h in before) and not dry_run:
            gitconfig.unset_all("credential.helper", scope)  # an older form of ours goes
            for other in before:
                if not gitconfig.is_our_helper(other):
                    gitconfig.add("credential.helper", other, scope)
        put("credential.helper", wanted, add=True)
    for key, given, label in (
        ("user.name", name, "Your name for commits"),
        ("user.email", email, "Your email for commits"),
    ):
        now = current(key)
        if given is not None and [given] != now[-1:]:
            put(key, given)
        elif given is None and not now:
            if dry_run:
                changes.append(f"would ask for {key}")
                continue
            answer = ask(f"{label}: ")
            if answer:
                put(key, answer)
            elif notes is not None:
                flag = key.split(".")[1]
                notes.append(
                    f"{key} is not set, so git can't commit yet; run: "
                    f"{paths.APP} setup --{flag} 'Your {flag.capitalize()}'"
                )
    if not current("pull.rebase"):
        put("pull.rebase", "false")
    if sends_paths():
        put("credential.useHttpPath", "false")
        for url in CODECOMMIT_URLS:
            if gitconfig.get(f"credential.{url}.usehttppath") is None:
                put(f"credential.{url}.useHttpPath", "true")
    return changes


def url_setting(machine: Machine, url: str, name: str, value: str, dry_run: bool) -> list[str]:
    """credential.<url>.<name> set to `value` in the file that survives a restart; the change,
    for setup's report (none when it is set already)."""
    key = f"credential.{url}.{name}"
    if gitconfig.get_all(key, machine.config_scope)[-1:] == [value]:
        return []
    if not dry_run:
        gitconfig.set(key, value, machine.config_scope)
    return [f"git config {' '.join(machine.config_scope)} {key} {value!r}"]


def configure_github_app(machine: Machine, client_id: str, url: str, dry_run: bool) -> list[str]:
    """Sign in to that host with the GitHub App's device flow."""
    from git_credential_sagemaker.credential import oauth

    return url_setting(machine, url, oauth.CLIENT_NAME, client_id, dry_run)


def sends_paths() -> bool:
    """Whether git sends helpers each repository's path for every host (credential.useHttpPath,
    as SageMaker's images set it for CodeCommit): a token typed at one push would then be kept
    for that repository alone, and every other repository on the host would ask again. A
    setting for one URL is that URL's own choice, and stays."""
    return gitconfig.get_bool("credential.usehttppath") is True
