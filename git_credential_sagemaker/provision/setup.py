"""`setup`, start to finish, as plain values in and a report out (the CLI and notebook print it).

    Machine --gitsetup--> helper, identity, pull.rebase (+ include line on an instance),
                          useHttpPath, --github-app: the App to sign in with
            --kernel_startup--> %git_unlock, %git_login and a safe git env in every kernel
            --restart---> wheelhouse, on-start script, pre-commit cache, venv
            --aws_setup--> --kms-key: KMS wraps the keyring's key; --secret: where tokens live
    repository (if any) --repo.setup_repo--> .gitignore, jupytext.toml, hooks
                        --accounts.bind--> --account: the account it uses at its host

Idempotent: a second run reports no changes.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Callable, NamedTuple, Optional

from git_credential_sagemaker.errors import SetupError
from git_credential_sagemaker.provision import gitsetup, kernel_startup, restart
from git_credential_sagemaker.provision.machine import Machine

Ask = Callable[[str], Optional[str]]


class Report(NamedTuple):
    changes: list[str]  # what changed (or would, in a dry run)
    notes: list[str]  # what is left to the user
    dry_run: bool
    kind: str  # the machine's kind

    def lines(self) -> list[str]:
        verb = "would change" if self.dry_run else "changed"
        out = [f"{verb}: {line}" for line in self.changes]
        if not self.changes:
            out.append("everything is already set up")
        out += [f"note: {line}" for line in self.notes]
        if self.kind == "studio":
            out.append(
                "Studio keeps your home directory across restarts: no lifecycle script is needed"
            )
        return out


class AwsOptions(NamedTuple):
    kms_key: Optional[str] = None  # KMS key ARN, id or alias that wraps the store's key
    secret: Optional[str] = None  # Secrets Manager secret holding the token for secret_url
    secret_url: str = "https://github.com"  # noqa: S105  # a URL


def _extras(
    env: Mapping[str, str], machine: Machine, aws: Optional[AwsOptions], notes: list[str]
) -> tuple[str, ...]:
    """("aws",) when the restored venv must reach AWS (a KMS key or a secret in use)."""
    from git_credential_sagemaker.provision import aws_setup, wheelhouse

    if machine.layout is None:
        return ()
    wanted = (aws is not None and bool(aws.kms_key or aws.secret)) or aws_setup.in_use(env)
    if not wanted:
        return ()
    if wheelhouse.installed("aws"):
        return ("aws",)
    notes.append(
        "boto3 is not installed, so after a restart the helper can't reach AWS (KMS, "
        "Secrets Manager); run: pip install 'git-credential-sagemaker[aws]', then setup again"
    )
    return ()


def find_repo(start: Optional[str], cwd: str) -> Optional[Path]:
    """The repository at `start` (an error if it is none), else the one `cwd` is in, else None."""
    where = start or cwd
    try:
        done = subprocess.run(
            ["git", "-C", where, "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SetupError(f"could not run git: {exc}") from None
    if done.returncode != 0:
        if start:
            raise SetupError(f"{start} is not a git repository")
        return None
    return Path(done.stdout.strip())


def setup(
    env: Mapping[str, str],
    ask: Ask,
    name: Optional[str] = None,
    email: Optional[str] = None,
    repo: Optional[Path] = None,
    migrate: bool = False,
    dry_run: bool = False,
    no_repo_because: Optional[str] = None,
    aws: Optional[AwsOptions] = None,
    account: Optional[str] = None,
    github_app: Optional[tuple[str, str]] = None,
) -> Report:
    """`no_repo_because`: why no repository is set up (for a note), when none was found;
    `account`: the stored account the repository uses at its remote's host; `github_app`:
    (client id, URL) of a GitHub App to sign in with."""
    machine = Machine.detect(env)
    notes: list[str] = []
    changes = gitsetup.configure_git(machine, env, name, email, ask, dry_run, notes)
    if aws is not None:
        from git_credential_sagemaker.provision import aws_setup

        if aws.secret:
            changes += aws_setup.configure_secret(machine, aws.secret, aws.secret_url, dry_run)
        if aws.kms_key:
            changes += aws_setup.configure_kms(env, aws.kms_key, dry_run)
    if github_app is not None:
        changes += gitsetup.configure_github_app(machine, *github_app, dry_run)
    changes += kernel_startup.install(machine, env, dry_run)
    changes += restart.persist_for_restart(machine, dry_run, _extras(env, machine, aws, notes))
    if repo is not None:
        from git_credential_sagemaker.provision.repo import setup_repo

        if account is not None:  # first: a repository with no https remote stops here
            from git_credential_sagemaker.provision import accounts

            changes += accounts.bind(repo, account, dry_run)

        python = restart.pre_commit_python(machine)
        restore = machine.layout.restore_line if machine.layout is not None else None
        repo_changes = setup_repo(
            repo, migrate=migrate, dry_run=dry_run, python=python, restore_line=restore
        )
        changes += [c.what for c in repo_changes if not c.advice]
        notes += [c.what for c in repo_changes if c.advice]
    elif no_repo_because:
        notes.append(f"no repository was set up: {no_repo_because}")
    return Report(changes, notes, dry_run, machine.kind)
