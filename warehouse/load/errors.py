"""Loads refused by the state they find (a held load already decided, a newer load published,
a column type an append cannot change) or missing a part; bad source data is
``warehouse.read.SourceError`` / ``SchemaDriftError``. All are ``LoadError``s."""

from __future__ import annotations

from schemas.errors import Conflict, NotFound, Unavailable
from warehouse.read import LoadError


class LoadConflict(LoadError, Conflict):
    """The state forbids the load now: e.g. a newer load was published, the load is not held,
    or the table's column type differs from the spec's in append/upsert mode."""


class LoadNotFound(LoadError, NotFound):
    """No such load of the dataset."""


class HeldRowsMissing(LoadError, Unavailable):
    """A held load's staged rows are no longer on disk."""
