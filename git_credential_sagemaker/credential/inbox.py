"""A sealed inbox: what git stores or erases while the keyring is locked waits for the next unlock.

    keyring header: inbox_public (X25519), inbox_private (sealed by the data key, like entries)
    store/erase while locked --seal()--> an ephemeral X25519 key, HKDF-SHA256, AES-256-GCM with
        the store id as associated data --> one item, appended to the keyring file's inbox
        section under the lock, atomically; nothing is asked (at most 64 items, 64 KiB)
    the next unlock (passphrase, KMS, or the agent) --open_item()--> each item in order,
        applied as the store or erase it was; the inbox emptied in the same atomic write

Sealing needs no secret, only the public key, so a token typed where no passphrase can be
asked (the JupyterLab Git panel, an askpass) is kept, and never in plaintext. Whoever can write
the store folder could seal items too, but could as well replace the whole file: the inbox
trusts the folder as the file does. An item sealed to another store, or changed, does not open.
"""

from __future__ import annotations

import base64
import json
import os
from typing import NamedTuple

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from git_credential_sagemaker.credential import crypto

SECTION = "sagemaker_inbox"  # no escaped service name looks like this (store.escape)
PUBLIC = "inbox_public"
PRIVATE = "inbox_private"
MAX_ITEMS = 64
MAX_BYTES = 64 * 1024
OPS = ("store", "erase")
_PRIVATE_AAD = b"git-credential-sagemaker inbox private key"
_INFO = b"git-credential-sagemaker inbox v1"
_KEY = 32
_NONCE = 12


class BadItem(Exception):
    """An item that does not open with this store's key: damaged, forged, or another store's."""


class Item(NamedTuple):
    op: str  # store or erase
    request: bytes  # the request git sent, in its own wire form (protocol.format_request)


def new_keypair(data_key: bytes) -> dict[str, str]:
    """Header fields for a new inbox: the public key, and the private key sealed by the data
    key (a passphrase change seals it again, as every entry)."""
    private = X25519PrivateKey.generate()
    raw = private.private_bytes_raw()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    sealed = crypto.seal(data_key, raw, _PRIVATE_AAD)
    return {
        PUBLIC: base64.b64encode(public).decode(),
        PRIVATE: base64.b64encode(sealed).decode(),
    }


def check(fields: dict[str, str]) -> None:
    """The header's inbox keys, when present, are whole (ValueError: cut short or edited)."""
    if PUBLIC in fields or PRIVATE in fields:
        public = base64.b64decode(fields[PUBLIC], validate=True)
        private = base64.b64decode(fields[PRIVATE], validate=True)
        if len(public) != _KEY or len(private) != crypto.NONCE_BYTES + _KEY + 16:
            raise ValueError("the inbox keys are cut short")


def reseal_private(sealed_b64: str, old: bytes, new: bytes) -> str:
    """The private key sealed by a new data key."""
    raw = crypto.unseal(old, base64.b64decode(sealed_b64), _PRIVATE_AAD)
    return base64.b64encode(crypto.seal(new, raw, _PRIVATE_AAD)).decode()


def _key(shared: bytes, ephemeral: bytes, public: bytes) -> bytes:
    return HKDF(SHA256(), _KEY, salt=ephemeral + public, info=_INFO).derive(shared)


def seal(public_b64: str, store_id: str, item: Item) -> str:
    """One item, sealed to the store's public key, bound to its store id."""
    public = base64.b64decode(public_b64)
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(public))
    nonce = os.urandom(_NONCE)
    plain = json.dumps({"op": item.op, "request": item.request.decode()}).encode()
    sealed = AESGCM(_key(shared, ephemeral_public, public)).encrypt(nonce, plain, store_id.encode())
    return base64.b64encode(ephemeral_public + nonce + sealed).decode()


def open_item(private_sealed_b64: str, data_key: bytes, store_id: str, text: str) -> Item:
    """The item, or BadItem when it was not sealed to this store as it is now."""
    try:
        raw = crypto.unseal(data_key, base64.b64decode(private_sealed_b64), _PRIVATE_AAD)
        private = X25519PrivateKey.from_private_bytes(raw)
        public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        blob = base64.b64decode(text, validate=True)
        if len(blob) < _KEY + _NONCE + 16:
            raise BadItem("too short")
        ephemeral, nonce, sealed = blob[:_KEY], blob[_KEY : _KEY + _NONCE], blob[_KEY + _NONCE :]
        shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral))
        plain = AESGCM(_key(shared, ephemeral, public)).decrypt(nonce, sealed, store_id.encode())
        data = json.loads(plain)
        op, request = data["op"], data["request"]
    except BadItem:
        raise
    except Exception as exc:  # whatever a damaged or forged item makes a parser raise
        raise BadItem(type(exc).__name__) from None
    if op not in OPS or not isinstance(request, str):
        raise BadItem("not an item")
    return Item(op, request.encode())
