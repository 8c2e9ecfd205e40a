"""The directory (目录): the one core object behind the CLI, the API and the pipelines.

It validates entries against the GB/T 21063 model, allocates 信息资源代码 where a source has
none, resolves providers to organisations, and writes every change with its history.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
from collections.abc import Generator, Iterable
from typing import Any

from catalog.apply_records import (
    SEQUENCE_DIGITS,
    ApplyResult,
    EntryRecord,
    ProblemHandler,
    RowError,
    local_org_code,
    now_local,
)
from catalog.applying import ApplySession
from schemas.codes import normalise_resource_code
from schemas.entry import Organisation, catalogue_time
from schemas.errors import InvalidInput, NotFound
from warehouse.store import Store
from warehouse.workspace import Workspace

__all__ = [
    "SEQUENCE_DIGITS",
    "ApplyResult",
    "Directory",
    "EntryRecord",
    "RowError",
    "local_org_code",
    "now_local",
]

# Where entries without a 信息资源代码 go: 类 3 (部门信息资源), 项 00, 目 000 (unclassified).
UNCLASSIFIED = "300000"
BATCH_SIZE = 5_000


def default_user() -> str:
    return os.environ.get("MULU_USER") or getpass.getuser()


class EntryNotFound(NotFound):
    def __str__(self) -> str:
        code = self.args[0]
        return f"目录中没有信息资源代码为 {code!r} 的条目 (no catalogue entry with 信息资源代码 {code!r})"


class OrganisationNotFound(NotFound):
    def __str__(self) -> str:
        return f"no organisation (提供方) with code or name {self.args[0]!r}"


def _invalid(result: ApplyResult) -> InvalidInput:
    """The rejects of a single-entry change as one line, in Chinese (缺少 信息资源提供方)."""
    return InvalidInput("; ".join(e.message() for e in result.errors))


class Directory:
    """The catalogue's rules over a ``Store``. It does not own the store: whoever opened the
    store closes it (``Directory.open`` opens one for the directory alone, closed by
    ``close``)."""

    def __init__(self, store: Store, *, user: str | None = None, owns_store: bool = False):
        self.store = store
        self.user = user or default_user()
        self._owns_store = owns_store

    @classmethod
    def open(cls, workspace: Workspace, *, user: str | None = None) -> Directory:
        workspace.ensure()
        return cls(Store.open(workspace), user=user, owns_store=True)

    def close(self) -> None:
        if self._owns_store:
            self.store.close()

    # --- reads -------------------------------------------------------------------------
    def get(self, code: str) -> dict[str, Any]:
        try:
            code = normalise_resource_code(code)
        except ValueError:
            raise EntryNotFound(code) from None
        entry = self.store.entries.get(code)
        if entry is None:
            raise EntryNotFound(code)
        if entry.get("source_record"):  # every field of the source record, as an object
            entry["source_record"] = json.loads(entry["source_record"])
        return entry

    def organisation(self, code_or_name: str) -> dict[str, Any]:
        """An organisation (提供方) by its code, its name, or its code lower-cased (the name a
        CKAN client knows it by)."""
        key = code_or_name.strip()
        found = self.store.organisations.find(key) or self.store.organisations.get(key.upper())
        if found is None:
            raise OrganisationNotFound(code_or_name)
        return found

    def history(self, code: str) -> list[dict[str, Any]]:
        return self.store.history.of(self.get(code)["code"])

    def as_of_version(self, code: str, version: int) -> dict[str, Any]:
        """The entry as it was at ``version``: the current row with later changes undone."""
        entry = self.get(code)
        if not 1 <= version <= entry["version"]:
            raise InvalidInput(
                f"{entry['code']} has versions 1 to {entry['version']}, not {version}"
            )
        for change in reversed(self.store.history.of(entry["code"])):
            if change["version"] <= version:
                break
            for field_name, (old, _new) in change["changes"].items():
                if field_name in entry:
                    entry[field_name] = old
        entry["version"] = version
        return entry

    def iter_entries(
        self, *, include_retired: bool = False
    ) -> Generator[dict[str, Any], None, None]:
        """Entries in code order; close the generator to release its read cursor early."""
        return self.store.entries.iter(status=None if include_retired else "active")

    def stats(self) -> dict[str, Any]:
        store = self.store
        names = {o["code"]: o["name"] for o in store.organisations.all()}
        counts = store.entries.counts
        by_org = counts("provider_code")
        return {
            "entries": store.entries.count(status="active"),
            "retired": store.entries.count(status="retired"),
            "organisations": len(names),
            "organisations_with_entries": len(by_org),
            "by_share_type": counts("share_type"),
            "by_update_cycle": counts("update_cycle"),
            "by_open_type": counts("open_type"),
            "by_resource_class": counts("resource_class"),
            "by_organisation": [
                {"code": code, "name": names.get(code, code), "entries": count}
                for code, count in by_org.items()
            ],
        }

    # --- organisations -----------------------------------------------------------------
    def add_organisations(self, organisations: Iterable[Organisation | dict[str, Any]]) -> int:
        rows = []
        stamp = now_local().isoformat()
        for org in organisations:
            model = org if isinstance(org, Organisation) else Organisation.model_validate(org)
            rows.append({**model.model_dump(), "created_at": stamp})
        self.store.organisations.upsert(rows)
        return len(rows)

    # --- single-entry changes ----------------------------------------------------------
    def create(self, fields: dict[str, Any]) -> str:
        result = self.apply(
            [EntryRecord(dict(fields))], source="manual", update_source="manual", keep_codes=True
        )
        if result.errors:
            raise _invalid(result)
        return result.codes[0]

    def update(
        self, code: str, changes: dict[str, Any], *, update_source: str | None = "manual"
    ) -> dict[str, Any]:
        current = self.get(code)
        result = self.apply(
            [EntryRecord({**changes, "code": current["code"]})],
            source=None,
            update_source=update_source,
        )
        if result.errors:
            raise _invalid(result)
        return self.get(current["code"])

    def retire(self, code: str, *, reason: str = "") -> None:
        self._set_status(code, "retired", "retire", reason)

    def restore(self, code: str) -> None:
        self._set_status(code, "active", "restore", "")

    def _set_status(self, code: str, status: str, action: str, reason: str) -> None:
        entry = self.get(code)
        if entry["status"] == status:
            return
        stamp = now_local().isoformat()
        version = entry["version"] + 1
        changes: dict[str, Any] = {"status": [entry["status"], status]}
        if reason:
            changes["reason"] = [None, reason]
        with self.store.transaction():
            self.store.entries.update(
                [
                    {
                        "code": entry["code"],
                        "status": status,
                        "version": version,
                        "modified_at": stamp,
                    }
                ]
            )
            self.store.history.add(
                [
                    {
                        "code": entry["code"],
                        "version": version,
                        "action": action,
                        "changed_at": stamp,
                        "changed_by": self.user,
                        "changes": changes,
                    }
                ]
            )

    def report_update(
        self,
        code: str,
        *,
        at: dt.datetime | None = None,
        source: str = "report",
        note: str | None = None,
        load_id: str | None = None,
    ) -> dict[str, Any]:
        """Record that an entry's data was updated (数据更新), moving 最近更新时间 forward.

        The event and the entry's change are one transaction: both land or neither does."""
        entry = self.get(code)
        when = catalogue_time(at or now_local()).replace(microsecond=0)
        with self.store.transaction():
            self.store.history.add_updates(
                [
                    {
                        "code": entry["code"],
                        "updated_at": when.isoformat(),
                        "source": source,
                        "reported_by": self.user,
                        "note": note,
                        "recorded_at": now_local().isoformat(),
                        "load_id": load_id,
                    }
                ]
            )
            current = self.get(entry["code"])
            if current["updated_at"] is None or current["updated_at"] < when.isoformat():
                self.update(entry["code"], {"updated_at": when}, update_source=None)
        return self.get(entry["code"])

    # --- bulk --------------------------------------------------------------------------
    def apply(
        self,
        records: Iterable[EntryRecord],
        *,
        source: str | None,
        classification: str = UNCLASSIFIED,
        import_id: int | None = None,
        update_source: str | None = "harvest",
        batch_size: int = BATCH_SIZE,
        lenient: bool = False,
        on_problem: ProblemHandler | None = None,
        keep_codes: bool = False,
    ) -> ApplyResult:
        """Create or update entries in batches; bad records are reported, good ones written.

        An entry is matched by its 信息资源代码, else by ``source_key``, else by ``legacy_key``
        (then rewritten to ``source_key``); only the fields a record supplies are compared and
        changed, so re-applying the same records is a no-op and a partial source (say, only
        更新时间) does not erase the rest. A newer 最近更新时间 is also logged as an update event
        from ``update_source`` (None: not logged). From a ``source`` (not a steward's edit,
        ``source=None``) 最近更新时间 never moves back: see ``catalog.applying``.

        ``lenient`` (imports): an unreadable optional value is dropped with a warning and only
        required fields reject. ``on_problem``: each ``Problem`` (field = entry field) goes
        there as it is found instead of into ``ApplyResult.errors``/``warnings``.
        ``keep_codes``: collect the codes written in ``ApplyResult.codes``.
        Each batch is matched, numbered and written inside one write transaction, so writers in
        other processes never allocate the same 信息资源代码 or create the same source record.
        """
        result = ApplyResult()
        session = ApplySession(
            self.store,
            self.user,
            source,
            classification,
            import_id,
            update_source,
            lenient=lenient,
            on_problem=on_problem,
            keep_codes=keep_codes,
        )
        batch: list[EntryRecord] = []
        for record in records:
            batch.append(record)
            if len(batch) >= batch_size:
                result.merge(session.apply_batch(batch))
                batch = []
        if batch:
            result.merge(session.apply_batch(batch))
        return result
