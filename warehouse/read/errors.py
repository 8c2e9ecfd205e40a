"""What goes wrong reading and loading a source, with where it went wrong.

``LoadError`` carries the file, column and row a person would look at; its subclasses say what
kind of failure it was (schemas.errors): a source that cannot be read or no longer matches its
spec is bad input, whatever the loader does about it.
"""

from __future__ import annotations

import re

from schemas.errors import InvalidInput, MuluError


class LoadError(MuluError):
    """A load that failed; ``file``, ``column`` and ``row`` say where, when known.

    The message is the one line a user reads; ``detail`` is the rest of the reason (DuckDB's
    own lines, say), kept in ``loads.error`` after it but never printed by default."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        row: int | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.file, self.column, self.row = file, column, row
        self.detail = detail


class SourceError(LoadError, InvalidInput):
    """A source that cannot be fetched or read: missing, bad bytes, malformed rows."""


class SchemaDriftError(LoadError, InvalidInput):
    """The source no longer matches the spec: a column is missing, renamed or retyped."""


def source_error(label: str, exc: BaseException) -> SourceError:
    """A DuckDB/OS error reading a file as a SourceError naming the file (and line if given).

    Only the first line of the error is kept, without the options DuckDB suggests (a spec
    cannot set them), cut to 200 characters: DuckDB quotes the line it stopped on."""
    text = text_of(exc)
    line = re.search(r"\bLine:\s*(\d+)", text)
    first = text.splitlines()[0] if text else type(exc).__name__
    first = re.sub(r"\.? *(Try auto-detecting|Possible (fixes|Solution)).*$", "", first)
    if len(first) > 200:
        first = first[:199] + "…"
    return SourceError(
        f"{label}: cannot read: {first}",
        file=label,
        row=int(line.group(1)) if line else None,
        detail=_detail(text),
    )


def _detail(text: str) -> str | None:
    """DuckDB's whole reason after its first line, without the options it suggests (a spec
    cannot set them); each line cut to 200 characters, as the source's own lines may be huge."""
    kept = []
    for raw in text.splitlines()[1:]:
        line = raw.strip()
        if re.match(r"(Possible (fixes|Solution)|Try auto-detecting)", line):
            break
        if line:
            kept.append(line if len(line) <= 200 else line[:199] + "…")
    return "\n".join(kept) or None


def text_of(exc: BaseException) -> str:
    if isinstance(exc, UnicodeDecodeError):
        # DuckDB quoted a line cut inside a character: its message cannot even be decoded.
        return "the file has a line DuckDB could not read"
    return str(exc).strip()
