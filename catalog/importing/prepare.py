"""The work on an import's records that depends on nothing but the record and the mapping:
mapping it, its digest and source keys, its source record as stored, and its validation
against the entry model (``Checked``). It is about half of an import's time; an import asked
to (``import_file(parallel=True)``) hands it, a chunk at a time, to worker processes
(``Preparers``) while the main process reads the file, matches and writes: the records of each
chunk come back in the file's order, and the result is the same as in one process. On two
cores this does not pay yet: unpickling a prepared chunk costs the main process about what
preparing it did (BENCHMARKS.md, "Catalogue bulk import").

What depends on the store or on the records before (repeats, code clashes, numbering, matching
stored entries, the provider's code where the record gives none) stays in the main process;
a record whose candidate turns out different from the one validated ahead (a stored entry
fills its blanks, another record named its provider's code) is validated again there.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from catalog.apply_records import (
    CONTACT_FIELDS,
    SEQUENCE_DIGITS,
    Checked,
    check_entry,
    local_org_code,
    source_record_text,
)
from catalog.importing.mapping import FieldProblem, Mapping
from catalog.importing.records import SourceRecord
from catalog.importing.seen import record_digest

__all__ = ["Context", "Prepared", "Preparers", "prepare", "worker_count"]

# Chunks handed to the workers ahead of the one being written, per worker: enough to keep
# them busy, few enough to keep memory flat.
AHEAD = 2


@dataclass(frozen=True, slots=True)
class Context:
    """What preparing a record needs besides the record."""

    mapping: Mapping
    legacy: bool  # whether entries with the mapping's pre-issue-12 keys exist
    classification: str
    org_codes: dict[str, str]  # provider name -> code, as stored when the import started
    lenient: bool = True
    # Validate ahead too: in a worker, yes; in the main process it only moves the work (and
    # would validate records the directory never sees: repeats, code clashes).
    check: bool = True


@dataclass(slots=True)
class Prepared:
    """A record mapped: its values and the mapping's problems; for a record that may land
    (no reject) also its digest, source key, pre-issue-12 key and validation."""

    values: dict[str, Any]
    problems: list[FieldProblem]
    digest: int = 0
    key: str | None = None
    legacy_key: str | None = None
    checked: Checked | None = None


Item = tuple[dict[str, Any], bool]  # (SourceRecord.fields, whether reading rejected it)


def items(chunk: list[SourceRecord]) -> list[Item]:
    return [(record.fields, record.rejected) for record in chunk]


def prepare(context: Context, chunk: list[Item]) -> list[Prepared | None]:
    """Each record of a chunk prepared (None: reading rejected it, it is not mapped)."""
    mapping = context.mapping
    apply = mapping.applier()
    prepared: list[Prepared | None] = []
    for fields, rejected in chunk:
        if rejected:
            prepared.append(None)
            continue
        values, problems = apply(fields)
        found = Prepared(values, problems)
        prepared.append(found)
        if any(p.severity == "reject" for p in problems):
            continue
        found.digest = record_digest(fields)
        found.key = mapping.record_key(fields, values)
        if context.legacy:
            found.legacy_key = mapping.legacy_key(fields, values)
        if not context.check:
            continue
        found.checked = check_entry(
            _candidate(values, context),
            lenient=context.lenient,
            source_text=source_record_text(fields),
        )
    return prepared


def _candidate(values: dict[str, Any], context: Context) -> dict[str, Any]:
    """The fields ``ApplySession`` validates for a record matching no stored entry: contacts
    apart, a placeholder code where it is allocated, the provider's code found by name."""
    fields = {k: v for k, v in values.items() if k not in CONTACT_FIELDS}
    if not fields.get("code"):
        fields["code"] = f"{context.classification}/{0:0{SEQUENCE_DIGITS}d}"
    name = fields.get("provider_name")
    code = fields.get("provider_code")
    name = name.strip() if isinstance(name, str) else name
    code = code.strip() if isinstance(code, str) else code
    if name:
        fields["provider_code"] = code or context.org_codes.get(name) or local_org_code(name)
    return fields


def worker_count() -> int:
    """Worker processes for an import that asks for them: one per core beyond the main
    process's, at least one; none inside a daemonic process, which may not start any."""
    if multiprocessing.current_process().daemon:
        return 0
    return max(1, min((os.cpu_count() or 1) - 1, 4))


# --- worker processes ----------------------------------------------------------------------
_CONTEXT: Context | None = None


def _start_worker(context: Context) -> None:
    global _CONTEXT
    _CONTEXT = context
    # Ctrl-C is the main process's to handle: it ends the import and then the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _prepare_in_worker(chunk: list[Item]) -> list[Prepared | None]:
    assert _CONTEXT is not None
    prepared = prepare(_CONTEXT, chunk)
    for found in prepared:
        if found is not None and found.checked is not None:
            _lighter(found.values, found.checked)
    return prepared


def _lighter(values: dict[str, Any], checked: Checked) -> None:
    """Less to send back (unpickling is most of what a worker costs the main process): the
    candidate is made again there, and a text the model kept as mapped is sent once."""
    checked.fields = None
    full = checked.full
    if full is None:
        return
    for name, value in full.items():
        if type(value) is str:
            mapped = values.get(name)
            if mapped is not value and type(mapped) is str and mapped == value:
                full[name] = mapped  # the same object: pickled once


def _received(context: Context, prepared: list[Prepared | None]) -> list[Prepared | None]:
    """A worker's chunk with each candidate as validated made again from its values."""
    for found in prepared:
        if found is not None and found.checked is not None:
            found.checked.fields = _candidate(found.values, context)
    return prepared


def _start_method() -> multiprocessing.context.BaseContext:
    """fork where there is one: a worker starts at once with the modules loaded, and the
    caller's ``__main__`` is not run again in it (spawn would run a script without a
    ``if __name__ == "__main__"`` guard, import and all, in each worker). The worker touches
    nothing of the parent's but the mapping and its records (no connection, no thread's lock),
    and leaves by ``os._exit``, so the parent's connections are never closed from it."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


class Preparers:
    """Worker processes preparing chunks, handed back in the order they were given."""

    def __init__(self, context: Context, workers: int) -> None:
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=_start_method(),
            initializer=_start_worker,
            initargs=(context,),
        )
        for _ in range(workers):  # start them now, while the main process works
            self._pool.submit(os.getpid)
        self.context = context
        self.depth = AHEAD * workers
        self._ahead: deque[tuple[list[SourceRecord], Future[list[Prepared | None]]]] = deque()

    def submit(self, chunk: list[SourceRecord]) -> None:
        self._ahead.append((chunk, self._pool.submit(_prepare_in_worker, items(chunk))))

    @property
    def full(self) -> bool:
        return len(self._ahead) >= self.depth

    def __len__(self) -> int:
        return len(self._ahead)

    def next(self) -> tuple[list[SourceRecord], list[Prepared | None]]:
        chunk, future = self._ahead.popleft()
        return chunk, _received(self.context, future.result())

    def drain(self) -> Iterator[tuple[list[SourceRecord], list[Prepared | None]]]:
        while self._ahead:
            yield self.next()

    def close(self) -> None:
        for _, future in self._ahead:
            future.cancel()
        self._ahead.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)
