"""FTS5's query language and bm25 over PostgreSQL's ``tsvector`` (used by ``PostgresSearch``).

``catalog.search`` hands the store FTS5 query expressions: quoted phrases, ``"x" *`` prefixes,
``field : …`` and ``{f1 f2} : (…)`` column filters, ``NEAR("a" "b", n)``, AND / OR and
parentheses. This module parses that subset and writes it as one ``tsquery`` over
``search_fts.doc`` (see the baseline migration): a phrase is ``'a' <-> 'b'``, a prefix
``'x':*``, a column filter the weights of the fields' class (``'a':B``), a NEAR of two
one-token phrases the OR of their allowed distances. A NEAR beyond that is its tokens ANDed in
the ``tsquery`` (the GIN index's candidates) and checked by ``search_near`` in SQL.

Tokens are cut as FTS5's ``unicode61 remove_diacritics 2`` cuts them (runs of letters, digits
and private-use characters, lower-cased, diacritics removed), on documents and queries alike,
so a phrase matches here what it matches in SQLite.

bm25 is FTS5's (``fts5_aux.c``): for each phrase of the expression, in the order written,
``idf · f·(k1+1) / (f + k1·(1 − b + b·D/avgdl))`` summed, where ``f`` is the phrase's
instances in the row weighted by their field's weight (only the instances taking part in a
NEAR match, for a NEAR's phrases), ``D`` the row's tokens in every field, ``avgdl`` the
index's tokens over its rows, and ``idf = ln((N − n + 0.5)/(n + 0.5))`` (1e-6 when not
positive) with ``n`` the rows matching that phrase alone (with its column filter).
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from warehouse.store.search_index import TEXT_FIELDS

if TYPE_CHECKING:  # numpy only when a search scores, not when the store opens
    import numpy as np
    import numpy.typing as npt

K1, B = 1.2, 0.75
# Positions of field k in ``doc``: k*STRIDE+1 … k*STRIDE+FIELD_TOKENS (tsvector positions end
# at 16,383); the gap keeps phrases and NEARs inside one field.
STRIDE = 2048
FIELD_TOKENS = 1984
# The weight class of each field's positions: a column filter is a set of classes.
FIELD_CLASS = {
    "name": "A",
    "chars": "B",
    "pinyin": "C",
    "tags": "A",
    "category": "A",
    "provider": "A",
    "items": "D",
    "summary": "D",
}
CLASSES = "ABCD"
ALL_FIELDS = frozenset(TEXT_FIELDS)


class QuerySyntaxError(ValueError):
    """An expression outside the FTS5 subset this store reads."""


# --- tokens ---------------------------------------------------------------------------------
@lru_cache(maxsize=65536)
def _fold(char: str) -> str:
    """A token character as unicode61 (remove_diacritics 2) folds it; '' when not one."""
    category = unicodedata.category(char)
    if category[0] not in "LN" and category != "Co":
        return "\x00" if category[0] != "M" else ""
    decomposed = unicodedata.normalize("NFD", char.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tokens(text: str) -> list[str]:
    """``text`` cut into tokens as FTS5's unicode61 tokenizer cuts it."""
    out: list[str] = []
    word: list[str] = []
    for char in text:
        if char.isascii():
            if char.isalnum():
                word.append(char.lower())
                continue
            folded = "\x00"
        else:
            folded = _fold(char)
        if folded == "\x00":
            if word:
                out.append("".join(word))
                word = []
        else:
            word.append(folded)
    if word:
        out.append("".join(word))
    return out


def lexeme(token: str) -> str:
    """A token as a tsvector / tsquery lexeme literal."""
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def document_vector(texts: Mapping[str, str]) -> tuple[str, int, dict[str, set[str]]]:
    """A document's ``doc`` tsvector literal, its length in tokens (every field), and its
    distinct terms by class ('*': any)."""
    positions: dict[str, list[str]] = {}
    size = 0
    terms: dict[str, set[str]] = {"*": set(), **{c: set() for c in CLASSES}}
    for k, name in enumerate(TEXT_FIELDS):
        cut = tokens(texts.get(name, "") or "")
        size += len(cut)
        weight = FIELD_CLASS[name]
        for i, token in enumerate(cut[:FIELD_TOKENS]):
            positions.setdefault(token, []).append(f"{k * STRIDE + i + 1}{weight}")
        distinct = set(cut)
        terms["*"] |= distinct
        terms[weight] |= distinct
    vector = " ".join(f"{lexeme(t)}:{','.join(p)}" for t, p in positions.items())
    return vector, size, terms


# --- the expression -------------------------------------------------------------------------
@dataclass(frozen=True)
class Phrase:
    tokens: tuple[str, ...]
    prefix: bool
    fields: frozenset[str]  # the column filter (every field when none)


@dataclass(frozen=True)
class Near:
    phrases: tuple[Phrase, ...]
    slack: int


@dataclass(frozen=True)
class Op:
    kind: str  # AND | OR
    children: tuple[Node, ...]


Node = Phrase | Near | Op


@dataclass
class _Lexer:
    text: str
    pos: int = 0

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.skip()
        if self.pos >= len(self.text):
            return ""
        char = self.text[self.pos]
        if char in '(){}:*,"':
            return char
        end = self.pos
        while end < len(self.text) and not (
            self.text[end].isspace() or self.text[end] in '(){}:*,"'
        ):
            end += 1
        return self.text[self.pos : end]

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if expected is not None and token != expected:
            raise QuerySyntaxError(f"expected {expected!r} at {self.pos}: {self.text!r}")
        if token == '"':
            end = self.pos + 1
            out = []
            while True:
                if end >= len(self.text):
                    raise QuerySyntaxError(f"unterminated string: {self.text!r}")
                if self.text[end] == '"':
                    if end + 1 < len(self.text) and self.text[end + 1] == '"':
                        out.append('"')
                        end += 2
                        continue
                    break
                out.append(self.text[end])
                end += 1
            self.pos = end + 1
            return '"' + "".join(out)
        self.pos += len(token)
        return token


def parse(expression: str) -> Node | None:
    """The expression's tree (None: it can match nothing, e.g. only empty phrases)."""
    lexer = _Lexer(expression)
    node = _or(lexer, ALL_FIELDS)
    if lexer.peek():
        raise QuerySyntaxError(f"unexpected {lexer.peek()!r} in {expression!r}")
    return node


def _or(lexer: _Lexer, fields: frozenset[str]) -> Node | None:
    children = [_and(lexer, fields)]
    while lexer.peek() == "OR":
        lexer.take()
        children.append(_and(lexer, fields))
    return _combine("OR", children)


def _and(lexer: _Lexer, fields: frozenset[str]) -> Node | None:
    children = [_unary(lexer, fields)]
    while lexer.peek() not in ("", ")", "OR"):
        if lexer.peek() == "AND":
            lexer.take()
        elif lexer.peek() == "NOT":
            raise QuerySyntaxError("NOT is not supported")
        children.append(_unary(lexer, fields))
    return _combine("AND", children)


def _combine(kind: str, children: list[Node | None]) -> Node | None:
    # FTS5 drops empty phrases from AND and OR.
    kept = [c for c in children if c is not None]
    if not kept:
        return None
    if len(kept) == 1:
        return kept[0]
    flat: list[Node] = []
    for child in kept:
        flat.extend(child.children if isinstance(child, Op) and child.kind == kind else [child])
    return Op(kind, tuple(flat))


def _columns(names: list[str], fields: frozenset[str]) -> frozenset[str]:
    unknown = [n for n in names if n not in ALL_FIELDS]
    if unknown:
        raise QuerySyntaxError(f"no such column: {unknown[0]}")
    return fields & frozenset(names)


def _unary(lexer: _Lexer, fields: frozenset[str]) -> Node | None:
    token = lexer.peek()
    if token == "(":
        lexer.take()
        node = _or(lexer, fields)
        lexer.take(")")
        return node
    if token == "{":
        lexer.take()
        names = []
        while lexer.peek() != "}":
            names.append(lexer.take())
        lexer.take("}")
        lexer.take(":")
        return _unary(lexer, _columns(names, fields))
    if token == "NEAR":
        lexer.take()
        lexer.take("(")
        phrases: list[Phrase] = []
        slack = 10
        while lexer.peek() not in (")", ","):
            phrase = _phrase(lexer, fields)
            if phrase is not None:
                phrases.append(phrase)
        if lexer.peek() == ",":
            lexer.take()
            slack = int(lexer.take())
        lexer.take(")")
        if not phrases:
            return None
        return phrases[0] if len(phrases) == 1 else Near(tuple(phrases), slack)
    if (
        token
        and token not in ('"', ")", "*", ":", "}")
        and lexer.text[lexer.pos + len(token) :].lstrip().startswith(":")
    ):
        lexer.take()
        lexer.take(":")
        return _unary(lexer, _columns([token], fields))
    return _phrase(lexer, fields)


def _phrase(lexer: _Lexer, fields: frozenset[str]) -> Phrase | None:
    token = lexer.take()
    if not token or token in ("(", ")", "{", "}", ":", "*", ","):
        raise QuerySyntaxError(f"expected a phrase, got {token!r}: {lexer.text!r}")
    raw = token[1:] if token.startswith('"') else token
    prefix = False
    if lexer.peek() == "*":
        lexer.take()
        prefix = True
    cut = tokens(raw)
    if not cut:
        return None
    return Phrase(tuple(cut), prefix, fields)


def phrases(node: Node | None) -> list[Phrase]:
    """Every phrase of the tree, in the order written (bm25's order)."""
    if node is None:
        return []
    if isinstance(node, Phrase):
        return [node]
    if isinstance(node, Near):
        return list(node.phrases)
    return [p for child in node.children for p in phrases(child)]


# --- as SQL -----------------------------------------------------------------------------------
def classes_of(fields: frozenset[str]) -> str:
    """The weight classes of a column filter ('' for every field)."""
    if fields == ALL_FIELDS:
        return ""
    classes = sorted({FIELD_CLASS[f] for f in fields})
    covered = {f for f in ALL_FIELDS if FIELD_CLASS[f] in classes}
    if covered != fields:
        raise QuerySyntaxError(
            f"column filter {sorted(fields)} is not a union of the index's field classes"
        )
    return "".join(classes)


def phrase_query(phrase: Phrase) -> str:
    """One phrase as a tsquery."""
    if not phrase.fields:
        return ""  # an empty column filter: nothing
    classes = classes_of(phrase.fields)
    parts = []
    for i, token in enumerate(phrase.tokens):
        last = i == len(phrase.tokens) - 1
        suffix = ("*" if phrase.prefix and last else "") + classes
        parts.append(lexeme(token) + (":" + suffix if suffix else ""))
    return parts[0] if len(parts) == 1 else "(" + " <-> ".join(parts) + ")"


@dataclass
class Sql:
    """A WHERE condition on ``search_fts`` (alias ``f``) and its parameters."""

    text: str
    params: list[object] = field(default_factory=list)


def to_sql(node: Node | None) -> Sql:
    """The expression as a condition; whole subtrees that are pure tsqueries stay one."""
    query = _tsquery(node)
    if query is not None:
        return Sql("f.doc @@ ?::tsquery", [query]) if query else Sql("FALSE")
    assert node is not None
    if isinstance(node, Near):
        # The phrases one after the other (a NEAR match, found by the index alone), or all of
        # them in one row and search_near's check of their distances.
        adjacent = " <-> ".join(phrase_query(p) for p in node.phrases)
        candidates = " & ".join(phrase_query(p) for p in node.phrases)
        classes = classes_of(node.phrases[0].fields)
        return Sql(
            "(f.doc @@ ?::tsquery OR (f.doc @@ ?::tsquery "
            "AND search_near(f.doc, ?::text[], ?, ?)))",
            [
                adjacent,
                candidates,
                [" ".join(p.tokens) for p in node.phrases],
                node.slack,
                classes,
            ],
        )
    assert isinstance(node, Op)
    pure = [q for c in node.children if (q := _tsquery(c)) is not None]
    rest = [to_sql(c) for c in node.children if _tsquery(c) is None]
    glue = " & " if node.kind == "AND" else " | "
    parts = []
    if pure:
        if node.kind == "AND" and "" in pure:
            return Sql("FALSE")
        kept = [q for q in pure if q]
        if kept:
            parts.append(Sql("f.doc @@ ?::tsquery", [glue.join(f"({q})" for q in kept)]))
    parts.extend(rest)
    if not parts:
        return Sql("FALSE")
    return Sql(
        "(" + f" {node.kind} ".join(p.text for p in parts) + ")",
        [x for p in parts for x in p.params],
    )


def _tsquery(node: Node | None) -> str | None:
    """The node as one tsquery ('' matches nothing), or None when it needs ``search_near``."""
    if node is None:
        return ""
    if isinstance(node, Phrase):
        return phrase_query(node)
    if isinstance(node, Near):
        return _near_query(node)
    children = [_tsquery(c) for c in node.children]
    if any(c is None for c in children):
        return None
    if node.kind == "AND":
        return "" if "" in children else " & ".join(f"({c})" for c in children)
    kept = [c for c in children if c]
    return " | ".join(f"({c})" for c in kept) if kept else ""


def _near_query(near: Near) -> str | None:
    """Two one-token phrases within ``slack`` of each other, as the OR of their distances."""
    a, b = near.phrases[0], near.phrases[-1]
    if len(near.phrases) != 2 or len(a.tokens) != 1 or len(b.tokens) != 1:
        return None
    if a.prefix or b.prefix or a.fields != b.fields or a.tokens == b.tokens:
        return None
    if not a.fields:
        return ""
    if near.slack + 1 >= STRIDE - FIELD_TOKENS:
        return None
    left, right = phrase_query(a), phrase_query(b)
    # FTS5: the later start ≤ the earlier's start + its length (1) + slack.
    reach = near.slack + 1
    alternatives = [f"{x} <{d}> {y}" for d in range(1, reach + 1) for x, y in ((left, right),)]
    alternatives += [f"{y} <{d}> {x}" for d in range(1, reach + 1) for x, y in ((left, right),)]
    # The two terms ANDed first: the planner's estimate of the OR alone would pick a seq scan.
    return f"{left} & {right} & (" + " | ".join(f"({q})" for q in alternatives) + ")"


# --- the query's terms in the matching rows ---------------------------------------------------
# A row's ``doc`` cut down to the query's terms, in SQL: every position weighted D, the query's
# terms' A, and only A kept (three passes in C over the vector; ts_delete of the complement
# built as a text array cost ~17 µs a row). The weights are not needed: a position says its
# field.
CUT = "ts_filter(setweight(setweight({doc}, 'D'), 'A', {terms}), '{{a}}')"
# Position p of row i as one integer (positions end at 16,383 < 2**15).
_KEY = 1 << 15


@dataclass(frozen=True)
class Hits:
    """Every position of the query's terms in the matching rows: ``rows`` (the row's number
    among the matches), ``terms`` (index into ``names``), ``positions``; ordered by row, then
    term, then position."""

    count: int  # matching rows
    names: list[str]
    rows: npt.NDArray[np.int64]
    terms: npt.NDArray[np.int64]
    positions: npt.NDArray[np.int64]


def hits(count: int, names: Sequence[str], cut: str | None) -> Hits:
    """The ``Hits`` of ``count`` rows from their cut docs' text as one string: each row ``-1``
    then its vector (``'term':12A,40 …``), rows separated by a space (see ``search.scored``).
    The text becomes numbers by string replacement (a term ``-2 - index``, a row ``-1``) and is
    read by numpy in one call: no Python work per row."""
    import numpy as np

    text = cut or ""
    for i, name in enumerate(names):
        text = text.replace(f"'{_escaped(name)}':", f"{-2 - i} ")
    if "'" in text:
        raise ValueError("a cut document holds a term the query did not ask for")
    text = text.replace("A", "").replace(",", " ")
    numbers = (
        np.fromstring(text, sep=" ", dtype=np.int64) if text.strip() else np.zeros(0, np.int64)
    )
    is_row = numbers == -1
    if int(is_row.sum()) != count:
        raise ValueError(f"{int(is_row.sum())} cut documents for {count} rows")
    row = np.cumsum(is_row) - 1
    index = np.arange(len(numbers))
    last_term = np.maximum.accumulate(np.where(numbers <= -2, index, 0))
    at = numbers > 0
    return Hits(
        count=count,
        names=list(names),
        rows=row[at],
        terms=-numbers[last_term[at]] - 2,
        positions=numbers[at],
    )


def _escaped(name: str) -> str:
    # tsvector's output doubles quotes and backslashes inside a lexeme.
    return name.replace("\\", "\\\\").replace("'", "''")


# --- bm25 -------------------------------------------------------------------------------------
@lru_cache(maxsize=256)
def _field_numbers(fields: frozenset[str]) -> tuple[int, ...]:
    return tuple(sorted(TEXT_FIELDS.index(f) for f in fields))


@dataclass(frozen=True)
class Statistics:
    rows: int  # documents in the index
    tokens: int  # their tokens, every field
    hits: list[int]  # per phrase (in order), the documents matching it alone


class Scorer:
    """bm25 of the rows matching one expression (the statistics read once), every row at
    once over arrays (numpy)."""

    def __init__(self, tree: Node | None, stats: Statistics, weights: Sequence[float]) -> None:
        self.leaves = _leaves(tree)
        self.stats = stats
        self.weights = list(weights)
        self.idf = []
        for hits in stats.hits:
            idf = math.log((stats.rows - hits + 0.5) / (hits + 0.5)) if stats.rows else 0.0
            self.idf.append(idf if idf > 0.0 else 1e-6)
        self.avgdl = stats.tokens / stats.rows if stats.rows else 1.0

    def scores(self, found: Hits, sizes: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """FTS5's bm25 of each row (positive: higher is better; FTS5 returns it negated).

        The same arithmetic in the same order as FTS5 (``fts5Bm25Function``) per row: a
        phrase's frequency sums its instances' field weights in the order of their positions,
        and the phrases' terms are added in the order written."""
        import numpy as np

        if self.stats.rows <= 0:
            return np.zeros(found.count, dtype=np.float64)
        rows = _Rows(found, np.asarray(self.weights, dtype=np.float64))
        frequencies: list[npt.NDArray[np.float64]] = []
        for leaf in self.leaves:
            if isinstance(leaf, Near):
                frequencies.extend(rows.frequency(k) for k in rows.near(leaf))
            else:
                frequencies.append(rows.frequency(rows.starts(leaf)))
        norm = K1 * (1 - B + B * sizes.astype(np.float64) / self.avgdl)
        score = np.zeros(found.count, dtype=np.float64)
        for frequency, idf in zip(frequencies, self.idf, strict=True):
            score += idf * ((frequency * (K1 + 1.0)) / (frequency + norm))
        return score


class _Rows:
    """Positions as keys (row · 2**15 + position), sorted, per term."""

    def __init__(self, found: Hits, weights: npt.NDArray[np.float64]) -> None:
        import numpy as np

        self.found = found
        self.weights = weights
        keys = found.rows * _KEY + found.positions
        order = np.lexsort((keys, found.terms))
        keys, terms = keys[order], found.terms[order]
        bounds = np.searchsorted(terms, np.arange(len(found.names) + 1))
        self.keys = {name: keys[bounds[i] : bounds[i + 1]] for i, name in enumerate(found.names)}

    def _term(self, token: str, prefix: bool) -> npt.NDArray[np.int64]:
        import numpy as np

        if not prefix:
            return self.keys.get(token, np.zeros(0, dtype=np.int64))
        parts = [k for name, k in self.keys.items() if name.startswith(token)]
        return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)

    def starts(self, phrase: Phrase) -> npt.NDArray[np.int64]:
        """Keys of the phrase's instances (their first token) in its column filter, sorted."""
        import numpy as np

        n = len(phrase.tokens)
        ends = self._term(phrase.tokens[-1], phrase.prefix)
        position = ends % _KEY
        first = (position - n + 1 - 1) // STRIDE
        last = (position - 1) // STRIDE
        ok = np.isin(first, np.asarray(_field_numbers(phrase.fields), dtype=np.int64))
        ok &= first == last
        starts = ends - (n - 1)
        for j, token in enumerate(phrase.tokens[:-1]):
            ok &= np.isin(starts + j, self._term(token, False), assume_unique=True)
        return starts[ok]

    def near(self, near: Near) -> list[npt.NDArray[np.int64]]:
        """Per phrase, the keys of its instances taking part in a NEAR match (FTS5 counts only
        those): an instance is kept when, for some instance ``top`` of any phrase, every
        phrase has an instance at most ``top`` and at least ``top`` − its length − slack, in
        ``top``'s field."""
        import numpy as np

        starts = [self.starts(p) for p in near.phrases]
        if any(len(s) == 0 for s in starts):
            return [np.zeros(0, dtype=np.int64) for _ in starts]
        tops = np.unique(np.concatenate(starts))
        position = tops % _KEY
        field_start = tops - position + ((position - 1) // STRIDE) * STRIDE + 1
        valid = np.ones(len(tops), dtype=bool)
        spans = []
        for phrase, keys in zip(near.phrases, starts, strict=True):
            low = np.maximum(tops - len(phrase.tokens) - near.slack, field_start)
            a = np.searchsorted(keys, low, side="left")
            b = np.searchsorted(keys, tops, side="right")
            valid &= b > a
            spans.append((a, b))
        kept = []
        for keys, (a, b) in zip(starts, spans, strict=True):
            marks = np.zeros(len(keys) + 1, dtype=np.int64)
            np.add.at(marks, a[valid], 1)
            np.add.at(marks, b[valid], -1)
            kept.append(keys[np.cumsum(marks)[:-1] > 0])
        return kept

    def frequency(self, keys: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """Per row, the field weights of these instances summed (in position order)."""
        import numpy as np

        field = ((keys % _KEY) - 1) // STRIDE
        return np.bincount(
            keys // _KEY, weights=self.weights[field], minlength=self.found.count
        ).astype(np.float64)


def _leaves(node: Node | None) -> list[Phrase | Near]:
    if node is None:
        return []
    if isinstance(node, Phrase | Near):
        return [node]
    return [leaf for child in node.children for leaf in _leaves(child)]
