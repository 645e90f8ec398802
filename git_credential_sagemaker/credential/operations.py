"""The helper's three operations, as git-credential(1) defines them, over an unlocked store.

    Request --get-->   first stored, unexpired entry that matches --> answer lines
    Request --store--> replace the entry with the same protocol/host/path/username
    Request --erase--> remove every match (only those with the same password, if given)
    a request without a protocol or a host matches nothing, as git refuses it

The store only needs its key when an entry must be read or written, so a `get` with
nothing stored for the host never asks for a passphrase. An expired token is neither
answered nor stored, as git >= 2.41 ignores expired credentials itself.
"""

from __future__ import annotations

import time
from typing import Optional

from git_credential_sagemaker.credential import protocol
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
    if entry is None:
        return b""
    return protocol.answer(request, entry.username, store.secrets(entry))


def find(request: Request, store: Store) -> Optional[Entry]:
    """The entry `get` answers with: the first match whose token has not expired."""
    if not protocol.addressed(request):
        return None
    return next(
        (e for e in store.entries() if protocol.matches(request, e.key) and not expired(e.expiry)),
        None,
    )


def expired_match(request: Request, store: Store) -> Optional[Entry]:
    """A match `find` skipped because its token expired (read without the key)."""
    if not protocol.addressed(request):
        return None
    return next(
        (e for e in store.entries() if protocol.matches(request, e.key) and expired(e.expiry)),
        None,
    )


def has_match(request: Request, store: Store) -> bool:
    """Whether erase has anything to do (expired entries count: erase removes them too)."""
    if not protocol.addressed(request):
        return False
    return any(protocol.matches(request, e.key) for e in store.entries())


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
    if storable(request):
        keyring.put(
            dict(zip(protocol.KEY_FIELDS, request.key)),
            request.secrets,
            check if check is not None else request.check,
        )


def erase(request: Request, keyring: Store) -> int:
    """Remove matches; a stale password sent after a 401 never wipes a newer token."""

    if not protocol.addressed(request):
        return 0

    def doomed(entry: Entry) -> bool:
        if not protocol.matches(request, entry.key):
            return False
        if request.password is None:
            return True
        try:
            return keyring.secrets(entry).get("password") == request.password
        except StoreError:
            return False

    return keyring.remove(doomed)
