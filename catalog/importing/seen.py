"""What one import has seen so far: each distinct record (to merge exact repeats), how many
records carried each source key (the n-th distinct one gets ``key#n``) and which record first
gave each 信息资源代码 (a later, different record with that code is refused).

Only the digests and the numbering are worked out here; they are kept, a chunk at a time, in
the import's scratch store (``warehouse.store.sqlite.scratch``), so memory stays flat at a
million records.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from catalog.importing.records import SourceRecord
from warehouse.store.sqlite.scratch import ImportScratch


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
    """An import's memory of the records and keys of its earlier chunks (and of the earlier
    records of this one), over its scratch store."""

    def __init__(self, scratch: ImportScratch) -> None:
        self.scratch = scratch

    def first_rows(
        self, records: Sequence[SourceRecord], digests: Sequence[int] | None = None
    ) -> list[int | None]:
        """For each record in order: the row of an earlier record identical to it, or None
        when it is the first (and now remembered). ``digests``: their ``record_digest``s, when
        the caller has them already."""
        if digests is None:
            digests = [record_digest(r.fields) for r in records]
        return self.scratch.first_rows([(d, r.row) for r, d in zip(records, digests, strict=True)])

    def numbered(self, keys: Sequence[str], kind: str = "") -> list[str]:
        """Each key as counted so far: itself the first time, ``key#n`` the n-th."""
        counts = self.scratch.counts([digest(f"{kind}\0{key}") for key in keys])
        return [key if n == 1 else f"{key}#{n}" for key, n in zip(keys, counts, strict=True)]

    def numbered_rows(
        self, keys: Sequence[tuple[str, int]], kind: str = ""
    ) -> list[tuple[str, int]]:
        """For each ``(key, row)``: the key as counted so far (``key#n`` the n-th time) and the
        row of the first record that carried it."""
        counted = self.scratch.counted([(digest(f"{kind}\0{key}"), row) for key, row in keys])
        return [
            (key if n == 1 else f"{key}#{n}", first)
            for (key, _), (n, first) in zip(keys, counted, strict=True)
        ]

    def code_clashes(
        self, records: Sequence[tuple[SourceRecord, str]], digests: Sequence[int]
    ) -> list[int | None]:
        """For each ``(record, its 信息资源代码)`` (and its ``record_digest``): the row of an
        earlier, different record that gave the same code, or None (the first with it, or
        identical to the first)."""
        found = self.scratch.first_codes(
            [(digest(code), d, r.row) for (r, code), d in zip(records, digests, strict=True)]
        )
        return [
            None if first is None or first[1] == record else first[0]
            for first, record in zip(found, digests, strict=True)
        ]

    def commit(self) -> None:
        self.scratch.commit()
