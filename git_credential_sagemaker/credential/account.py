"""Logging in and out: what `login`, `logout` and the notebook's login() share.

    URL or host --target()--> protocol/host --ask username, token--> GitHub's check
                --> store.put (with the token's kind, scopes, expiry) --> agent
    URL or host --target()--> every matching entry removed (needs no passphrase)

How to ask is injected (terminal prompts for the CLI, getpass/input in a notebook), so
the same steps serve both. Arguments are checked before anything is asked.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Callable, NamedTuple, Optional

from git_credential_sagemaker.credential import github, hosts, operations, unlock
from git_credential_sagemaker.credential.prompt import sanitize
from git_credential_sagemaker.credential.settings import Settings
from git_credential_sagemaker.credential.store import Entry, Store
from git_credential_sagemaker.errors import UsageError

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
    bad = UsageError(f"not a URL or host name: {sanitize(url_or_host)!r}")
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
    where = target(url_or_host, username)
    expiry = parse_expiry(expires) if expires else None
    if operations.expired(expiry):
        raise UsageError(f"--expires {sanitize(expires or '')} is in the past; nothing was stored")
    hint = hosts.token_hint(where.host)
    if hint:
        say(hint[0].upper() + hint[1:])
    user = where.username
    if user is None:
        user = ask_text(f"Username for {where.where}: ")
        if not user:
            raise UsageError("no username given; nothing was stored")
    token = ask_secret(f"Token for {sanitize(user)}@{sanitize(where.host)}: ")
    if not token:
        raise UsageError("no token given; nothing was stored")
    result = github.check_for(where.protocol, where.host, token)
    if result is not None and result.status == github.REJECTED:
        raise UsageError(github.rejected_line(sanitize(where.host)))
    secrets = {"password": token}
    if expiry:
        secrets["password_expiry_utc"] = expiry
    elif result is not None and result.expiry is not None:
        secrets["password_expiry_utc"] = str(result.expiry)
    unlock.unlock_and_remember(
        conf, store, say=lambda line: say(f"git-credential-sagemaker: {line}")
    )
    store.put(
        {"protocol": where.protocol, "host": where.host, "path": None, "username": user},
        secrets,
        None if result is None else result.to_meta(),
    )
    if result is not None:
        for line in github.warnings(result, sanitize(where.host)):
            say(f"git-credential-sagemaker: {line}")
    return f"{where.where} for {sanitize(user)}"


def logout(store: Store, url_or_host: str, username: Optional[str] = None) -> int:
    """Remove the tokens for that host (and username, if given). Needs no passphrase."""
    where = target(url_or_host, username)

    def doomed(entry: Entry) -> bool:
        return (entry.protocol, entry.host) == (where.protocol, where.host) and (
            where.username is None or entry.username == where.username
        )

    return store.remove(doomed, needs_key=False)
