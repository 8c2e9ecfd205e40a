"""A real S3-compatible server on 127.0.0.1 for tests: moto's standalone server, in-process.

Use the fixtures by importing them into a test module::

    from s3_server import s3_bucket, s3_server  # noqa: F401 - pytest fixtures

``s3_server`` (one per test session) starts the server on a free port and yields an
``S3Server``; ``s3_bucket`` creates a fresh, empty bucket for one test and yields an
``S3Bucket`` with ``name``, ``url(key)``, ``put(key, data)`` and the ``storage_options`` that
reach it (``key``, ``secret``, ``endpoint_url``, the way a dataset spec writes them).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

ACCESS_KEY = "mulu-test-key"
SECRET_KEY = "mulu-test-secret"
REGION = "us-east-1"
_bucket_numbers = itertools.count(1)


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str

    @property
    def storage_options(self) -> dict[str, Any]:
        return {"key": ACCESS_KEY, "secret": SECRET_KEY, "endpoint_url": self.endpoint_url}

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )


@dataclass(frozen=True)
class S3Bucket:
    server: S3Server
    name: str

    @property
    def storage_options(self) -> dict[str, Any]:
        return self.server.storage_options

    def url(self, key: str) -> str:
        return f"s3://{self.name}/{key}"

    def put(self, key: str, data: bytes) -> None:
        self.server.client().put_object(Bucket=self.name, Key=key, Body=data)

    def delete(self, key: str) -> None:
        self.server.client().delete_object(Bucket=self.name, Key=key)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield S3Server(endpoint_url=f"http://{host}:{port}")
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> S3Bucket:
    bucket = S3Bucket(server=s3_server, name=f"mulu-test-{next(_bucket_numbers)}")
    s3_server.client().create_bucket(Bucket=bucket.name)
    return bucket
