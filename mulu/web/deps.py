"""What every route group shares: the workspace and the app's one ``Store``."""

from __future__ import annotations

from dataclasses import dataclass

from catalog.directory import Directory
from warehouse.store import Store
from warehouse.workspace import Workspace


@dataclass(frozen=True)
class Web:
    """The web app's parts, built once by ``create_app`` and handed to every route group: the
    store owns all metadata connections of the server process for its whole life."""

    workspace: Workspace
    store: Store

    def directory(self, user: str = "api") -> Directory:
        """The directory over the app's store, acting as ``user`` (recorded in history).
        Cheap: it borrows the store, so there is nothing to close."""
        return Directory(self.store, user=user)
