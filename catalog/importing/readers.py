"""Read a catalogue export into source records, whatever its format (the package
``catalog.importing.reading`` does the work; this module is the entry point).

    document = read_document(path)            # ReadError: empty, not JSON, repeated header …
    for record in document.records(mapping.records):   # SourceRecord(row, fields, raw, problems)
        ...

Row numbers: CSV the line a record starts on (the header is line 1), Excel the spreadsheet
row, JSON the record's 1-based position in its list.
"""

from catalog.importing.reading import (
    FORMATS,
    MAX_FIELD_BYTES,
    Document,
    ReadError,
    detect_encoding,
    detect_format,
    read_document,
)

__all__ = [
    "FORMATS",
    "MAX_FIELD_BYTES",
    "Document",
    "ReadError",
    "detect_encoding",
    "detect_format",
    "read_document",
]
