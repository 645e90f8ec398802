"""The helper's three operations, as git-credential(1) defines them, over an unlocked store.

    Request --get-->   first stored entry that matches --> answer lines
    Request --store--> replace the entry with the same protocol/host/path/username
    Request --erase--> remove every match (only those with the same password, if given)

The store only needs its key when an entry must be read or written, so a `get` with
nothing stored for the host never asks for a passphrase.
"""

from __future__ import annotations

from git_credential_sagemaker import protocol
from git_credential_sagemaker.protocol import Request
from git_credential_sagemaker.store import Entry, FileKeyring, StoreError


def get(request: Request, store: FileKeyring) -> bytes:
    entry = find(request, store)
    if entry is None:
        return b""
    return protocol.answer(request, entry.username, store.secrets(entry))


def find(request: Request, store: FileKeyring) -> Entry | None:
    return next((e for e in store.entries() if protocol.matches(request, e.key)), None)


def storable(request: Request) -> bool:
    return bool(
        not request.ephemeral
        and request.protocol
        and request.host
        and (request.password is not None or request.credential is not None)
    )


def store(request: Request, keyring: FileKeyring) -> None:
    if storable(request):
        keyring.put(dict(zip(protocol.KEY_FIELDS, request.key)), request.secrets)


def erase(request: Request, keyring: FileKeyring) -> int:
    """Remove matches; a stale password sent after a 401 never wipes a newer token."""

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
