"""Applying candidate entries to the directory in batches: matching, validating, merging.

``Directory.apply`` hands each batch to an ``ApplySession``. Which stored entry a record is,
and how two 最近更新时间 compare, are ``catalog.merging``'s rules.

Rules kept here, because every writer of entries goes through them:

- Row isolation: a bad record is reported (``on_problem`` as it happens, else in
  ``ApplyResult``) and costs only itself. With ``lenient`` (imports) a value that cannot be read
  in an optional field is dropped with a warning (``unreadable_optional``, the value kept in the
  problem) and the record lands; only required fields reject it.
- Merging, not overwriting (sources only, not a steward's edit): 最近更新时间 never moves back.
  A source's older value keeps the newer one stored (reported, loaded or harvested before),
  warns ``older_update`` and is logged as an update event of its own if it was not already; a
  source giving no value keeps the stored one (periods compared as ``catalog.merging`` says).
- Every field of the source record is kept (``entries.source_record``, JSON): set on create,
  replaced by a re-import only when the record has a source identity (our own exports have
  none and must not clobber a portal's original). It is not an entry field: no history, and
  replacing it alone does not make the entry "updated".
- Provider contacts (``provider_contact_*``) fill the organisation's blank contact fields; a
  steward's value is never overwritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from catalog.apply_records import (
    CONTACT_FIELDS,
    SEQUENCE_DIGITS,
    ApplyResult,
    EntryRecord,
    ProblemHandler,
    RowError,
    Severity,
    local_org_code,
    now_local,
    source_record_text,
    validate_entry,
)
from catalog.merging import compare_times, key_owner, match, try_code
from schemas.entry import CatalogueEntry
from schemas.messages import Reason
from schemas.placeholders import is_placeholder
from warehouse.store import Store
from warehouse.store.fields import ENTRY_FIELDS

__all__ = ["ApplySession", "compare_times"]  # compare_times: the merge rule, as tests know it


@dataclass
class _Batch:
    """What one batch writes, all in one transaction."""

    result: ApplyResult = field(default_factory=ApplyResult)
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)  # code -> state after it
    pending_keys: dict[str, str] = field(default_factory=dict)  # source_key -> code
    new_orgs: dict[str, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)  # org code -> blanks to fill
    inserts: dict[str, dict[str, Any]] = field(default_factory=dict)
    updates: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    matched: set[str] = field(default_factory=set)  # codes of the stored entries it may change
    # code -> 最近更新时间 of its update events (stored and this batch's), fetched for every
    # matched code at once when an older value first needs it.
    logged: dict[str, set[str]] | None = None

    def add_event(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        if self.logged is not None:
            self.logged.setdefault(event["code"], set()).add(event["updated_at"])


class ApplySession:
    """State shared by the batches of one bulk apply: org names, code sequences, timestamp."""

    def __init__(
        self,
        store: Store,
        user: str,
        source: str | None,
        classification: str,
        import_id: int | None,
        update_source: str | None,
        *,
        lenient: bool = False,
        on_problem: ProblemHandler | None = None,
        keep_codes: bool = False,
    ):
        self.store = store
        self.user = user
        self.source = source
        self.classification = classification
        self.import_id = import_id
        self.update_source = update_source
        self.lenient = lenient
        self.on_problem = on_problem
        self.keep_codes = keep_codes
        # A source's values merge with what is stored; a steward's edit is taken as given.
        self.merging = source not in (None, "manual")
        self.stamp = now_local().isoformat()
        self.org_codes = self.store.organisations.codes_by_name()
        self.known_orgs = set(self.org_codes.values())
        self.contacts_tried: set[tuple[str, str]] = set()
        self.contacts_done: set[str] = set()  # organisations whose every contact was tried

    def apply_batch(self, batch: Sequence[EntryRecord]) -> ApplyResult:
        with self.store.transaction():
            return self._apply_batch(batch)

    # --- one batch ---------------------------------------------------------------------
    def _apply_batch(self, records: Sequence[EntryRecord]) -> ApplyResult:
        batch = _Batch()
        keys = [k for r in records for k in (r.source_key, r.legacy_key) if k]
        by_key = self.store.entries.by("source_key", keys)
        by_code = self.store.entries.by(
            "code", [c for c in (try_code(r.fields.get("code")) for r in records) if c]
        )
        batch.matched = {e["code"] for e in (*by_code.values(), *by_key.values())}
        for record in records:
            self._apply_record(record, batch, by_code, by_key)
        store = self.store  # inside apply_batch's transaction: all of it lands or none does
        store.organisations.upsert(list(batch.new_orgs.values()))
        store.organisations.fill_blank(list(batch.contacts.values()))
        store.entries.insert(list(batch.inserts.values()))
        store.entries.update(list(batch.updates.values()))
        store.history.add(batch.history)
        store.history.add_updates(batch.events)
        return batch.result

    def _apply_record(
        self,
        record: EntryRecord,
        batch: _Batch,
        by_code: dict[str, dict[str, Any]],
        by_key: dict[str, dict[str, Any]],
    ) -> None:
        result = batch.result
        fields = {k: v for k, v in record.fields.items() if k not in CONTACT_FIELDS}
        existing = match(record, by_code, by_key, batch.pending, batch.pending_keys)
        owner = key_owner(record, by_key, batch.pending_keys)
        if owner and (existing is None or existing["code"] != owner):
            code = record.fields.get("code")
            self._problem(
                result, record, "code", Reason("key_conflict", {"owner": owner, "code": code})
            )
            result.rejected += 1
            return
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
        model, warnings, rejects = validate_entry(fields, lenient=self.lenient)
        if model is None:
            for code in staged_orgs:
                self.known_orgs.discard(code)
            for name, reason, value in rejects:
                self._problem(result, record, name, reason, "reject", value)
            result.rejected += 1
            return
        batch.new_orgs.update(staged_orgs)
        self._contacts(record.fields, fields.get("provider_code"), batch)
        values = model.model_dump(mode="json", include=set(model.model_fields_set) | {"code"})
        if allocate:
            values["code"] = self._next_code(self.classification)
        code = values["code"]
        if self.keep_codes:
            result.codes.append(code)
        if existing is not None and self.merging:
            warnings.extend(self._merge_updated(existing, values, batch))
        for name, reason, value in warnings:
            self._problem(result, record, name, reason, "warning", value)
        if warnings:
            result.warned += 1
        if existing is None:
            self._create(record, model, values, batch)
        else:
            self._change(record, existing, values, batch)

    def _create(
        self, record: EntryRecord, model: CatalogueEntry, values: dict[str, Any], batch: _Batch
    ) -> None:
        code = values["code"]
        full = model.model_dump(mode="json")
        full.update(values)
        row = {
            **full,
            **_split_code(code),
            "source": self.source,
            "source_key": record.source_key,
            "source_record": source_record_text(record.source_record),
            "version": 1,
            "created_at": self.stamp,
            "modified_at": self.stamp,
        }
        batch.inserts[code] = row
        batch.pending[code] = row
        if record.source_key:
            batch.pending_keys[record.source_key] = code
        # A create records no values: version 1 is recovered from the current row by undoing
        # later changes (see Directory.as_of_version), which keeps history small.
        batch.history.append(self._history(code, 1, "create", {}))
        if row.get("updated_at") and self.update_source:
            batch.add_event(self._event(code, row["updated_at"]))
        batch.result.created += 1

    def _change(
        self,
        record: EntryRecord,
        existing: dict[str, Any],
        values: dict[str, Any],
        batch: _Batch,
    ) -> None:
        code = values["code"]
        quiet: dict[str, Any] = {}  # columns rewritten without a new version
        stored_key = existing.get("source_key")
        # An entry without an identity, or with the one from before issue 12, takes the new one.
        if record.source_key and stored_key in (None, record.legacy_key):
            quiet["source_key"] = record.source_key
            batch.pending_keys[record.source_key] = code
        if record.source_key and record.source_record is not None:
            text = source_record_text(record.source_record)
            if text != existing.get("source_record"):
                quiet["source_record"] = text
        changes = {
            k: [existing.get(k), v]
            for k, v in values.items()
            if k in ENTRY_FIELDS and k != "code" and existing.get(k) != v
        }
        state = {**existing, **quiet}
        if changes:
            state.update({k: new for k, (_, new) in changes.items()})
            state.update(version=existing["version"] + 1, modified_at=self.stamp)
        batch.pending[code] = state
        if code in batch.inserts:
            batch.inserts[code] = {**batch.inserts[code], **state, "version": 1}
        elif changes or quiet:
            update = batch.updates.setdefault(code, {"code": code})
            update.update(quiet)
            if changes:
                update.update({k: new for k, (_, new) in changes.items()})
                update.update(version=state["version"], modified_at=self.stamp)
                batch.history.append(
                    self._history(code, state["version"], _action_for(changes), changes)
                )
        if not changes:
            batch.result.unchanged += 1
            return
        batch.result.updated += 1
        before, after = changes.get("updated_at", [None, None])
        if self.update_source and after and (before is None or after > before):
            batch.add_event(self._event(code, after))

    # --- rules -------------------------------------------------------------------------
    def _merge_updated(
        self, existing: dict[str, Any], values: dict[str, Any], batch: _Batch
    ) -> list[tuple[str, Reason, Any]]:
        """Keep the newer 最近更新时间 of the source's and the stored one (see the module)."""
        if "updated_at" not in values:
            return []
        new, current = values["updated_at"], existing.get("updated_at")
        new_precision = values.get("updated_precision")
        current_precision = existing.get("updated_precision")
        if new == current and new_precision == current_precision:
            return []  # the common re-import: nothing to merge
        if new is None or current is None:
            if new is None:  # the source gives none: keep what is stored
                values.pop("updated_at")
                values.pop("updated_precision", None)
            return []
        verdict = compare_times(new, new_precision, current, current_precision)
        if verdict == "newer":
            return []
        values.pop("updated_at")
        values.pop("updated_precision", None)
        if verdict != "older":
            return []
        if self.update_source and new not in self._logged(batch).get(existing["code"], ()):
            batch.add_event(self._event(existing["code"], new))
        reason = Reason("older_update", {"value": new, "current": current})
        return [("updated_at", reason, new)]

    def _logged(self, batch: _Batch) -> dict[str, set[str]]:
        """The batch's index of update events by code (one query for all its entries)."""
        if batch.logged is None:
            batch.logged = self.store.history.update_times(sorted(batch.matched))
            for event in batch.events:
                batch.logged.setdefault(event["code"], set()).add(event["updated_at"])
        return batch.logged

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

    def _contacts(self, given: dict[str, Any], org_code: Any, batch: _Batch) -> None:
        """The provider's contact from the record, where the organisation has none."""
        if not org_code or org_code in self.contacts_done:
            return
        if not any(k in given for k in CONTACT_FIELDS):
            return
        for target, column in CONTACT_FIELDS.items():
            value = given.get(target)
            if value is None or (org_code, column) in self.contacts_tried:
                continue
            value = str(value).strip()
            if not value or is_placeholder(value):
                continue
            self.contacts_tried.add((org_code, column))  # the first value seen fills it
            if all((org_code, c) in self.contacts_tried for c in CONTACT_FIELDS.values()):
                self.contacts_done.add(org_code)
            if org_code in batch.new_orgs:
                batch.new_orgs[org_code].setdefault(column, value)
            else:
                batch.contacts.setdefault(org_code, {"code": org_code})[column] = value

    def _problem(
        self,
        result: ApplyResult,
        record: EntryRecord,
        name: str,
        reason: Reason,
        severity: Severity = "reject",
        value: Any = None,
    ) -> None:
        found = RowError(record.row, name, reason, record.raw or record.fields, severity, value)
        if self.on_problem is not None:
            self.on_problem(found)
        else:
            (result.errors if severity == "reject" else result.warnings).append(found)

    def _next_code(self, classification: str) -> str:
        number = self.store.entries.allocate_sequence(classification)
        return f"{classification}/{number:0{SEQUENCE_DIGITS}d}"

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


def _action_for(changes: dict[str, Any]) -> str:
    if "status" in changes:
        return "retire" if changes["status"][1] == "retired" else "restore"
    return "update"


def _split_code(code: str) -> dict[str, str]:
    classification = code.split("/", 1)[0]
    return {"classification": classification, "resource_class": classification[0]}
