"""The bytes of a JSON file as ijson's C parser can take them, streamed.

yajl needs valid UTF-8 and fails on escapes of unpaired surrogates (``"\\udc92"``, which real
data.json files have) and on raw control characters. ``Utf8Stream`` transcodes a file in another
encoding to UTF-8 (undecodable bytes marked), replaces an unpaired surrogate's escape by a marker
character (``common.JSON_SURROGATE_MARK``) and a raw control byte by its escape. With ``repair``
(used only once a file has shown the need), raw tabs, newlines and carriage returns inside
strings, which strict JSON forbids but hand-made exports have, become escapes too.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from catalog.importing.reading.common import JSON_SURROGATE_MARK
from catalog.importing.reading.encoding import CHUNK

# An escaped backslash (consumed so that parity stays right), a surrogate escape with or
# without the low half that pairs it, or a raw control byte (invalid in JSON text).
_FIX = re.compile(
    rb"\\\\|\\u([dD][89abAB][0-9a-fA-F]{2})(\\u[dD][c-fC-F][0-9a-fA-F]{2})?"
    rb"|\\u([dD][c-fC-F][0-9a-fA-F]{2})|[\x00-\x08\x0b\x0c\x0e-\x1f]"
)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_CONTROL_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
# What could make a record's values need cleaning: a surrogate escape, the escape of a control
# character, or DEL. A file that has none anywhere (nearly every file) has no record checked.
_SUSPECT_ESCAPE = re.compile(rb"\\(?:u[dD][89a-fA-F]|u00[01]|u007[fF]|[bf])")
_HIGH = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}")


def _fix(match: re.Match[bytes]) -> bytes:
    if match.group(1):
        if match.group(2):
            return match.group()  # a surrogate pair: a real character
        return chr(JSON_SURROGATE_MARK + int(match.group(1), 16)).encode()
    if match.group(3):
        return chr(JSON_SURROGATE_MARK + int(match.group(3), 16)).encode()
    text = match.group()
    return text if text == b"\\\\" else b"\\u%04x" % text[0]


def _safe_split(buf: bytes) -> int:
    """Where ``buf`` may be cut so that no escape (nor a run of backslashes, nor a surrogate
    pair) is split between this piece and the next."""
    i = buf.find(b"\\", max(0, len(buf) - 12))
    if i < 0:
        return len(buf)
    while i > 0 and buf[i - 1] == 0x5C:
        i -= 1
    if i >= 6 and _HIGH.fullmatch(buf, i - 6, i):
        i -= 6
        while i > 0 and buf[i - 1] == 0x5C:
            i -= 1
    return i


class Utf8Stream:
    """A JSON file's bytes as the parser can take them (see the module's docstring).
    ``consumed`` is how far into the file reading has got, for error messages."""

    def __init__(
        self,
        path: Path,
        encoding: str,
        transcode: bool,
        marks: bool,
        *,
        repair: bool = False,
        chunk_size: int = CHUNK,
    ) -> None:
        self.handle = path.open("rb")
        self.repair = StringRepair() if repair else None
        self.chunk_size = chunk_size
        self.decoder = (
            codecs.getincrementaldecoder(encoding)(errors="mulu-mark-json") if transcode else None
        )
        self.consumed = 0
        self.pending = b""
        self.started = False
        # Set (for good) once the bytes read so far hold anything a value must not keep; the
        # parser is never ahead of the reading, so records before that need no check.
        self.suspect = marks  # undecodable bytes, marked in the transcoding

    def read(self, size: int = -1) -> bytes:
        """The next piece, of whatever length (ijson takes what it gets); read(0) is how ijson
        asks whether the stream gives bytes or text."""
        if size == 0:
            return b""
        while True:
            chunk = self.handle.read(self.chunk_size)
            at_end = not chunk
            self.consumed += len(chunk)
            if self.decoder is not None:
                chunk = self.decoder.decode(chunk, final=at_end).encode("utf-8")
            if not self.started:
                chunk = chunk.removeprefix(codecs.BOM_UTF8)
                self.started = bool(chunk)
            if self.repair is not None:
                chunk = self.repair(chunk)
                if at_end:
                    chunk, self.repair.carry = chunk + self.repair.carry, b""
            buf = self.pending + chunk
            if at_end:
                out, self.pending = buf, b""
            else:
                split = _safe_split(buf)
                out, self.pending = buf[:split], buf[split:]
            fix = len(out.translate(None, _CONTROL_BYTES)) != len(out)
            fix = fix or _SURROGATE_ESCAPE.search(out) is not None
            if fix:
                out = _FIX.sub(_fix, out)
            if not self.suspect:
                self.suspect = (
                    fix
                    or b"\x7f" in out
                    or (b"\\" in out and _SUSPECT_ESCAPE.search(out) is not None)
                )
            if out or at_end:
                return out

    def close(self) -> None:
        self.handle.close()

    def __enter__(self) -> Utf8Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StringRepair:
    """Raw tab, newline and carriage return inside JSON strings as escapes. Knows whether the
    stream is inside a string across pieces. Python per string: only for files that need it."""

    _BODY = re.compile(rb'(?:[^"\\]|\\.)*', re.DOTALL)

    def __init__(self) -> None:
        self.in_string = False
        self.carry = b""

    def __call__(self, data: bytes) -> bytes:
        data, self.carry = self.carry + data, b""
        out: list[bytes] = []
        pos, end = 0, len(data)
        while pos < end:
            if not self.in_string:
                quote = data.find(b'"', pos)
                if quote < 0:
                    out.append(data[pos:])
                    break
                out.append(data[pos : quote + 1])
                pos, self.in_string = quote + 1, True
                continue
            stop = self._BODY.match(data, pos).end()  # type: ignore[union-attr]
            out.append(_escape_whitespace(data[pos:stop]))
            if stop < end and data[stop] == 0x22:  # the closing quote
                out.append(b'"')
                pos, self.in_string = stop + 1, False
            else:  # the piece ends inside the string (maybe on a backslash whose pair is next)
                self.carry = data[stop:]
                break
        return b"".join(out)


def _escape_whitespace(body: bytes) -> bytes:
    if b"\n" in body or b"\r" in body or b"\t" in body:
        return body.replace(b"\n", b"\\n").replace(b"\r", b"\\r").replace(b"\t", b"\\t")
    return body
