"""The metadata store: the one object that owns metadata connections and transactions.

``Store.open(workspace)`` gives a store whose repositories read and write every metadata table:
``entries``, ``organisations``, ``history`` (change history and data-update events),
``imports``, ``loads``, ``quality`` (runs and reviews), ``freshness`` (policies, notices) and
``search`` (the full-text index). No SQL text lives outside this package and the lake.

The repositories are typed by the protocols in ``warehouse.store.interfaces``; the SQLite
implementation is ``warehouse.store.sqlite``. Another database (PostgreSQL) is another
subpackage implementing the same protocols, chosen in ``Store.open``.
"""

from warehouse.store.store import Store

__all__ = ["Store"]
