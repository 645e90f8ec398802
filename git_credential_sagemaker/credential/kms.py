"""The KMS way in: the instance's IAM role unwraps the store's data key, so no one types.

    setup --kms-key K --wrap: KMS Encrypt(data key, context)--> data_key_kms in keyring.cfg
    first call after a restart --unwrap: KMS Decrypt(context)--> data key --> the agent

Access is IAM's: a role without kms:Decrypt on the key gets one line naming the cause, then
the passphrase prompt as before. Calls are bounded (aws.client); boto3 is imported only when
a store is wrapped by KMS, so nothing changes for anyone else.

On a notebook instance the context also names the instance (`instance_arn`, from the
metadata file SageMaker writes), so a keyring copied to another instance does not open there
by KMS: one line, then the passphrase, and `setup --kms-key` there wraps it for that one.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Optional

from git_credential_sagemaker.credential import aws, keys
from git_credential_sagemaker.credential.paths import APP
from git_credential_sagemaker.credential.prompt import sanitize
from git_credential_sagemaker.credential.store import KmsUnwrap
from git_credential_sagemaker.errors import StoreError

Say = Callable[[str], None]
MAX_METADATA = 64 * 1024


def instance_arn(metadata: str) -> Optional[str]:
    """This notebook instance's ARN (`ResourceArn` in `metadata`), or None when unknown."""
    try:
        if not os.path.isfile(metadata):
            return None
        with open(metadata, "rb") as f:
            document = json.loads(f.read(MAX_METADATA))
    except (OSError, ValueError):
        return None
    arn = document.get("ResourceArn") if isinstance(document, dict) else None
    if not isinstance(arn, str) or not arn.startswith("arn:") or not arn.isprintable():
        return None
    return arn


def unwrapper(say: Say) -> KmsUnwrap:
    """Store's KMS callable: the data key, or None after one line saying why not (an error
    when no passphrase wraps the key either)."""

    def unwrap(wrapping: keys.Wrapping, passphrase_too: bool) -> Optional[bytes]:
        try:
            return decrypt(wrapping.key_id, wrapping.blob, wrapping.context, wrapping.why_not)
        except aws.AwsError as exc:
            if not passphrase_too:
                fix = (
                    "open it where it was wrapped"
                    if wrapping.why_not
                    else "give this role kms:Decrypt on that key"
                )
                raise StoreError(
                    f"{exc}, and nothing else opens {wrapping.context.get('store', 'it')}; "
                    f"{fix}, or start over with: {APP} reset"
                ) from None
            say(f"{exc}; the passphrase opens it instead")
            return None

    return unwrap


def decrypt(
    key_id: str, blob: bytes, context: dict[str, str], why_not: Optional[str] = None
) -> bytes:
    """The data key; `why_not` (keys.Wrapping) fails it without asking KMS."""
    what = f"KMS key {sanitize(key_id)} did not open the keyring"
    if why_not:
        raise aws.AwsError(f"{what}: {sanitize(why_not)}", "NotHere")
    client = _client(key_id, what)
    reply = aws.call(
        what, client.decrypt, CiphertextBlob=blob, KeyId=key_id, EncryptionContext=context
    )
    plain = reply.get("Plaintext") if isinstance(reply, dict) else None
    if not isinstance(plain, bytes):
        raise aws.AwsError(f"{what}: KMS answered without a key", "NoPlaintext")
    return plain


def encrypt(key_id: str, data_key: bytes, context: dict[str, str]) -> tuple[bytes, str]:
    """(the wrapped key, the key's ARN): the ARN is kept, so a moved alias can't break it."""
    what = f"KMS key {sanitize(key_id)} could not wrap the keyring's key"
    client = _client(key_id, what)
    reply = aws.call(
        what, client.encrypt, KeyId=key_id, Plaintext=data_key, EncryptionContext=context
    )
    blob = reply.get("CiphertextBlob") if isinstance(reply, dict) else None
    arn = reply.get("KeyId") if isinstance(reply, dict) else None
    if not isinstance(blob, bytes):
        raise aws.AwsError(f"{what}: KMS answered without a wrapped key", "NoCiphertext")
    return blob, arn if isinstance(arn, str) and arn else key_id


def _client(key_id: str, what: str) -> Any:
    try:
        return aws.client("kms", key_id)
    except aws.AwsError as exc:
        raise aws.AwsError(f"{what}: {exc}", exc.code) from None
