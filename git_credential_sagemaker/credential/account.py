"""Logging in and out, and starting over: what `login`, `logout`, `reset` and the notebook's
login() share.

    URL or host --check_args()--> protocol/host --ask username, token--> GitHub's check
                --> the agent's `store` (unlocked: no passphrase) or store.put, then the agent
    URL or host --target()--> every matching entry removed (needs no passphrase)
    reset       --> what is lost (entries) --> agent stopped --> keyring.cfg renamed aside

How to ask is injected (terminal prompts for the CLI, getpass/input in a notebook), so
the same steps serve both. Arguments, and the keyring file, are checked before anything is
asked.
"""

from __future__ import annotations

import calendar
import datetime as dt
import os
import time
from pathlib import Path
from typing import Callable, NamedTuple, Optional

from git_credential_sagemaker.credential import (
    agentclient,
    github,
    hosts,
    operations,
    protocol,
    unlock,
)
from git_credential_sagemaker.credential.prompt import sanitize
from git_credential_sagemaker.credential.settings import Settings
from git_credential_sagemaker.credential.store import Entry, Store
from git_credential_sagemaker.errors import StoreError, UsageError

AGENT_EXIT_WAIT = 5.0  # seconds a stopped agent has to remove its socket

Ask = Callable[[str], Optional[str]]


class Target(NamedTuple):
    protocol: str
    host: str
    username: Optional[str]

    @property
    def where(self) -> str:
        return f"{self.protocol}://{sanitize(self.host)}"


def target(url_or_host: str, username: Optional[str] = None) -> Target:
    """'github.com' or 'https://host[:port][/path]' -> the key fields git will send."""
    from urllib.parse import unquote, urlsplit

    text = url_or_host.strip()
    # Never echo userinfo: a pasted https://user:TOKEN@host must not reach the terminal.
    scheme, sep, rest = url_or_host.partition("://")
    shown = f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else url_or_host.rpartition("@")[2]
    bad = UsageError(f"not a URL or host name: {sanitize(shown)!r}")
    if not text or any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise bad
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        hostname = parts.hostname
    except ValueError:
        raise bad from None
    if not hostname or not parts.scheme:
        raise bad
    host = parts.netloc.rpartition("@")[2]
    user = (
        username if username is not None else (unquote(parts.username) if parts.username else None)
    )
    return Target(parts.scheme, host, user)


def parse_expiry(text: str) -> str:
    """A date (YYYY-MM-DD, end of that day UTC) or epoch seconds -> password_expiry_utc."""
    if text.isdigit():
        return text
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--expires wants YYYY-MM-DD, not {sanitize(text)!r}") from None
    end = dt.datetime(day.year, day.month, day.day, 23, 59, 59)
    return str(calendar.timegm(end.timetuple()))


def check_args(
    url_or_host: str, username: Optional[str], expires: Optional[str]
) -> tuple[Target, Optional[str]]:
    """login's arguments, checked before anything is asked: (target, password_expiry_utc)."""
    where = target(url_or_host, username)
    if where.username is not None:
        _check_username(where.username)
    expiry = parse_expiry(expires) if expires else None
    if operations.expired(expiry):
        raise UsageError(f"--expires {sanitize(expires or '')} is in the past; nothing was stored")
    return where, expiry


PROBE_TIMEOUT = 2.0


def assumed_scheme(host: str) -> str:
    """A HOST:PORT given without a scheme: https is assumed, and said; a host that answers
    only plain http there is a one-line UsageError with the URL to use instead."""
    import socket
    import ssl

    name, _, port = host.rpartition(":")
    try:
        with socket.create_connection((name.strip("[]"), int(port)), timeout=PROBE_TIMEOUT) as raw:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # only asking whether TLS answers at all
            with context.wrap_socket(raw, server_hostname=name.strip("[]")):
                pass
    except ssl.SSLError:
        raise UsageError(
            f"{sanitize(host)} answers plain http, not https; log in with the URL: "
            f"git-credential-sagemaker login http://{sanitize(host)}"
        ) from None
    except (OSError, ValueError):
        pass  # not reachable now: the assumption stands, and says so
    return f"git-credential-sagemaker: no scheme given, so https://{sanitize(host)} is assumed"


def _check_username(user: str) -> None:
    if not user.strip() or protocol.has_control(user):
        raise UsageError(f"not a username: {sanitize(user)!r}; nothing was stored")


def login(
    conf: Settings,
    store: Store,
    url_or_host: str,
    username: Optional[str],
    ask_text: Ask,
    ask_secret: Ask,
    expires: Optional[str] = None,
    say: Callable[[str], None] = print,
) -> str:
    """Ask for the token, store it, unlock the agent. Returns what was stored, secret-free."""
    where, expiry = check_args(url_or_host, username, expires)
    if "://" not in url_or_host and ":" in where.host:
        say(assumed_scheme(where.host))
    store.entries()  # a damaged keyring is named now, not after the token was typed
    hint = hosts.token_hint(where.host)
    if hint:
        say(hint[0].upper() + hint[1:])
    user = where.username
    if user is None:
        user = ask_text(f"Username for {where.where}: ")
        if not user:
            raise UsageError("no username given; nothing was stored")
        _check_username(user)
    token = ask_secret(f"Token for {sanitize(user)}@{sanitize(where.host)}: ")
    if not token:
        raise UsageError("no token given; nothing was stored")
    if protocol.has_control(token):
        raise UsageError("the token holds a control character; nothing was stored")
    result = github.check_for(where.protocol, where.host, token)
    if result is not None and result.status == github.REJECTED:
        raise UsageError(github.rejected_line(sanitize(where.host)))
    secrets = {"password": token}
    if expiry:
        secrets["password_expiry_utc"] = expiry
    elif result is not None and result.expiry is not None:
        secrets["password_expiry_utc"] = str(result.expiry)
    fields: dict[str, Optional[str]] = {
        "protocol": where.protocol,
        "host": where.host,
        "path": None,
        "username": user,
    }
    if not (store.path.exists() and _store_via_agent(conf, fields, secrets)):
        unlock.unlock_and_remember(
            conf, store, say=lambda line: say(f"git-credential-sagemaker: {line}")
        )
        store.put(fields, secrets, None if result is None else result.to_meta())
    if result is not None:
        for line in github.warnings(result, sanitize(where.host)):
            say(f"git-credential-sagemaker: {line}")
    return f"{where.where} for {sanitize(user)}"


def _store_via_agent(
    conf: Settings, fields: dict[str, Optional[str]], secrets: dict[str, str]
) -> bool:
    """Store through the agent, which holds the key: False when no agent is running."""
    request = protocol.Request(
        protocol=fields["protocol"],
        host=fields["host"],
        username=fields["username"],
        password=secrets["password"],
        password_expiry_utc=secrets.get("password_expiry_utc"),
    )
    reply = conf.call_agent("store", protocol.format_request(request))
    if reply is None:
        return False
    if reply[0] != agentclient.OK:
        said = reply[1].decode(errors="replace").splitlines()
        raise StoreError(said[0] if said else "the unlock agent could not store the token")
    return True


def logout(store: Store, url_or_host: str, username: Optional[str] = None) -> int:
    """Remove the tokens for that host (and username, if given). Needs no passphrase."""
    where = target(url_or_host, username)

    def doomed(entry: Entry) -> bool:
        return (entry.protocol, entry.host) == (where.protocol, where.host) and (
            where.username is None or entry.username == where.username
        )

    return store.remove(doomed, needs_key=False)


class Reset(NamedTuple):
    moved: list[tuple[Path, Path]]  # (from, to): the keyring, then its backup
    lost: Optional[list[Entry]]  # None when the file could not be read
    agent_stopped: bool


def stored_entries(store: Store) -> Optional[list[Entry]]:
    """What a reset would lose, or None when the file can't be read (damaged, foreign)."""
    try:
        return store.entries()
    except StoreError:
        return None


def stop_agent(conf: Settings) -> bool:
    """Stop this store's agent, if one runs; returns once it is gone (or after a few seconds)."""
    if conf.call_agent("lock") is None:
        return False
    path = conf.agent_socket
    deadline = time.monotonic() + AGENT_EXIT_WAIT
    while os.path.lexists(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    return True


def reset(conf: Settings, store: Store, now: Optional[float] = None) -> Reset:
    """Forget the keyring without deleting it: stop the agent, rename the file aside.

    For a forgotten passphrase or a damaged file. The next store chooses a new passphrase.
    """
    lost = stored_entries(store)
    stopped = stop_agent(conf)  # first, so it can't write to the file being moved
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    return Reset(store.set_aside(f"reset-{stamp}"), lost, stopped)
