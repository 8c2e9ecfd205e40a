"""The store's seam: what every metadata store implementation provides, repository by
repository (``typing.Protocol``). ``Store`` types its repositories by these, so mypy checks that
the implementations conform: ``warehouse.store.sql`` (one for SQLite and PostgreSQL) and each
engine's search (``warehouse.store.sqlite.search``, ``warehouse.store.postgres.search``).

Values cross the seam as plain dicts, numbers, strings and the value types of
``warehouse.store.fields``, ``warehouse.store.freshness_values`` and
``warehouse.store.search_index``: never SQL text, cursors or connections.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    import pyarrow as pa

from warehouse.store.fields import EntryKey, EntryPage, ScoreKey
from warehouse.store.freshness_values import NoticeKey, Override, SentNotice
from warehouse.store.search_index import (
    Deadlines,
    FacetColumns,
    Ids,
    IndexState,
    SearchDocument,
)


class Entries(Protocol):
    """Catalogue entries (目录条目) and the 顺序码 sequences of their 信息资源代码."""

    def get(self, code: str) -> dict[str, Any] | None: ...

    def by(self, key: EntryKey, values: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Entries whose ``key`` (code or source_key) is one of ``values``, by that value."""
        ...

    def iter(
        self, *, status: str | None = "active", codes: Sequence[str] | None = None
    ) -> Generator[dict[str, Any], None, None]:
        """Entries in code order: those with ``status`` (None: every status), optionally only
        ``codes``.
        """
        ...

    def count(
        self,
        *,
        status: str | None = "active",
        source: str | None = None,
        provider_code: str | None = None,
    ) -> int:
        """Entries with ``status`` (None: any) that came from ``source`` and belong to
        ``provider_code`` (None: any).
        """
        ...

    def page(
        self,
        *,
        provider: str | None = None,
        share_type: str | None = None,
        update_cycle: str | None = None,
        status: str = "active",
        limit: int = 50,
        offset: int = 0,
    ) -> EntryPage:
        """One page of entries in code order, filtered by exact values (None: no filter);
        ``provider`` matches a 提供方代码 or a 提供方 name. ``total`` counts every match.
        """
        ...

    def code_list(
        self, *, status: str = "active", limit: int | None = None, offset: int = 0
    ) -> list[str]:
        """Codes of the entries with ``status`` in code order (``limit`` None: all)."""
        ...

    def codes(self) -> set[str]:
        """Every entry's 信息资源代码, retired ones included."""
        ...

    def has_source_key_prefix(self, prefix: str) -> bool:
        """Whether any entry's source_key starts with ``prefix``."""
        ...

    def counts(self, column: str, *, status: str = "active") -> dict[str, int]:
        """Active entries per value of ``column`` (``未说明`` for none), most first."""
        ...

    def allocate_sequence(self, classification: str) -> int:
        """The next free 顺序码 under a 分类码 (inside the caller's transaction, if any)."""
        ...

    def insert(self, entries: Sequence[dict[str, Any]]) -> None: ...

    def update(self, changes: Sequence[dict[str, Any]]) -> None:
        """Each change: ``code`` plus the columns to set."""
        ...


class Organisations(Protocol):
    """Organisations (提供方): the bodies that provide entries."""

    def all(self) -> list[dict[str, Any]]: ...

    def get(self, code: str) -> dict[str, Any] | None: ...

    def find(self, code_or_name: str) -> dict[str, Any] | None:
        """The organisation with this code, else the first registered with this name."""
        ...

    def all_with_entry_counts(self) -> list[dict[str, Any]]:
        """Every organisation in code order, with ``entries``: its number of active entries."""
        ...

    def codes_by_name(self) -> dict[str, str]: ...

    def upsert(self, organisations: Sequence[dict[str, Any]]) -> None:
        """Insert or update by code; a field given as None keeps its stored value."""
        ...

    def fill_blank(self, contacts: Sequence[dict[str, Any]]) -> None:
        """Each item: ``code`` plus contact columns (contact_name/phone/email), set only where
        the organisation has none."""
        ...


class History(Protocol):
    """Every change of an entry (entry_history) and every update of its data (entry_updates)."""

    def of(self, code: str) -> list[dict[str, Any]]: ...

    def add(self, changes: Sequence[dict[str, Any]]) -> None: ...

    def updates(self, code: str) -> list[dict[str, Any]]: ...

    def update_times(self, codes: Sequence[str]) -> dict[str, set[str]]:
        """The 最近更新时间 of every data-update event of ``codes``, by code."""
        ...

    def recent_updates(self, code: str, limit: int) -> list[dict[str, Any]]:
        """The entry's ``limit`` latest data-update events, newest first."""
        ...

    def add_updates(self, events: Sequence[dict[str, Any]]) -> None: ...

    def count_updates(self, *, source: str | None = None) -> int: ...

    def has_load(self, load_id: str) -> bool:
        """Whether a pipeline load is registered already (by its load id)."""
        ...


class Imports(Protocol):
    """Bulk imports of catalogue exports, their state and the problems they found.

    An import row always ends in a state: ``running`` while its process lives, then
    ``finished``, ``failed`` (``error`` says why) or ``interrupted`` (its process died without
    finishing; re-running the import resumes it)."""

    def start(
        self,
        file: str,
        mapping: str,
        by: str,
        started_at: str,
        *,
        pid: int | None = None,
        host: str | None = None,
    ) -> int:
        """A new import row, status ``running``; its id."""
        ...

    def progress(self, import_id: int, counts: Mapping[str, int]) -> None:
        """The counts so far of a running import (so a killed one shows how far it got)."""
        ...

    def add_problems(self, import_id: int, problems: Sequence[Mapping[str, Any]]) -> None:
        """Rejects and warnings: dicts with row, field, severity, code, reason, record, raw."""
        ...

    def finish(
        self,
        import_id: int,
        counts: Mapping[str, int],
        finished_at: str,
        *,
        status: Literal["finished", "failed", "interrupted"] = "finished",
        error: str | None = None,
        rejects_file: str | None = None,
    ) -> None: ...

    def mark_interrupted(self, host: str, alive: Callable[[int], bool]) -> list[int]:
        """Mark ``running`` imports of ``host`` whose process is gone (``alive(pid)`` false) as
        ``interrupted``; their ids."""
        ...

    def get(self, import_id: int) -> dict[str, Any] | None: ...

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest imports, newest first."""
        ...

    def problems(
        self, import_id: int, *, severity: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """An import's problems in row order."""
        ...


class Loads(Protocol):
    """The ledger of dataset loads: started, failed, held for review, published (and the
    lake commit each publish made, for exactly-once recovery)."""

    def get(self, load_id: str) -> dict[str, Any] | None: ...

    def history(self, dataset: str) -> list[dict[str, Any]]:
        """Every load of ``dataset``, oldest first."""
        ...

    def last_published(self, dataset: str) -> dict[str, Any] | None:
        """The published load whose snapshot is the table's live version."""
        ...

    def published_load_ids(self, dataset: str) -> set[str]: ...

    def published_source_hashes(self, dataset: str) -> set[str]:
        """The sha256 of every file a published load of ``dataset`` loaded."""
        ...

    def judged_since(
        self, dataset: str, fingerprint: str, after_load_id: str | None
    ) -> dict[str, Any] | None:
        """The latest load of ``dataset`` with this fingerprint that was blocked or rejected
        after the load ``after_load_id`` (None: ever).
        """
        ...

    def published_after(self, dataset: str, load_id: str) -> str | None:
        """The latest load of ``dataset`` published after ``load_id`` started, if any."""
        ...

    def published_datasets(self, datasets: Sequence[str]) -> list[str]:
        """Those of ``datasets`` that have a published load, in the order given."""
        ...

    def datasets_of_entry(self, entry_code: str) -> list[str]:
        """The datasets loaded for the catalogue entry ``entry_code``, by name."""
        ...

    def start(
        self,
        load_id: str,
        *,
        dataset: str,
        entry_code: str | None,
        table_name: str,
        location: str,
        started_at: str,
    ) -> None: ...

    def record_sources(
        self, load_id: str, *, fingerprint: str, sources: list[dict[str, Any]]
    ) -> None:
        """The landed files a load covers (``fingerprint``) and those it loads (``sources``)."""
        ...

    def finish(
        self,
        load_id: str,
        *,
        status: str,
        rows: int,
        schema: Sequence[tuple[str, str]],
        snapshot_id: int | None,
        finished_at: str,
        quality_run_id: str | None,
        quality: str | None,
    ) -> None: ...

    def fail(
        self,
        load_id: str,
        *,
        finished_at: str,
        error: str,
        error_file: str | None,
        error_column: str | None,
        error_row: int | None,
    ) -> None: ...

    def wait(self, load_id: str, *, finished_at: str, reason: str) -> None:
        """The load found its source still being written (``reason``, kept in ``error``): it
        ends 'waiting', nothing staged or published."""
        ...

    def hold(self, load_id: str, held_path: str) -> None:
        """Where a blocked load's rows wait for a steward."""
        ...

    def publish_held(self, load_id: str, *, snapshot_id: int | None, finished_at: str) -> None:
        """A held load a steward accepted is published: its held rows are gone."""
        ...

    def reject_held(self, load_id: str) -> None:
        """A held load a steward kept out: its held rows are gone."""
        ...

    def record_lake_commit(
        self,
        load_id: str,
        *,
        dataset: str,
        entry_code: str | None,
        table_name: str,
        location: str,
        fingerprint: str | None,
        sources: list[dict[str, Any]],
        rows: int | None,
        schema: Sequence[Sequence[str]],
        snapshot_id: int,
        committed_at: str | None,
    ) -> None:
        """Record a lake commit as the published load it was, whether its row is missing or
        still 'started' (its process died between the commit and recording it).
        """
        ...

    def abandon_started(
        self, dataset: str, *, except_load_id: str, finished_at: str, error: str
    ) -> None:
        """Every other 'started' load of ``dataset`` failed with ``error`` (their processes are
        known to be dead).
        """
        ...


class Quality(Protocol):
    """Quality runs (质量检查) with their rule results, failing-row samples, stewards'
    reviews and waivers, and the scores computed from them."""

    def add_run(
        self,
        run: dict[str, Any],
        results: Sequence[dict[str, Any]],
        samples: Sequence[dict[str, Any]],
    ) -> None:
        """One run with its expectation results and samples, in one transaction. ``run`` has
        the ``quality_runs`` columns (``spec``: JSON text), each result the
        ``quality_results`` columns, each sample {rule, position, source_file, source_row,
        reason, values: dict}.
        """
        ...

    def runs(
        self,
        *,
        dataset: str | None = None,
        failed: bool = False,
        pending: bool = False,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Runs (without spec, results, samples), newest first. ``failed``: blocked or warned;
        ``pending``: blocked and not decided.
        """
        ...

    def run_ids(self, run_id_or_prefix: str, *, limit: int = 3) -> list[str]:
        """Run ids equal to ``run_id_or_prefix`` or starting with it (at most ``limit``)."""
        ...

    def run(self, run_id: str) -> dict[str, Any] | None:
        """Every column of one run (``spec``: the dataset spec as JSON text)."""
        ...

    def results(self, run_id: str) -> list[dict[str, Any]]:
        """The run's expectation results, failed first (errors before warnings), then in the
        order they were stored.
        """
        ...

    def samples(self, run_id: str) -> list[dict[str, Any]]:
        """Failing-row samples of the run: {rule, source_file, source_row, reason, values},
        by rule and position.
        """
        ...

    def datasets_of_entry(self, entry_code: str) -> list[str]:
        """Datasets with a quality run for this catalogue entry."""
        ...

    def latest_spec(self, datasets: Sequence[str]) -> str | None:
        """The dataset spec (JSON text) of the latest run of any of ``datasets``."""
        ...

    def waive(self, run_id: str, rule: str) -> None:
        """Mark one expectation result of the run waived (it then counts as passed)."""
        ...

    def result_counts(self, run_id: str) -> dict[str, int]:
        """{total, passed, waived, errors, warnings} over the run's results; errors and
        warnings count failed results not waived.
        """
        ...

    def set_counts(
        self, run_id: str, *, waived: int, errors: int, warnings: int, score: float
    ) -> None: ...

    def decide(self, run_id: str, decision: Literal["accepted", "rejected"]) -> None: ...

    def add_review(
        self,
        run_id: str,
        *,
        action: str,
        rule: str | None,
        note: str | None,
        reviewer: str,
        at: str,
        outcome: str,
        state: Literal["pending", "done"] = "done",
    ) -> int:
        """Record one review (``pending``: its publish is under way); its id."""
        ...

    def set_review_outcome(self, review_id: int, outcome: str) -> None: ...

    def finish_review(self, review_id: int, outcome: str) -> None:
        """A pending review is done, with what it did."""
        ...

    def remove_pending_review(self, review_id: int) -> None:
        """Forget a pending review whose publish did not happen (nothing was done)."""
        ...

    def pending_reviews(self, dataset: str | None = None) -> list[dict[str, Any]]:
        """Pending reviews (of ``dataset``'s runs, or all), each with its run's ``dataset``
        and ``load_id``, oldest first."""
        ...

    def reviews(self, run_id: str) -> list[dict[str, Any]]:
        """The run's done reviews, in order (a pending one is not a review yet)."""
        ...

    def latest_entry_scores(self) -> list[dict[str, Any]]:
        """Per entry with runs: {code, name, organisation, score (of its latest run), runs,
        started_at (of that run)}, lowest score first.
        """
        ...

    def latest_organisation_scores(self) -> list[dict[str, Any]]:
        """Per 提供方 with validated entries: {code, name, score (mean of its entries' latest
        run scores), entries, runs}, lowest score first.
        """
        ...

    def monthly_scores(self, by: ScoreKey) -> dict[str, list[dict[str, Any]]]:
        """{entry or organisation code: [{month (YYYY-MM), score (mean run score), runs}]},
        months in order.
        """
        ...


class Freshness(Protocol):
    """Freshness policies (更新时效规则) per entry or organisation, and the log of sent
    notices."""

    def set_policy(self, policy: dict[str, Any]) -> None:
        """Create or replace the override of ``policy['scope']`` ``policy['code']``
        (``POLICY_FIELDS``).
        """
        ...

    def remove_policy(self, scope: str, code: str) -> bool: ...

    def policies(self) -> list[dict[str, Any]]: ...

    def overrides(self) -> dict[tuple[str, str], Override]:
        """Every override by (scope, code)."""
        ...

    def overrides_of(
        self, entry_code: str, provider_code: str | None
    ) -> tuple[Override | None, Override | None]:
        """(the entry's override, its organisation's), None where there is none."""
        ...

    def noticed(self, channels: Sequence[str]) -> set[NoticeKey]:
        """The keys of every notice sent on these channels."""
        ...

    def noticed_for(self, channel: str, recipient: str, org_code: str) -> set[tuple[str, str, str]]:
        """(kind, entry code, deadline) of what this recipient was told about this
        organisation on this channel.
        """
        ...

    def record_notices(self, sent: Iterable[SentNotice]) -> int:
        """Log notices as sent, in one transaction; one already logged is kept as it was.
        Returns how many were new.
        """
        ...

    def notices(self) -> list[SentNotice]:
        """Every notice sent, by organisation, entry and kind."""
        ...


class Search(Protocol):
    """The search index's storage: plain values and id arrays in and out; what to index and
    how to rank is ``catalog.search``'s."""

    # Names the index (the database it lives in): in-process caches of its facet arrays and
    # refresh locks are kept per location, shared by every store over the same database.
    location: str

    def state(self) -> IndexState: ...

    def meta(self, key: str) -> str | None:
        """A note of what the index was built with (``segmenter``, ``policies`` …)."""
        ...

    def set_meta(self, key: str, value: str) -> None: ...

    def has_pending(self) -> bool: ...

    def pending(self, limit: int) -> list[tuple[int, str]]:
        """The oldest ``limit`` queue rows: (queue id, entry code)."""
        ...

    def entries(self, codes: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The entries' fields an index document is built from, by code (any status)."""
        ...

    def policy_signature(self) -> str:
        """Changes whenever a freshness policy is set or removed (a cheap point read): the
        index's deadlines follow the policies.
        """
        ...

    def entries_under_policies(
        self, entry_codes: Sequence[str], provider_codes: Sequence[str]
    ) -> list[dict[str, Any]]:
        """code, updated_at, update_cycle and provider_code of the entries with one of
        ``entry_codes`` or provided by one of ``provider_codes``.
        """
        ...

    def start_rebuild(self, segmenter: str) -> None:
        """Empty the index and queue every entry (built by ``segmenter``, noted in meta)."""
        ...

    def write_batch(
        self, documents: Sequence[SearchDocument], handled: Sequence[str], through: int
    ) -> int:
        """One atomic step of keeping the index in step: ``documents`` replace their rows;
        every other code of ``handled`` that is indexed is withdrawn (retired or deleted);
        the queue rows up to id ``through`` go. Returns the number withdrawn.
        """
        ...

    def set_deadlines(self, deadlines: Sequence[Deadlines]) -> None:
        """New freshness columns for these entries' rows (the policies changed)."""
        ...

    def matching(self, expression: str) -> Ids:
        """Index ids of the documents matching an FTS5 query expression."""
        ...

    def scored(self, expression: str, weights: Mapping[str, float]) -> tuple[Ids, Ids]:
        """(ids, bm25 × -1e6 as integers: higher is better) of every match, in one FTS5 pass;
        ``weights`` per ``TEXT_FIELDS`` field (1 when not given).
        """
        ...

    def with_code_between(self, low: str, high: str) -> Ids:
        """Active documents whose code is in [low, high)."""
        ...

    def with_code(self, code: str) -> Ids: ...

    def with_name_key(self, name_key: str) -> Ids: ...

    def provider_names(self, provider_codes: Sequence[str]) -> set[str]:
        """The organisation facet values (提供方名称) of these 提供方代码."""
        ...

    def documents(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Display rows of these documents by id (``formats`` as the stored set string)."""
        ...

    def facet_columns(self, *, after_generation: int | None = None) -> FacetColumns:
        """``FACET_COLUMNS`` of every document (retired ones included, ``active`` = 0), or
        of those changed after ``after_generation``.
        """
        ...

    def facet_values(self, *, after_id: int = 0) -> dict[int, tuple[str, str]]:
        """Value id → (facet, value) of the numbered facet values (those after ``after_id``)."""
        ...


class Export(Protocol):
    """The catalogue's tables as Arrow tables read in one snapshot: how DuckDB (the sweep,
    analyst sessions) sees the catalogue without ever opening the metadata database itself."""

    def table_names(self) -> list[str]:
        """The catalogue's tables (what an analyst may query), sorted."""
        ...

    def tables(self, wanted: Mapping[str, Sequence[str] | None]) -> dict[str, pa.Table]:
        """``{table: columns}`` (None: every column) → ``{table: Arrow table}``, all read in one
        snapshot. Unknown tables or columns raise ValueError.
        """
        ...

    def latest_updates(self, until: dt.datetime) -> pa.Table:
        """(code, updated_at): each entry's latest data-update event (``entry_updates``) at or
        before ``until`` (naive, catalogue time), which is all a sweep of a past moment needs
        of the events: one row per entry instead of every event (7x fewer at 35,700 entries).
        Times are stored as ISO 8601 text in catalogue time, which sorts as the times do.
        """
        ...

    def change_marker(self) -> str:
        """A short text that changes whenever an entry, an update event or an organisation
        does (a few aggregate reads): what a cached export of the catalogue is keyed on."""
        ...

    def all_tables(self) -> dict[str, pa.Table]:
        """Every catalogue table, every column, in one snapshot."""
        ...


class Users(Protocol):
    """Users (issue 13): identities of an organisation, their roles, their API tokens (stored as
    hashes only) and the log of every change with its actor (``user_events``)."""

    def get(self, login: str) -> dict[str, Any] | None:
        """The user with ``roles`` (sorted) and ``password_hash``, or None."""
        ...

    def all(self) -> list[dict[str, Any]]: ...

    def insert(self, user: dict[str, Any]) -> None: ...

    def set_active(self, login: str, active: bool) -> None: ...

    def set_password_hash(self, login: str, password_hash: str) -> None: ...

    def roles(self, login: str) -> list[str]: ...

    def grant(self, login: str, role: str, at: str, by: str) -> bool:
        """False if the user held the role already."""
        ...

    def revoke(self, login: str, role: str) -> bool:
        """False if the user did not hold the role."""
        ...

    def add_token(self, token: dict[str, Any]) -> int:
        """login, name, token_hash, created_at, created_by, expires_at; returns the id."""
        ...

    def token(self, token_id: int) -> dict[str, Any] | None: ...

    def token_by_hash(self, token_hash: str) -> dict[str, Any] | None: ...

    def tokens(self, login: str) -> list[dict[str, Any]]: ...

    def revoke_token(self, token_id: int, at: str, by: str) -> bool:
        """False if revoked already or no such token."""
        ...

    def touch_token(self, token_id: int, at: str) -> None: ...

    def record(self, login: str, action: str, actor: str, at: str, detail: str = "") -> None: ...

    def events(self, login: str | None = None) -> list[dict[str, Any]]: ...


# --- issue 13: each protocol below is filled in by the work that owns its SQLite class --------


class Sessions(Protocol):
    """Portal sessions (hashed cookie secrets, CSRF tokens) and login attempts."""

    def add(self, session: dict[str, Any]) -> None:
        """id_hash, login, csrf_token, via, remote, created_at, expires_at, last_seen_at."""
        ...

    def get(self, id_hash: str) -> dict[str, Any] | None: ...

    def of_login(self, login: str, *, live_at: str | None = None) -> list[dict[str, Any]]: ...

    def touch(self, id_hash: str, at: str) -> None: ...

    def end(self, id_hash: str, at: str) -> bool:
        """False if ended already or no such session."""
        ...

    def end_all(self, login: str, at: str) -> int:
        """How many open sessions were ended."""
        ...

    def add_attempt(self, login: str, remote: str, at: str, ok: bool) -> int:
        """The attempt's id."""
        ...

    def succeed_attempt(self, attempt_id: int, at: str) -> None:
        """A pending attempt (recorded failed before the check) succeeded at ``at``."""
        ...

    def failures(
        self, *, since: str, login: str | None = None, remote: str | None = None
    ) -> list[str]:
        """Times of failed attempts after ``since`` (a login's: after its last success)."""
        ...

    def attempts(self, login: str | None = None) -> list[dict[str, Any]]: ...


class Applications(Protocol):
    """共享申请: applications and their step-by-step history. Lists (``columns``,
    ``grantees``) are stored as JSON and returned as lists; an event's ``detail`` as a dict."""

    def insert(self, application: Mapping[str, Any], *, number_prefix: str) -> dict[str, Any]:
        """A new application; 申请编号 = ``number_prefix`` + the next 4-digit sequence."""
        ...

    def get(self, application_id: int) -> dict[str, Any] | None: ...

    def by_number(self, number: str) -> dict[str, Any] | None: ...

    def find(
        self,
        *,
        applicant: str | None = None,
        applicant_org: str | None = None,
        provider_org: str | None = None,
        states: Iterable[str] | None = None,
        entry_code: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Applications matching every filter given, newest first."""
        ...

    def update(self, application_id: int, changes: Mapping[str, Any], *, expect_state: str) -> bool:
        """Set ``changes`` if still in ``expect_state``; False when it moved meanwhile."""
        ...

    def add_event(self, event: Mapping[str, Any]) -> int: ...

    def events(self, application_id: int) -> list[dict[str, Any]]: ...

    def statistics(self, start: str, end: str) -> list[dict[str, Any]]:
        """Per providing organisation in [start, end): received, answered, answered_on_time,
        refused, refused_with_reason, shared."""
        ...


class Grants(Protocol):
    """共享授权: who may read which dataset's columns, until when. Grants come back as dicts
    with ``columns``/``unmasked`` as lists and ``row_filter`` as a dict; times are ISO text."""

    def insert(self, grant: dict[str, Any]) -> int:
        """A new grant (no id, not revoked); its id."""
        ...

    def get(self, grant_id: int) -> dict[str, Any] | None: ...

    def find(
        self,
        *,
        login: str | None = None,
        org: str | None = None,
        dataset: str | None = None,
        live_at: str | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first; ``login`` and ``org`` together match either; ``live_at``: only
        grants started, unexpired and unrevoked at that time."""
        ...

    def revoke(self, grant_id: int, *, at: str, by: str, reason: str) -> bool:
        """False if already revoked or missing."""
        ...


class Audit(Protocol):
    """审计日志: the append-only, hash-chained audit log.

    Rows are dicts of every column (``seq, at, actor, actor_org, action, channel, dataset,
    entry_code, columns, rows, grant_id, purpose, remote, detail, prev_hash, hash``);
    ``columns`` and ``detail`` are JSON text as stored. Filters: actor, actor_org, dataset,
    entry_code, action, channel, grant_id (equal), since/until (on ``at``, inclusive)."""

    @property
    def genesis(self) -> str:
        """The prev_hash of the first row (64 zeros)."""
        ...

    def digest(self, row: Mapping[str, Any]) -> str:
        """The hash a row should carry: sha256 of every column but ``hash``, canonical JSON."""
        ...

    def append(self, record: Mapping[str, Any]) -> int:
        """Chain one row to the last in one write transaction; returns its seq."""
        ...

    def query(
        self,
        *,
        since: str | None = None,
        until: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
        newest_first: bool = True,
        **filters: Any,
    ) -> list[dict[str, Any]]: ...

    def count(
        self, *, since: str | None = None, until: str | None = None, **filters: Any
    ) -> int: ...

    def iterate(
        self,
        *,
        since: str | None = None,
        until: str | None = None,
        batch: int = 1000,
        **filters: Any,
    ) -> Generator[dict[str, Any], None, None]:
        """Every matching row in seq order, streamed in batches."""
        ...

    def top_seq(self) -> int:
        """The highest seq ever handed out (SQLite keeps it when rows are deleted)."""
        ...

    def last(self) -> dict[str, Any] | None: ...

    def get(self, seq: int) -> dict[str, Any] | None: ...


# --- issue 14: the web tier's shared state ----------------------------------------------------


class WebState(Protocol):
    """What one server process leaves for another (``mulu serve --workers N``): single sign-on
    logins begun (``oidc_pending``) and the keys every process signs with (``web_keys``)."""

    def add_pending(self, pending: dict[str, Any], *, expired_before: int, most: int) -> None:
        """state, nonce, code_verifier, binding_hash, next_url, redirect_uri, started_ms; drops
        those begun before ``expired_before`` (ms) and the oldest beyond ``most``."""
        ...

    def take_pending(self, state: str) -> dict[str, Any] | None:
        """Removed as it is read: one caller gets it; None when unknown or taken."""
        ...

    def count_pending(self) -> int: ...

    def key(self, name: str, candidate: str, at: str) -> str:
        """The stored key ``name``, or ``candidate`` stored now when there is none."""
        ...
