"""Configuration read once (environment, helper arguments, git config) into a typed object.

    os.environ + --dir/--timeout + gitconfig.read_all() --Settings.load--> Settings

Everything below the entry points takes a Settings; nothing else reads os.environ or git
config for the helper. Bad values are a UsageError, one line.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Optional

from git_credential_sagemaker.credential import agentclient, paths
from git_credential_sagemaker.credential.prompt import Prompter
from git_credential_sagemaker.errors import UsageError

PASSPHRASE_ENV = "GIT_CREDENTIAL_SAGEMAKER_PASSPHRASE"  # noqa: S105  # a variable name
# An agent timer longer than this is "until the machine stops" in all but name.
MAX_TIMEOUT = 366 * 86400.0


def parse_timeout(text: str, what: str = "--timeout") -> float:
    """Seconds to stay unlocked: a finite positive number, at most a year."""
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{what} needs a number of seconds, not {text!r}") from None
    if not math.isfinite(value) or not 0 < value <= MAX_TIMEOUT:
        raise UsageError(
            f"{what} needs a number of seconds between 0 and {MAX_TIMEOUT:.0f}, not {text!r}"
        )
    return value


@dataclasses.dataclass(frozen=True)
class Settings:
    store_dir: Path
    runtime_dir: Path
    timeout: Optional[float]
    prompter: Prompter
    env_passphrase: Optional[str] = dataclasses.field(default=None, repr=False)
    resource_metadata: str = paths.RESOURCE_METADATA  # names the instance for KMS

    @classmethod
    def load(
        cls,
        env: Mapping[str, str],
        config: Mapping[str, str],
        store_dir: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> Settings:
        if timeout is not None:
            timeout = parse_timeout(str(timeout))
        elif config.get("credential.sagemaker.timeout"):
            timeout = parse_timeout(
                config["credential.sagemaker.timeout"], "credential.sagemaker.timeout"
            )
        return cls(
            store_dir=Path(paths.store_dir(env, store_dir)),
            runtime_dir=Path(paths.runtime_dir(env)),
            timeout=timeout,
            prompter=Prompter.load(env, lambda name: config.get(name.lower())),
            env_passphrase=env.get(PASSPHRASE_ENV),
            resource_metadata=paths.resource_metadata(env),
        )

    @property
    def agent_socket(self) -> str:
        """Where this store's unlock agent listens."""
        return agentclient.socket_path(str(self.runtime_dir), str(self.store_dir))

    def call_agent(self, op: str, payload: bytes = b"") -> Optional[tuple[bytes, bytes]]:
        """(status, body) from this store's agent, or None when none is running."""
        return agentclient.call(
            self.agent_socket, agentclient.encode(op, str(self.store_dir), payload)
        )
