"""Signing in with a GitHub App's device flow, and keeping its tokens fresh (oauth speaks HTTP).

login --device, or a push at a terminal with nothing stored for a host with a client id
    --> oauth.start --> the URL and code, on stderr --> oauth.wait (Ctrl-C stops it)
    --> save(): sealed like any entry, with the refresh token and how to refresh it
a cell's `!git push`, the Git panel, %git_login --device (no terminal to wait at)
    --> the agent's `device` request: it starts the flow, answers the URL and code at once,
        and waits and saves in a thread of its own; the caller shows one line and returns
get --renew()--> the token that would answer expires within 5 minutes and holds a refresh
    token --> store.rewrite: under the store's lock, re-read, refresh only if nobody else
    just did, write the new pair (fsynced), then answer. A refused refresh removes the
    entry, and one line names `login --device`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Callable, Optional

from git_credential_sagemaker.credential import (
    agentclient,
    context,
    gitconfig,
    github,
    oauth,
    operations,
)
from git_credential_sagemaker.credential.paths import APP
from git_credential_sagemaker.credential.prompt import Prompter, login_target, sanitize
from git_credential_sagemaker.credential.protocol import Request
from git_credential_sagemaker.credential.store import Entry, Store
from git_credential_sagemaker.errors import UsageError, UserError


def due(expiry: Optional[str], now: float) -> bool:
    """Whether a token expiring at `expiry` (epoch seconds) needs a refresh before use."""
    return bool(expiry and expiry.isdigit() and int(expiry) - now <= oauth.REFRESH_AHEAD)


def refreshable(secrets: Mapping[str, str]) -> bool:
    return all(k in secrets for k in ("oauth_refresh_token", oauth.CLIENT_KEY, oauth.BASE_KEY))


def login_line(protocol: str, host: str) -> str:
    return f"{APP} login --device {login_target(protocol, host)}"


def required_flow(protocol: str, host: str, run: str = APP) -> tuple[str, str]:
    """(client id, base) of the GitHub App git config names for the host; a one-line
    UsageError naming the setup line (run as `run`) when none is."""
    flow = oauth.configured(protocol, host, gitconfig.get_urlmatch)
    if flow is None:
        raise UsageError(
            f"no GitHub App is set up for {protocol}://{sanitize(host)}; run: "
            f"{run} setup --no-repo --github-app CLIENT_ID"
        )
    return flow


def sign_in_line(prompter: Prompter, protocol: str, host: str) -> str:
    """Nothing stored, and nowhere to wait here: where to sign in instead."""
    what = f"no token stored for {sanitize(host)}"
    if prompter.in_kernel:
        code = (
            "%git_login --device"
            if prompter.magics
            else "from git_credential_sagemaker import login; login(device=True)"
        )
        return f"{what}; in a notebook cell run: {code}"
    if prompter.in_panel:
        return context.panel_hint(what, login_line(protocol, host).removeprefix(f"{APP} "))
    return f"{what}; in a terminal run: {login_line(protocol, host)}"


def gone_line(entry: Entry) -> str:
    return (
        f"GitHub refused to refresh the token for {sanitize(entry.host)} (revoked, unused for "
        f"six months, or the App uninstalled), so it was removed; sign in again with: "
        f"{login_line(entry.protocol, entry.host)}"
    )


def renewable(request: Request, store: Store) -> Optional[Entry]:
    """The entry that would answer `request`, when it is ours to refresh and due (read
    without the key). Others' refresh tokens are for a helper after ours."""
    entry = operations.find(request, store) or operations.expired_match(request, store)
    if entry is None or not entry.refreshes or not due(entry.expiry, time.time()):
        return None
    return entry


def renew(request: Request, store: Store) -> Optional[str]:
    """Refresh the token that would answer `request`, when it is due and refreshable; the line
    to say when it had to be removed. Needs the store's key."""
    entry = renewable(request, store)
    if entry is None:
        return None
    refused = False

    def compute(current: dict[str, str]) -> Optional[dict[str, str]]:
        nonlocal refused
        if not refreshable(current) or not due(current.get("password_expiry_utc"), time.time()):
            return None  # refreshed meanwhile by another process: its pair is the one to use
        client_id, base = current[oauth.CLIENT_KEY], current[oauth.BASE_KEY]
        try:
            tokens = oauth.refresh(base, client_id, current["oauth_refresh_token"])
        except oauth.OAuthError as exc:
            refused = exc.refused
            return {} if refused else None  # no answer: keep it, and try at the next get
        return {**current, **tokens.secrets(client_id, base)}

    store.rewrite(entry, compute)
    return gone_line(entry) if refused else None


def save(
    store: Store,
    protocol: str,
    host: str,
    username: str,
    tokens: oauth.Tokens,
    client_id: str,
    base: str,
    put: Optional[Callable[[bytes], bool]] = None,
) -> None:
    """Keep what the device flow gave, with GitHub's check of the token; `put` hands it to a
    running agent (False: none runs, so the store is written here, unlocking it)."""
    fields, secrets, meta = entry(protocol, host, username, tokens, client_id, base)
    if put is not None and put(encode_put(fields, secrets, meta)):
        return
    store.put(fields, secrets, meta)


def entry(
    protocol: str, host: str, username: str, tokens: oauth.Tokens, client_id: str, base: str
) -> tuple[dict[str, Optional[str]], dict[str, str], Optional[str]]:
    """(key fields, secrets, GitHub's check) of the entry the device flow's tokens make; asks
    GitHub about the token (bounded), so the caller holds no lock meanwhile."""
    check = github.check_for(protocol, host, tokens.access_token)
    fields: dict[str, Optional[str]] = {
        "protocol": protocol,
        "host": host,
        "path": None,
        "username": username,
    }
    return fields, tokens.secrets(client_id, base), None if check is None else check.to_meta()


def encode_put(
    fields: Mapping[str, Optional[str]], secrets: Mapping[str, str], check: Optional[str]
) -> bytes:
    return json.dumps({"fields": dict(fields), "secrets": dict(secrets), "check": check}).encode()


def decode_put(
    payload: bytes,
) -> tuple[dict[str, Optional[str]], dict[str, str], Optional[str]]:
    data = json.loads(payload)
    fields = {k: (None if v is None else str(v)) for k, v in dict(data["fields"]).items()}
    secrets = {str(k): str(v) for k, v in dict(data["secrets"]).items()}
    check = data.get("check")
    return fields, secrets, None if check is None else str(check)


def instructions(code: oauth.DeviceCode) -> str:
    """The one line that lets a person approve the sign-in, wherever it is shown."""
    return (
        f"to sign in, open {sanitize(code.verification_uri)} and enter the code "
        f"{sanitize(code.user_code)}"
    )


CallAgent = Callable[[str, bytes], Optional[tuple[bytes, bytes]]]


def start_in_agent(
    call_agent: CallAgent,
    protocol: str,
    host: str,
    username: Optional[str],
    flow: tuple[str, str],
) -> Optional[oauth.DeviceCode]:
    """Let the running agent sign in for this host in the background: the code to show, or
    None when no agent runs (signing in then needs the keyring unlocked first)."""
    client_id, base = flow
    ask = {
        "protocol": protocol,
        "host": host,
        "username": username,
        "client_id": client_id,
        "base": base,
    }
    reply = call_agent("device", json.dumps(ask).encode())
    if reply is None:
        return None
    if reply[0] != agentclient.OK:
        raise UserError(reply[1].decode(errors="replace") or "the unlock agent could not sign in")
    shown = json.loads(reply[1])
    return oauth.DeviceCode("", str(shown["user_code"]), str(shown["verification_uri"]), 0.0, 0)


def agent_put(call_agent: CallAgent) -> Callable[[bytes], bool]:
    """Hand an entry to a running agent, which holds the key; False when none runs."""

    def put(payload: bytes) -> bool:
        reply = call_agent("put", payload)
        if reply is not None and reply[0] == agentclient.ERROR:
            raise UserError(reply[1].decode(errors="replace"))
        return reply is not None

    return put


def sign_in_here(
    store: Store,
    protocol: str,
    host: str,
    username: str,
    flow: tuple[str, str],
    show: Callable[[oauth.DeviceCode], None],
    put: Optional[Callable[[bytes], bool]] = None,
) -> dict[str, str]:
    """The whole device flow in the foreground, at a terminal: the secrets saved. Ctrl-C
    (KeyboardInterrupt) stops it, with nothing saved."""
    client_id, base = flow
    code = oauth.start(base, client_id)
    show(code)
    tokens = oauth.wait(base, client_id, code)
    save(store, protocol, host, username, tokens, client_id, base, put)
    return tokens.secrets(client_id, base)
