"""`setup --kms-key` and `setup --secret`: the AWS routes, wired up once.

    --kms-key K --> the store's data key wrapped by KMS key K (a new store opens only with
                    it; an existing one keeps its passphrase too). Unlocked, the agent
                    wraps the key it holds; locked, the store is unlocked here first
    --secret S  --> credential.<url>.sagemakerSecret S in the config that survives

Both are optional: without them setup never imports boto3 or calls AWS.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Optional
from urllib.parse import urlsplit

from git_credential_sagemaker.credential import agentclient, gitconfig, keys, kms, secrets, unlock
from git_credential_sagemaker.credential.prompt import sanitize
from git_credential_sagemaker.credential.protocol import has_control
from git_credential_sagemaker.credential.settings import Settings
from git_credential_sagemaker.credential.store import Store
from git_credential_sagemaker.errors import PromptError, StoreError, UsageError
from git_credential_sagemaker.provision import gitsetup
from git_credential_sagemaker.provision.machine import Machine

SECRET_KEY = "sagemakerSecret"  # noqa: S105  # a git config name
# The agent's KMS call is bounded by aws's timeouts and one retry; this bounds the wait for it.
AGENT_KMS_TIMEOUT = 30.0


def check_value(flag: str, value: Optional[str]) -> None:
    """A key or secret name that git config or KMS could misread is refused up front."""
    if value is not None and (
        not value.strip() or has_control(value) or value != value.strip() or value.startswith("-")
    ):
        raise UsageError(f"{flag} needs a name, ARN or alias, not {sanitize(repr(value))}")


def check_url(value: str, flag: str = "--secret-url") -> None:
    """A URL git will match a setting against: scheme://host, since git sends no path."""
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname or has_control(value):
        raise UsageError(f"{flag} needs https://HOST, not {sanitize(repr(value))}")
    if parts.path.strip("/") or parts.query or parts.fragment or parts.username:
        raise UsageError(
            f"{flag} takes scheme://host only, not {sanitize(repr(value))}: git sends "
            "no path to credential helpers unless credential.useHttpPath is set"
        )


def configure_secret(machine: Machine, secret: str, url: str, dry_run: bool) -> list[str]:
    return gitsetup.url_setting(machine, url, SECRET_KEY, secret, dry_run)


def configure_kms(env: Mapping[str, str], key_id: str, dry_run: bool) -> list[str]:
    conf = Settings.load(env, gitconfig.read_all())
    store = unlock.open_store(conf)
    if dry_run:
        return [f"would let KMS key {key_id} open {store.path}"]
    existed = store.path.exists()
    wrapped = _wrap_by_agent(conf, store, key_id) if existed else None
    if wrapped is None:
        if existed:
            _unlock_for_kms(conf, store)

        def wrap(data_key: bytes, context: dict[str, str]) -> tuple[bytes, str]:
            return kms.encrypt(key_id, data_key, context)

        wrapped = store.wrap_with_kms(key_id, wrap)
    if not wrapped:
        return []
    if existed:
        return [f"{store.path} opens with KMS key {key_id} too (the passphrase still does)"]
    return [f"{store.path} created; it opens with KMS key {key_id}, with no passphrase"]


def _wrap_by_agent(conf: Settings, store: Store, key_id: str) -> Optional[bool]:
    """Have the running agent wrap the key it holds (no prompt: the user unlocked it already).

    Whether the key was wrapped now (False: it already was); None when the store must be
    unlocked here: no agent runs, or one from before this request existed, or the file is in
    the format before the data key (its unlock here moves it, and retires that agent).
    """
    payload = f"{key_id}\n{store.instance or ''}".encode()  # the context, as here
    message = agentclient.encode("kms", str(conf.store_dir), payload)
    reply = agentclient.call(conf.agent_socket, message, timeout=AGENT_KMS_TIMEOUT)
    if reply is None or reply[0] == agentclient.NOMATCH:
        return None
    said = reply[1].decode(errors="replace")
    if reply[0] == agentclient.OK:
        return said == "wrapped"
    if said.startswith("the unlock agent knows no operation"):
        return None
    raise StoreError(f"the unlock agent could not do it: {said}")


def _unlock_for_kms(conf: Settings, store: Store) -> None:
    """The data key, here: KMS (another key) or the passphrase, three tries."""
    try:
        unlock.unlock(conf, store)
    except PromptError:
        raise PromptError(
            conf.prompter.hint(
                "--kms-key wraps the keyring's key, so it needs the keyring unlocked first",
                action="unlock",
            )
            + ", then run setup again"
        ) from None


def in_use(env: Mapping[str, str]) -> bool:
    """Whether a KMS key wraps the store or a secret is configured: the venv needs boto3."""
    config = gitconfig.read_all()
    if secrets.configured(config):
        return True
    fields = unlock.open_store(Settings.load(env, config)).settings()
    return fields is not None and keys.kms_key(fields) is not None
