"""The workspace: one folder (``MULU_HOME``, default ``./.mulu``) holding everything Mulu keeps.

Layout (each path is a property here; no other module builds one from ``root``)::

    catalog.sqlite          metadata_db: catalogue entries, organisations, history, imports, loads
    rejects/                rejects_dir: rows an import could not accept, verbatim with reasons
    datasets/               datasets_dir: one YAML spec per department dataset (<org>/<name>.yaml)
    sources/                sources_dir: files the demo departments deliver (<org>/…; demo only)
    landing/                landing_dir: raw source files as received (immutable, by content hash)
    staging/                staging_dir: typed Parquet of a load before it is published, its
                            lock files and DuckDB's spill space
    held/                   held_dir: staged loads the quality gate blocked, waiting for a
                            steward's review (<dataset>/<load>.parquet)
    quarantine/             quarantine_dir: failing rows of blocked loads (<dataset>/<run>.parquet)
    quality/docs/           quality_docs_dir: Great Expectations Data Docs of every quality run
    lake.sqlite             lake_catalog: the DuckLake catalogue (tables, snapshots)
    lake/                   lake_dir: warehouse tables as Parquet
    freshness/daily/        sweeps_dir: every entry's freshness status, one Parquet file a day
    freshness/scorecards/   scorecards_dir: monthly 更新及时率 scorecards (CSV and HTML)
    dagster/                dagster_dir: Dagster's instance for runs started from this workspace
    config/holidays.yaml    holidays_file: 放假安排 the data office adds for years the pinned
                            chinesecalendar does not know yet (docs/sharing.md)
    config/sharing_rules.yaml  sharing_rules_file: the sharing rules' day counts (optional)
    config/oidc.yaml        oidc_file: single sign-on through an OIDC provider (optional;
                            without it the portal signs in by password only)
    config/settings.yaml    settings_file: deployment settings (PostgreSQL, object storage,
                            distributed Dagster; ``warehouse.settings``, docs/deploy.md)

The path is resolved when a command runs, never at import time.

Local dataset sources must lie in ``source_roots()``: ``sources/``, ``datasets/`` and the folders
``MULU_SOURCE_ROOTS`` names (a spec's relative ``source.url`` is relative to the root).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = ".mulu"
SOURCE_ROOTS_ENV = "MULU_SOURCE_ROOTS"  # more folders local sources may be read from


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Workspace:
        env = os.environ if environ is None else environ
        return cls(Path(env.get("MULU_HOME") or DEFAULT_HOME).resolve())

    @property
    def metadata_db(self) -> Path:
        return self.root / "catalog.sqlite"

    @property
    def rejects_dir(self) -> Path:
        return self.root / "rejects"

    @property
    def datasets_dir(self) -> Path:
        return self.root / "datasets"

    @property
    def sources_dir(self) -> Path:
        return self.root / "sources"

    def source_roots(self, environ: Mapping[str, str] | None = None) -> list[Path]:
        """The folders local sources may be read from: ``sources/``, ``datasets/`` and every
        folder ``MULU_SOURCE_ROOTS`` lists (separated by ``os.pathsep``; relative ones against
        the root), read when called. Symlinks resolved, so a file is checked where it really is.
        """
        env = os.environ if environ is None else environ
        listed = env.get(SOURCE_ROOTS_ENV, "").split(os.pathsep)
        extra = [self.root / Path(p.strip()).expanduser() for p in listed if p.strip()]
        roots = [self.sources_dir, self.datasets_dir, *extra]
        return [Path(os.path.realpath(p)) for p in dict.fromkeys(roots)]

    @property
    def landing_dir(self) -> Path:
        return self.root / "landing"

    @property
    def staging_dir(self) -> Path:
        return self.root / "staging"

    @property
    def held_dir(self) -> Path:
        return self.root / "held"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    @property
    def quality_docs_dir(self) -> Path:
        return self.root / "quality" / "docs"

    @property
    def lake_catalog(self) -> Path:
        return self.root / "lake.sqlite"

    @property
    def lake_dir(self) -> Path:
        return self.root / "lake"

    @property
    def freshness_dir(self) -> Path:
        return self.root / "freshness"

    @property
    def sweeps_dir(self) -> Path:
        return self.freshness_dir / "daily"

    @property
    def scorecards_dir(self) -> Path:
        return self.freshness_dir / "scorecards"

    @property
    def dagster_dir(self) -> Path:
        return self.root / "dagster"

    @property
    def holidays_file(self) -> Path:
        return self.root / "config" / "holidays.yaml"

    @property
    def sharing_rules_file(self) -> Path:
        return self.root / "config" / "sharing_rules.yaml"

    @property
    def oidc_file(self) -> Path:
        return self.root / "config" / "oidc.yaml"

    @property
    def settings_file(self) -> Path:
        return self.root / "config" / "settings.yaml"

    def stored(self, path: str | Path) -> str:
        """``path`` (absolute, or relative to the current directory) as the workspace's
        metadata keeps it: relative (POSIX) when it lies in the workspace, so a copied or moved
        workspace finds its own files; else absolute (a user's file outside the workspace). A
        URL (``s3://…``: the lake or landing on object storage) is kept as it is."""
        if "://" in str(path):
            return str(path)
        resolved = Path(path).resolve()
        try:
            return resolved.relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(resolved)

    def resolve(self, stored: str) -> Path:
        """A path the metadata keeps (see ``stored``) as a path in this workspace; an absolute
        one (outside the workspace, or written before paths were kept relative) as it is."""
        path = Path(stored)
        return path if path.is_absolute() else self.root / path

    def contains(self, path: str | Path, folder: Path | None = None) -> bool:
        """Whether ``path`` lies inside ``folder`` (default: the workspace), symlinks resolved:
        what may be deleted as the workspace's own."""
        inside = (folder or self.root).resolve()
        return Path(path).resolve().is_relative_to(inside)

    def ensure(self) -> Workspace:
        for path in (self.root, self.rejects_dir):
            path.mkdir(parents=True, exist_ok=True)
        return self
