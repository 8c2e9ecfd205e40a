"""The metadata store: the one object that owns metadata connections and transactions.

``Store.open(workspace)`` gives a store whose repositories read and write every metadata table:
``entries``, ``organisations``, ``history`` (change history and data-update events),
``imports``, ``loads``, ``quality`` (runs and reviews), ``freshness`` (policies, notices) and
``search`` (the full-text index). No SQL text lives outside this package and the lake.

The repositories are typed by the protocols in ``warehouse.store.interfaces`` and written once
for both engines (``warehouse.store.sql``); ``Store.open`` opens SQLite (the workspace's
``catalog.sqlite``) or PostgreSQL (``MULU_DATABASE_URL``) as the workspace's settings say.
"""

from warehouse.store.store import Store

__all__ = ["Store"]
