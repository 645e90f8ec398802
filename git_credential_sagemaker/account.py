"""Logging in and out: what `login`, `logout` and the notebook's login() share.

    URL or host --target()--> protocol/host --ask username, token--> store.put --> agent

How to ask is injected (terminal prompts for the CLI, getpass/input in a notebook), so
the same steps serve both.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Callable, Optional

from git_credential_sagemaker import agent, hosts
from git_credential_sagemaker.settings import Settings
from git_credential_sagemaker.store import FileKeyring, StoreError

Ask = Callable[[str], Optional[str]]


def target(url_or_host: str) -> dict[str, Optional[str]]:
    """'github.com' or 'https://host[:port][/path]' -> the key fields git will send."""
    from urllib.parse import urlsplit

    text = url_or_host.strip()
    if not text or any(ord(c) < 0x20 for c in text):
        raise StoreError(f"not a URL or host name: {url_or_host!r}")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if not parts.hostname:
        raise StoreError(f"not a URL or host name: {url_or_host!r}")
    host = parts.netloc.rpartition("@")[2]
    return {"protocol": parts.scheme, "host": host, "path": None,
            "username": parts.username}


def parse_expiry(text: str) -> str:
    """A date (YYYY-MM-DD, end of that day UTC) or epoch seconds -> password_expiry_utc."""
    if text.isdigit():
        return text
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise StoreError(f"--expires wants YYYY-MM-DD, not {text!r}") from None
    end = dt.datetime(day.year, day.month, day.day, 23, 59, 59)
    return str(calendar.timegm(end.timetuple()))


def login(
    conf: Settings,
    store: FileKeyring,
    url_or_host: str,
    username: Optional[str],
    ask_text: Ask,
    ask_secret: Ask,
    expires: Optional[str] = None,
    say: Callable[[str], None] = print,
) -> str:
    """Ask for the token, store it, unlock the agent. Returns what was stored, secret-free."""
    fields = target(url_or_host)
    if username is not None:
        fields["username"] = username
    where = f"{fields['protocol']}://{fields['host']}"
    hint = hosts.token_hint(fields["host"] or "")
    if hint:
        say(hint[0].upper() + hint[1:])
    if fields["username"] is None:
        fields["username"] = ask_text(f"Username for {where}: ")
        if not fields["username"]:
            raise StoreError("no username given; nothing was stored")
    token = ask_secret(f"Token for {fields['username']}@{fields['host']}: ")
    if not token:
        raise StoreError("no token given; nothing was stored")
    secrets = {"password": token}
    if expires:
        secrets["password_expiry_utc"] = parse_expiry(expires)
    key = conf.unlock(store)
    store.put(fields, secrets)
    if conf.env_passphrase is None:
        agent.spawn(conf.store_dir, conf.runtime_dir, key, conf.timeout)
    return f"{where} for {fields['username']}"
