"""One load of a dataset at a time, across processes: a file lock the OS drops if we die."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator

from warehouse.workspace import Workspace


@contextlib.contextmanager
def dataset_lock(workspace: Workspace, dataset: str) -> Iterator[None]:
    """Held while a load of ``dataset`` settles, stages, commits and records; different
    datasets load in parallel."""
    path = workspace.staging_dir / f"{dataset}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
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
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
