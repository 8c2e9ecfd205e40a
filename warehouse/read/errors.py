"""What goes wrong reading and loading a source, with where it went wrong.

``LoadError`` carries the file, column and row a person would look at; its subclasses say what
kind of failure it was (schemas.errors): a source that cannot be read or no longer matches its
spec is bad input, whatever the loader does about it.
"""

from __future__ import annotations

import re
from pathlib import Path

from schemas.errors import InvalidInput, MuluError


class LoadError(MuluError):
    """A load that failed; ``file``, ``column`` and ``row`` say where, when known."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        row: int | None = None,
    ) -> None:
        super().__init__(message)
        self.file, self.column, self.row = file, column, row


class SourceError(LoadError, InvalidInput):
    """A source that cannot be fetched or read: missing, bad bytes, malformed rows."""


class SchemaDriftError(LoadError, InvalidInput):
    """The source no longer matches the spec: a column is missing, renamed or retyped."""


def source_error(label: str, exc: BaseException) -> SourceError:
    """A DuckDB/OS error reading a file as a SourceError naming the file (and line if given)."""
    text = str(exc).strip()
    line = re.search(r"\bLine:\s*(\d+)", text)
    first = text.splitlines()[0] if text else type(exc).__name__
    return SourceError(
        f"{label}: cannot read: {first}", file=label, row=int(line.group(1)) if line else None
    )


def failing_file_error(exc: BaseException, inputs: list[tuple[Path, str]]) -> SourceError:
    """``source_error`` for the one of ``inputs`` ((path, label) pairs) the message names."""
    text = str(exc)
    for path, label in inputs:  # transcoded copies keep the file's name inside theirs
        if path.name in text:
            return source_error(label, exc)
    return source_error(inputs[0][1] if len(inputs) == 1 else "source", exc)
