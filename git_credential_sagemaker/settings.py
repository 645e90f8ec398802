"""Configuration read once (environment, helper arguments, git config) into a typed object.

Everything below the CLI takes a Settings; nothing reads os.environ or git config itself.
The store is opened here too, with the passphrase source the settings call for:
$GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE for automation, else the prompting policy.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Optional

from git_credential_sagemaker import paths
from git_credential_sagemaker.prompt import ATTEMPTS, Prompter
from git_credential_sagemaker.store import (
    FileKeyring,
    PassphraseSource,
    StoreError,
    WrongPassphrase,
)

PASSPHRASE_ENV = "GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE"  # noqa: S105  # a variable name


def read_git_config(cwd: Optional[str] = None) -> dict[str, str]:
    """All of git's config in one subprocess (keys as git prints them: lower-case)."""
    try:
        done = subprocess.run(["git", "config", "--list", "-z"], capture_output=True,
                              timeout=10, cwd=cwd, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    config: dict[str, str] = {}
    for item in done.stdout.split(b"\0"):
        key, _, value = item.decode("utf-8", "replace").partition("\n")
        if key:
            config[key.lower()] = value
    return config


@dataclasses.dataclass(frozen=True)
class Settings:
    store_dir: Path
    runtime_dir: Path
    timeout: Optional[float]
    prompter: Prompter
    env_passphrase: Optional[str] = dataclasses.field(default=None, repr=False)

    @classmethod
    def load(
        cls,
        env: Mapping[str, str],
        config: Mapping[str, str],
        store_dir: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> Settings:
        if timeout is None and config.get("credential.sagemaker.timeout"):
            try:
                timeout = float(config["credential.sagemaker.timeout"])
            except ValueError:
                raise StoreError("credential.sagemaker.timeout must be a number of seconds") \
                    from None
        return cls(
            store_dir=Path(paths.store_dir(env, store_dir)),
            runtime_dir=Path(paths.runtime_dir(env)),
            timeout=timeout,
            prompter=Prompter.load(env, lambda name: config.get(name.lower())),
            env_passphrase=env.get(PASSPHRASE_ENV),
        )

    def passphrase_source(self) -> PassphraseSource:
        store_path = str(self.store_dir)

        def source(new: bool) -> str:
            if self.env_passphrase is not None:
                return self.env_passphrase
            if new:
                return self.prompter.new_passphrase(store_path)
            return self.prompter.passphrase(store_path)

        return source

    def open_store(self, key: Optional[bytes] = None) -> FileKeyring:
        return FileKeyring(self.store_dir, passphrase=self.passphrase_source(), key=key)

    def unlock(self, store: FileKeyring) -> bytes:
        """Unlock, allowing three tries at a typed passphrase; a wrong one writes nothing."""
        tries = 1 if self.env_passphrase is not None else ATTEMPTS
        for attempt in range(1, tries + 1):
            try:
                return store.unlock()
            except WrongPassphrase:
                if attempt == tries:
                    break
                print("git-credential-sagemaker: wrong passphrase, try again", file=sys.stderr)
        raise WrongPassphrase(f"wrong passphrase for {store.path} ({tries} "
                              f"{'try' if tries == 1 else 'tries'}); nothing was changed")
