"""The directory (目录): the one core object behind the CLI, the API and the pipelines.

It validates entries against the GB/T 21063 model, allocates 信息资源代码 where a source has
none, resolves providers to organisations, and writes every change with its history.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import os
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from schemas.codes import normalise_resource_code
from schemas.entry import CatalogueEntry, Organisation, catalogue_now, catalogue_time
from schemas.errors import InvalidInput, NotFound
from warehouse.store import Store
from warehouse.store.fields import ENTRY_FIELDS
from warehouse.workspace import Workspace

# Where entries without a 信息资源代码 go: 类 3 (部门信息资源), 项 00, 目 000 (unclassified).
UNCLASSIFIED = "300000"
SEQUENCE_DIGITS = 6
BATCH_SIZE = 5_000


now_local = catalogue_now  # the name the importer and CLI use


def default_user() -> str:
    return os.environ.get("MULU_USER") or getpass.getuser()


def local_org_code(name: str) -> str:
    """A stable local 提供方代码 for a body whose 统一社会信用代码 the source does not give."""
    return "L" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:9].upper()


class EntryNotFound(NotFound):
    def __str__(self) -> str:
        return f"no catalogue entry with 信息资源代码 {self.args[0]!r}"


class OrganisationNotFound(NotFound):
    def __str__(self) -> str:
        return f"no organisation (提供方) with code or name {self.args[0]!r}"


@dataclass(frozen=True, slots=True)
class EntryRecord:
    """A candidate entry: raw field values (model field names) from an import or a user."""

    fields: dict[str, Any]
    row: int | None = None
    source_key: str | None = None
    raw: dict[str, Any] | None = None  # the source record as read, kept for reject reports


@dataclass(frozen=True, slots=True)
class RowError:
    row: int | None
    field: str
    reason: str
    record: dict[str, Any]


@dataclass
class ApplyResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)

    def merge(self, other: ApplyResult) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.errors.extend(other.errors)
        self.codes.extend(other.codes)


def errors_of(exc: ValidationError) -> list[tuple[str, str]]:
    """(field, reason) pairs from a pydantic error, without pydantic's boilerplate."""
    found = []
    for error in exc.errors():
        loc = ".".join(str(p) for p in error["loc"]) or "record"
        message = error["msg"].removeprefix("Value error, ")
        found.append((loc, message))
    return found


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
        result = self.apply([EntryRecord(dict(fields))], source="manual", update_source="manual")
        if result.errors:
            raise InvalidInput("; ".join(f"{e.field}: {e.reason}" for e in result.errors))
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
            raise InvalidInput("; ".join(f"{e.field}: {e.reason}" for e in result.errors))
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
    ) -> ApplyResult:
        """Create or update entries in batches; bad records are reported, good ones written.

        An entry is matched by its 信息资源代码 or, failing that, by ``source_key``; only the
        fields a record supplies are compared and changed, so re-applying the same records is a
        no-op and a partial source (say, only 更新时间) does not erase the rest. A newer
        最近更新时间 is also logged as an update event from ``update_source`` (None: not logged).
        Each batch is matched, numbered and written inside one write transaction, so writers in
        other processes never allocate the same 信息资源代码 or create the same source record.
        """
        result = ApplyResult()
        session = _ApplySession(self, source, classification, import_id, update_source)
        batch: list[EntryRecord] = []
        for record in records:
            batch.append(record)
            if len(batch) >= batch_size:
                result.merge(session.apply_batch(batch))
                batch = []
        if batch:
            result.merge(session.apply_batch(batch))
        return result


class _ApplySession:
    """State shared by the batches of one bulk apply: org names, code sequences, timestamp."""

    def __init__(
        self,
        directory: Directory,
        source: str | None,
        classification: str,
        import_id: int | None,
        update_source: str | None,
    ):
        self.store = directory.store
        self.user = directory.user
        self.source = source
        self.classification = classification
        self.import_id = import_id
        self.update_source = update_source
        self.stamp = now_local().isoformat()
        self.org_codes = self.store.organisations.codes_by_name()
        self.known_orgs = set(self.org_codes.values())

    def _next_code(self, classification: str) -> str:
        number = self.store.entries.allocate_sequence(classification)
        return f"{classification}/{number:0{SEQUENCE_DIGITS}d}"

    def _provider(self, fields: dict[str, Any], new_orgs: dict[str, dict[str, Any]]) -> None:
        name = fields.get("provider_name")
        code = fields.get("provider_code")
        name = name.strip() if isinstance(name, str) else name
        code = code.strip() if isinstance(code, str) else code
        if not name:
            return  # validation reports the missing 提供方
        if not code:
            code = self.org_codes.get(name) or local_org_code(name)
        fields["provider_code"] = code
        if code not in self.known_orgs:
            new_orgs[code] = {"code": code, "name": name, "created_at": self.stamp}
            self.known_orgs.add(code)
            self.org_codes.setdefault(name, code)

    def apply_batch(self, batch: Sequence[EntryRecord]) -> ApplyResult:
        with self.store.transaction():
            return self._apply_batch(batch)

    def _apply_batch(self, batch: Sequence[EntryRecord]) -> ApplyResult:
        result = ApplyResult()
        by_key = self.store.entries.by("source_key", [r.source_key for r in batch if r.source_key])
        by_code = self.store.entries.by(
            "code", [c for c in (_try_code(r.fields.get("code")) for r in batch) if c]
        )
        pending: dict[str, dict[str, Any]] = {}  # code -> state after this batch's changes
        pending_keys: dict[str, str] = {}  # source_key -> code, for entries created in this batch
        new_orgs: dict[str, dict[str, Any]] = {}
        inserts: dict[str, dict[str, Any]] = {}
        updates: dict[str, dict[str, Any]] = {}
        history: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []

        for record in batch:
            fields = dict(record.fields)
            existing = self._match(record, by_code, by_key, pending, pending_keys)
            conflict = self._key_conflict(record, existing, by_key, pending_keys)
            if conflict:
                result.errors.append(
                    RowError(record.row, "code", conflict, record.raw or record.fields)
                )
                continue
            if existing is not None:
                fields["code"] = existing["code"]
                # A partial record (say, only 更新时间) keeps the entry's other required values.
                if "provider_name" not in fields:
                    fields["provider_name"] = existing["provider_name"]
                    fields["provider_code"] = existing["provider_code"]
                for name in ("name", "share_type"):
                    fields.setdefault(name, existing[name])
            allocate = not fields.get("code")
            if allocate:
                fields["code"] = f"{self.classification}/{0:0{SEQUENCE_DIGITS}d}"
            staged_orgs: dict[str, dict[str, Any]] = {}
            self._provider(fields, staged_orgs)
            try:
                model = CatalogueEntry.model_validate(fields)
            except ValidationError as exc:
                for code in staged_orgs:
                    self.known_orgs.discard(code)
                for field_name, reason in errors_of(exc):
                    result.errors.append(
                        RowError(record.row, field_name, reason, record.raw or record.fields)
                    )
                continue
            new_orgs.update(staged_orgs)
            values = model.model_dump(mode="json", include=set(model.model_fields_set) | {"code"})
            if allocate:
                values["code"] = self._next_code(self.classification)
            code = values["code"]
            result.codes.append(code)
            if existing is None:
                full = model.model_dump(mode="json")
                full.update(values)
                parsed = _split_code(code)
                row = {
                    **full,
                    **parsed,
                    "source": self.source,
                    "source_key": record.source_key,
                    "version": 1,
                    "created_at": self.stamp,
                    "modified_at": self.stamp,
                }
                inserts[code] = row
                pending[code] = row
                if record.source_key:
                    pending_keys[record.source_key] = code
                # A create records no values: version 1 is recovered from the current row by
                # undoing later changes (see Directory.as_of_version), which keeps history small.
                history.append(self._history(code, 1, "create", {}))
                if row.get("updated_at") and self.update_source:
                    events.append(self._event(code, row["updated_at"]))
                result.created += 1
                continue
            changes = {
                k: [existing.get(k), v]
                for k, v in values.items()
                if k in ENTRY_FIELDS and k != "code" and existing.get(k) != v
            }
            if not changes:
                result.unchanged += 1
                continue
            version = existing["version"] + 1
            state = {
                **existing,
                **{k: new for k, (_, new) in changes.items()},
                "version": version,
                "modified_at": self.stamp,
            }
            pending[code] = state
            if code in inserts:
                inserts[code] = {**inserts[code], **state, "version": 1}
            else:
                update = updates.setdefault(code, {"code": code})
                update.update({k: new for k, (_, new) in changes.items()})
                update.update(version=version, modified_at=self.stamp)
                if record.source_key and not existing.get("source_key"):
                    update["source_key"] = record.source_key
                history.append(self._history(code, version, _action_for(changes), changes))
            result.updated += 1
            if (
                self.update_source
                and "updated_at" in changes
                and changes["updated_at"][1]
                and (
                    changes["updated_at"][0] is None
                    or changes["updated_at"][1] > changes["updated_at"][0]
                )
            ):
                events.append(self._event(code, changes["updated_at"][1]))

        store = self.store  # inside apply_batch's transaction: all of it lands or none does
        store.organisations.upsert(list(new_orgs.values()))
        store.entries.insert(list(inserts.values()))
        store.entries.update(list(updates.values()))
        store.history.add(history)
        store.history.add_updates(events)
        return result

    @staticmethod
    def _match(
        record: EntryRecord,
        by_code: dict[str, dict[str, Any]],
        by_key: dict[str, dict[str, Any]],
        pending: dict[str, dict[str, Any]],
        pending_keys: dict[str, str],
    ) -> dict[str, Any] | None:
        """The stored (or earlier in this batch) entry a record refers to, if any."""
        code = _try_code(record.fields.get("code"))
        if code:
            return pending.get(code) or by_code.get(code)
        if record.source_key:
            if record.source_key in pending_keys:
                return pending[pending_keys[record.source_key]]
            existing = by_key.get(record.source_key)
            if existing is not None:
                return pending.get(existing["code"], existing)
        return None

    @staticmethod
    def _key_conflict(
        record: EntryRecord,
        existing: dict[str, Any] | None,
        by_key: dict[str, dict[str, Any]],
        pending_keys: dict[str, str],
    ) -> str | None:
        """A reason when the record's source identity already belongs to another entry."""
        if not record.source_key:
            return None
        owner = pending_keys.get(record.source_key) or (by_key.get(record.source_key) or {}).get(
            "code"
        )
        if owner and (existing is None or existing["code"] != owner):
            return (
                f"this source record already belongs to 信息资源代码 {owner}; "
                f"its code here ({record.fields.get('code')}) differs"
            )
        return None

    def _history(
        self, code: str, version: int, action: str, changes: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "code": code,
            "version": version,
            "action": action,
            "changed_at": self.stamp,
            "changed_by": self.user,
            "changes": changes,
            "import_id": self.import_id,
        }

    def _event(self, code: str, updated_at: str) -> dict[str, Any]:
        return {
            "code": code,
            "updated_at": updated_at,
            "source": self.update_source,
            "reported_by": self.user,
            "note": self.source,
            "recorded_at": self.stamp,
        }


def _try_code(raw: Any) -> str | None:
    """The normalised code, or None when absent or malformed (validation reports the latter)."""
    if raw is None or not str(raw).strip():
        return None
    try:
        return normalise_resource_code(raw)
    except ValueError:
        return None


def _action_for(changes: dict[str, Any]) -> str:
    if "status" in changes:
        return "retire" if changes["status"][1] == "retired" else "restore"
    return "update"


def _split_code(code: str) -> dict[str, str]:
    classification = code.split("/", 1)[0]
    return {"classification": classification, "resource_class": classification[0]}
