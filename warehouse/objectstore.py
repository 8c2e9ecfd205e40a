"""S3-compatible object storage (MinIO, OSS, COS, S3) as the lake and the landing zone reach it.

Where it is comes from the deployment settings (``warehouse.settings``: ``s3_endpoint_url``,
``s3_region``); who we are from the usual ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` /
``AWS_SESSION_TOKEN`` in the environment, read when a connection is made. Credentials are never
written anywhere: DuckDB gets them as a temporary (in-memory, per connection) secret, fsspec
(s3fs) as options of the filesystem object; neither the lake's catalogue nor a log line holds
them (``describe`` is what may be shown).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import duckdb

from warehouse.settings import Settings

DEFAULT_REGION = "us-east-1"
SCHEMES = ("s3://", "s3a://")
SECRET_NAME = "mulu_s3"


def is_object_url(url: str | None) -> bool:
    """True for ``s3://…`` (and ``s3a://``) URLs."""
    return bool(url) and str(url).lower().startswith(SCHEMES)


def join(url: str, *parts: str) -> str:
    """``url`` with ``parts`` appended, one ``/`` between each: ``join("s3://b/p/", "x")``."""
    return "/".join([url.rstrip("/"), *(p.strip("/") for p in parts)])


@dataclass(frozen=True)
class ObjectStore:
    """How to reach the object store; ``key``/``secret``/``token`` are never shown (repr off)."""

    endpoint_url: str | None = None
    region: str = DEFAULT_REGION
    key: str | None = field(default=None, repr=False)
    secret: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)

    @classmethod
    def of(cls, settings: Settings, environ: Mapping[str, str] | None = None) -> ObjectStore:
        env = os.environ if environ is None else environ
        return cls(
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region or env.get("AWS_REGION") or DEFAULT_REGION,
            key=env.get("AWS_ACCESS_KEY_ID") or None,
            secret=env.get("AWS_SECRET_ACCESS_KEY") or None,
            token=env.get("AWS_SESSION_TOKEN") or None,
        )

    def describe(self) -> str:
        """Where the store is, for logs and errors (no credentials)."""
        return f"{self.endpoint_url or 'AWS S3'} ({self.region})"

    def fsspec_options(self) -> dict[str, Any]:
        """s3fs's options (never cached listings: other processes add and replace objects)."""
        options: dict[str, Any] = {"use_listings_cache": False}
        if self.key:
            options["key"] = self.key
        if self.secret:
            options["secret"] = self.secret
        if self.token:
            options["token"] = self.token
        client: dict[str, Any] = {"region_name": self.region}
        if self.endpoint_url:
            options["endpoint_url"] = self.endpoint_url
        options["client_kwargs"] = client
        return options

    def filesystem(self) -> Any:
        """An s3fs filesystem reaching the store. fsspec keeps one instance per options and
        process (a new one's first request costs 0.5-1 s of client setup); listings are never
        cached, so what other processes write is seen at once."""
        import s3fs  # type: ignore[import-untyped]  # only deployments on object storage

        return s3fs.S3FileSystem(**self.fsspec_options())

    def create_duckdb_secret(self, con: duckdb.DuckDBPyConnection) -> None:
        """A temporary S3 secret on ``con`` (in memory, gone with the connection): httpfs reads
        and writes ``s3://`` with it. The values go in as SQL literals of a statement that is
        never logged; ``duckdb_secrets()`` shows them redacted."""
        options = [
            "TYPE s3",
            "PROVIDER config",
            f"REGION {_literal(self.region)}",
        ]
        if self.key:
            options.append(f"KEY_ID {_literal(self.key)}")
        if self.secret:
            options.append(f"SECRET {_literal(self.secret)}")
        if self.token:
            options.append(f"SESSION_TOKEN {_literal(self.token)}")
        if self.endpoint_url:
            parts = urlsplit(self.endpoint_url)
            endpoint = parts.netloc or parts.path
            options += [
                f"ENDPOINT {_literal(endpoint)}",
                "URL_STYLE 'path'",  # MinIO and moto; OSS/COS accept path style too
                f"USE_SSL {'false' if parts.scheme == 'http' else 'true'}",
            ]
        con.execute(f"CREATE OR REPLACE TEMPORARY SECRET {SECRET_NAME} ({', '.join(options)})")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
