"""The keyring's key hierarchy: one random data key seals the entries; each way in wraps it.

    version 2:  passphrase --Argon2id--> KEK --AES-GCM unwrap--> data key --> entries
                data_key_kms --KMS Decrypt (the instance's role)--> data key --> entries
    version 1:  passphrase --Argon2id--> the key that seals the entries itself

Either wrapping opens the store, so a role that loses kms:Decrypt still has the passphrase,
and a restart with the role needs no one to type anything. A version 1 file moves to
version 2 on its next unlock (store.Store.unlock). The wrapped keys and the store's random
id live in the file's settings section. Pure functions over those fields.

The KMS encryption context names the store, so a wrapped key copied into another store does
not open it, and the notebook instance when it is known (/opt/ml/metadata), so a keyring
copied to another instance with the same role does not open there by KMS. `kms_context`
records which fields a wrapping used: decrypt sends exactly those, with this machine's
values. A file without it was wrapped before the instance was named (app, store, store_id)
and keeps opening; an older release reading a newer file just finds that KMS refuses it,
one line, and the passphrase still opens it.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional

from git_credential_sagemaker.credential import crypto

LEGACY = "1"  # the derived key seals the entries
CURRENT = "2"  # a wrapped data key seals them
VERSIONS = (LEGACY, CURRENT)
STORE_ID = "store_id"
BY_PASSPHRASE = "data_key_passphrase"  # noqa: S105  # a field name
BY_KMS = "data_key_kms"
KMS_KEY = "kms_key_id"
KMS_CONTEXT = "kms_context"  # the context's field names, as the wrapping used them
KMS_INSTANCE = "kms_instance"  # the instance it was wrapped on: for saying so, never sent
APP_CONTEXT = "git-credential-sagemaker"
STORE_CONTEXT = ("app", "store", "store_id")  # a wrapping that records no kms_context
INSTANCE = "instance"


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


@dataclass(frozen=True)
class Wrapping:
    """A KMS wrapping as recorded, and what KMS needs to unwrap it on this machine."""

    key_id: str
    blob: bytes
    context: dict[str, str]  # the recorded field names, with this machine's values
    why_not: Optional[str] = None  # why it can't open here, without asking KMS


def kms_context(store_path: str, store_id: str, instance: Optional[str]) -> dict[str, str]:
    """What a new wrapping binds the key to: this store, at this path, on this instance."""
    context = {"app": APP_CONTEXT, "store": store_path, "store_id": store_id}
    if instance:
        context[INSTANCE] = instance
    return context


def context_fields(context: Mapping[str, str]) -> dict[str, str]:
    """The settings that record a new wrapping's context (kms_instance only when named)."""
    fields = {KMS_CONTEXT: " ".join(context)}
    if INSTANCE in context:
        fields[KMS_INSTANCE] = context[INSTANCE]
    return fields


def wrapping(store_path: str, fields: Mapping[str, str], instance: Optional[str]) -> Wrapping:
    """The store's KMS wrapping (kms_key must have found one), as KMS must be asked here.

    A wrapping bound to a notebook instance other than this one, or made with context fields
    this version does not know, says why instead: KMS would refuse it anyway.
    """
    names = fields.get(KMS_CONTEXT, " ".join(STORE_CONTEXT)).split()
    values = {"app": APP_CONTEXT, "store": store_path, "store_id": fields[STORE_ID]}
    if instance:
        values[INSTANCE] = instance
    key_id, blob = fields[KMS_KEY], kms_blob(fields)
    context = {name: values[name] for name in names if name in values}
    unknown = [name for name in names if name not in (*STORE_CONTEXT, INSTANCE)]
    made_on = fields.get(KMS_INSTANCE)
    why = None
    if unknown:
        why = f"it was wrapped by a newer version (context {' '.join(unknown)[:40]!r})"
    elif INSTANCE in names and (not instance or made_on not in (None, instance)):
        here = f"this is {instance}" if instance else "this is not a notebook instance"
        there = f"notebook instance {made_on}" if made_on else "another notebook instance"
        why = f"it was wrapped for {there}, and {here}"
    return Wrapping(key_id, blob, context, why)


def wrapped_as(fields: Mapping[str, str], context: Mapping[str, str]) -> bool:
    """Whether the store's KMS wrapping used exactly `context`'s fields and instance."""
    recorded = fields.get(KMS_CONTEXT, " ".join(STORE_CONTEXT)).split()
    return recorded == list(context) and fields.get(KMS_INSTANCE) == context.get(INSTANCE)


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
