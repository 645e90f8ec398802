"""`setup --account USER`: one repository uses one of several accounts stored for its host.

    the repository's remote URL --> scheme://host --> git config --local
                                                      credential.<scheme://host>.username USER

With it, git names that account in every request this repository makes to the host, so the
helper answers with that account's token (and asks for it, the first time). A remote URL that
holds the account (https://USER@github.com/org/repo.git) does the same for that remote alone.
`bound` tells `list` and `status` what the repository one stands in uses.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

from git_credential_sagemaker.credential import gitconfig, protocol
from git_credential_sagemaker.errors import SetupError, UsageError


def _git(repo: Path, *args: str) -> Optional[str]:
    """A git command's first line of output in `repo`, or None when it fails."""
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=gitconfig.TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SetupError(f"could not run git: {exc}") from None
    lines = done.stdout.splitlines()
    return lines[0] if done.returncode == 0 and lines else None


def remote_url(repo: Path) -> Optional[str]:
    """The URL of `origin`, else of the repository's only remote."""
    url = _git(repo, "remote", "get-url", "origin")
    if url is not None:
        return url
    remotes = (_git(repo, "remote") or "").split()
    return _git(repo, "remote", "get-url", remotes[0]) if len(remotes) == 1 else None


def host_url(url: str) -> Optional[str]:
    """scheme://host[:port] of an http(s) URL, without the account it may hold."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def bind(repo: Path, username: str, dry_run: bool) -> list[str]:
    """Make `repo` use `username` at its remote's host; the change, for setup's report."""
    if not username or protocol.has_control(username):
        raise UsageError("--account needs an account name without control characters")
    url = remote_url(repo)
    if url is None:
        raise SetupError(f"{repo} has no remote to bind an account to; add one with git remote")
    base = host_url(url)
    if base is None:
        raise SetupError(
            f"{repo}'s remote is not an https URL, so git asks the helper nothing for it"
        )
    key = f"credential.{base}.username"
    if _git(repo, "config", "--local", "--get", key) == username:
        return []
    if not dry_run:
        done = subprocess.run(
            ["git", "-C", str(repo), "config", "--local", key, username],
            capture_output=True,
            text=True,
            check=False,
            timeout=gitconfig.TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            raise SetupError(f"git config {key} failed: {' '.join(done.stderr.split())}")
    return [f"git config --local {key} {username!r} (this repository uses that account)"]


def bound(repo: Path) -> Optional[tuple[str, Optional[str]]]:
    """(the remote's scheme://host, the account git names there or None), for the repository
    one stands in; None when it has no https remote."""
    url = remote_url(repo)
    base = None if url is None else host_url(url)
    if url is None or base is None:
        return None
    in_url = urlsplit(url).username
    return base, in_url or _git(repo, "config", "--get-urlmatch", "credential.username", url)
