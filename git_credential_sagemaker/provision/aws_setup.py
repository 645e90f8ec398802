"""`setup --kms-key` and `setup --secret`: the AWS routes, wired up once.

    --kms-key K --> the store's data key wrapped by KMS key K (a new store opens only with
                    it; an existing one keeps its passphrase too, after one unlock)
    --secret S  --> credential.<url>.sagemakerSecret S in the config that survives

Both are optional: without them setup never imports boto3 or calls AWS.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Optional
from urllib.parse import urlsplit

from git_credential_sagemaker.credential import gitconfig, keys, kms, secrets, unlock
from git_credential_sagemaker.credential.prompt import sanitize
from git_credential_sagemaker.credential.protocol import has_control
from git_credential_sagemaker.credential.settings import Settings
from git_credential_sagemaker.errors import UsageError
from git_credential_sagemaker.provision.machine import Machine

SECRET_KEY = "sagemakerSecret"  # noqa: S105  # a git config name


def check_value(flag: str, value: Optional[str]) -> None:
    """A key or secret name that git config or KMS could misread is refused up front."""
    if value is not None and (
        not value.strip() or has_control(value) or value != value.strip() or value.startswith("-")
    ):
        raise UsageError(f"{flag} needs a name, ARN or alias, not {sanitize(repr(value))}")


def check_url(value: str) -> None:
    """A URL git will match the secret against: scheme://host, since git sends no path."""
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname or has_control(value):
        raise UsageError(f"--secret-url needs https://HOST, not {sanitize(repr(value))}")
    if parts.path.strip("/") or parts.query or parts.fragment or parts.username:
        raise UsageError(
            f"--secret-url takes scheme://host only, not {sanitize(repr(value))}: git sends "
            "no path to credential helpers unless credential.useHttpPath is set"
        )


def configure_secret(machine: Machine, secret: str, url: str, dry_run: bool) -> list[str]:
    key = f"credential.{url}.{SECRET_KEY}"
    if gitconfig.get_all(key, machine.config_scope)[-1:] == [secret]:
        return []
    if not dry_run:
        gitconfig.set(key, secret, machine.config_scope)
    return [f"git config {' '.join(machine.config_scope)} {key} {secret!r}"]


def configure_kms(env: Mapping[str, str], key_id: str, dry_run: bool) -> list[str]:
    conf = Settings.load(env, gitconfig.read_all())
    store = unlock.open_store(conf)
    if dry_run:
        return [f"would let KMS key {key_id} open {store.path}"]
    existed = store.path.exists()
    if existed:
        unlock.unlock(conf, store)  # KMS (another key) or the passphrase, three tries

    def wrap(data_key: bytes, context: dict[str, str]) -> tuple[bytes, str]:
        return kms.encrypt(key_id, data_key, context)

    if not store.wrap_with_kms(key_id, wrap):
        return []
    if existed:
        return [f"{store.path} opens with KMS key {key_id} too (the passphrase still does)"]
    return [f"{store.path} created; it opens with KMS key {key_id}, with no passphrase"]


def in_use(env: Mapping[str, str]) -> bool:
    """Whether a KMS key wraps the store or a secret is configured: the venv needs boto3."""
    config = gitconfig.read_all()
    if secrets.configured(config):
        return True
    fields = unlock.open_store(Settings.load(env, config)).settings()
    return fields is not None and keys.kms_key(fields) is not None
