"""Helpers shared by the landing tests (local, HTTP and S3 sources)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def landed_names(landing_dir: Path, dataset: str = "dibao") -> list[str]:
    """Every name in ``landing/<dataset>`` (temporaries too); none when the folder is absent
    (a landing that found nothing to land does not create it)."""
    folder = landing_dir / dataset
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
