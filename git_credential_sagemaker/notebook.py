"""Logging in, unlocking and setting up from a notebook cell, where git's prompts can't be answered.

    login() / unlock() / setup() --getpass (the kernel's password box), input()-->
        credential.account / credential.unlock / provision.setup

`getpass.getpass` is looked up at call time, so inside ipykernel the kernel's password box
(its stdin channel) is used; the token is never echoed or returned. Errors print as one line.
"""

from __future__ import annotations

import os
from typing import Any, Optional

from git_credential_sagemaker.credential import account, gitconfig
from git_credential_sagemaker.credential import unlock as unlocking
from git_credential_sagemaker.credential.settings import Settings
from git_credential_sagemaker.errors import UserError

PREFIX = "git-credential-sagemaker: "


def _getpass(prompt: str) -> Optional[str]:
    import getpass

    return getpass.getpass(prompt)


def _input(prompt: str) -> Optional[str]:
    return input(prompt)


def _say(line: str) -> None:
    print(line if line.startswith(PREFIX) else PREFIX + line)


def _settings() -> Settings:
    return Settings.load(os.environ, gitconfig.read_all())


def login(
    url_or_host: str = "github.com", username: Optional[str] = None, expires: Optional[str] = None
) -> None:
    """Store a token for `url_or_host` and unlock the keyring; prompts in the notebook."""
    try:
        conf = _settings()
        store = unlocking.open_store(conf, ask=_getpass)
        what = account.login(
            conf, store, url_or_host, username, _input, _getpass, expires, say=print
        )
    except UserError as exc:
        _say(str(exc))
        return
    print(f"Stored the token for {what}; git push and pull now work without prompts.")


def unlock() -> None:
    """Unlock the keyring after a restart: asks for the passphrase once."""
    try:
        conf = _settings()
        store = unlocking.open_store(conf, ask=_getpass)
        if not store.path.exists():
            _say(
                "nothing stored yet; in a notebook cell run: "
                "from git_credential_sagemaker import login; login()"
            )
            return
        key = unlocking.unlock(conf, store, say=_say)
        unlocking.start_agent(conf, key, strict=True)
    except UserError as exc:
        _say(str(exc))
        return
    print("The keyring is unlocked until this machine stops.")


def setup(
    name: Optional[str] = None,
    email: Optional[str] = None,
    repo: Optional[str] = None,
    migrate: bool = False,
) -> None:
    """`git-credential-sagemaker setup` in a notebook cell; input() asks for what is missing."""
    from git_credential_sagemaker.provision import setup as provision

    try:
        where = provision.find_repo(repo, os.getcwd())
        report = provision.setup(os.environ, _input, name, email, where, migrate)
    except UserError as exc:
        _say(str(exc))
        return
    for line in report.lines():
        print(line)


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext git_credential_sagemaker` gives `%git_login [URL or HOST] [USERNAME]`."""

    def git_login(line: str) -> None:
        words = line.split()
        login(words[0] if words else "github.com", words[1] if len(words) > 1 else None)

    ipython.register_magic_function(git_login, magic_kind="line", magic_name="git_login")
