"""The search index (目录检索) in PostgreSQL: the same tables as SQLite's (``search_docs``,
``search_values``, ``search_meta``, ``search_pending``, filled by the trigger
``search_entries_queue``) with ``search_fts`` a tsvector column under a GIN index in place of
FTS5, and ``search_terms`` bm25's statistics (documents per term, rows, tokens), kept by every
``write_batch``.

The expressions ``catalog.search`` plans are FTS5's; ``warehouse.store.postgres.fts`` parses
them into one tsquery (or a tsquery and a NEAR check) and computes bm25 exactly as FTS5 does
over the matching rows' positions of the query's terms, so both stores rank alike.

Id sets leave as one ``string_agg`` parsed by numpy, as SQLite's ``group_concat`` do.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from warehouse.store.database import Database
from warehouse.store.postgres import fts
from warehouse.store.search_index import (
    DOC_COLUMNS,
    FACET_COLUMNS,
    TEXT_FIELDS,
    VALUE_FACETS,
    VALUE_ID_COLUMNS,
    Ids,
    SearchDocument,
)
from warehouse.store.sql.rows import chunks, marks
from warehouse.store.sql.search_tables import (
    SearchTables,
    id_array,
    next_generation,
    value_ids_of,
    write_meta,
)

_FACET_SQL = {
    "active": "active",
    "tracked": "tracked",
    **VALUE_ID_COLUMNS,
    "soon_at": "coalesce(soon_at, 'NaN')",
    "overdue_at": "coalesce(overdue_at, 'NaN')",
    "updated": "coalesce(updated_epoch, -1)",
    "name_len": "length(name)",
}
_FACET_SELECT = ", ".join(
    ["string_agg(id::text, ',')"]
    + [f"string_agg(({_FACET_SQL[c]})::text, ',')" for c in FACET_COLUMNS]
)
_UPSERT_DOC = (
    f"INSERT INTO search_docs (id, {', '.join(DOC_COLUMNS)}, "
    f"{', '.join(VALUE_ID_COLUMNS[f] for f in VALUE_FACETS)}, active, gen, updated_epoch) "
    f"VALUES ({marks(1 + len(DOC_COLUMNS) + len(VALUE_FACETS) + 3)}) "
    "ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(
        f"{c} = excluded.{c}"
        for c in (
            *DOC_COLUMNS,
            *(VALUE_ID_COLUMNS[f] for f in VALUE_FACETS),
            "active",
            "gen",
            "updated_epoch",
        )
    )
)
# The index's generation, read in the statement that reads rows (see _RecentMatches).
_GENERATION = "(SELECT value FROM search_meta WHERE key = 'generation')"
# Matches kept per thread for scored, and the largest kept (scored is asked of ≤ 4,000).
_REMEMBERED = 64
_REMEMBER_IDS = 20_000
# Queue rows removed before a caught-up refresh vacuums the queue.
_VACUUM_AFTER = 5_000
# Above every character of a token: [prefix, prefix + _LAST_CHAR) holds the terms under it.
_LAST_CHAR = "\U0010ffff"
_TERMS_DELTA = (
    "INSERT INTO search_terms (class, term, docs) "
    "SELECT * FROM unnest(?::text[], ?::text[], ?::bigint[]) "
    "ON CONFLICT (class, term) DO UPDATE SET docs = search_terms.docs + excluded.docs"
)


# An ISO date or datetime as SQLite's strftime('%s', …) reads it (the SQLite index's "updated"
# facet column): a day past the month's end rolls over, a zone offset is subtracted, a bare
# number is a Julian day, anything else is None. Computed once when a document is written: a
# SQL function per row on every facet read took 13 s for 35,700 documents.
_ISO = re.compile(
    r"^([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"(?:[ T]([01][0-9]|2[0-4]):([0-5][0-9])(?::([0-5][0-9])(?:\.[0-9]+)?)?)?"
    r" ?(Z|[+-][0-9]{2}:[0-9]{2})?$"
)
_EPOCH_DAY = date(1970, 1, 1)


_JULIAN = re.compile(r"^[0-9]+(?:\.[0-9]*)?$")
_JULIAN_MAX = 5373484.5  # SQLite's last Julian day number (9999-12-31)


def sqlite_epoch(value: str | None) -> int | None:
    match = _ISO.match(value) if value else None
    if match is None:
        if value and _JULIAN.match(value) and float(value) < _JULIAN_MAX:
            return round((float(value) - 2440587.5) * 86400)  # a bare number is a Julian day
        return None
    year, month, day, hour, minute, second, zone = match.groups()
    days = (date(int(year), int(month), 1) - _EPOCH_DAY).days + int(day) - 1
    seconds = days * 86400 + int(hour or 0) * 3600 + int(minute or 0) * 60 + int(second or 0)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return seconds


class PostgresSearch(SearchTables):
    """The search index's storage on PostgreSQL (see the module doc)."""

    FACET_SELECT = _FACET_SELECT
    ID_LIST = "string_agg(id::text, ',')"

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.location = db.location
        self._dequeued = 0  # queue rows this object removed since it last vacuumed the queue
        self._recent = _RecentMatches()

    # --- writes --------------------------------------------------------------------------
    def start_rebuild(self, segmenter: str) -> None:
        with self.db.transaction() as con:
            con.execute("TRUNCATE search_docs, search_fts, search_terms")
            con.execute("TRUNCATE search_values RESTART IDENTITY")
            con.execute("DELETE FROM search_pending")
            con.execute("INSERT INTO search_pending (code) SELECT code FROM entries ORDER BY code")
            con.execute("DELETE FROM search_meta WHERE key IN ('policy_signature', 'policies')")
            write_meta(con, "segmenter", segmenter)
            write_meta(con, "index_id", uuid.uuid4().hex)
            write_meta(con, "generation", "0")

    def write_batch(
        self, documents: Sequence[SearchDocument], handled: Sequence[str], through: int
    ) -> int:
        wanted = {
            (facet, value)
            for doc in documents
            for facet in VALUE_FACETS
            if (value := doc.facet_value(facet))
        }
        built = {doc.code for doc in documents}
        vectors = [fts.document_vector(doc.text) for doc in documents]
        with self.db.transaction() as con:
            generation = next_generation(con)
            value_ids = value_ids_of(con, wanted)
            existing: dict[str, tuple[int, int]] = {}
            for chunk in chunks(list(handled)):
                for row in con.execute(
                    f"SELECT code, id, active FROM search_docs WHERE code IN ({marks(len(chunk))})",
                    chunk,
                ):
                    existing[row[0]] = (int(row[1]), int(row[2]))
            next_id = int(con.execute("SELECT max(id) FROM search_docs").fetchone()[0] or 0) + 1
            delta: Counter[tuple[str, str]] = Counter()
            old = [doc_id for doc_id, active in existing.values() if active]
            if old:
                # What the replaced rows counted in bm25's statistics goes.
                for row in con.execute(
                    "SELECT u.lexeme, array_to_string(array_agg(DISTINCT w), '') "
                    "FROM search_fts f, unnest(f.doc) u, unnest(u.weights) w "
                    "WHERE f.id = ANY(?::bigint[]) GROUP BY f.id, u.lexeme",
                    (old,),
                ):
                    delta[("*", row[0])] -= 1
                    for weight in row[1]:
                        delta[(weight, row[0])] -= 1
                totals = con.execute(
                    "SELECT count(*), coalesce(sum(size), 0) FROM search_fts "
                    "WHERE id = ANY(?::bigint[])",
                    (old,),
                ).fetchone()
                delta[("#", "rows")] -= int(totals[0])
                delta[("#", "tokens")] -= int(totals[1])
                con.execute("DELETE FROM search_fts WHERE id = ANY(?::bigint[])", (old,))
            gone = [
                (generation, doc_id)
                for code, (doc_id, active) in existing.items()
                if active and code not in built
            ]
            if gone:
                con.executemany("UPDATE search_docs SET active = 0, gen = ? WHERE id = ?", gone)
            rows, fts_ids, fts_sizes, fts_docs = [], [], [], []
            for doc, (vector, size, terms) in zip(documents, vectors, strict=True):
                if doc.code in existing:
                    doc_id = existing[doc.code][0]
                else:
                    doc_id, next_id = next_id, next_id + 1
                ids = [value_ids.get((f, doc.facet_value(f) or ""), 0) for f in VALUE_FACETS]
                rows.append(
                    (
                        doc_id,
                        *(getattr(doc, c) for c in DOC_COLUMNS),
                        *ids,
                        1,
                        generation,
                        sqlite_epoch(doc.updated_at),
                    )
                )
                fts_ids.append(doc_id)
                fts_sizes.append(size)
                fts_docs.append(vector)
                for cls, found in terms.items():
                    for term in found:
                        delta[(cls, term)] += 1
                delta[("#", "rows")] += 1
                delta[("#", "tokens")] += size
            if rows:
                con.executemany(_UPSERT_DOC, rows)
                con.execute(
                    "INSERT INTO search_fts (id, size, doc) "
                    "SELECT * FROM unnest(?::bigint[], ?::bigint[], ?::tsvector[])",
                    (fts_ids, fts_sizes, fts_docs),
                )
            changed = sorted((k, v) for k, v in delta.items() if v)
            if changed:
                con.execute(
                    _TERMS_DELTA,
                    (
                        [k[0] for k, _ in changed],
                        [k[1] for k, _ in changed],
                        [v for _, v in changed],
                    ),
                )
                con.execute("DELETE FROM search_terms WHERE docs = 0 AND class <> '#'")
            con.execute("DELETE FROM search_pending WHERE id <= ?", (through,))
        self._dequeued += len(handled)
        if not self.has_pending():
            # Caught up: the GIN index's pending list (fast writes) goes into the index proper,
            # so that searches do not scan it; after a large refresh (a rebuild) the queue's
            # dead rows go too: every search's freshness check reads the queue, and autovacuum
            # comes when it comes (a rebuild at ×10 left 36 MB of them to scan).
            con = self.db.connection()
            con.execute("SELECT gin_clean_pending_list('search_fts_doc')")
            if self._dequeued >= _VACUUM_AFTER and not con.in_transaction:
                con.execute("VACUUM (SKIP_LOCKED) search_pending")
                self._dequeued = 0
        return len(gone)

    # --- reads for a query ---------------------------------------------------------------
    def matching(self, expression: str) -> Ids:
        """Index ids of the documents matching an FTS5 query expression."""
        tree = fts.parse(expression)
        condition = fts.to_sql(tree)
        row = (
            self.db.connection()
            .execute(
                f"SELECT string_agg(f.id::text, ','), {_GENERATION} "
                f"FROM search_fts f WHERE {condition.text}",
                condition.params,
            )
            .fetchone()
        )
        ids = id_array(row[0])
        self._recent.keep(tree, row[1], ids)
        return ids

    def scored(self, expression: str, weights: Mapping[str, float]) -> tuple[Ids, Ids]:
        """(ids, bm25 × -1e6 as integers: higher is better) of every match, FTS5's bm25.

        One statement: the query's terms (a prefix's from ``search_terms``), bm25's statistics,
        and the matching rows' ids, sizes and docs cut down to those terms, each as one text
        value; numpy reads them and scores every row at once (``fts.Scorer``). No snapshot
        (BEGIN and ROLLBACK are two more round trips): statistics a write later than the rows
        shift scores as little as that write does."""
        import numpy as np

        tree = fts.parse(expression)
        condition = fts.to_sql(tree)
        phrases = fts.phrases(tree)
        stats_sql, stats_params, order = _statistics_columns(phrases)
        exact = sorted({t for p in phrases for t in p.tokens})
        prefixes = sorted({p.tokens[-1] for p in phrases if p.prefix})
        terms, terms_params = "?::text[]", [exact]
        if prefixes:
            # The index's terms under each prefix: a range of search_terms' key (C collation).
            terms = (
                "ARRAY(SELECT t FROM unnest(?::text[]) t UNION "
                "SELECT s.term FROM unnest(?::text[], ?::text[]) AS r(low, high), "
                "LATERAL (SELECT term FROM search_terms WHERE class = '*' "
                "AND term >= r.low AND term < r.high) s)"
            )
            terms_params = [exact, prefixes, [p + _LAST_CHAR for p in prefixes]]
        select = (
            f"WITH q AS MATERIALIZED (SELECT {terms} AS terms) "
            f"SELECT (SELECT terms FROM q), {', '.join(stats_sql)}, {_GENERATION}, count(*), "
            "string_agg(f.id::text, ','), string_agg(f.size::text, ','), "
            "string_agg(concat_ws(' ', '-1', "
            + fts.CUT.format(doc="f.doc", terms="(SELECT terms FROM q)")
            + "::text), ' ') FROM search_fts f WHERE "
        )
        con = self.db.connection()
        row = None
        known = self._recent.found(tree)
        if known is not None:
            # Matched a moment ago (catalog.search matches the expression, or each branch of
            # its OR, before scoring it): the rows by id, not the GIN index again, unless the
            # index changed since (its generation, read in the same statement as the rows).
            generation, matched = known
            row = con.execute(
                select + "f.id = ANY(?::bigint[])",
                [*terms_params, *stats_params, "{" + ",".join(map(str, matched.tolist())) + "}"],
            ).fetchone()
            if row[-5] != generation:
                row = None
        if row is None:
            row = con.execute(
                select + condition.text, [*terms_params, *stats_params, *condition.params]
            ).fetchone()
        count = int(row[-4])
        if not count:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        stats = row[1 : 1 + len(stats_sql)]
        statistics = fts.Statistics(
            int(stats[0] or 0), int(stats[1] or 0), [int(stats[i] or 0) for i in order]
        )
        scorer = fts.Scorer(tree, statistics, [float(weights.get(f, 1.0)) for f in TEXT_FIELDS])
        ids, sizes = id_array(row[-3]), id_array(row[-2])
        score = scorer.scores(fts.hits(count, list(row[0]), row[-1]), sizes)
        # SQLite: CAST(bm25(…) * -1000000 AS INTEGER) of bm25 = -score (truncated to 0).
        return ids, ((-score) * -1000000.0).astype(np.int64)

    def with_code_between(self, low: str, high: str) -> Ids:
        return self._ids(
            'SELECT id FROM search_docs WHERE code COLLATE "C" >= ? AND code COLLATE "C" < ? '
            "AND active = 1",
            (low, high),
        )

    def documents(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        if not ids:
            return {}
        con = self.db.connection()
        found: dict[int, dict[str, Any]] = {}
        for chunk in chunks([int(i) for i in ids]):
            cursor = con.execute(
                f"SELECT id, {', '.join(DOC_COLUMNS)} FROM search_docs WHERE id = ANY(?::bigint[])",
                (list(chunk),),
            )
            for row in cursor:
                found[row[0]] = dict(row)
        return found

    # --- facet columns -------------------------------------------------------------------


class _RecentMatches(threading.local):
    """This thread's last matches (``matching``), by expression tree, with the index's
    generation they were read at: ``scored`` reads the rows of an expression matched a moment
    ago by id."""

    def __init__(self) -> None:
        self.matches: OrderedDict[fts.Node, tuple[str | None, Ids]] = OrderedDict()

    def keep(self, tree: fts.Node | None, generation: str | None, ids: Ids) -> None:
        if tree is None or len(ids) > _REMEMBER_IDS:
            return
        self.matches[tree] = (generation, ids)
        self.matches.move_to_end(tree)
        while len(self.matches) > _REMEMBERED:
            self.matches.popitem(last=False)

    def found(self, tree: fts.Node | None) -> tuple[str | None, Ids] | None:
        """The ids matching ``tree``, from the matches kept: the tree's own, or the union of
        its OR's branches' (all read at one generation); None when not known."""
        import numpy as np

        if tree is None:
            return None
        if tree in self.matches:
            return self.matches[tree]
        if not (isinstance(tree, fts.Op) and tree.kind == "OR"):
            return None
        parts = [self.matches.get(child) for child in tree.children]
        if any(p is None for p in parts):
            return None
        known = [p for p in parts if p is not None]
        if len({generation for generation, _ in known}) != 1:
            return None
        return known[0][0], np.unique(np.concatenate([ids for _, ids in known]))


def _statistics_columns(
    phrases: Sequence[fts.Phrase],
) -> tuple[list[str], list[object], list[int]]:
    """bm25's numbers as scalar subqueries: rows and tokens of the index, and per phrase the
    rows matching it alone (a one-token phrase from ``search_terms``, any other counted by the
    GIN index). Returns the columns, their parameters, and per phrase its column."""
    columns = [
        "(SELECT docs FROM search_terms WHERE class = '#' AND term = 'rows')",
        "(SELECT docs FROM search_terms WHERE class = '#' AND term = 'tokens')",
    ]
    params: list[object] = []
    slots: dict[tuple[str, str], int] = {}
    order = []
    for phrase in phrases:
        classes = fts.classes_of(phrase.fields) or "*"
        if len(phrase.tokens) == 1 and not phrase.prefix and len(classes) == 1:
            key = ("term", classes + " " + phrase.tokens[0])
            sql = "(SELECT docs FROM search_terms WHERE class = ? AND term = ?)"
            values: list[object] = [classes, phrase.tokens[0]]
        else:
            query = fts.phrase_query(phrase)
            key = ("phrase", query)
            sql = "(SELECT count(*) FROM search_fts WHERE doc @@ ?::tsquery)" if query else "0"
            values = [query] if query else []
        if key not in slots:
            slots[key] = len(columns)
            columns.append(sql)
            params.extend(values)
        order.append(slots[key])
    return columns, params, order
