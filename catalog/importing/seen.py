"""What one import has seen so far: each distinct record (to merge exact repeats) and how many
records carried each source key (the n-th distinct one gets ``key#n``).

Kept as 8-byte digests in a scratch SQLite file of the import's own under the workspace's
staging folder (opened only here, never the catalogue), so memory stays flat at a million
records; the file is deleted when the import ends.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def digest(text: str) -> int:
    """A signed 64-bit digest of ``text`` (a collision at a million records: ~1 in 10^7)."""
    return int.from_bytes(
        hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
        "big",
        signed=True,
    )


def record_digest(fields: dict[str, Any]) -> int:
    """Equal for records with identical fields, whatever their order in the file."""
    return digest(json.dumps(fields, ensure_ascii=False, sort_keys=True, default=str))


class SeenRecords:
    def __init__(self, folder: Path, alive: Callable[[int], bool] | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if alive is not None:
            _sweep(folder, alive)
        handle, name = tempfile.mkstemp(
            prefix=f"import-{os.getpid()}-", suffix=".sqlite", dir=folder
        )
        os.close(handle)
        self.path = Path(name)
        self._con = sqlite3.connect(name, isolation_level=None)
        self._con.execute("PRAGMA journal_mode = OFF")
        self._con.execute("PRAGMA synchronous = OFF")
        self._con.execute("CREATE TABLE records (digest INTEGER PRIMARY KEY, row INTEGER)")
        self._con.execute("CREATE TABLE keys (digest INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
        self._con.execute("BEGIN")

    def first_row(self, record: int, row: int) -> int | None:
        """The row of the earlier record identical to this one; None (and remembered) if new."""
        if self._con.execute("INSERT OR IGNORE INTO records VALUES (?, ?)", (record, row)).rowcount:
            return None
        found = self._con.execute("SELECT row FROM records WHERE digest = ?", (record,)).fetchone()
        return int(found[0])

    def count(self, key: str, kind: str = "") -> int:
        """How many times ``key`` (of ``kind``) has been counted, this time included."""
        found = self._con.execute(
            "INSERT INTO keys VALUES (?, 1) ON CONFLICT(digest) DO UPDATE SET n = n + 1 "
            "RETURNING n",
            (digest(f"{kind}\0{key}"),),
        ).fetchone()
        return int(found[0])

    def commit(self) -> None:
        """Let a chunk's writes go to the file (the page cache stays small)."""
        self._con.execute("COMMIT")
        self._con.execute("BEGIN")

    def close(self) -> None:
        try:
            self._con.close()
        finally:
            self.path.unlink(missing_ok=True)


def _sweep(folder: Path, alive: Callable[[int], bool]) -> None:
    """Delete the scratch files of imports whose process died (killed imports leave theirs)."""
    for path in folder.glob("import-*-*.sqlite"):
        pid = path.name.split("-")[1]
        if pid.isdigit() and not alive(int(pid)):
            path.unlink(missing_ok=True)
