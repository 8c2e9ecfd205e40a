"""Helpers shared by the landing tests (local, HTTP and S3 sources)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def landed_names(landing_dir: Path, dataset: str = "dibao") -> list[str]:
    return sorted(p.name for p in (landing_dir / dataset).iterdir())
