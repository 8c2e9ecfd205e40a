"""The temp views ``read_source`` leaves on a connection and the columns it adds to a source's."""

from __future__ import annotations

SOURCE_VIEW = "_mulu_source"
# The same rows without row numbers: counting CSV/JSON rows (WITH ORDINALITY) makes DuckDB scan
# the file on one thread, which halves a load's speed on two cores.
UNNUMBERED_VIEW = "_mulu_source_unnumbered"
# Which file (its place in the load, its name as people know it) and which row in it.
META_COLUMNS = ("_source_index", "_source_file", "_source_row")
# ``_source_row`` where numbering rows would cost the parallel scan.
NO_ROW = "CAST(NULL AS BIGINT)"
