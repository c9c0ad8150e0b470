"""An S3 server for tests: moto's, on 127.0.0.1 at a free port, with one bucket and fake credentials.

The fixture ``s3_server`` starts it, sets the environment the AWS SDK reads
(``AWS_ENDPOINT_URL``, fake keys, a region; the user's ``~/.aws`` and EC2's
instance metadata out of reach) in this process, so that a study started
from the test, and the Ray workers it or a test cluster starts, inherit it;
and stops it at the end. The bucket lives in this process's memory.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

BUCKET = "rnn-studies-test"


class S3Server:
    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request in the test log
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self.bucket = BUCKET

    def env(self, home: Path) -> dict[str, str]:
        """What a user of an S3-compatible store sets, with fake keys; ``home`` stands for ~/.aws's home."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
                "AWS_CONFIG_FILE": str(home / ".aws" / "config")}

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id="testing",
                            aws_secret_access_key="testing", region_name="us-east-1")

    def create_bucket(self) -> None:
        self.client().create_bucket(Bucket=self.bucket)

    def objects(self, prefix: str = "") -> list[str]:
        """Every key in the bucket under ``prefix``."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def require_credentials(self, required: bool = True) -> None:
        """Check every request's keys against moto's IAM (none are known there, so every key is refused)."""
        import requests

        count = b"0" if required else b"inf"
        requests.post(f"{self.endpoint}/moto-api/reset-auth", data=count, timeout=10).raise_for_status()

    def uri(self, *parts: str) -> str:
        return "/".join([f"s3://{self.bucket}", *parts])

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def s3_server(tmp_path, monkeypatch) -> Iterator[S3Server]:
    """A fresh S3 server with the bucket, its endpoint and fake keys in the environment."""
    server = S3Server()
    try:
        for key, value in server.env(tmp_path / "home").items():
            monkeypatch.setenv(key, value)
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
            monkeypatch.delenv(key, raising=False)
        server.create_bucket()
        yield server
    finally:
        server.require_credentials(False)  # moto's setting is this process's, not the server's
        server.stop()
