"""Reading catalogue exports (CSV, Excel, JSON, JSON Lines) into ``SourceRecord``s, streamed,
with every problem kept to the record (or field) it concerns. Entry point:
``catalog.importing.readers`` (the same names)."""

from catalog.importing.reading.common import MAX_FIELD_BYTES, ReadError
from catalog.importing.reading.document import (
    FORMATS,
    Document,
    detect_format,
    read_document,
)
from catalog.importing.reading.encoding import detect_encoding

__all__ = [
    "FORMATS",
    "MAX_FIELD_BYTES",
    "Document",
    "ReadError",
    "detect_encoding",
    "detect_format",
    "read_document",
]
