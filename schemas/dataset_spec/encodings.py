"""Text encodings (字符编码) a source file may use; everything is transcoded to UTF-8."""

from __future__ import annotations

import codecs

TEXT_ENCODINGS = ("utf-8", "utf-8-sig", "gbk", "gb18030")
# GB2312 files are valid GBK (a superset); cp936 is Microsoft's name for GBK.
_ENCODING_ALIASES = {"gb2312": "gbk", "cp936": "gbk"}


def normalise_encoding(name: str) -> str:
    """The canonical name of a supported text encoding (``UTF8`` → ``utf-8``, ``CP936`` → ``gbk``)."""
    try:
        canonical = codecs.lookup(str(name).strip()).name
    except LookupError:
        canonical = str(name).strip().lower()
    canonical = _ENCODING_ALIASES.get(canonical, canonical)
    if canonical not in TEXT_ENCODINGS:
        raise ValueError(f"unsupported encoding {name!r}: expected {', '.join(TEXT_ENCODINGS)}")
    return canonical
