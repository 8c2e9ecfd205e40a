"""Highlighting (高亮): matched words in ``<mark>…</mark>``, the rest HTML-escaped.

Matching is case-insensitive and NFKC-folded (``text.fold``); a latin query word that matched
a name by its pinyin initials (``sbk``) marks the Han characters they spell (社保卡).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from catalog.search import text

_MARK = ("<mark>", "</mark>")


def _spans(value: str, marks: Iterable[str]) -> list[tuple[int, int]]:
    """Character spans of ``value`` where any of ``marks`` occurs, merged."""
    folded = text.fold(value)
    spans = []
    for mark in sorted({m for m in marks if m}, key=len, reverse=True):
        start = folded.find(mark)
        while start >= 0:
            spans.append((start, start + len(mark)))
            start = folded.find(mark, start + 1)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _pinyin_spans(value: str, words: Sequence[str]) -> list[tuple[int, int]]:
    """Spans of Han characters whose pinyin initials spell one of ``words``."""
    positions, letters = [], []
    for i, char in enumerate(value):
        if text.has_han(char):
            initial = text.char_initial(char)
            if initial:
                positions.append(i)
                letters.append(initial)
    joined = "".join(letters)
    spans = []
    for word in words:
        at = joined.find(word)
        if at >= 0:
            spans.append((positions[at], positions[at + len(word) - 1] + 1))
    return spans


def _render(value: str, spans: list[tuple[int, int]]) -> str:
    out, last = [], 0
    for start, end in sorted(spans):
        if start < last:
            continue
        out.append(html.escape(value[last:start]))
        out.append(_MARK[0] + html.escape(value[start:end]) + _MARK[1])
        last = end
    out.append(html.escape(value[last:]))
    return "".join(out)


def highlight(value: str, marks: Iterable[str], pinyin: Sequence[str] = ()) -> str:
    """``value`` HTML-escaped with every occurrence of ``marks`` in ``<mark>…</mark>``."""
    spans = _spans(value, marks)
    if pinyin and not spans:
        spans = _pinyin_spans(value, pinyin)
    return _render(value, spans)


def snippet(value: str, marks: Iterable[str], *, width: int = 80) -> str:
    """An excerpt of ``value`` (about ``width`` characters) around its first match, marked;
    the beginning when nothing matches."""
    if len(value) <= width:
        return highlight(value, marks)
    spans = _spans(value, marks)
    start = max(0, spans[0][0] - width // 4) if spans else 0
    end = min(len(value), start + width)
    start = max(0, end - width)
    part = value[start:end]
    inner = [
        (max(s - start, 0), min(e - start, len(part))) for s, e in spans if s < end and e > start
    ]
    return ("…" if start else "") + _render(part, inner) + ("…" if end < len(value) else "")
