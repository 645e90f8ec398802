"""Errors a user can fix: one base type, caught once by each entry point, printed as one line.

    UserError
      StoreError        the keyring file or its directory can't be used as asked
        WrongPassphrase
      PromptError       a question could not be asked or answered here
      SetupError        setup, doctor or the wheelhouse could not finish
      UsageError        an argument or setting is malformed

Every message is one line, names what to do next, and never holds a secret.
"""

from __future__ import annotations


class UserError(Exception):
    """A one-line, secret-free reason, printed without a traceback."""


class StoreError(UserError):
    """The keyring file or its directory can't be used as asked."""


class WrongPassphrase(StoreError):
    """The passphrase did not open the keyring."""


class PromptError(UserError):
    """A prompt that could not complete."""


class SetupError(UserError):
    """A setup step (git config, wheelhouse, repository, lifecycle) could not finish."""


class UsageError(UserError):
    """A malformed argument or setting."""
