"""The keyring's cryptography: Argon2id turns the passphrase into a key, AES-256-GCM seals entries.

passphrase --Argon2id(salt, 64 MiB)--> key (once per unlock) --AES-256-GCM(nonce, aad)--> entry

Everything a later reader needs (scheme, version, salt, costs) is recorded in the file, so a
later scheme can migrate. A wrong key shows up as an authentication failure, never as garbage.
"""

from __future__ import annotations

import base64
import dataclasses
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

SCHEME = "argon2id+aes-256-gcm"
VERSION = "1"
MIN_MEMORY_KIB = 64 * 1024
MAX_MEMORY_KIB = 1024 * 1024
MAX_ITERATIONS = 16
MAX_LANES = 16
MAX_SALT_BYTES = 64
NONCE_BYTES = 12
KEY_BYTES = 32


class AuthenticationError(Exception):
    """Sealed data did not authenticate: wrong key, or the data was changed."""


@dataclasses.dataclass(frozen=True)
class KdfParams:
    salt: bytes
    memory_kib: int = MIN_MEMORY_KIB
    iterations: int = 3
    lanes: int = 4

    @classmethod
    def fresh(cls) -> KdfParams:
        return cls(salt=os.urandom(16))

    def to_fields(self) -> dict[str, str]:
        return {
            "kdf": "argon2id",
            "kdf_salt": base64.b64encode(self.salt).decode(),
            "kdf_memory_kib": str(self.memory_kib),
            "kdf_iterations": str(self.iterations),
            "kdf_lanes": str(self.lanes),
        }

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> KdfParams:
        """Read recorded parameters; refuse ones weaker than this scheme allows."""
        if fields.get("kdf") != "argon2id":
            raise ValueError(f"unknown key derivation {fields.get('kdf')!r}")
        params = cls(
            salt=base64.b64decode(fields["kdf_salt"], validate=True),
            memory_kib=int(fields["kdf_memory_kib"]),
            iterations=int(fields["kdf_iterations"]),
            lanes=int(fields["kdf_lanes"]),
        )
        if params.memory_kib < MIN_MEMORY_KIB or params.iterations < 1 or len(params.salt) < 16:
            raise ValueError("key derivation parameters are weaker than allowed")
        # A file from elsewhere must not make an unlock hang or exhaust memory.
        if (
            params.memory_kib > MAX_MEMORY_KIB
            or params.iterations > MAX_ITERATIONS
            or not 1 <= params.lanes <= MAX_LANES
            or len(params.salt) > MAX_SALT_BYTES
            or params.memory_kib < 8 * params.lanes
        ):
            raise ValueError("key derivation parameters are out of range")
        return params


def derive_key(passphrase: str, params: KdfParams) -> bytes:
    kdf = Argon2id(
        salt=params.salt,
        length=KEY_BYTES,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    )
    return kdf.derive(passphrase.encode("utf-8"))


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    if len(sealed) < NONCE_BYTES + 16:
        raise AuthenticationError("sealed data is truncated")
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except InvalidTag:
        raise AuthenticationError("sealed data did not authenticate") from None
