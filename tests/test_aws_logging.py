"""No AWS library logger, however the process configured it, sees a data key or a token.

In-process, against moto's server: a notebook's kernel is a process whose logging the user
owns, and %git_unlock, login() and setup() run our AWS calls in it.
"""

from __future__ import annotations

import base64
import io
import logging
import os
from collections.abc import Iterator

import boto3  # type: ignore[import-untyped,unused-ignore]
import pytest
from motoserver import MotoServer
from test_kms import kms_key

from git_credential_sagemaker.credential import kms


@pytest.fixture
def debug_children() -> Iterator[io.StringIO]:
    """Loggers set up as a user debugging boto3 sets them, restored afterwards.

    botocore.parsers, by boto3.set_stream_logger: DEBUG, a stream handler of its own.
    urllib3.connectionpool: DEBUG, a handler of its own, no propagation.
    Both handlers write into the one buffer returned.
    """
    names = ("botocore", "botocore.parsers", "urllib3.connectionpool")
    saved = {
        name: (logging.getLogger(name).level, list(logging.getLogger(name).handlers))
        for name in names
    }
    boto3.set_stream_logger("botocore.parsers", logging.DEBUG)
    own = io.StringIO()
    logging.getLogger("botocore.parsers").handlers[-1].setStream(own)  # type: ignore[attr-defined]
    pool = logging.getLogger("urllib3.connectionpool")
    pool.setLevel(logging.DEBUG)
    pool.addHandler(logging.StreamHandler(own))
    pool.propagate = False
    try:
        yield own
    finally:
        pool.propagate = True
        for name, (level, handlers) in saved.items():
            logger = logging.getLogger(name)
            logger.setLevel(level)
            logger.handlers[:] = handlers


def test_no_data_key_reaches_a_debug_child_logger_with_its_own_handler(
    aws: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    debug_children: io.StringIO,
) -> None:
    for name, value in aws.env.items():
        monkeypatch.setenv(name, value)
    arn = kms_key(aws)
    caplog.set_level(logging.DEBUG)
    data_key = os.urandom(32)
    context = {"store": "/volume/keyring.cfg", "store_id": "abc"}

    blob, _ = kms.encrypt(arn, data_key, context)
    assert kms.decrypt(arn, blob, context) == data_key

    seen = caplog.text + debug_children.getvalue()
    for shown in (base64.b64encode(data_key).decode(), data_key.hex()):
        assert shown not in seen
    assert "Plaintext" not in seen
    # As the user left them: the same calls made with boto3 directly are logged in full.
    assert logging.getLogger("botocore.parsers").level == logging.DEBUG
    assert logging.getLogger("urllib3.connectionpool").level == logging.DEBUG
    control = os.urandom(32)
    client = aws.client("kms")
    client.decrypt(CiphertextBlob=client.encrypt(KeyId=arn, Plaintext=control)["CiphertextBlob"])
    heard = debug_children.getvalue()
    assert base64.b64encode(control).decode() in heard
    assert "Starting new HTTP connection" in heard  # urllib3's own handler, too
