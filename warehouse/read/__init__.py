"""Reading department source files into DuckDB, and typing their columns as the spec says.

``read_source`` (``source``) gives one relation over every file of a load, built from each
format's SQL (``formats``, ``excel``); ``checked_select`` / ``typed_select`` (``casts``) type its
columns; ``drift`` names a column or value that no longer fits the spec; ``errors`` holds what
goes wrong, with file, column and row; ``diagnose`` says in Mulu's words why a file could not be
read (ragged rows, long lines, bad bytes, NDJSON lines), once DuckDB has stopped on it.
"""

from warehouse.read.casts import BAD_PREFIX, CAST_FAILURE, checked_select, typed_select
from warehouse.read.diagnose import failing_file_error
from warehouse.read.drift import cast_failures
from warehouse.read.errors import LoadError, SchemaDriftError, SourceError, source_error
from warehouse.read.source import read_source
from warehouse.read.views import META_COLUMNS, SOURCE_VIEW, UNNUMBERED_VIEW

__all__ = [
    "BAD_PREFIX",
    "CAST_FAILURE",
    "META_COLUMNS",
    "SOURCE_VIEW",
    "UNNUMBERED_VIEW",
    "LoadError",
    "SchemaDriftError",
    "SourceError",
    "cast_failures",
    "checked_select",
    "failing_file_error",
    "read_source",
    "source_error",
    "typed_select",
]
