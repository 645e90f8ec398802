"""Knowing each stored token: what GitHub said of it, shown, and asked again on demand.

    entries --describe()--> kind and scopes, expiry and days left, when last checked
    entries --recheck()--> token (from the agent, or the store once unlocked)
            --github.check--> recorded in the entry's metadata --> Finding per token

Re-checking reads tokens, so it needs the key: the agent's, the environment's passphrase,
or (only when the caller allows it) a prompt. `doctor` never prompts.
"""

from __future__ import annotations

import time
from typing import NamedTuple, Optional

from git_credential_sagemaker.credential import agentclient, github, protocol, unlock
from git_credential_sagemaker.credential.operations import expired
from git_credential_sagemaker.credential.prompt import sanitize
from git_credential_sagemaker.credential.settings import Settings
from git_credential_sagemaker.credential.store import Entry, Store

PROG = "git-credential-sagemaker"


class Finding(NamedTuple):
    entry: Entry
    check: Optional[github.Check]
    problems: list[str]  # one line each, with the command that fixes it


def url_of(entry: Entry) -> str:
    return f"{entry.protocol}://{entry.host}" + (f"/{entry.path}" if entry.path else "")


def is_github(entry: Entry) -> bool:
    """A host GitHub runs by its name, or one whose check was recorded (sagemakerApiUrl)."""
    return github.default_base(entry.host) is not None or entry.check is not None


def recorded(entry: Entry) -> Optional[github.Check]:
    return None if entry.check is None else github.Check.from_meta(entry.check, entry.expiry)


def days_left(expiry: Optional[str], now: Optional[float] = None) -> Optional[int]:
    if not expiry or not expiry.isdigit():
        return None
    return int((int(expiry) - (time.time() if now is None else now)) // 86400)


def describe(entry: Entry, now: Optional[float] = None) -> tuple[str, str, str]:
    """(token, expires, checked) columns for `list` and `status`, escaped for a terminal."""
    result = recorded(entry)
    token = (
        result.describe() if result is not None else ("not checked" if is_github(entry) else "-")
    )
    expires = "-"
    if entry.expiry and entry.expiry.isdigit():
        left = days_left(entry.expiry, now)
        day = time.strftime("%Y-%m-%d", time.gmtime(int(entry.expiry)))
        expires = f"{day} (expired)" if left is not None and left < 0 else f"{day} ({left} days)"
    checked = result.checked if result is not None and result.status != "not checked" else "-"
    return sanitize(token), expires, sanitize(checked)


def problems_of(
    entry: Entry, result: Optional[github.Check], now: Optional[float] = None
) -> list[str]:
    """What doctor and check report for one token, each with the line that fixes it."""
    host = sanitize(entry.host)
    relogin = f"{PROG} login {host}" + (
        f" --username {sanitize(entry.username)}" if entry.username else ""
    )
    found: list[str] = []
    if result is not None and result.status == github.REJECTED:
        found.append(f"GitHub rejected the token for {host} (revoked or expired); fix: {relogin}")
    expiry = str(result.expiry) if result is not None and result.expiry else entry.expiry
    left = days_left(expiry, now)
    if left is not None and left < 0:
        found.append(f"the token for {host} has expired; fix: {relogin}")
    elif left is not None and left < github.WARN_DAYS:
        found.append(f"the token for {host} expires in {left} days; fix: {relogin}")
    if result is not None and result.excess:
        found.append(
            f"the token for {host} has scopes pushing doesn't need ({', '.join(result.excess)}); "
            f"fix: create {github.LEAST}, then {relogin}"
        )
    return found


def _key_request(entry: Entry, **extra: Optional[str]) -> protocol.Request:
    return protocol.Request(
        protocol=entry.protocol,
        host=entry.host,
        path=entry.path,
        username=entry.username,
        **extra,  # type: ignore[arg-type]
    )


def _token_from_agent(conf: Settings, entry: Entry) -> Optional[dict[str, str]]:
    reply = conf.call_agent("get", protocol.format_request(_key_request(entry)))
    if reply is None or reply[0] != agentclient.OK:
        return None
    fields = dict(line.partition("=")[::2] for line in reply[1].decode().splitlines())
    return fields if fields.get("password") else None


def recheck(
    conf: Settings, store: Store, host: Optional[str] = None, may_prompt: bool = False
) -> tuple[list[Finding], Optional[str]]:
    """Ask GitHub again about each stored GitHub token (or those for `host`).

    Returns the findings and, when tokens could not be read, one line saying why.
    """
    entries = [
        e
        for e in store.entries()
        if is_github(e) and (host is None or e.host == host or e.host.split(":")[0] == host)
    ]
    findings: list[Finding] = []
    unlocked = False
    for entry in entries:
        if expired(entry.expiry):
            findings.append(Finding(entry, recorded(entry), problems_of(entry, recorded(entry))))
            continue
        secrets = _token_from_agent(conf, entry)
        via_agent = secrets is not None
        if secrets is None:
            if conf.env_passphrase is None and not may_prompt:
                return findings, (
                    f"the keyring is locked, so the tokens were not re-checked; run: {PROG} unlock"
                )
            if not unlocked:
                unlock.unlock_and_remember(conf, store)
                unlocked = True
            secrets = store.secrets(entry)
        token = secrets.get("password", "")
        result = github.check_for(entry.protocol, entry.host, token)
        if result is None:
            continue
        _record(conf, store, entry, secrets, result, via_agent)
        findings.append(Finding(entry, result, problems_of(entry, result)))
    return findings, None


def _record(
    conf: Settings,
    store: Store,
    entry: Entry,
    secrets: dict[str, str],
    result: github.Check,
    via_agent: bool,
) -> None:
    """Keep what GitHub said in the entry: through the agent when it holds the key."""
    if result.status == github.NOT_CHECKED and entry.check is not None:
        return  # keep the last real answer; "not checked" says nothing new
    kept = {k: v for k, v in secrets.items() if k in protocol.SECRET_FIELDS}
    if result.expiry is not None and "password_expiry_utc" not in kept:
        kept["password_expiry_utc"] = str(result.expiry)
    if via_agent:
        request = _key_request(entry, **kept, check=result.to_meta())
        conf.call_agent("store", protocol.format_request(request))
    else:
        store.put(entry.key, kept, result.to_meta())
