"""The keyring's key hierarchy: one random data key seals the entries; each way in wraps it.

    version 2:  passphrase --Argon2id--> KEK --AES-GCM unwrap--> data key --> entries
                data_key_kms --KMS Decrypt (the instance's role)--> data key --> entries
    version 1:  passphrase --Argon2id--> the key that seals the entries itself

Either wrapping opens the store, so a role that loses kms:Decrypt still has the passphrase,
and a restart with the role needs no one to type anything. A version 1 file moves to
version 2 on its next unlock (store.Store.unlock). The wrapped keys and the store's random
id live in the file's settings section; the KMS encryption context names the store, so a
wrapped key copied into another store does not open it. Pure functions over those fields.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from typing import Optional

from git_credential_sagemaker.credential import crypto

LEGACY = "1"  # the derived key seals the entries
CURRENT = "2"  # a wrapped data key seals them
VERSIONS = (LEGACY, CURRENT)
STORE_ID = "store_id"
BY_PASSPHRASE = "data_key_passphrase"  # noqa: S105  # a field name
BY_KMS = "data_key_kms"
KMS_KEY = "kms_key_id"
APP_CONTEXT = "git-credential-sagemaker"


def new_data_key() -> bytes:
    return os.urandom(crypto.KEY_BYTES)


def new_store_id() -> str:
    return os.urandom(16).hex()


def _aad(store_id: str) -> bytes:
    return f"data key\0passphrase\0{store_id}".encode()


def wrap_for_passphrase(kek: bytes, data_key: bytes, store_id: str) -> str:
    return base64.b64encode(crypto.seal(kek, data_key, _aad(store_id))).decode()


def unwrap_with_passphrase(kek: bytes, fields: Mapping[str, str]) -> Optional[bytes]:
    """The data key, or None when the passphrase's key does not open it."""
    try:
        sealed = base64.b64decode(fields[BY_PASSPHRASE], validate=True)
        return crypto.unseal(kek, sealed, _aad(fields[STORE_ID]))
    except (KeyError, binascii.Error, crypto.AuthenticationError):
        return None


def kms_context(store_path: str, store_id: str) -> dict[str, str]:
    """What KMS binds the wrapped key to: this store, at this path."""
    return {"app": APP_CONTEXT, "store": store_path, "store_id": store_id}


def has_passphrase(fields: Mapping[str, str]) -> bool:
    return fields.get("version") == LEGACY or BY_PASSPHRASE in fields


def kms_key(fields: Mapping[str, str]) -> Optional[str]:
    """The KMS key that wraps the data key, when one does."""
    if fields.get("version") == CURRENT and fields.get(BY_KMS) and fields.get(KMS_KEY):
        return fields[KMS_KEY]
    return None


def kms_blob(fields: Mapping[str, str]) -> bytes:
    return base64.b64decode(fields[BY_KMS], validate=True)


def check(fields: Mapping[str, str]) -> None:
    """ValueError when the fields can't describe a way in (version 2's own fields)."""
    if fields.get("version") != CURRENT:
        return
    if not fields.get(STORE_ID):
        raise ValueError("no store id")
    if BY_PASSPHRASE in fields:
        crypto.KdfParams.from_fields(dict(fields))
        base64.b64decode(fields[BY_PASSPHRASE], validate=True)
    if BY_KMS in fields:
        base64.b64decode(fields[BY_KMS], validate=True)
        if not fields.get(KMS_KEY):
            raise ValueError("no KMS key id")
    if BY_PASSPHRASE not in fields and BY_KMS not in fields:
        raise ValueError("no way to open it")


def describe(fields: Mapping[str, str]) -> str:
    """How the store opens, for `status`."""
    ways = []
    if has_passphrase(fields):
        ways.append("the passphrase")
    key = kms_key(fields)
    if key:
        ways.append(f"KMS key {key}")
    return " or ".join(ways) or "nothing (damaged settings)"
