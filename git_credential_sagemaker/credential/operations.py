"""The helper's three operations, as git-credential(1) defines them, over an unlocked store.

    Request --get-->   first stored, unexpired entry that matches --> answer lines
                       (accounts(): the others git could have meant, when it named none)
                       only an expired one, with a refresh token --> username, refresh token
                       and expiry (never the stale password), for a generator helper after us
    Request --store--> replace the entry with the same protocol/host/path/username
    Request --erase--> remove every match (only those with the same password, if given)
    a request without a protocol or a host matches nothing, as git refuses it

With credential.useHttpPath (SageMaker's images set it for CodeCommit), git sends the
repository's path. An entry saved for that path answers first; else the entry saved for the
host (with no path) does, so one token serves every repository there. An entry saved for
another path never answers. A store of the host's own token with a path keeps no copy per
repository, and an erase that names the rejected token removes the host's entry too.

The store only needs its key when an entry must be read or written, so a `get` with
nothing stored for the host never asks for a passphrase. An expired token is neither
answered nor stored, as git >= 2.41 ignores expired credentials itself.
"""

from __future__ import annotations

import time
from typing import Optional

from git_credential_sagemaker.credential import inbox, protocol
from git_credential_sagemaker.credential.protocol import Request
from git_credential_sagemaker.credential.store import Entry, Store
from git_credential_sagemaker.errors import StoreError, UsageError


def expired(expiry: Optional[str], now: Optional[float] = None) -> bool:
    """Whether a password_expiry_utc value (epoch seconds) is in the past."""
    if not expiry or not expiry.isdigit() or len(expiry) > 20:
        return False  # not a time this helper wrote or git could send
    return int(expiry) <= (time.time() if now is None else now)


def get(request: Request, store: Store) -> bytes:
    entry = find(request, store)
    if entry is not None:
        return protocol.answer(request, entry.username, store.secrets(entry))
    return refresh_answer(request, store)


def refresh_answer(request: Request, store: Store) -> bytes:
    """For an expired match that holds a refresh token: what a generator helper after ours
    needs to refresh it (git discards an expired password, and carries the rest on)."""
    entry = expired_match(request, store)
    if entry is None:
        return b""
    secrets = store.secrets(entry)
    if "oauth_refresh_token" not in secrets:
        return b""
    kept = ("oauth_refresh_token", "password_expiry_utc")
    return protocol.answer(request, entry.username, {k: secrets[k] for k in kept if k in secrets})


def host_request(request: Request) -> Request:
    """The request without its path: what the entry saved for the whole host answers."""
    return Request(protocol=request.protocol, host=request.host, username=request.username)


def candidates(request: Request, store: Store) -> list[Entry]:
    """The entries that answer a request, best first: those that match it (an absent field is
    a wildcard, as git's credential_match), then, for a request with a path, the host's."""
    if not protocol.addressed(request):
        return []
    entries = store.entries()
    found = [e for e in entries if protocol.matches(request, e.key)]
    if request.path is not None:
        host = host_request(request)
        found += [e for e in entries if e.path is None and protocol.matches(host, e.key)]
    return found


def find(request: Request, store: Store) -> Optional[Entry]:
    """The entry `get` answers with: the first candidate whose token has not expired."""
    return next((e for e in candidates(request, store) if not expired(e.expiry)), None)


def accounts(request: Request, store: Store) -> list[str]:
    """The accounts stored for the host when git named none: `get` answers with the first,
    so a choice is worth offering only when there are several. Entries for the request's
    path, when it has one saved, are a level of their own and win without a choice."""
    if request.username is not None:
        return []
    live = [e for e in candidates(request, store) if not expired(e.expiry)]
    names: list[str] = []
    for entry in live:
        if entry.path == live[0].path and entry.username and entry.username not in names:
            names.append(entry.username)
    return names


def expired_match(request: Request, store: Store) -> Optional[Entry]:
    """A candidate `find` skipped because its token expired (read without the key)."""
    return next((e for e in candidates(request, store) if expired(e.expiry)), None)


def has_match(request: Request, store: Store) -> bool:
    """Whether erase may have anything to do (expired entries count: erase removes them too)."""
    return bool(candidates(request, store))


def storable(request: Request) -> bool:
    return bool(
        not request.ephemeral
        and request.protocol
        and request.host
        and (request.password is not None or request.credential is not None)
        and not expired(request.password_expiry_utc)
    )


def store(request: Request, keyring: Store, check: Optional[str] = None) -> None:
    expiry = request.password_expiry_utc
    if expiry is not None and not (expiry.isdigit() and len(expiry) <= 20):
        raise UsageError("password_expiry_utc must be seconds since 1970; nothing was stored")
    if not storable(request):
        return
    key = dict(zip(protocol.KEY_FIELDS, request.key))
    if _hosts_own_token(request, keyring):
        key["path"] = None  # git stores after every push: keep no copy per repository
    keyring.put(key, request.secrets, check if check is not None else request.check)


def _hosts_own_token(request: Request, keyring: Store) -> bool:
    """Whether a store with a path carries the token the host's entry already holds, and
    nothing is saved for that path yet."""
    if request.path is None or request.password is None:
        return False
    entries = keyring.entries()
    key = dict(zip(protocol.KEY_FIELDS, request.key))
    if any(e.key == key for e in entries):
        return False
    host_key = {**key, "path": None}
    return any(e.key == host_key and _password(keyring, e) == request.password for e in entries)


def _password(keyring: Store, entry: Entry) -> Optional[str]:
    try:
        return keyring.secrets(entry).get("password")
    except StoreError:
        return None


def apply(item: inbox.Item, keyring: Store) -> None:
    """One item the inbox kept while the keyring was locked: the store or erase git asked
    for then, as it would have been done then."""
    request = protocol.parse(item.request)
    if item.op == "store":
        store(request, keyring)
    else:
        erase(request, keyring)


def erase(request: Request, keyring: Store) -> int:
    """Remove matches; a stale password sent after a 401 never wipes a newer token.

    With a path, the host's entry goes only when it holds the very password the host refused.
    """
    if not protocol.addressed(request):
        return 0
    host = host_request(request)

    def doomed(entry: Entry) -> bool:
        if protocol.matches(request, entry.key):
            return request.password is None or _password(keyring, entry) == request.password
        return (
            request.path is not None
            and request.password is not None
            and entry.path is None
            and protocol.matches(host, entry.key)
            and _password(keyring, entry) == request.password
        )

    return keyring.remove(doomed)
