"""What every reader shares: the read error, the field size limit, and cleaning bad characters
out of values (unpaired surrogates, control characters, undecodable bytes) into U+FFFD with a
warning per field, so one bad character never costs a record, let alone a file."""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from catalog.importing.records import Problem
from schemas.errors import InvalidInput
from schemas.messages import Lang, Reason

# The largest field (in UTF-8 bytes) a record may carry; a larger one rejects that record only.
# 4 MiB holds any real description or 信息项 list (the largest field in the real exports is
# under 10 KB) while keeping one record's memory bounded however a file is broken.
MAX_FIELD_BYTES = 4 * 1024 * 1024

REPLACEMENT = "\ufffd"
SHOWN_LIMIT = 500  # characters of a field's bad values shown in its warning

# Markers: what a reader puts in decoded text where the file had something that is not a
# character, so the record that holds it can be told (and warned about) later.
# - an undecodable byte B in a delimited text file becomes the lone surrogate U+DC00+B (as
#   Python's surrogateescape does; a strict decoder never yields a surrogate otherwise);
# - in a JSON file (which the parser needs as valid UTF-8) a JSON escape of an unpaired
#   surrogate S becomes U+100000+S and an undecodable byte B becomes U+10FE00+B: characters of
#   the supplementary private use area B, which no catalogue uses.
BYTE_MARK = 0xDC00
JSON_SURROGATE_MARK = 0x100000
JSON_BYTE_MARK = 0x10FE00

_CONTROL = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f"  # C0 controls except \t \n \r, and DEL
_SURROGATES = "\ud800-\udfff"
_JSON_MARKS = "\U0010d800-\U0010dfff\U0010fe00-\U0010feff"
# Anything a value must not keep; searched once per record in its raw text before any field is
# looked at (almost every record has none).
SUSPECT = re.compile(f"[{_CONTROL}{_SURROGATES}{_JSON_MARKS}]")
# A JSON text (json.dumps output) escapes C0 controls as \\u00XX, \\b or \\f: suspect those too.
SUSPECT_JSON = re.compile(f"[{_CONTROL}{_SURROGATES}{_JSON_MARKS}]|\\\\(?:u00[01]|[bf])")
_BAD = re.compile(f"[{_CONTROL}{_SURROGATES}]")
_SURROGATE = re.compile(f"[{_SURROGATES}]")
_JSON_BYTE = re.compile("[\U0010fe00-\U0010feff]")
_JSON_MARK = re.compile(f"[{_JSON_MARKS}]")


class ReadError(InvalidInput):
    """A whole file that cannot be read as a catalogue export (found before, or instead of,
    its records): ``path``, and a ``Reason`` whose Chinese text is the message."""

    def __init__(self, path: Path | str, code: str, **params: Any) -> None:
        self.path = str(path)
        self.reason = Reason(code, {"file": self.path, **params})
        super().__init__(self.reason.text("zh"))

    def text(self, lang: Lang = "zh") -> str:
        return self.reason.text(lang)


def escaped(text: str, *, surrogates_are_bytes: bool = False) -> str:
    """``text`` as the file had it, bad characters written as escapes: an undecodable byte as
    \\xNN, an unpaired surrogate as \\udXXX, a control character as \\xNN."""
    out = []
    for char in text:
        code = ord(char)
        if JSON_BYTE_MARK <= code <= JSON_BYTE_MARK + 0xFF:
            out.append(f"\\x{code - JSON_BYTE_MARK:02x}")
        elif JSON_SURROGATE_MARK + 0xD800 <= code <= JSON_SURROGATE_MARK + 0xDFFF:
            out.append(f"\\u{code - JSON_SURROGATE_MARK:04x}")
        elif 0xD800 <= code <= 0xDFFF:
            if surrogates_are_bytes:
                out.append(f"\\x{code - BYTE_MARK:02x}")
            else:
                out.append(f"\\u{code:04x}")
        elif code < 0x20 and char not in "\t\n\r" or code == 0x7F:
            out.append(f"\\x{code:02x}")
        else:
            out.append(char)
    return "".join(out)


def _unmark_json(text: str, *, keep: bool) -> str:
    """JSON markers back to what they stand for: an unpaired surrogate (``keep``) or U+FFFD;
    an undecodable byte is always U+FFFD (it has no character)."""
    if not _JSON_MARK.search(text):
        return text
    out = []
    for char in text:
        code = ord(char)
        if JSON_SURROGATE_MARK + 0xD800 <= code <= JSON_SURROGATE_MARK + 0xDFFF:
            out.append(chr(code - JSON_SURROGATE_MARK) if keep else REPLACEMENT)
        elif JSON_BYTE_MARK <= code <= JSON_BYTE_MARK + 0xFF:
            out.append(REPLACEMENT)
        else:
            out.append(char)
    return "".join(out)


_NOT_TEXT = re.compile("[\ud800-\udfff\U0010fe00-\U0010feff]")


def valid_text(text: str) -> str:
    """A record's decoded text as it can be stored (valid UTF-8): the markers of undecodable
    bytes become U+FFFD; everything else, control characters too, stays as the file had it."""
    return _NOT_TEXT.sub(REPLACEMENT, text) if SUSPECT.search(text) else text


_ENCODER = json.JSONEncoder(ensure_ascii=False)


def exact_number(literal: Decimal | str) -> float | str:
    """A JSON number with a fraction or an exponent, as a field keeps it: a float where the
    float reads back as the same number (1.50 -> 1.5, 0.1), else the number's exact text
    ("12345678901234567890.123456789", "1E+400"): a float would change it, and a Decimal
    cannot be stored (entries.source_record is written with json.dumps)."""
    value = float(literal)
    text = str(literal)
    if repr(value) == text:  # the usual case, without building another Decimal
        return value
    number = literal if isinstance(literal, Decimal) else Decimal(literal)
    if math.isfinite(value) and Decimal(repr(value)) == number:
        return value
    return text


_NESTED = (Decimal, dict, list)  # what exact_numbers looks into


def exact_numbers(value: Any) -> tuple[Any, bool]:
    """A JSON value (ijson's: numbers with a fraction as Decimal) with ``exact_number``s, and
    whether json.dumps of it writes each of those numbers as the file did (117.5 yes; 1.50,
    written 1.5, or a number kept as text, no)."""
    if type(value) is Decimal:
        text = str(value)
        number = float(value)
        if repr(number) == text:
            return number, True
        return exact_number(value), False
    if type(value) is dict:
        same = True
        converted = {}
        for key, item in value.items():
            if type(item) in _NESTED:
                item, item_same = exact_numbers(item)
                same = same and item_same
            converted[key] = item
        return converted, same
    if type(value) is list:
        pairs = [exact_numbers(item) for item in value]
        return [item for item, _ in pairs], all(same for _, same in pairs)
    return value, True


def exact_json(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False)``, with each Decimal written as its own digits
    (1.50 stays "1.50" in a record's raw text, where a float would write 1.5)."""
    try:
        return _ENCODER.encode(value)
    except TypeError:  # a Decimal in it (nothing else ijson gives is unknown to json)
        pass
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        pairs = (f"{_ENCODER.encode(key)}: {exact_json(item)}" for key, item in value.items())
        return "{" + ", ".join(pairs) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(exact_json(item) for item in value) + "]"
    return _ENCODER.encode(value)


def json_raw(value: Any) -> str:
    """A JSON value as text (``json.dumps(ensure_ascii=False)``, Decimals as their digits),
    valid UTF-8: unpaired surrogates are written as \\udXXX escapes, undecodable bytes as
    U+FFFD."""
    text = exact_json(value)
    if not SUSPECT.search(text):
        return text
    text = _unmark_json(text, keep=True)
    # A surrogate can stand only inside a JSON string here, where its escape is valid JSON.
    return re.sub(f"[{_SURROGATES}]", lambda m: f"\\u{ord(m.group()):04x}", text)


class Cleaner:
    """Cleans the values of one record, collecting a warning per affected field."""

    __slots__ = ("row", "encoding", "problems", "_undecodable")

    def __init__(self, row: int, encoding: str | None, *, surrogates_are_bytes: bool) -> None:
        """``surrogates_are_bytes``: text decoded by a reader of delimited text, where a
        surrogate can only be the marker of an undecodable byte; in JSON a surrogate is a
        character the file escaped (and undecodable bytes have markers of their own)."""
        self.row = row
        self.encoding = encoding
        self.problems: list[Problem] = []
        self._undecodable = _SURROGATE if surrogates_are_bytes else _JSON_BYTE

    def fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        cleaned: dict[str, Any] = {}
        for key, value in fields.items():
            name = self._key(key, None)
            cleaned[name] = self.value(value, name)
        return cleaned

    def text(self, text: str, field: str) -> str:
        """One string, cleaned; a warning for each kind of bad character it had."""
        original = text
        undecodable = len(self._undecodable.findall(text))
        if undecodable:
            text = self._undecodable.sub(REPLACEMENT, text)
            encoding = (self.encoding or "utf-8").upper().removesuffix("-SIG")
            self._warn(field, "undecodable_bytes", original, count=undecodable, encoding=encoding)
        text = _unmark_json(text, keep=True)
        bad = len(_BAD.findall(text))
        if bad:
            text = _BAD.sub(REPLACEMENT, text)
            self._warn(field, "bad_characters", original, count=bad)
        return text

    def value(self, value: Any, field: str) -> Any:
        if isinstance(value, str):
            return self.text(value, field)
        if isinstance(value, dict):
            return {self._key(k, field): self.value(v, field) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, field) for v in value]
        return value

    def _key(self, key: Any, field: str | None) -> Any:
        """A key, cleaned; its warning goes to ``field``, or for a top-level key to the
        cleaned key itself (the name the field is known by from here on)."""
        if not isinstance(key, str):
            return key
        if field is None:
            bytes_marked = self._undecodable is _SURROGATE
            field = Cleaner(self.row, self.encoding, surrogates_are_bytes=bytes_marked).text(
                key, ""
            )
        return self.text(key, field)

    def _warn(self, field: str, code: str, original: str, **params: Any) -> None:
        # One warning per field and kind, however many of its strings (nested too) had some.
        for problem in self.problems:
            if problem.field == field and problem.reason.code == code:
                params["count"] += problem.reason.params["count"]
                self.problems.remove(problem)
                shown = problem.value
                if len(shown) < SHOWN_LIMIT:  # enough to find it by; a long list stays short
                    shown = f"{shown} | {self._escaped(original)}"
                break
        else:
            shown = self._escaped(original)
        self.problems.append(Problem(self.row, field, Reason(code, params), "warning", value=shown))

    def _escaped(self, text: str) -> str:
        return escaped(text, surrogates_are_bytes=self._undecodable is _SURROGATE)


def too_large(text: str) -> int | None:
    """The size in bytes of a field over ``MAX_FIELD_BYTES``, else None (cheap: a string of
    at most a quarter of the limit in characters cannot be over it)."""
    if len(text) <= MAX_FIELD_BYTES // 4:
        return None
    size = len(text.encode("utf-8", "surrogatepass"))
    return size if size > MAX_FIELD_BYTES else None


# A sheet's footer lines ("制表人：张三", "审核人：", "填报日期：2023-05-08", "注：…"): a row with one
# filled cell that starts with one of these words and a colon is a note, never a record.
NOTE_WORDS = (
    "制表人",
    "填表人",
    "填报人",
    "审核人",
    "负责人",
    "填报日期",
    "制表日期",
    "填报单位",
    "注",
    "备注",
    "说明",
)
_NOTE = re.compile(f"(?:{'|'.join(NOTE_WORDS)})[：:]")


def note_row(cells: list[Any]) -> bool:
    """Whether a row is a note below (or above) a table: exactly one filled cell, text that
    starts with a ``NOTE_WORDS`` word and a colon (spaces, as in "制 表 人：", ignored)."""
    filled = [cell for cell in cells if cell not in ("", None) and str(cell).strip()]
    if len(filled) != 1 or not isinstance(filled[0], str):
        return False
    text = filled[0].replace(" ", "").replace("\u3000", "")
    return _NOTE.match(text) is not None


def preview(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + f"…（共 {len(text)} 字符）"
