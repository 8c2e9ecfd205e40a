"""A running import's scratch store: which records it has seen, how often each key came (and
where first), and which record first gave each 信息资源代码.

One SQLite file per import under the workspace's staging folder (never the catalogue), holding
64-bit digests only, so memory stays flat at a million records; it is deleted when the import
ends, and an import whose process died leaves its file for the next one to sweep. Callers work
a chunk at a time: each method is one or two statements for the whole chunk.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from warehouse.store.sql.rows import chunks, marks

_PREFIX = "import-"


class ImportScratch:
    """Digests an import has seen: records (with the row each was first seen at), keys (with
    how many times each was counted and the row of the first) and codes (with the row and the
    record digest of the first record that gave each)."""

    def __init__(self, folder: Path, alive: Callable[[int], bool] | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if alive is not None:
            sweep(folder, alive)
        handle, name = tempfile.mkstemp(
            prefix=f"{_PREFIX}{os.getpid()}-", suffix=".sqlite", dir=folder
        )
        os.close(handle)
        self.path = Path(name)
        self._con = sqlite3.connect(name, isolation_level=None)
        self._con.execute("PRAGMA journal_mode = OFF")
        self._con.execute("PRAGMA synchronous = OFF")
        self._con.execute("CREATE TABLE records (digest INTEGER PRIMARY KEY, row INTEGER)")
        self._con.execute(
            "CREATE TABLE keys (digest INTEGER PRIMARY KEY, n INTEGER NOT NULL, row INTEGER)"
        )
        self._con.execute(
            "CREATE TABLE codes (digest INTEGER PRIMARY KEY, row INTEGER, record INTEGER)"
        )
        self._con.execute("BEGIN")

    def first_rows(self, records: Sequence[tuple[int, int]]) -> list[int | None]:
        """For each ``(record digest, row)`` in order: the row of the earlier record with that
        digest (in an earlier chunk or earlier in this one), or None when it is new (and now
        remembered)."""
        first: dict[int, int] = {}
        for part in chunks(list(dict.fromkeys(d for d, _ in records))):
            first.update(
                self._con.execute(
                    f"SELECT digest, row FROM records WHERE digest IN ({marks(len(part))})",
                    part,
                ).fetchall()
            )
        found: list[int | None] = []
        new: list[tuple[int, int]] = []
        for record, row in records:
            earlier = first.get(record)
            if earlier is None:
                first[record] = row
                new.append((record, row))
            found.append(earlier)
        self._con.executemany("INSERT INTO records VALUES (?, ?)", new)
        return found

    def counts(self, keys: Sequence[int]) -> list[int]:
        """For each key digest in order, how many times it has been counted, this one
        included (a key twice in ``keys`` counts 1 then 2)."""
        return [n for n, _ in self.counted([(key, 0) for key in keys])]

    def counted(self, keys: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
        """For each ``(key digest, row)`` in order: (how many times the key has been counted,
        this one included; the row it was first counted at)."""
        totals: dict[int, tuple[int, int]] = {}
        for part in chunks(list(dict.fromkeys(key for key, _ in keys))):
            totals.update(
                (digest, (n, row))
                for digest, n, row in self._con.execute(
                    f"SELECT digest, n, row FROM keys WHERE digest IN ({marks(len(part))})", part
                )
            )
        found = []
        for key, row in keys:
            n, first = totals.get(key, (0, row))
            totals[key] = (n + 1, first)
            found.append(totals[key])
        self._con.executemany(
            "INSERT INTO keys VALUES (?, ?, ?) ON CONFLICT(digest) DO UPDATE SET n = excluded.n",
            [(key, n, row) for key, (n, row) in totals.items()],
        )
        return found

    def first_codes(self, codes: Sequence[tuple[int, int, int]]) -> list[tuple[int, int] | None]:
        """For each ``(code digest, record digest, row)`` in order: (row, record digest) of
        the first record that gave that code (in an earlier chunk or earlier in this one), or
        None when this one is the first (and now remembered)."""
        first: dict[int, tuple[int, int]] = {}
        for part in chunks(list(dict.fromkeys(code for code, _, _ in codes))):
            first.update(
                (digest, (row, record))
                for digest, row, record in self._con.execute(
                    f"SELECT digest, row, record FROM codes WHERE digest IN ({marks(len(part))})",
                    part,
                )
            )
        found: list[tuple[int, int] | None] = []
        new: list[tuple[int, int, int]] = []
        for code, record, row in codes:
            earlier = first.get(code)
            if earlier is None:
                first[code] = (row, record)
                new.append((code, row, record))
            found.append(earlier)
        self._con.executemany("INSERT INTO codes VALUES (?, ?, ?)", new)
        return found

    def commit(self) -> None:
        """Let a chunk's writes go to the file (the page cache stays small)."""
        self._con.execute("COMMIT")
        self._con.execute("BEGIN")

    def close(self) -> None:
        """Close and delete the file."""
        try:
            self._con.close()
        finally:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> ImportScratch:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def sweep(folder: Path, alive: Callable[[int], bool]) -> None:
    """Delete the scratch files of imports whose process died (killed imports leave theirs)."""
    for path in folder.glob(f"{_PREFIX}*-*.sqlite"):
        pid = path.name.split("-")[1]
        if pid.isdigit() and not alive(int(pid)):
            path.unlink(missing_ok=True)
