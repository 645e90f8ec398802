"""The `keyring` API over our store, so `keyring -b ...backend.FileKeyring get SERVICE USER` works.

    keyring CLI / API --get_password(service, user)--> FileKeyring --> Store (file, crypto)

The helper itself uses `Store` directly; this adapter exists for people and tools that
speak keyring. It is never auto-selected (negative priority, no entry point), so pip or
twine never ask for this passphrase.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from keyring.errors import PasswordDeleteError
from keyrings.alt.escape import escape  # type: ignore[import-untyped]
from keyrings.alt.file_base import Keyring  # type: ignore[import-untyped]

from git_credential_sagemaker.credential import crypto, gitconfig
from git_credential_sagemaker.credential.settings import Settings
from git_credential_sagemaker.credential.store import FILENAME, Entry, Store, option_name
from git_credential_sagemaker.errors import UsageError


class FileKeyring(Keyring):  # type: ignore[misc]  # keyrings.alt ships no types
    """Encrypted keyring file for git credentials (use by name; never auto-selected)."""

    priority = -1  # below keyring's fail backend: never chosen
    filename = FILENAME
    scheme = crypto.SCHEME
    version = crypto.VERSION

    def __init__(self, store: Optional[Store] = None) -> None:
        super().__init__()
        if store is None:  # loaded by name: configure as the CLI does
            conf = Settings.load(os.environ, gitconfig.read_all())
            from git_credential_sagemaker.credential import unlock

            store = unlock.open_store(conf)
        self.store = store

    @property
    def file_path(self) -> str:
        return str(self.store.path)

    @property
    def directory(self) -> Path:
        return self.store.directory

    def __repr__(self) -> str:
        return f"<FileKeyring {self.scheme} v{self.version} at {self.store.path}>"

    def _find(self, service: str, username: str) -> Optional[Entry]:
        section, option = escape(service), option_name(username)
        return next(
            (e for e in self.store.entries() if (e.section, e.option) == (section, option)), None
        )

    def get_password(self, service: str, username: str) -> Optional[str]:
        entry = self._find(service, username)
        return None if entry is None else self.store.secrets(entry).get("password")

    def set_password(self, service: str, username: str, password: str) -> None:
        protocol, sep, rest = service.partition("://")
        if not sep:
            raise UsageError("service must look like protocol://host[/path]")
        host, slash, path = rest.partition("/")
        self.store.put(
            {
                "protocol": protocol,
                "host": host,
                "path": path if slash else None,
                "username": username,
            },
            {"password": password},
        )

    def delete_password(self, service: str, username: str) -> None:
        target = self._find(service, username)
        if target is None or not self.store.remove(lambda e: e == target):
            raise PasswordDeleteError("Password not found")

    def encrypt(self, password: bytes, assoc: Optional[bytes] = None) -> bytes:
        return crypto.seal(self.store.unlock(), password, assoc or b"")

    def decrypt(self, password_encrypted: bytes, assoc: Optional[bytes] = None) -> bytes:
        return crypto.unseal(self.store.unlock(), password_encrypted, assoc or b"")
