"""One load of a dataset at a time, across processes: a file lock the OS drops if we die, and,
when the lake's catalog is in PostgreSQL (several machines load into one lake), also a
PostgreSQL advisory lock on that database, which the server drops when our connection ends."""

from __future__ import annotations

import contextlib
import fcntl
import zlib
from collections.abc import Iterator

from warehouse.lake import lake_place
from warehouse.workspace import Workspace

# pg_advisory_lock(LOAD_LOCK, <crc32 of the dataset>): the first key keeps these apart from the
# store's locks (warehouse.store.postgres), which use one-key advisory locks.
LOAD_LOCK = 0x6D756C6C  # "mull"
CONNECT_TIMEOUT_S = 10


@contextlib.contextmanager
def dataset_lock(workspace: Workspace, dataset: str) -> Iterator[None]:
    """Held while a load of ``dataset`` settles, stages, commits and records; different
    datasets load in parallel."""
    path = workspace.staging_dir / f"{dataset}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            with _shared_lock(workspace, dataset, wait=True):
                yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def try_dataset_lock(workspace: Workspace, dataset: str) -> Iterator[bool]:
    """``dataset_lock`` when it is free at once (yields True), else nothing held (False): for
    readers that settle what a dead process left but must not wait behind a running load."""
    path = workspace.staging_dir / f"{dataset}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            with _shared_lock(workspace, dataset, wait=False) as held:
                yield held
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _shared_lock(workspace: Workspace, dataset: str, *, wait: bool) -> Iterator[bool]:
    """The dataset's advisory lock in the lake's PostgreSQL catalog (True when held); nothing
    to take (True) when the catalog is the workspace's own lake.sqlite."""
    url = lake_place(workspace).catalog_url
    if url is None:
        yield True
        return
    import psycopg  # only deployments with a PostgreSQL catalog need it

    key = zlib.crc32(dataset.encode()) - (1 << 31)  # a signed int4
    with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as con:
        if wait:
            con.execute("SELECT pg_advisory_lock(%s, %s)", (LOAD_LOCK, key))
            held = True
        else:
            row = con.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOAD_LOCK, key)).fetchone()
            held = bool(row and row[0])
        try:
            yield held
        finally:
            if held:
                con.execute("SELECT pg_advisory_unlock(%s, %s)", (LOAD_LOCK, key))
