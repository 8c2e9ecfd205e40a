"""What every route group shares: the workspace, the app's one ``Store``, the search index's
refresher thread and the cached DCAT exports."""

from __future__ import annotations

from dataclasses import dataclass

from catalog.directory import Directory
from catalog.exporting import CachedExports
from catalog.search.index import Refresher
from warehouse.store import Store
from warehouse.workspace import Workspace


@dataclass(frozen=True)
class Web:
    """The web app's parts, built once by ``create_app`` and handed to every route group: the
    store owns all metadata connections of the server process for its whole life; the
    refresher is the one thread that indexes changes (no request does, once the index was
    built); ``exports`` keeps ``/catalog.jsonld`` and ``/catalog.ttl`` until the catalogue
    changes."""

    workspace: Workspace
    store: Store
    refresher: Refresher
    exports: CachedExports

    def directory(self, user: str = "api") -> Directory:
        """The directory over the app's store, acting as ``user`` (recorded in history).
        Cheap: it borrows the store, so there is nothing to close."""
        return Directory(self.store, user=user)
