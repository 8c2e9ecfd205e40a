"""The workspace: one folder (``MULU_HOME``, default ``./.mulu``) holding everything Mulu keeps.

Layout::

    catalog.sqlite   metadata: catalogue entries, organisations, change history, imports, loads
    rejects/         rows an import could not accept, kept verbatim with their reasons
    datasets/        one YAML spec per department dataset (datasets/<org>/<name>.yaml)
    landing/         raw source files as received (immutable, by content hash)
    staging/         typed Parquet of a load before it is published
    lake.sqlite      the DuckLake catalogue (tables, snapshots)
    lake/            warehouse tables as Parquet
    dagster/         Dagster's instance for runs started from this workspace

The path is resolved when a command runs, never at import time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = ".mulu"


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Workspace:
        env = os.environ if environ is None else environ
        return cls(Path(env.get("MULU_HOME") or DEFAULT_HOME).resolve())

    @property
    def metadata_db(self) -> Path:
        return self.root / "catalog.sqlite"

    @property
    def rejects_dir(self) -> Path:
        return self.root / "rejects"

    @property
    def landing_dir(self) -> Path:
        return self.root / "landing"

    @property
    def lake_dir(self) -> Path:
        return self.root / "lake"

    @property
    def staging_dir(self) -> Path:
        return self.root / "staging"

    @property
    def datasets_dir(self) -> Path:
        return self.root / "datasets"

    @property
    def quarantine_dir(self) -> Path:
        """Failing rows of blocked loads: <dataset>/<run_id>.parquet (the quarantine table)."""
        return self.root / "quarantine"

    def ensure(self) -> Workspace:
        for path in (self.root, self.rejects_dir):
            path.mkdir(parents=True, exist_ok=True)
        return self
