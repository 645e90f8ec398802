"""Which account answers when several are stored for one host and git named none.

    names (git's first match first) --a terminal--> asked, the first by default
                                    --otherwise---> the first
    then one line: which account was used, and how to choose one for a repository

git names an account when the remote URL holds one (https://USER@github.com/...) or git config
does (credential.<url>.username, which `setup --account USER` writes in the repository); it
then sends `username`, and nothing here runs.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Callable, Optional
from urllib.parse import quote

from git_credential_sagemaker.credential.paths import APP
from git_credential_sagemaker.credential.prompt import sanitize

Ask = Callable[[str], Optional[str]]


def choose(host: str, names: Sequence[str], ask: Optional[Ask]) -> str:
    """The account to answer with: asked on a terminal (an empty answer keeps the first)."""
    if ask is None:
        return names[0]
    shown = ", ".join(sanitize(n) for n in names)
    for _ in range(3):
        answer = ask(f"Account for {sanitize(host)} ({shown}) [{sanitize(names[0])}]: ")
        if answer is None or not answer.strip():
            return names[0]
        if answer.strip() in names:
            return answer.strip()
    return names[0]


def line(host: str, names: Sequence[str], chosen: str) -> str:
    """What was used, and how to pick an account for a repository."""
    other = sanitize(next(n for n in names if n != chosen))
    listed = ", ".join(sanitize(n) for n in names)
    return (
        f"{sanitize(host)} has tokens for {listed}, and git named no account, so "
        f"{sanitize(chosen)} was used; to use another in this repository run: "
        f"{APP} setup --account {shlex.quote(other)} (or put it in the remote's URL: "
        f"https://{quote(other, safe='')}@{sanitize(host)}/...)"
    )


def split(body: bytes) -> tuple[list[str], bytes]:
    """The agent's `several` reply: (the accounts' names, the answer with the first)."""
    listed, _, answer = body.partition(b"\n")
    return listed.decode(errors="replace").split("\0"), answer
