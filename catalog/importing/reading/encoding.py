"""Which encoding a text export is in: UTF-8 (with or without BOM), UTF-16 (with BOM, Excel's
"Unicode text"; or without, told by its zero bytes), GB18030 (a superset of GBK and GB2312,
what Chinese exports use). Streamed, so memory stays flat however large the file.

A file that no encoding decodes strictly is read in the one that fits best, its undecodable
bytes marked (``mulu-mark``: byte B becomes the lone surrogate U+DC00+B, which a strict decoder
never yields), so the record holding them is warned about and every valid byte stays exact.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from catalog.importing.reading.common import BYTE_MARK, JSON_BYTE_MARK, ReadError
from schemas.messages import Joined

# Tried in order when a file has no BOM.
TEXT_ENCODINGS = ("utf-8-sig", "gb18030")
CHUNK = 1 << 20
# A file whose best encoding leaves more undecodable bytes than this share of its non-ASCII
# bytes is not text in any encoding Mulu knows (a renamed spreadsheet, a picture…).
MAX_UNDECODABLE_SHARE = 0.2


def _mark_bytes(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return "".join(chr(BYTE_MARK + b) for b in bad), error.end


def _mark_bytes_json(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return "".join(chr(JSON_BYTE_MARK + b) for b in bad), error.end


codecs.register_error("mulu-mark", _mark_bytes)
codecs.register_error("mulu-mark-json", _mark_bytes_json)
_MARKS = re.compile("[\udc00-\udcff]")


def bom_encoding(head: bytes) -> str | None:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 text without BOM: mostly ASCII (delimiters, digits, header punctuation), so
    every other byte is zero."""
    if len(head) < 8:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) > 0.3 * len(odd) and even.count(0) == 0:
        return "utf-16-le"
    if even.count(0) > 0.3 * len(even) and odd.count(0) == 0:
        return "utf-16-be"
    return None


def sniff_encoding(path: Path) -> tuple[str, int]:
    """The encoding a text file is in, and how many of its bytes that encoding cannot decode
    (0 for nearly every file). Raises ReadError for an empty file or one that is no text."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    if not head:
        raise ReadError(path, "empty_file")
    if len(head) < 4096 and not head.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise ReadError(path, "blank_file")
    marked = bom_encoding(head) or _utf16_without_bom(head)
    candidates = [marked] if marked else list(TEXT_ENCODINGS)
    if not marked and _binary(head):
        raise ReadError(path, "unknown_encoding", encodings=Joined(tuple(_shown(candidates))))
    for encoding in candidates:
        if _decodes_strictly(path, encoding):
            return encoding, 0
    # Not one decodes it whole: the one that fits best, its undecodable bytes marked.
    counted = {encoding: _count_errors(path, encoding) for encoding in candidates}
    encoding = min(candidates, key=lambda e: _badness(*counted[e]))
    errors, decoded = counted[encoding]
    if errors > MAX_UNDECODABLE_SHARE * max(decoded, 1):
        raise ReadError(path, "unknown_encoding", encodings=Joined(tuple(_shown(candidates))))
    return encoding, errors


def _shown(encodings: list[str]) -> list[str]:
    return [e.upper().removesuffix("-SIG") for e in encodings]


_CONTROLS = bytes([*range(0x09), 0x0B, *range(0x0E, 0x20)])


def _binary(head: bytes) -> bool:
    """Not text at all (a zip, a picture, a spreadsheet saved under .csv): text has next to no
    control bytes; these formats are full of them (NUL above all)."""
    controls = len(head) - len(head.translate(None, _CONTROLS))
    return controls > 0.05 * len(head)


def detect_encoding(path: Path) -> str:
    """The encoding to read a text export in (see ``sniff_encoding``)."""
    return sniff_encoding(Path(path))[0]


def _decodes_strictly(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _count_errors(path: Path, encoding: str) -> tuple[int, int]:
    """(undecodable bytes, non-ASCII characters decoded) of the file in ``encoding``."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="mulu-mark")
    errors = decoded = 0
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(CHUNK)
            text = decoder.decode(chunk, final=not chunk)
            marks = len(_MARKS.findall(text))
            errors += marks
            decoded += len(text) - len(text.encode("ascii", "ignore")) - marks
            if not chunk:
                return errors, decoded


def _badness(errors: int, decoded: int) -> float:
    """Errors per decoded non-ASCII character. GB18030 decodes most byte pairs, so UTF-8 text
    read as GB18030 has few errors but is garbage; read as UTF-8 the same file has a stray bad
    byte among thousands of valid multi-byte characters. GBK text read as UTF-8 has most of its
    characters undecodable. The ratio tells them apart where the raw count does not."""
    return errors / max(decoded, 1)
