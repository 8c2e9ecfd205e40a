"""One connection per thread, closed when its thread ends: what both metadata databases keep.

A new connection starts cold (SQLite's page cache, PostgreSQL's session), and neither sqlite3
nor psycopg connections may be shared by threads mid-transaction; so each thread gets its own,
created on first use and kept. A server's worker threads come and go (anyio retires idle
ones): a dead thread's connection is closed when the next one opens, not leaked.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

C = TypeVar("C")


class PerThread(Generic[C]):
    def __init__(
        self,
        open_connection: Callable[[], C],
        close_connection: Callable[[C], None],
        *,
        name: str,
        usable: Callable[[C], bool] = lambda _con: True,
    ) -> None:
        self._open = open_connection
        self._close = close_connection
        self._usable = usable
        self._name = name
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[tuple[threading.Thread, C]] = []
        self._closed = False

    def get(self) -> C:
        """This thread's connection, opened on first use."""
        con: C | None = getattr(self._local, "con", None)
        if con is None or not self._usable(con):
            with self._lock:
                if self._closed:
                    raise RuntimeError(f"the metadata database {self._name} is closed")
                self._close_orphans()
                con = self._open()
                self._connections.append((threading.current_thread(), con))
            self._local.con = con
        return con

    def count(self) -> int:
        """How many connections are open (one per live thread that used the database)."""
        with self._lock:
            return len(self._connections)

    def _close_orphans(self) -> None:
        """Close the connections of threads that have ended (call with the lock held)."""
        alive = []
        for thread, con in self._connections:
            if thread.is_alive():
                alive.append((thread, con))
            else:
                self._close(con)
        self._connections = alive

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for _thread, con in connections:
            self._close(con)
        self._local = threading.local()
