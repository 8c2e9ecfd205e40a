"""The audit log (审计日志, issue 13): every data access and every decision, hash-chained.

``AuditLog.access`` records a read of data (who, which dataset and columns, how many rows,
under which grant and purpose, through which channel, from where); ``decision`` a step of the
sharing workflow or a grant's creation or revocation; ``event`` anything else (login, logout,
audit_view, audit_export …). Each returns the row's ``seq``.

Tamper evidence: each row carries the sha256 of its content and of the previous row's hash
(``warehouse.store.sql.audit``). ``verify`` recomputes every hash and link and names the
first broken seq and why:

- an edited row: its hash no longer matches its content ("内容被修改");
- a deleted row: a seq gap, and the next row's prev_hash no longer matches ("记录缺失");
- a rewritten row whose hash was recomputed: the next row's prev_hash no longer matches;
- rows cut from the tail: the highest seq SQLite handed out is past the last row, and the
  checkpoint (``audit/checkpoint.json`` in the workspace: the last seq and hash a successful
  verify saw) no longer matches.

Limits: someone who can write the file can rewrite the whole chain from some row on, reset
``sqlite_sequence`` and the checkpoint file too; only a checkpoint kept elsewhere (an exported
copy, or the printed last hash) proves that. The log is tamper-evident, not tamper-proof.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from schemas.entry import CATALOGUE_TZ, catalogue_now
from schemas.errors import InvalidInput
from schemas.principal import Principal
from warehouse.store import Store
from warehouse.store.fields import AUDIT_COLUMNS

CHANNELS = ("portal", "rest", "download", "ckan", "sql", "cli")
# Every action the log records: data reads, the sharing workflow's steps, grants, sign-ins and
# looks at the log itself (what ``mulu audit list --action`` accepts).
ACTIONS = (
    "access",
    "access_denied",
    "application_apply",
    "application_forward",
    "application_approve",
    "application_refuse",
    "application_escalate",
    "application_settle",
    "application_withdraw",
    "grant",
    "revoke",
    "login",
    "login_failed",
    "logout",
    "audit_view",
    "audit_verify",
    "audit_export",
)
# The row's own columns an ``event`` may set directly; any other field goes into ``detail``.
EVENT_FIELDS = (
    "channel",
    "dataset",
    "entry_code",
    "columns",
    "rows",
    "grant_id",
    "purpose",
    "remote",
)
EXPORT_COLUMNS = AUDIT_COLUMNS  # every column, both hashes: a copy verifies on its own
MAX_PROBLEMS = 20
ExportFormat = Literal["csv", "jsonl"]


@dataclass(frozen=True)
class AuditCheck:
    """What ``verify`` found: ``ok`` when every hash and link holds."""

    ok: bool
    checked: int
    problems: list[str] = field(default_factory=list)
    first_broken: int | None = None
    last_seq: int | None = None
    last_hash: str | None = None
    checkpoint: dict[str, Any] | None = None  # the checkpoint compared with, if any

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "problems": list(self.problems),
            "first_broken": self.first_broken,
            "last_seq": self.last_seq,
            "last_hash": self.last_hash,
            "checkpoint": self.checkpoint,
        }


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def decoded(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored row as shown: ``columns`` a list, ``detail`` a dict."""
    shown = dict(row)
    for key, empty in (("columns", None), ("detail", {})):
        text = shown.get(key)
        if text is None:
            shown[key] = empty
            continue
        try:
            shown[key] = json.loads(text)
        except (TypeError, ValueError):
            shown[key] = text
    return shown


def checkpoint_path(workspace_root: Path) -> Path:
    """Where ``verify`` keeps the last seq and hash it checked: ``<workspace>/audit/checkpoint.json``."""
    return workspace_root / "audit" / "checkpoint.json"


class AuditLog:
    """The use cases over ``store.audit``. ``clock`` gives now (catalogue time).

    ``checkpoint``: the file ``verify`` compares with and, when the chain holds, rewrites (pass
    ``checkpoint_path(workspace.root)``); None keeps none (tail truncation is then seen only
    through the seq SQLite handed out)."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], dt.datetime] = catalogue_now,
        checkpoint: Path | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.checkpoint = checkpoint

    # --- writing -------------------------------------------------------------------------
    def _append(self, who: Principal, action: str, fields: Mapping[str, Any]) -> int:
        # "From where": what the caller names, else where the principal acts from (the web
        # middleware and the CLI set it), so decisions made on a page carry it too.
        channel = fields.get("channel") or who.channel
        if channel is not None and channel not in CHANNELS:
            raise ValueError(f"unknown audit channel {channel!r} (one of {CHANNELS})")
        columns = fields.get("columns")
        detail = {k: v for k, v in (fields.get("detail") or {}).items() if v is not None}
        record = {
            "at": self.clock().isoformat(),
            "actor": who.actor,
            "actor_org": who.org_code,
            "action": action,
            "channel": channel,
            "dataset": fields.get("dataset"),
            "entry_code": fields.get("entry_code"),
            "columns": None if columns is None else _json(list(columns)),
            "rows": None if fields.get("rows") is None else int(fields["rows"]),
            "grant_id": None if fields.get("grant_id") is None else int(fields["grant_id"]),
            "purpose": fields.get("purpose"),
            "remote": fields.get("remote") or who.remote,
            "detail": _json(detail),
        }
        return self.store.audit.append(record)

    def access(
        self,
        who: Principal,
        *,
        channel: str,
        dataset: str,
        columns: Sequence[str],
        rows: int,
        grant_id: int | None = None,
        purpose: str | None = None,
        entry_code: str | None = None,
        remote: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> int:
        """One read of data (action ``access``); returns the seq."""
        if channel not in CHANNELS:
            raise ValueError(f"unknown audit channel {channel!r} (one of {CHANNELS})")
        return self._append(
            who,
            "access",
            {
                "channel": channel,
                "dataset": dataset,
                "columns": columns,
                "rows": rows,
                "grant_id": grant_id,
                "purpose": purpose,
                "entry_code": entry_code,
                "remote": remote,
                "detail": detail,
            },
        )

    def decision(
        self,
        who: Principal,
        *,
        action: str,
        application_id: int | None = None,
        grant_id: int | None = None,
        entry_code: str | None = None,
        dataset: str | None = None,
        reason: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> int:
        """A decision (``action`` as given: forward, approve, refuse, settle, grant, revoke …);
        ``application_id`` and ``reason`` go into ``detail`` with ``kind: decision``."""
        extra = {
            **(detail or {}),
            "kind": "decision",
            "application_id": application_id,
            "reason": reason,
        }
        return self._append(
            who,
            action,
            {"grant_id": grant_id, "entry_code": entry_code, "dataset": dataset, "detail": extra},
        )

    def event(self, who: Principal, action: str, **fields: Any) -> int:
        """Anything else (login, logout, login_failed, audit_view, audit_export …). Fields named
        like a column (channel, dataset, entry_code, columns, rows, grant_id, purpose, remote)
        fill it; ``detail=`` (a mapping) and every other field go into ``detail``."""
        own = {k: fields.pop(k) for k in EVENT_FIELDS if k in fields}
        detail = dict(fields.pop("detail", None) or {})
        detail.update(fields)
        own["detail"] = detail
        return self._append(who, action, own)

    # --- reading -------------------------------------------------------------------------
    def entries(
        self,
        *,
        limit: int | None = 100,
        offset: int = 0,
        since: str | None = None,
        until: str | None = None,
        newest_first: bool = True,
        **filters: Any,
    ) -> list[dict[str, Any]]:
        """Rows matching the filters (actor, actor_org, dataset, entry_code, action, channel,
        grant_id; since/until inclusive on ``at``, a date alone meaning that whole day), newest
        first, ``columns``/``detail`` decoded."""
        since, until = _bounds(since, until)
        rows = self.store.audit.query(
            since=since,
            until=until,
            limit=limit,
            offset=offset,
            newest_first=newest_first,
            **_filters(filters),
        )
        return [decoded(row) for row in rows]

    def count(self, *, since: str | None = None, until: str | None = None, **filters: Any) -> int:
        since, until = _bounds(since, until)
        return self.store.audit.count(since=since, until=until, **_filters(filters))

    # --- verifying -----------------------------------------------------------------------
    def verify(self) -> AuditCheck:
        """Recompute every hash and link, in seq order; compare the tail with the seq SQLite
        handed out and with the checkpoint. Saves a new checkpoint when all holds."""
        audit = self.store.audit
        top_before = audit.top_seq()
        problems: list[str] = []
        first: int | None = None

        def broken(seq: int, text: str) -> None:
            nonlocal first
            if first is None:
                first = seq
            if len(problems) < MAX_PROBLEMS:
                problems.append(text)

        prev_seq = 0
        prev_hash = audit.genesis
        checked = 0
        saved = self.saved_checkpoint()
        checkpoint_hash: str | None = None
        for row in audit.iterate():
            seq = int(row["seq"])
            checked += 1
            if seq != prev_seq + 1:
                missing = f"{prev_seq + 1}" if seq == prev_seq + 2 else f"{prev_seq + 1}–{seq - 1}"
                broken(seq, f"seq {seq}: 记录缺失 (rows deleted) — seq {missing} 不存在")
            if row["prev_hash"] != prev_hash:
                broken(
                    seq,
                    f"seq {seq}: 链接断开 (prev_hash mismatch) — 与 seq {prev_seq} 的哈希不一致"
                    "（前一条被删除、改写或顺序被调换）",
                )
            if audit.digest(row) != row["hash"]:
                broken(seq, f"seq {seq}: 内容被修改 (hash mismatch) — 哈希与内容不符")
            if saved is not None and seq == saved.get("seq"):
                checkpoint_hash = row["hash"]
            prev_seq, prev_hash = seq, row["hash"]
        last_seq = prev_seq if checked else None
        last_hash = prev_hash if checked else None
        if top_before > prev_seq:
            broken(
                prev_seq + 1,
                f"seq {prev_seq + 1}: 末尾记录缺失 (tail truncated) — 已分配到 seq {top_before}，"
                f"最后一条是 seq {prev_seq}",
            )
        if saved is not None and saved.get("unreadable"):
            broken(
                prev_seq,
                f"检查点文件无法读取 (checkpoint unreadable): {self.checkpoint} — 被改动？"
                "确认日志无误后删除该文件，下次校验重新生成",
            )
        elif saved is not None:
            want_seq, want_hash = saved.get("seq"), saved.get("hash")
            if isinstance(want_seq, int) and want_seq > prev_seq:
                broken(
                    prev_seq + 1,
                    f"seq {prev_seq + 1}: 末尾记录缺失 (tail truncated) — 检查点记录到 seq "
                    f"{want_seq}，现在最后一条是 seq {prev_seq}",
                )
            elif isinstance(want_seq, int) and want_seq > 0 and checkpoint_hash != want_hash:
                broken(
                    want_seq,
                    f"seq {want_seq}: 与检查点不符 (checkpoint mismatch) — 该记录或其之前的链被重写",
                )
        check = AuditCheck(
            ok=first is None,
            checked=checked,
            problems=problems,
            first_broken=first,
            last_seq=last_seq,
            last_hash=last_hash,
            checkpoint=saved,
        )
        if check.ok and checked:
            self._save_checkpoint(last_seq or 0, last_hash or "", checked)
        return check

    def saved_checkpoint(self) -> dict[str, Any] | None:
        """The checkpoint the last successful verify saved (seq, hash, count, at), if any."""
        if self.checkpoint is None or not self.checkpoint.exists():
            return None
        try:
            saved = json.loads(self.checkpoint.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"seq": None, "hash": None, "unreadable": True}
        return saved if isinstance(saved, dict) else None

    def _save_checkpoint(self, seq: int, hash_: str, count: int) -> None:
        """Atomically (a temporary file, then rename); never back to an older seq (a slower
        verify finishing after a newer one)."""
        if self.checkpoint is None:
            return
        current = self.saved_checkpoint()
        if current and isinstance(current.get("seq"), int) and current["seq"] > seq:
            return
        self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        body = {"seq": seq, "hash": hash_, "count": count, "at": self.clock().isoformat()}
        temp = self.checkpoint.with_name(f".{self.checkpoint.name}.{secrets.token_hex(8)}.tmp")
        temp.write_text(json.dumps(body, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        os.replace(temp, self.checkpoint)

    # --- exporting -----------------------------------------------------------------------
    def stream(
        self,
        fmt: ExportFormat,
        *,
        since: str | None = None,
        until: str | None = None,
        **filters: Any,
    ) -> Iterator[bytes]:
        """The matching rows in seq order as CSV (UTF-8 with BOM, for Excel) or JSON lines,
        chunk by chunk; every column, hashes included, so a copy can be verified later."""
        if fmt not in ("csv", "jsonl"):
            raise ValueError(f"unknown export format {fmt!r} (csv or jsonl)")
        since, until = _bounds(since, until)  # checked now, not at the first chunk
        rows = self.store.audit.iterate(since=since, until=until, **_filters(filters))
        return _chunks(fmt, rows)

    def export(
        self,
        path: Path,
        fmt: ExportFormat = "csv",
        *,
        since: str | None = None,
        until: str | None = None,
        **filters: Any,
    ) -> int:
        """Write the matching rows to ``path`` (streamed); returns how many."""
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = 0
        with path.open("wb") as out:
            for chunk in self.stream(fmt, since=since, until=until, **filters):
                out.write(chunk)
                lines += 1
        return lines - 1 if fmt == "csv" else lines


def _chunks(fmt: ExportFormat, rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    if fmt == "jsonl":
        for row in rows:
            yield (json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    yield "\ufeff".encode() + buffer.getvalue().encode("utf-8")
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_csv_cell(row[c]) for c in EXPORT_COLUMNS])
        yield buffer.getvalue().encode("utf-8")


# A spreadsheet runs a cell starting with one of these as a formula (=HYPERLINK(…) in a purpose
# an applicant typed would reach the data office's Excel): such text gets a leading ' (OWASP's
# CSV injection rule). The JSONL export keeps every value verbatim, for checking the hashes.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def check_filters(*, action: str | None = None, channel: str | None = None) -> None:
    """Refuse an action or channel the log never records (InvalidInput naming the valid ones):
    a typo should not read as "no entries"."""
    if action and action not in ACTIONS:
        raise InvalidInput(
            f"没有这种审计动作：{action!r}；可用：{', '.join(ACTIONS)} (unknown audit action)"
        )
    if channel and channel not in CHANNELS:
        raise InvalidInput(
            f"没有这种渠道：{channel!r}；可用：{', '.join(CHANNELS)} (unknown audit channel)"
        )


def _filters(filters: Mapping[str, Any]) -> dict[str, Any]:
    """Drop empty filters; ``grant_id`` as an int."""
    kept = {k: v for k, v in filters.items() if v is not None and v != ""}
    if "grant_id" in kept:
        kept["grant_id"] = int(kept["grant_id"])
    return kept


def _bounds(since: str | None, until: str | None) -> tuple[str | None, str | None]:
    """``since``/``until`` as catalogue ISO text; a date alone as ``until`` means the end of
    that day. Anything else is refused (InvalidInput)."""
    return _moment(since, "since", end_of_day=False), _moment(until, "until", end_of_day=True)


def _moment(text: str | None, name: str, *, end_of_day: bool) -> str | None:
    if text is None or not str(text).strip():
        return None
    text = str(text).strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return f"{day.isoformat()}T23:59:59.999999" if end_of_day else day.isoformat()
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{name} 不是日期或时间：{text!r}（例如 2026-12-07 或 2026-12-07T09:30）"
            " (not an ISO date or time)"
        ) from None
    if moment.tzinfo is not None:  # catalogue time is Asia/Shanghai, stored without offset
        moment = moment.astimezone(CATALOGUE_TZ).replace(tzinfo=None)
    return moment.isoformat()
