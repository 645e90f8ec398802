"""A real AWS API on loopback: moto's server in its own process, reached through botocore's HTTP.

    MotoServer.start() --> `python -m moto.server -H 127.0.0.1 -p PORT` --> /moto-api/ answers
    server.env         --> what a process needs to talk to it (AWS_ENDPOINT_URL, fake keys)
    server.client(svc) --> a boto3 client for the test's own arrangements (a key, a secret)

boto3 is never patched: the code under test signs and sends real requests, and gets moto's
real error responses (AccessDeniedException, DisabledException, ...). The server is stopped
by the test that started it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

REGION = "us-east-1"
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MotoServer:
    def __init__(self, log: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto server exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=2):  # noqa: S310
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("moto server did not start in time")

    @property
    def env(self) -> dict[str, str]:
        """Variables that send a process's boto3 here, with credentials moto accepts."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self, service: str, key: str = "testing", secret: str = "testing") -> Any:
        import boto3  # type: ignore[import-untyped,unused-ignore]

        return boto3.session.Session(
            aws_access_key_id=key, aws_secret_access_key=secret, region_name=REGION
        ).client(service, endpoint_url=self.url)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()


def start(log: Path, env: dict[str, str] | None = None) -> MotoServer:
    """`env` for the server: INITIAL_NO_AUTH_ACTION_COUNT=N makes it check IAM after N calls."""
    server = MotoServer(log, env)
    try:
        server.wait_ready()
    except BaseException:
        server.stop()
        raise
    return server
