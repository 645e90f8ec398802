"""The old name of `support`, kept while test files still import from it."""

from __future__ import annotations

from support import BIN, PASSPHRASE, Askpass, User

__all__ = ["BIN", "PASSPHRASE", "Askpass", "User"]
