"""The warehouse loader: landed source files → typed Parquet in staging/ → a lake snapshot.

    dataset   load_dataset: land, settle, stage, judge, publish or hold, record
    staging   the typed rows of a source in staging/<dataset>/<load_id>.parquet
    early     a local source staged while it lands
    changes   has the source changed? (fingerprint, sizes and mtimes, files not yet appended)
    commit    publish: one DuckLake transaction, exactly once by load id and fingerprint
    held      loads the quality gate blocked, until a steward publishes or rejects them
    settle    what a dead run left: unrecorded commits, 'started' loads, stray files
    ledger    the loads ledger (``store.loads``) as the loader uses it; load_history
    lock      one load of a dataset at a time
    results   StagedLoad, LoadResult, GateVerdict
    errors    loads refused by state (Conflict) or missing a part (Unavailable)

Reading and typing a source is ``warehouse.read``, whose LoadError / SourceError /
SchemaDriftError the loader raises too.
"""

from warehouse.load.changes import fingerprint
from warehouse.load.commit import publish
from warehouse.load.dataset import load_dataset
from warehouse.load.errors import HeldRowsMissing, LoadConflict, LoadNotFound
from warehouse.load.held import publish_held, reject_held
from warehouse.load.ledger import load_history
from warehouse.load.results import Gate, GateVerdict, LoadResult, SourceFile, StagedLoad
from warehouse.load.staging import stage
from warehouse.read import LoadError, SchemaDriftError, SourceError

__all__ = [
    "Gate",
    "GateVerdict",
    "HeldRowsMissing",
    "LoadConflict",
    "LoadError",
    "LoadNotFound",
    "LoadResult",
    "SchemaDriftError",
    "SourceError",
    "SourceFile",
    "StagedLoad",
    "fingerprint",
    "load_dataset",
    "load_history",
    "publish",
    "publish_held",
    "reject_held",
    "stage",
]
