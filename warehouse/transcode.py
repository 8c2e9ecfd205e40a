"""Streaming transcoding of GBK/GB18030 (or UTF-8) text to UTF-8, before DuckDB reads it, and
the check that the encoding a spec declares is the file's.

DuckDB's own ``encoding='gbk'`` (the encodings extension) was seen to silently corrupt one row of
a 1M-row GBK file at a buffer boundary, so Mulu never uses it: text files are decoded here,
strictly, chunk by chunk, with Python's incremental decoder, which carries a multi-byte
character split across two chunks over to the next one. Invalid bytes stop the run with the
file, 1-based line and byte offset instead of being replaced.

GBK is decoded as GB18030: GB18030 decodes every valid GBK byte pair to the same character
(checked over all 21,791 pairs) and also reads the 4-byte sequences that "GBK" exports carry
for rare characters in names (生僻字), which the gbk codec rejects.

Encodings are verified, not trusted. UTF-8 Chinese text often *is* valid GB18030 byte by byte
(张伟 → 寮犱紵), so a declared ``gbk`` alone would publish mojibake: while a file is decoded as
GBK/GB18030 the same bytes are followed by a strict UTF-8 decoder, and a file that is valid
UTF-8 with non-ASCII text is refused (``EncodingMismatch``). ``auto`` (the spec's default) reads
a file as UTF-8 when its first non-ASCII text is valid UTF-8 and as GB18030 otherwise; a UTF-8
file is then read by DuckDB as it is, and DuckDB rejects any invalid UTF-8 further on.
"""

from __future__ import annotations

import codecs
import gzip
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from schemas.dataset_spec.encodings import AUTO, UTF8_ENCODINGS, normalise_encoding
from schemas.errors import InvalidInput

CHUNK_SIZE = 1 << 20
_DECODE_AS = {"gbk": "gb18030"}
_BOM = "\ufeff"
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_CJK = re.compile(r"[\u3400-\u9fff\U00020000-\U0003134f]")
SAMPLE_CHARS = 10  # of the text a message quotes


class TranscodeError(InvalidInput):
    """Bytes that are not valid in the declared encoding; names file, line and byte offset."""

    def __init__(
        self,
        path: Path,
        encoding: str,
        line: int,
        offset: int,
        bad: bytes,
        message: str | None = None,
    ) -> None:
        self.path, self.encoding, self.line, self.offset, self.bad = (
            path,
            encoding,
            line,
            offset,
            bad,
        )
        super().__init__(
            message
            or f"{path.name}: invalid {encoding} bytes {bad.hex(' ')} at line {line}, "
            f"byte offset {offset}"
        )


class EncodingMismatch(TranscodeError):
    """A file declared GBK/GB18030 that is valid UTF-8 with non-ASCII text: read as declared it
    would be mojibake, so it is refused, naming the likely encoding."""

    def __init__(self, path: Path, declared: str, line: int, sample: str) -> None:
        what = "Chinese text" if _CJK.search(sample) else "non-ASCII text"
        garbled = sample.encode("utf-8").decode(_DECODE_AS.get(declared, declared), "replace")
        super().__init__(
            path,
            declared,
            line,
            0,
            b"",
            f"{path.name}: declared {declared} but the file is valid UTF-8 with {what} "
            f"(line {line}: {sample}…, which {declared} would read as "
            f"{garbled[:SAMPLE_CHARS]}…); set encoding: utf-8 or auto",
        )


@dataclass(frozen=True)
class TranscodeResult:
    bytes_in: int
    bytes_out: int
    lines: int  # newline-terminated lines, plus a last line without a newline
    encoding: str = field(default="", compare=False)  # what the file was read as


def open_bytes(path: Path) -> BinaryIO:
    """The file's bytes; a ``.gz`` file's uncompressed bytes."""
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def transcode_to_utf8(
    src: Path, dst: Path, encoding: str, chunk_size: int = CHUNK_SIZE
) -> TranscodeResult:
    """Decode ``src`` strictly as ``encoding`` and write it to ``dst`` as UTF-8.

    ``auto``: as UTF-8 when the whole file is valid UTF-8, else as GB18030. Memory stays at
    about ``chunk_size`` whatever the file size. ``dst`` appears complete or not at all (temp
    file in its directory, then rename). A byte-order mark at the start is dropped, whatever the
    encoding: it is never data, and DuckDB would take it into the first header.
    Raises TranscodeError on invalid bytes, EncodingMismatch when a GBK/GB18030 file is valid
    UTF-8 with non-ASCII text, and ValueError on an unsupported encoding.
    """
    src, dst = Path(src), Path(dst)
    encoding = normalise_encoding(encoding)
    if encoding != AUTO:
        return _transcode(src, dst, encoding, chunk_size)
    try:
        return _transcode(src, dst, "utf-8", chunk_size)
    except TranscodeError as not_utf8:
        try:
            return _transcode(src, dst, "gb18030", chunk_size, verify=False)
        except TranscodeError as not_gb:
            raise _neither(src, not_utf8, not_gb) from None


def text_for_duckdb(src: Path, dst: Path, encoding: str, chunk_size: int = CHUNK_SIZE) -> Path:
    """The file DuckDB should read for ``src`` declared as ``encoding``: ``src`` itself when its
    text is UTF-8 (DuckDB checks every byte of it as it reads), else a UTF-8 copy at ``dst``.

    ``auto`` decides by the file's first non-ASCII text (``detect_encoding``). Raises as
    ``transcode_to_utf8``.
    """
    src, dst = Path(src), Path(dst)
    encoding = normalise_encoding(encoding)
    if encoding in UTF8_ENCODINGS:
        return src
    if encoding == AUTO:
        detected, not_utf8 = detect_encoding(src, chunk_size)
        if detected == "utf-8":
            return src
        try:
            _transcode(src, dst, "gb18030", chunk_size, verify=False)
        except TranscodeError as not_gb:
            raise _neither(src, not_utf8, not_gb) from None
        return dst
    _transcode(src, dst, encoding, chunk_size)
    return dst


def detect_encoding(src: Path, chunk_size: int = CHUNK_SIZE) -> tuple[str, TranscodeError | None]:
    """``utf-8`` or ``gb18030`` for ``auto``, and where UTF-8 failed (None for UTF-8).

    Pure-ASCII chunks are skipped at memory speed; the first chunk holding non-ASCII bytes
    decides: valid UTF-8 there is UTF-8 (GBK text is practically never valid UTF-8 for long),
    anything else GB18030. A pure-ASCII file is UTF-8.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    consumed = newlines = 0
    with open_bytes(src) as source:
        while True:
            chunk = source.read(chunk_size)
            final = not chunk
            if chunk.isascii() and not final and not decoder.getstate()[0]:
                consumed += len(chunk)
                newlines += chunk.count(b"\n")
                continue
            try:
                text = decoder.decode(chunk, final=final)
            except UnicodeDecodeError as exc:
                return "gb18030", _error(
                    src, "utf-8", exc, consumed + len(chunk), newlines, consumed, chunk
                )
            if final or not text.isascii():
                return "utf-8", None
            consumed += len(chunk)
            newlines += chunk.count(b"\n")


class _Sample:
    """The first run of non-ASCII text in decoded text fed chunk by chunk: its line and up to
    SAMPLE_CHARS characters, even when chunks cut it."""

    def __init__(self) -> None:
        self.line = 0
        self.text = ""
        self.open = True  # still looking or still collecting

    def feed(self, text: str, newlines_before: int) -> None:
        if not self.open or not text or (not self.text and text.isascii()):
            return
        if self.text:  # collecting: the run goes on at the start of this text
            found = _NON_ASCII.match(text)
            if found is None:
                self.open = False
                return
        else:
            found = _NON_ASCII.search(text)
            if found is None:
                return
            self.line = newlines_before + text.count("\n", 0, found.start()) + 1
        self.text = (self.text + found.group())[:SAMPLE_CHARS]
        if found.end() < len(text) or len(self.text) >= SAMPLE_CHARS:
            self.open = False

    def found(self) -> tuple[int, str] | None:
        return (self.line, self.text) if self.text else None


def gb18030_sample(src: Path, chunk_size: int = CHUNK_SIZE) -> tuple[int, str] | None:
    """(line, a few characters) of the first non-ASCII text of a file that is valid GB18030
    throughout, None when it is not (or has no non-ASCII text): the likely encoding of a file
    that is not the UTF-8 it was declared to be."""
    decoder = codecs.getincrementaldecoder("gb18030")(errors="strict")
    sample, newlines = _Sample(), 0
    with open_bytes(src) as source:
        while True:
            chunk = source.read(chunk_size)
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError:
                return None
            sample.feed(text, newlines)  # held-back bytes of a split character are no newline
            if not chunk:
                return sample.found()
            newlines += chunk.count(b"\n")


class _Utf8Shadow:
    """Follows a file's bytes with a strict UTF-8 decoder: are they valid UTF-8, and where is
    the first non-ASCII text (line, a few characters)?"""

    def __init__(self) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
        self.valid = True
        self.sample = _Sample()

    def feed(self, chunk: bytes, newlines_before: int, final: bool) -> None:
        if not self.valid:
            return
        try:
            text = self.decoder.decode(chunk, final=final)
        except UnicodeDecodeError:
            self.valid = False
            return
        self.sample.feed(text, newlines_before)  # held-back bytes of a split character are
        # never a newline


def _transcode(
    src: Path, dst: Path, encoding: str, chunk_size: int, *, verify: bool = True
) -> TranscodeResult:
    """Decode ``src`` strictly as ``encoding`` into ``dst``; ``verify``: refuse a non-UTF-8
    declaration when the file is valid UTF-8 with non-ASCII text."""
    decoder = codecs.getincrementaldecoder(_DECODE_AS.get(encoding, encoding))(errors="strict")
    shadow = _Utf8Shadow() if verify and encoding not in UTF8_ENCODINGS else None
    bytes_in = bytes_out = newlines = 0
    last_byte = b""
    first = True
    dst.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".part")
    temp = Path(temp_name)
    try:
        with open_bytes(src) as source, os.fdopen(handle, "wb") as out:
            while True:
                chunk = source.read(chunk_size)
                final = not chunk
                if shadow is not None:
                    shadow.feed(chunk, newlines, final)
                try:
                    text = decoder.decode(chunk, final=final)
                except UnicodeDecodeError as exc:
                    error = _error(
                        src, encoding, exc, bytes_in + len(chunk), newlines, bytes_in, chunk
                    )
                    if shadow is not None:
                        _finish_shadow(shadow, source, chunk_size, newlines + chunk.count(b"\n"))
                        _refuse_utf8(src, encoding, shadow)
                    raise error from None
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
            if shadow is not None:
                _refuse_utf8(src, encoding, shadow)
            out.flush()
            os.fsync(out.fileno())
        temp.replace(dst)
    finally:
        temp.unlink(missing_ok=True)
    lines = newlines + (1 if bytes_in and last_byte != b"\n" else 0)
    return TranscodeResult(bytes_in=bytes_in, bytes_out=bytes_out, lines=lines, encoding=encoding)


def _finish_shadow(shadow: _Utf8Shadow, source: BinaryIO, chunk_size: int, newlines: int) -> None:
    """Feed the rest of the file to the UTF-8 shadow, as long as it stays valid."""
    while shadow.valid:
        chunk = source.read(chunk_size)
        shadow.feed(chunk, newlines, not chunk)
        if not chunk:
            return
        newlines += chunk.count(b"\n")


def _refuse_utf8(src: Path, encoding: str, shadow: _Utf8Shadow) -> None:
    found = shadow.sample.found()
    if shadow.valid and found is not None:
        raise EncodingMismatch(src, encoding, *found)


def _neither(src: Path, not_utf8: TranscodeError | None, not_gb: TranscodeError) -> TranscodeError:
    """The error of an ``auto`` file that is neither UTF-8 nor GB18030."""
    first = f"invalid at line {not_utf8.line}" if not_utf8 is not None else "invalid"
    return TranscodeError(
        src,
        not_gb.encoding,
        not_gb.line,
        not_gb.offset,
        not_gb.bad,
        f"{src.name}: neither UTF-8 ({first}) nor GB18030 (invalid bytes "
        f"{not_gb.bad.hex(' ')} at line {not_gb.line}, byte offset {not_gb.offset}); set the "
        f"file's encoding in the spec",
    )


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
