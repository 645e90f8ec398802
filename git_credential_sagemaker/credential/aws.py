"""boto3 for the AWS routes (KMS, Secrets Manager): imported only there, every call bounded.

    client(service, resource) --boto3, bounded timeouts, one retry--> a botocore client
    any failure --describe--> AwsError: one line naming the cause, never a traceback

boto3 is the optional `[aws]` extra: without it, or without AWS credentials, these routes
say so in one line and the passphrase route goes on as before. Nothing here is imported on
the unlocked hot path. AWS_ENDPOINT_URL (botocore's own variable) points it elsewhere.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any, Optional

from git_credential_sagemaker.errors import UserError

CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 3.0
EXTRA = "pip install 'git-credential-sagemaker[aws]'"


class AwsError(UserError):
    """An AWS call that did not succeed; str() is one line naming the cause."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code  # the AWS error code, when AWS answered


# botocore logs whole request and response bodies at DEBUG, a data key or a token included,
# and a notebook that turns on DEBUG logging would print them into its cells.
CHATTY = ("botocore", "boto3", "urllib3", "s3transfer")


def _chatty(name: str) -> bool:
    return any(name == top or name.startswith(top + ".") for top in CHATTY)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """No AWS library logs below WARNING while a call of ours runs, whatever the process set.

    Every logger of theirs that exists is raised to WARNING, a child with a level, handler
    or propagate setting of its own too (boto3.set_stream_logger makes such a child); one
    created during the call has no level of its own, so it takes WARNING from its parent.
    """
    loggers = [logging.getLogger(name) for name in CHATTY]
    loggers += [
        logger
        for name, logger in list(logging.Logger.manager.loggerDict.items())
        if isinstance(logger, logging.Logger) and _chatty(name) and name not in CHATTY
    ]
    before = [logger.level for logger in loggers]
    for logger in loggers:
        if logger.level < logging.WARNING:  # NOTSET too: nothing above it may lower it
            logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, before):
            logger.setLevel(level)


def region_of(resource: str) -> Optional[str]:
    """The region an ARN names (arn:aws:kms:REGION:...), else None: boto3's default then."""
    parts = resource.split(":")
    if len(parts) >= 6 and parts[0] == "arn" and parts[3]:
        return parts[3]
    return None


def client(service: str, resource: str = "") -> Any:
    """A client for `service`, in the region `resource` names, with bounded timeouts."""
    try:
        import boto3  # type: ignore[import-untyped,unused-ignore]
        from botocore.config import Config  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        raise AwsError(f"boto3 is not installed; run: {EXTRA}", "NoBoto3") from None
    config = Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries={"max_attempts": 2, "mode": "standard"},
    )
    try:
        with quiet():
            return boto3.session.Session().client(
                service, region_name=region_of(resource), config=config
            )
    except Exception as exc:  # NoRegionError and friends: a client that can't exist
        raise AwsError(describe(exc), type(exc).__name__) from None


def call(what: str, method: Any, **kwargs: Any) -> Any:
    """`method(**kwargs)`, with any failure turned into one AwsError line about `what`."""
    try:
        with quiet():
            return method(**kwargs)
    except Exception as exc:
        code = _code(exc)
        raise AwsError(f"{what}: {describe(exc)}", code) from None


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return type(exc).__name__


def _status(exc: Exception) -> int:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status if isinstance(status, int) else 0
    return 0


CAUSES = {
    "AccessDeniedException": "access denied: the IAM role lacks the permission",
    "AccessDenied": "access denied: the IAM role lacks the permission",
    "DisabledException": "the KMS key is disabled",
    "KMSInvalidStateException": "the KMS key is disabled or pending deletion",
    "NotFoundException": "the KMS key does not exist",
    "InvalidCiphertextException": "KMS refused the wrapped key (another key or store)",
    "IncorrectKeyException": "KMS refused the wrapped key (another key)",
    "ResourceNotFoundException": "it does not exist",
    "DecryptionFailure": "Secrets Manager could not decrypt it",
    "UnrecognizedClientException": "the AWS credentials are not valid",
    "InvalidClientTokenId": "the AWS credentials are not valid",
    "ExpiredTokenException": "the AWS credentials have expired",
}


def describe(exc: Exception) -> str:
    """A failure as a cause a user can act on. Never echoes a request or a secret."""
    name = type(exc).__name__
    code = _code(exc)
    if code in CAUSES:
        return CAUSES[code]
    if _status(exc) == 403:  # an IAM denial whose body named no code
        return CAUSES["AccessDenied"]
    if name in ("NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"):
        return "no AWS credentials (attach an IAM role, or set AWS credentials)"
    if name == "NoRegionError":
        return "no AWS region set (name it by ARN, or set AWS_DEFAULT_REGION)"
    if name in (
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
    ):
        return "AWS could not be reached (no network?)"
    if code and code != name:
        return f"AWS said {code}"
    return f"{name}"
