"""Logging in from a notebook cell, where git's own prompts can never be answered.

`getpass.getpass` is looked up at call time, so inside ipykernel the kernel's password box
(its stdin channel) is used; the token is never echoed or returned.
"""

from __future__ import annotations

import os
from typing import Any, Optional

from git_credential_sagemaker import account
from git_credential_sagemaker.prompt import PromptError, choose_passphrase
from git_credential_sagemaker.settings import Settings, read_git_config
from git_credential_sagemaker.store import FileKeyring, StoreError


def _getpass(prompt: str) -> Optional[str]:
    import getpass

    return getpass.getpass(prompt)


def _input(prompt: str) -> Optional[str]:
    return input(prompt)


def _open() -> tuple[Settings, FileKeyring]:
    conf = Settings.load(os.environ, read_git_config())
    store_path = str(conf.store_dir)

    def source(new: bool) -> str:
        if conf.env_passphrase is not None:
            return conf.env_passphrase
        if new:
            return choose_passphrase(_getpass, store_path)
        return _getpass(f"Passphrase for {store_path}: ") or ""

    return conf, FileKeyring(conf.store_dir, passphrase=source)


def login(url_or_host: str = "github.com", username: Optional[str] = None,
          expires: Optional[str] = None) -> None:
    """Store a token for `url_or_host` and unlock the keyring; prompts in the notebook."""
    conf, store = _open()
    try:
        what = account.login(conf, store, url_or_host, username, _input, _getpass, expires)
    except (StoreError, PromptError) as exc:
        print(f"git-credential-sagemaker: {exc}")
        return
    print(f"Stored the token for {what}; git push and pull now work without prompts.")


def unlock() -> None:
    """Unlock the keyring after a restart: asks for the passphrase once."""
    from git_credential_sagemaker import agent

    conf, store = _open()
    if not store.path.exists():
        print("git-credential-sagemaker: nothing stored yet; in a notebook cell run: "
              "from git_credential_sagemaker import login; login()")
        return
    try:
        key = conf.unlock(store)
        agent.spawn(conf.store_dir, conf.runtime_dir, key, conf.timeout)
    except (StoreError, PromptError) as exc:
        print(f"git-credential-sagemaker: {exc}")
        return
    print("The keyring is unlocked until this machine stops.")


def setup(name: Optional[str] = None, email: Optional[str] = None,
          repo: Optional[str] = None, migrate: bool = False) -> None:
    """`git-credential-sagemaker setup` in a notebook cell; input() asks for what is missing."""
    from git_credential_sagemaker import commands

    args = ["setup"] + (["--name", name] if name else []) + (["--email", email] if email else [])
    args += (["--repo", repo] if repo else []) + (["--migrate"] if migrate else [])
    for key, label in (("--name", "Your name for commits: "),
                       ("--email", "Your email for commits: ")):
        if key not in args and not _git_config_value("user." + key[2:]):
            args += [key, _input(label) or ""]
    commands.main(args)


def _git_config_value(key: str) -> str:
    import subprocess

    done = subprocess.run(["git", "config", "--get", key], capture_output=True, text=True,
                          check=False)
    return done.stdout.strip()


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext git_credential_sagemaker` gives `%git_login [URL or HOST] [USERNAME]`."""

    def git_login(line: str) -> None:
        words = line.split()
        login(words[0] if words else "github.com", words[1] if len(words) > 1 else None)

    ipython.register_magic_function(git_login, magic_kind="line", magic_name="git_login")
