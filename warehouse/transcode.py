"""Streaming transcoding of GBK/GB18030 (or UTF-8) text to UTF-8, before DuckDB reads it.

DuckDB's own ``encoding='gbk'`` (the encodings extension) was seen to silently corrupt one row of
a 1M-row GBK file at a buffer boundary, so Mulu never uses it: text files are decoded here,
strictly, chunk by chunk, with Python's incremental decoder, which carries a multi-byte
character split across two chunks over to the next one. Invalid bytes stop the run with the
file, 1-based line and byte offset instead of being replaced.

GBK is decoded as GB18030: GB18030 decodes every valid GBK byte pair to the same character
(checked over all 21,791 pairs) and also reads the 4-byte sequences that "GBK" exports carry
for rare characters in names (生僻字), which the gbk codec rejects.
"""

from __future__ import annotations

import codecs
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from schemas.dataset_spec import normalise_encoding
from schemas.errors import InvalidInput

CHUNK_SIZE = 1 << 20
_DECODE_AS = {"gbk": "gb18030"}
_BOM = "\ufeff"


class TranscodeError(InvalidInput):
    """Bytes that are not valid in the declared encoding; names file, line and byte offset."""

    def __init__(self, path: Path, encoding: str, line: int, offset: int, bad: bytes) -> None:
        self.path, self.encoding, self.line, self.offset, self.bad = (
            path,
            encoding,
            line,
            offset,
            bad,
        )
        super().__init__(
            f"{path.name}: invalid {encoding} bytes {bad.hex(' ')} at line {line}, "
            f"byte offset {offset}"
        )


@dataclass(frozen=True)
class TranscodeResult:
    bytes_in: int
    bytes_out: int
    lines: int  # newline-terminated lines, plus a last line without a newline


def transcode_to_utf8(
    src: Path, dst: Path, encoding: str, chunk_size: int = CHUNK_SIZE
) -> TranscodeResult:
    """Decode ``src`` strictly as ``encoding`` and write it to ``dst`` as UTF-8.

    Memory stays at about ``chunk_size`` whatever the file size. ``dst`` appears complete or not
    at all (temp file in its directory, then rename). A byte-order mark at the start is dropped,
    whatever the encoding: it is never data, and DuckDB would take it into the first header.
    Raises TranscodeError on invalid bytes and ValueError on an unsupported encoding.
    """
    src, dst = Path(src), Path(dst)
    encoding = normalise_encoding(encoding)
    decoder = codecs.getincrementaldecoder(_DECODE_AS.get(encoding, encoding))(errors="strict")
    bytes_in = bytes_out = newlines = 0
    last_byte = b""
    first = True
    dst.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".part")
    temp = Path(temp_name)
    try:
        with src.open("rb") as source, os.fdopen(handle, "wb") as out:
            while True:
                chunk = source.read(chunk_size)
                final = not chunk
                try:
                    text = decoder.decode(chunk, final=final)
                except UnicodeDecodeError as exc:
                    raise _error(
                        src, encoding, exc, bytes_in + len(chunk), newlines, bytes_in, chunk
                    ) from None
                if first and text:
                    text, first = text.removeprefix(_BOM), False
                encoded = text.encode("utf-8")
                out.write(encoded)
                bytes_out += len(encoded)
                if final:
                    break
                # 0x0A is a line feed in every accepted encoding: no GBK/GB18030 or UTF-8
                # multi-byte sequence contains it, so raw bytes can be counted.
                newlines += chunk.count(b"\n")
                bytes_in += len(chunk)
                last_byte = chunk[-1:]
            out.flush()
            os.fsync(out.fileno())
        temp.replace(dst)
    finally:
        temp.unlink(missing_ok=True)
    lines = newlines + (1 if bytes_in and last_byte != b"\n" else 0)
    return TranscodeResult(bytes_in=bytes_in, bytes_out=bytes_out, lines=lines)


def _error(
    src: Path,
    encoding: str,
    exc: UnicodeDecodeError,
    consumed: int,
    newlines_before_chunk: int,
    chunk_start: int,
    chunk: bytes,
) -> TranscodeError:
    """Locate a decode error in the file.

    The decoder raises with ``exc.object`` = bytes it held back from earlier chunks + this
    chunk, so that object always ends where the bytes read so far end.
    """
    offset = consumed - len(exc.object) + exc.start
    newlines = newlines_before_chunk + chunk[: max(0, offset - chunk_start)].count(b"\n")
    bad = bytes(exc.object[exc.start : max(exc.end, exc.start + 2)])[:8]
    return TranscodeError(src, encoding, newlines + 1, offset, bad)
