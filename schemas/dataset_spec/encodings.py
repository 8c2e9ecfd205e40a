"""Text encodings (字符编码) a source file may use; everything is transcoded to UTF-8.

``auto`` (the default) reads a file as UTF-8 when its text is valid UTF-8 and as GB18030 (a
superset of GBK and GB2312) otherwise, as the catalogue importer does. A declared non-UTF-8
encoding is verified: a file that is valid UTF-8 with non-ASCII text is refused rather than read
as mojibake (张伟 → 寮犱紵).
"""

from __future__ import annotations

import codecs

AUTO = "auto"
DEFAULT_ENCODING = AUTO
TEXT_ENCODINGS = (AUTO, "utf-8", "utf-8-sig", "gbk", "gb18030")
# The encodings whose bytes are UTF-8 (a BOM aside): DuckDB reads those files as they are.
UTF8_ENCODINGS = ("utf-8", "utf-8-sig")
# GB2312 files are valid GBK (a superset); cp936 is Microsoft's name for GBK.
_ENCODING_ALIASES = {"gb2312": "gbk", "cp936": "gbk"}


def normalise_encoding(name: str) -> str:
    """The canonical name of a supported text encoding (``UTF8`` → ``utf-8``, ``CP936`` → ``gbk``,
    ``AUTO`` → ``auto``)."""
    text = str(name).strip()
    if text.lower() == AUTO:
        return AUTO
    try:
        canonical = codecs.lookup(text).name
    except LookupError:
        canonical = text.lower()
    canonical = _ENCODING_ALIASES.get(canonical, canonical)
    if canonical not in TEXT_ENCODINGS:
        raise ValueError(f"unsupported encoding {name!r}: expected {', '.join(TEXT_ENCODINGS)}")
    return canonical
