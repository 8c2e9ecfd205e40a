"""Chinese text for the search index: jieba segmentation, pinyin initials, abbreviations.

The index stores every text field as jieba's search-mode tokens joined by spaces, so SQLite's
``unicode61`` tokenizer (which keeps a run of Han characters as ONE token) sees words:
"社保卡申领" → "社保 社保卡 申领". Queries are segmented by the same code (``query_words``).

jieba is initialised once per process (about 0.5 s: its prefix dictionary, cached by jieba in
``~/.cache/mulu/jieba`` after the first run) and its logging silenced. Anything that changes
how text is segmented (jieba's version, ``EXTRA_WORDS``, the rules below) must bump
``SEGMENTER_VERSION``: the index is rebuilt when the stored version differs.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import tempfile
import threading
import unicodedata
from pathlib import Path

SEGMENTER_VERSION = "2"

# Words jieba's dictionary lacks that government catalogues use; (word, frequency).
EXTRA_WORDS = (
    ("网格员", 2000),
    ("公租房", 2000),
    ("人社", 2000),
    ("卫健", 2000),
    ("住建", 2000),
    ("市监", 2000),
    ("规上", 2000),
    ("一网通办", 2000),
    ("信息资源", 2000),
    ("信息项", 2000),
    ("统一社会信用代码", 2000),
    ("电子证照", 2000),
)

# Abbreviations (简称) and the full forms they stand for. A query word containing one side is
# also searched with the other: 社保卡 finds 社会保障卡, 社会保障 finds 社保.
ABBREVIATIONS = {
    "社保": ("社会保障", "社会保险"),
    "医保": ("医疗保障", "医疗保险"),
    "低保": ("最低生活保障",),
    "人社": ("人力资源和社会保障",),
    "发改": ("发展和改革",),
    "卫健": ("卫生健康",),
    "市监": ("市场监督管理", "市场监管"),
    "住建": ("住房和城乡建设",),
    "残联": ("残疾人联合会",),
    "公租房": ("公共租赁住房",),
    "规上": ("规模以上",),
    "网格员": ("网格管理员",),
}

STOP_WORDS = frozenset({"的", "了", "和", "与", "及", "或", "等", "之", "其"})

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_ASCII_WORD = re.compile(r"^[a-z]+$")

_lock = threading.Lock()
_ready = False


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mulu" / "jieba"


def _jieba():
    """The jieba module, initialised once per process (thread-safe)."""
    global _ready
    import jieba

    if _ready:
        return jieba
    with _lock:
        if not _ready:
            jieba.setLogLevel(logging.WARNING)
            logging.getLogger("jieba").setLevel(logging.WARNING)
            folder = cache_dir()
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError:
                folder = Path(tempfile.gettempdir())
            jieba.dt.tmp_dir = str(folder)
            jieba.initialize()
            for word, freq in EXTRA_WORDS:
                jieba.add_word(word, freq)
            _ready = True
    return jieba


def initialize() -> None:
    """Load jieba's dictionary and pypinyin now (about 0.7 s) rather than on first use."""
    _jieba()
    char_initial("中")


def normalise(text: str | None) -> str:
    """NFKC (full-width → half-width), lower case, whitespace collapsed, trimmed."""
    if not text:
        return ""
    return " ".join(unicodedata.normalize("NFKC", str(text)).lower().split())


def compact(text: str | None) -> str:
    """``normalise`` without any whitespace: the key for exact-name comparison."""
    return "".join(normalise(text).split())


def _keep(token: str) -> bool:
    """A token that ``unicode61`` keeps something of (a letter, digit or Han character)."""
    return any(c.isalnum() for c in token)


# jieba segments each run of these characters on its own (its ``re_han_default``), so a run is
# segmented the same wherever it appears: runs are what is cached.
_BLOCK = re.compile(r"[\u4E00-\u9FD5a-zA-Z0-9+#&\._%\-]+")


@functools.lru_cache(maxsize=400_000)
def _segment_block(block: str) -> tuple[str, ...]:
    return tuple(t for t in _jieba().cut_for_search(block) if _keep(t))


@functools.lru_cache(maxsize=200_000)
def segment(text: str) -> str:
    """Search-mode tokens of ``text`` joined by spaces (what the FTS table stores)."""
    text = normalise(text)
    if not text:
        return ""
    return " ".join(t for block in _BLOCK.findall(text) for t in _segment_block(block))


@functools.lru_cache(maxsize=200_000)
def han_chars(text: str) -> str:
    """Every Han character and ASCII word of ``text`` as its own token: substring matching of
    names ("表" finds 登记表) whatever jieba made of them."""
    text = normalise(text)
    out: list[str] = []
    word: list[str] = []
    for char in text:
        if _HAN.match(char):
            if word:
                out.append("".join(word))
                word = []
            out.append(char)
        elif char.isalnum():
            word.append(char)
        elif word:
            out.append("".join(word))
            word = []
    if word:
        out.append("".join(word))
    return " ".join(out)


@functools.lru_cache(maxsize=100_000)
def _initials(word: str) -> str:
    """Pinyin initials of one word's Han characters (pypinyin reads the word as a phrase, so
    polyphones come out right: 重庆 → cq)."""
    from pypinyin import Style, lazy_pinyin

    han = "".join(_HAN_RUN.findall(word))
    if not han:
        return ""
    letters = lazy_pinyin(han, style=Style.FIRST_LETTER, errors="ignore")
    return "".join(ch for letter in letters for ch in letter.lower()[:1] if ch.isalnum())


@functools.lru_cache(maxsize=200_000)
def _words_block(block: str) -> tuple[str, ...]:
    return tuple(_jieba().cut(block))


def words(text: str) -> list[str]:
    """jieba's precise-mode words of ``text`` (punctuation and spaces dropped)."""
    text = normalise(text)
    return [w for block in _BLOCK.findall(text) for w in _words_block(block)]


@functools.lru_cache(maxsize=200_000)
def pinyin_initials(text: str) -> str:
    """Pinyin initials tokens of a name: the whole name's ("社保卡申领" → "sbksl"), each word's
    ("sbk", "sl") and each tail from a word boundary ("sl"), so that a prefix query ``sbk*``
    or ``sl*`` finds the name. Characters other than Han are left out."""
    if not text or not _HAN.search(text):
        return ""
    parts = [p for p in (_initials(w) for w in words(text)) if p]
    tokens = {"".join(parts[i:]) for i in range(len(parts))} | set(parts)
    return " ".join(sorted(tokens, key=lambda t: (-len(t), t)))


# A query's words are ANDed: a word twice asks nothing more, and past a few words a query is
# pasted text, not a search. Bounding them bounds the cost of the longest query allowed.
MAX_QUERY_WORDS = 16


def query_words(text: str) -> list[str]:
    """The words a query must all match: jieba's precise mode, stop words and punctuation
    dropped (a query of only stop words keeps them), each word once, the first
    ``MAX_QUERY_WORDS`` of them."""
    found = [w for w in words(text) if _keep(w)]
    kept = [w for w in found if w not in STOP_WORDS] or found
    return list(dict.fromkeys(kept))[:MAX_QUERY_WORDS]


def is_pinyin_query(word: str) -> bool:
    return 2 <= len(word) <= 24 and _ASCII_WORD.match(word) is not None


def has_han(text: str) -> bool:
    return _HAN.search(text) is not None


def cover(word: str) -> list[str]:
    """``word`` split into dictionary words, longest first from the left (single characters
    where none fits): 统计数据 → 统计 + 数据, 社保卡 → 社保 + 卡. Used when the documents
    segmented the same characters differently (人口统计数据 → 人口统计 / 数据)."""
    freq = _jieba().dt.FREQ
    parts, i = [], 0
    while i < len(word):
        for size in range(min(len(word) - 1, 6), 0, -1):
            piece = word[i : i + size]
            if size == 1 or freq.get(piece):
                parts.append(piece)
                i += size
                break
    return parts


def variants(word: str) -> list[str]:
    """``word`` and its forms with abbreviations expanded or contracted (社保卡 → 社会保障卡)."""
    found = [word]
    for short, longs in ABBREVIATIONS.items():
        for full in longs:
            if short in word and full not in word:
                found.append(word.replace(short, full))
            if full in word:
                found.append(word.replace(full, short))
    return list(dict.fromkeys(found))


@functools.lru_cache(maxsize=50_000)
def char_initial(char: str) -> str:
    """The pinyin initial of one Han character (its most common reading), for highlighting."""
    from pypinyin import Style, lazy_pinyin

    letters = lazy_pinyin(char, style=Style.FIRST_LETTER, errors="ignore")
    return letters[0][:1].lower() if letters else ""


def fold(value: str) -> str:
    """``value`` NFKC-normalised and lower-cased character by character, keeping its length
    (so that positions found in it are positions in ``value``)."""
    if unicodedata.is_normalized("NFKC", value):  # the common case: one C-level pass
        lowered = value.lower()
        if len(lowered) == len(value):
            return lowered
    out = []
    for char in value:
        folded = unicodedata.normalize("NFKC", char).lower()
        out.append(folded if len(folded) == 1 else char.lower()[:1] or char)
    return "".join(out)
