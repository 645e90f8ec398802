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
from collections.abc import Mapping, Sequence
from typing import Callable, Optional
from urllib.parse import quote

from git_credential_sagemaker.credential import agentclient, protocol
from git_credential_sagemaker.credential.paths import APP
from git_credential_sagemaker.credential.prompt import Prompter, sanitize

Ask = Callable[[str], Optional[str]]
Say = Callable[[str], None]


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


def pick(host: str, names: Sequence[str], prompter: Prompter, say: Say) -> str:
    """One of several accounts stored for the host: asked on a terminal, else the first; one
    line says which, and how to choose one for a repository."""

    def ask(text: str) -> Optional[str]:
        return prompter.ask(text, secret=False)

    chosen = choose(host, names, ask if prompter.channel() == "tty" else None)
    say(line(host, names, chosen))
    return chosen


def named(request: protocol.Request, username: str) -> protocol.Request:
    """The request, naming an account."""
    fields = {name: getattr(request, name) for name in protocol.FIELDS}
    fields["username"] = username
    return protocol.Request(**fields)


def agents_choice(
    request: protocol.Request,
    body: bytes,
    env: Mapping[str, str],
    config: Sequence[tuple[str, str]],
    sock: str,
    store_dir: str,
    say: Say,
) -> Optional[tuple[bytes, bytes]]:
    """The agent's `several` reply: pick an account, and the agent's answer with it (its
    reply already holds the first's)."""
    names, answer = split(body)
    settings = {key.lower(): value for key, value in config}
    chosen = pick(request.host or "", names, Prompter.load(env, settings.get), say)
    if chosen == names[0]:
        return agentclient.OK, answer
    wire = protocol.format_request(named(request, chosen))
    return agentclient.call(sock, agentclient.encode("get", store_dir, wire))
