"""A local S3-compatible endpoint for tests: moto's server on loopback,
with its IAM checks on, so that requests are signed and checked like a
real store's: a wrong secret key or an unknown access key is refused.
`scripts/setup.sh` installs it (`moto[server]` from PyPI).

moto lets the first few requests through unsigned; the fixture spends
them creating the user `holder` with full access and its access key,
then every request must be signed with that key.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from devnet import free_port

REGION = "us-east-1"

_SETUP_ACTIONS = 4
"""Unsigned requests moto allows before it checks signatures: create the
user, its policy, attach it, create the access key."""


class S3Server:
    """moto's S3 on 127.0.0.1: `endpoint`, `access_key_id`, `secret_key`
    (the holder's key), `client()` for a boto3 client signed with it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.access_key_id = ""
        self.secret_key = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()

    def __enter__(self) -> S3Server:
        env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(_SETUP_ACTIONS)}
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.pop(key, None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            self._wait()
            self._create_holder()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto's server exited: {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"moto's server did not listen within 60 s: {self.log()}")

    def _create_holder(self) -> None:
        import boto3  # type: ignore[import-untyped]

        iam = boto3.client(
            "iam",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="setup",
            aws_secret_access_key="setup",
        )
        iam.create_user(UserName="holder")
        document = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
        policy = iam.create_policy(PolicyName="everything", PolicyDocument=json.dumps(document))
        iam.attach_user_policy(UserName="holder", PolicyArn=policy["Policy"]["Arn"])
        key = iam.create_access_key(UserName="holder")["AccessKey"]
        self.access_key_id = key["AccessKeyId"]
        self.secret_key = key["SecretAccessKey"]

    def client(self) -> Any:
        """A boto3 S3 client signed with the holder's key."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_key,
        )

    def put(self, bucket: str, key: str, body: bytes) -> None:
        """Stores `body` at `bucket/key`, creating the bucket if needed."""
        s3 = self.client()
        if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
            s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key=key, Body=body)

    def delete(self, bucket: str, key: str) -> None:
        self.client().delete_object(Bucket=bucket, Key=key)

    def secret_file(self, folder: Path, secret: str | None = None, name: str = "s3.key") -> Path:
        """A file holding the secret key (or `secret`), readable by its owner."""
        path = folder / name
        path.write_text((self.secret_key if secret is None else secret) + "\n")
        path.chmod(0o600)
        return path

    def log(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-4000:]

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
