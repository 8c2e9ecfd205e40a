"""Has a source changed since it was last loaded? By content (the fingerprint of the landed
files), and for local files by a cheap first look (sizes and mtimes) before landing hashes them.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path
from typing import Any

from warehouse.landing import LandedFile


def fingerprint(files: list[LandedFile]) -> str:
    """sha256 over the sorted sha256s: the same set of file contents, whatever their names."""
    return hashlib.sha256("\n".join(sorted(f.sha256 for f in files)).encode()).hexdigest()


def source_records(files: list[LandedFile]) -> list[dict[str, Any]]:
    """The files of a load as ``loads.sources`` keeps them; for local sources also the
    source's mtime, which lets the next load tell a probably-unchanged source
    (``looks_unchanged``)."""
    records = []
    for f in files:
        record: dict[str, Any] = {
            "url": f.source_url,
            "sha256": f.sha256,
            "landed_path": str(f.path),
            "size": f.size,
        }
        if f.stored_url:  # the landed copy on object storage (landed_path: the local cache)
            record["landed_url"] = f.stored_url
        if "://" not in f.source_url:
            with contextlib.suppress(OSError):
                record["mtime_ns"] = Path(f.source_url).stat().st_mtime_ns
        records.append(record)
    return records


def looks_unchanged(
    urls: list[str], states: list[tuple[int, int, int]], last: dict[str, Any] | None
) -> bool:
    """True when every local source file (``urls`` with their (size, mtime, inode) ``states``)
    has the size and mtime it had at the last published load ``last``."""
    if last is None:
        return False
    seen = {s.get("url"): (s.get("size"), s.get("mtime_ns")) for s in last["sources"]}
    return all(
        seen.get(url) == (state[0], state[1]) for url, state in zip(urls, states, strict=True)
    )


def not_yet_loaded(landed: list[LandedFile], loaded: set[str]) -> list[LandedFile]:
    """The landed files whose content (sha256) is not among ``loaded``: append loads each
    file's rows once."""
    return [f for f in landed if f.sha256 not in loaded]
