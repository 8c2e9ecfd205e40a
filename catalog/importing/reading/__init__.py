"""Reading catalogue exports (CSV, Excel, JSON, JSON Lines) into ``SourceRecord``s, streamed,
with every problem kept to the record (or field) it concerns.

    document = read_document(path)            # ReadError: empty, not JSON, repeated header …
    for record in document.records(mapping.records):   # SourceRecord(row, fields, raw, problems)
        ...

Row numbers: CSV the line a record starts on (the header is line 1), Excel the spreadsheet
row, JSON the record's 1-based position in its list.
"""

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
