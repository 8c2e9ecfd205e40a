"""Deployment settings (部署配置): which engines a workspace runs on, chosen by configuration.

The embedded default needs none of them: metadata in ``catalog.sqlite``, the lake in
``lake.sqlite`` + ``lake/``, Dagster's instance in ``dagster/``, loads in the calling process.
A city or province points the same code at shared engines instead (issue 14, docs/deploy.md):
PostgreSQL for the store and the lake's catalogue, S3-compatible object storage for Parquet and
raw files, Dagster on PostgreSQL with the queued coordinator and Celery workers.

Each setting is read, when a command runs (never at import), from the environment variable
named in ``SETTINGS`` or else from the workspace's ``config/settings.yaml`` (the key without
the ``MULU_`` prefix, lower case). The environment wins, so one container image serves every
deployment. docs/deploy.md lists every setting (a test checks that it does).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from warehouse.workspace import Workspace

# setting name → (environment variable, what it is); the docs list each one.
SETTINGS: dict[str, tuple[str, str]] = {
    "database_url": (
        "MULU_DATABASE_URL",
        "The metadata store: postgresql://user@host:port/db (default: the workspace's "
        "catalog.sqlite).",
    ),
    "lake_catalog_url": (
        "MULU_LAKE_CATALOG_URL",
        "DuckLake's catalogue: postgresql://… (default: the workspace's lake.sqlite).",
    ),
    "lake_data_url": (
        "MULU_LAKE_DATA_URL",
        "Where the lake's Parquet files live: s3://bucket/prefix/ (default: the workspace's "
        "lake/).",
    ),
    "storage_url": (
        "MULU_STORAGE_URL",
        "Object storage for landing/ and quarantine/ (raw files as received, failing rows): "
        "s3://bucket/prefix/ (default: folders in the workspace).",
    ),
    "s3_endpoint_url": (
        "MULU_S3_ENDPOINT_URL",
        "An S3-compatible endpoint (MinIO, OSS, COS): http(s)://host:port (default: AWS). "
        "Credentials come from the usual AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.",
    ),
    "s3_region": ("MULU_S3_REGION", "The object store's region (default: us-east-1)."),
    "dagster_database_url": (
        "MULU_DAGSTER_DATABASE_URL",
        "Dagster's instance storage (runs, event logs, schedules): postgresql://… (default: "
        "SQLite files under the workspace's dagster/).",
    ),
    "run_queue": (
        "MULU_RUN_QUEUE",
        "How many Dagster runs may run at once, all datasets together (the queued run "
        "coordinator; default: runs start at once, no queue).",
    ),
    "department_run_limit": (
        "MULU_DEPARTMENT_RUN_LIMIT",
        "How many loads of one department (提供方) may run at once under the queue (default 2; "
        "one load per dataset always).",
    ),
    "celery_broker_url": (
        "MULU_CELERY_BROKER_URL",
        "Run loads on Celery workers: amqp://guest:guest@host:5672// or redis://host:6379/0 "
        "(default: loads run in the process that starts the run).",
    ),
    "celery_backend_url": (
        "MULU_CELERY_BACKEND_URL",
        "Celery's result backend: redis://… or rpc:// (default: rpc://).",
    ),
    "celery_queue": (
        "MULU_CELERY_QUEUE",
        "The Celery queue a workspace's loads go to and its `mulu worker`s take them from "
        "(default: mulu); one name per workspace when several share a broker.",
    ),
    "log_format": (
        "MULU_LOG_FORMAT",
        "text (default) or json: one JSON object a line for log collectors.",
    ),
}


@dataclass(frozen=True)
class Settings:
    """Every deployment setting of one workspace; None where the embedded default applies."""

    database_url: str | None = None
    lake_catalog_url: str | None = None
    lake_data_url: str | None = None
    storage_url: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    dagster_database_url: str | None = None
    run_queue: str | None = None
    department_run_limit: str | None = None
    celery_broker_url: str | None = None
    celery_backend_url: str | None = None
    celery_queue: str | None = None
    log_format: str | None = None

    @classmethod
    def load(cls, workspace: Workspace, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings in force: the environment over ``config/settings.yaml``."""
        env = os.environ if environ is None else environ
        stored = read_settings_file(workspace)
        values: dict[str, Any] = {}
        for name, (variable, _doc) in SETTINGS.items():
            value = env.get(variable) or stored.get(name)
            values[name] = str(value).strip() if value not in (None, "") else None
        return cls(**values)

    @property
    def on_postgresql(self) -> bool:
        return is_postgresql(self.database_url)


def is_postgresql(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("postgresql://", "postgres://"))


def read_settings_file(workspace: Workspace) -> dict[str, Any]:
    """``config/settings.yaml`` as a mapping ({} when there is none)."""
    path = workspace.settings_file
    if not path.is_file():
        return {}
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: expected a mapping of settings, got {type(loaded).__name__}")
    unknown = sorted(set(loaded) - set(SETTINGS))
    if unknown:
        raise ValueError(f"{path}: unknown setting(s) {', '.join(unknown)}")
    return loaded


def redact(url: str | None) -> str | None:
    """A URL fit for logs and status pages: its password replaced by ***."""
    if not url or "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    if ":" in credentials:
        credentials = credentials.split(":", 1)[0] + ":***"
    return f"{scheme}://{credentials}@{host}"
