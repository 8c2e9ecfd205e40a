"""Mulu as a Dagster resource: the workspace a code location serves, and the one ``Store`` a run
uses for metadata.

The resource's only configuration is the workspace folder (``home``), fixed when the code
location loads (``MULU_HOME`` is read then, never on import) and shown in Dagster's UI. The
store is opened when a run starts and closed when it ends (once per run and process: a
multiprocess run opens one in each step's process), so assets never open their own
connections.
"""

# No "from __future__ import annotations": Dagster and pydantic read these annotations at runtime.

from pathlib import Path

import dagster as dg
from pydantic import Field, PrivateAttr

from catalog.directory import Directory
from schemas.errors import Unavailable
from warehouse.store.store import Store
from warehouse.workspace import Workspace

MULU = "mulu"  # the resource key assets ask for (their parameter is named the same)
PIPELINE_USER = "pipeline"  # who the catalogue's history names for changes a run makes


class MuluResource(dg.ConfigurableResource):
    """The Mulu workspace (``home``) and, during a run, its metadata store."""

    home: str = Field(
        description="the Mulu workspace folder (MULU_HOME when the code location loaded)"
    )
    _store: Store | None = PrivateAttr(default=None)

    @classmethod
    def for_workspace(cls, workspace: Workspace) -> "MuluResource":
        return cls(home=str(workspace.root))

    @property
    def workspace(self) -> Workspace:
        return Workspace(Path(self.home))

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._store = Store.open(self.workspace.ensure())

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    @property
    def store(self) -> Store:
        """The run's store; only while a run executes (Dagster opens and closes it)."""
        if self._store is None:
            raise Unavailable("Mulu's store is open only while a Dagster run executes")
        return self._store

    def directory(self, user: str = PIPELINE_USER) -> Directory:
        """The catalogue over the run's store (closing it leaves the store open)."""
        return Directory(self.store, user=user)
