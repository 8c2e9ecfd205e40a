"""Grants (共享授权, issue 13) and what one principal may read of a dataset now (``DataAccess``).

A grant is (one user or one organisation) × dataset × columns (+ an optional row filter) ×
purpose × expiry, created by the data office (steward) or by the workflow when an application
is approved (``check_policy=False``), and revoked with a reason. Creating and revoking are
recorded in the audit log (``decision``, actions ``grant``/``revoke``).

``access(who, dataset)`` decides every data channel (portal samples, REST, downloads, CKAN,
analyst sessions), in this order:

* ``owner``: a user of the providing organisation (the spec's ``provider``, else the entry's
  提供方) reads every column in clear;
* ``grant``: live grants (started, not expired, not revoked: checked on every call, nothing is
  cached) to the user's login or to their organisation. Grants on the dataset of an entry that
  is now 不予共享 are not honoured (the owner still reads). Several live grants combine
  (``_combined``) so that a new grant never narrows the rows of one without a row filter, and
  every (row, column) shown is covered by some grant:

  - a grant without a row filter means all rows: if any live grant has none, the view has no
    filter and the columns (and PII in clear) of the unfiltered grants only;
  - when every grant filters the same single column, the rows are the union of their values,
    and a column is shown (a PII column in clear) only when the grants granting it (unmasking
    it) together cover every one of those values — used when that keeps at least the columns
    and clear PII of the intersection below, else the intersection is the view;
  - otherwise (filters on different columns: the union is not expressible as one filter) the
    conservative view: the union of columns, a PII column in clear only where a grant listing
    it unmasks it, rows satisfying every grant's filter — unless that leaves provably no row
    (a column with no value in common), then the view of the grants filtering the most common
    column(s) alone (ties: the oldest grant's);

  ``grant_id``/``purpose`` are the oldest contributing grant's, ``expires_at`` the earliest
  expiry among them;
* ``open``: the entry's 开放属性 is open data (``catalog.policies.OPEN_DATA``): every column,
  every PII column masked, for anyone (anonymous too);
* else ``Unauthenticated`` (anonymous) or ``Forbidden``.

The first that applies wins: for an open dataset, a live grant (its columns, its unmasked PII,
its filter) is the view, not the open one.

Datasets are the workspace's specs (``catalog.datasets.discover_datasets``); their PII columns
are the spec columns with ``pii``. ``readable(who)`` lists only datasets with a published load.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalog.datasets import spec_paths
from catalog.policies import OPEN_DATA, STEWARD
from schemas.access import DataAccess
from schemas.dataset_spec import DatasetSpec, SpecError, load_spec
from schemas.entry import CATALOGUE_TZ, ShareType, catalogue_now
from schemas.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from schemas.principal import Principal
from warehouse.store import Store
from warehouse.workspace import Workspace


@dataclass(frozen=True)
class DatasetInfo:
    """What access needs of a dataset: its columns (table order), PII columns, the entry it
    serves and the providing organisation's code (None when it cannot be told)."""

    name: str
    entry_code: str
    columns: tuple[str, ...]
    pii: frozenset[str]
    provider_org: str | None


def grant_status(grant: Mapping[str, Any], now: str) -> str:
    """revoked | expired | pending (not started) | live."""
    if grant.get("revoked_at"):
        return "revoked"
    if str(grant["expires_at"]) <= now:
        return "expired"
    if str(grant["starts_at"]) > now:
        return "pending"
    return "live"


# Specs parsed once per file version (path, mtime, size): access is asked on every statement
# of an analyst session; grants themselves are never cached.
_SPEC_CACHE: dict[tuple[str, int, int], DatasetSpec | None] = {}


def _spec(path: Path) -> DatasetSpec | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _SPEC_CACHE:
        if len(_SPEC_CACHE) > 10_000:  # old versions of edited specs
            _SPEC_CACHE.clear()
        try:
            _SPEC_CACHE[key] = load_spec(path)
        except SpecError:
            _SPEC_CACHE[key] = None
    return _SPEC_CACHE[key]


class Grants:
    """The use cases over ``store.grants``. ``clock`` gives now (catalogue time)."""

    def __init__(
        self,
        store: Store,
        workspace: Workspace,
        *,
        clock: Callable[[], dt.datetime] = catalogue_now,
    ) -> None:
        self.store = store
        self.workspace = workspace
        self.clock = clock

    def _now(self) -> str:
        return self.clock().isoformat()

    # --- datasets ------------------------------------------------------------------------
    def datasets(self) -> dict[str, DatasetInfo]:
        """Every usable dataset spec of the workspace, by name (the first of a name wins)."""
        found: dict[str, DatasetInfo] = {}
        for path in spec_paths(self.workspace):
            spec = _spec(path)
            if spec is None or spec.name in found:
                continue
            found[spec.name] = self._info(spec)
        return found

    def dataset(self, name: str) -> DatasetInfo:
        found = self.datasets().get(name)
        if found is None:
            raise NotFound(f"没有名为 {name!r} 的数据集 (no such dataset)")
        return found

    def _info(self, spec: DatasetSpec) -> DatasetInfo:
        return DatasetInfo(
            name=spec.name,
            entry_code=spec.entry_code,
            columns=tuple(c.name for c in spec.columns),
            pii=frozenset(c.name for c in spec.columns if c.pii),
            provider_org=self._provider(spec),
        )

    def _provider(self, spec: DatasetSpec) -> str | None:
        if spec.provider:
            org = self.store.organisations.find(spec.provider)
            return str(org["code"]) if org else spec.provider
        entry = self.store.entries.get(spec.entry_code)
        if entry is None:
            return None
        if entry.get("provider_code"):
            return str(entry["provider_code"])
        org = self.store.organisations.find(str(entry.get("provider_name") or ""))
        return str(org["code"]) if org else None

    # --- grants --------------------------------------------------------------------------
    def create(
        self,
        who: Principal,
        *,
        dataset: str,
        purpose: str,
        expires_at: dt.datetime,
        grantee_login: str | None = None,
        grantee_org: str | None = None,
        columns: Sequence[str] = (),
        unmasked: Sequence[str] = (),
        row_filter: Mapping[str, Sequence[str]] | None = None,
        application_id: int | None = None,
        check_policy: bool = True,
    ) -> dict[str, Any]:
        """A new grant; ``columns`` empty: every column; ``unmasked``: PII columns shown in
        clear (they must be granted columns); ``row_filter``: {column: allowed values}."""
        if check_policy:
            STEWARD.check(who)
        info = self.dataset(dataset)
        if not purpose or not purpose.strip():
            raise InvalidInput("授权用途不能为空 (purpose required)")
        if (grantee_login is None) == (grantee_org is None):
            raise InvalidInput(
                "被授权方必须且只能是一个用户或一个组织 (exactly one grantee: a login or an org)"
            )
        if grantee_login is not None and self.store.users.get(grantee_login) is None:
            raise NotFound(f"没有登录名为 {grantee_login!r} 的用户")
        if grantee_org is not None and self.store.organisations.get(grantee_org) is None:
            raise NotFound(f"没有代码为 {grantee_org!r} 的组织")
        chosen = list(dict.fromkeys(columns))
        unknown = [c for c in chosen if c not in info.columns]
        if unknown:
            raise InvalidInput(f"数据集 {dataset} 没有字段：{'、'.join(unknown)} (unknown columns)")
        clear = list(dict.fromkeys(unmasked))
        not_pii = [c for c in clear if c not in info.pii]
        if not_pii:
            raise InvalidInput(
                f"只有个人信息字段可以不脱敏，这些不是：{'、'.join(not_pii)} "
                "(unmasked must be PII columns of the spec)"
            )
        outside = [c for c in clear if chosen and c not in chosen]
        if outside:
            raise InvalidInput(
                f"不脱敏的字段必须在授权字段中：{'、'.join(outside)} (unmasked ⊆ columns)"
            )
        rows = _row_filter(row_filter or {}, info)
        entry = self.store.entries.get(info.entry_code)
        if entry is not None and _not_shared(entry):
            basis = str(entry.get("share_condition") or "").strip() or "目录未注明依据"
            raise Conflict(
                f"数据集 {info.name} 所服务的资源 {info.entry_code} 现为不予共享，不能授权。"
                f"依据：{basis} (the entry is not shared: no grant)"
            )
        now = self.clock()
        expiry = expires_at.replace(microsecond=0)
        if expiry.tzinfo is not None:  # a zone given: the same moment in catalogue time
            expiry = expiry.astimezone(CATALOGUE_TZ).replace(tzinfo=None)
        if expiry <= now:
            raise InvalidInput(
                f"到期时间 {expiry.isoformat()} 必须晚于现在 (expiry must be in the future)"
            )
        from catalog.sharing.audit import AuditLog

        record = {
            "dataset": info.name,
            "entry_code": info.entry_code,
            "grantee_login": grantee_login,
            "grantee_org": grantee_org,
            "columns": chosen,
            "unmasked": clear,
            "row_filter": rows,
            "purpose": purpose.strip(),
            "application_id": application_id,
            "starts_at": now.isoformat(),
            "expires_at": expiry.isoformat(),
            "created_at": now.isoformat(),
            "created_by": who.actor,
        }
        with self.store.transaction():
            grant_id = self.store.grants.insert(record)
            AuditLog(self.store, clock=self.clock).decision(
                who,
                action="grant",
                grant_id=grant_id,
                application_id=application_id,
                dataset=info.name,
                entry_code=info.entry_code,
                detail={
                    "grantee_login": grantee_login,
                    "grantee_org": grantee_org,
                    "columns": chosen,
                    "unmasked": clear,
                    "row_filter": rows,
                    "expires_at": expiry.isoformat(),
                },
            )
        return self.get(grant_id)

    def get(self, grant_id: int) -> dict[str, Any]:
        grant = self.store.grants.get(grant_id)
        if grant is None:
            raise NotFound(f"没有编号为 {grant_id} 的授权 (no such grant)")
        return {**grant, "status": grant_status(grant, self._now())}

    def revoke(self, who: Principal, grant_id: int, *, reason: str) -> dict[str, Any]:
        """End a grant now (steward); the reason is required and recorded."""
        STEWARD.check(who)
        if not reason or not reason.strip():
            raise InvalidInput("撤销授权必须填写理由 (a reason is required)")
        from catalog.sharing.audit import AuditLog

        with self.store.transaction():
            grant = self.get(grant_id)
            if grant["revoked_at"]:
                raise Conflict(f"授权 {grant_id} 已于 {grant['revoked_at']} 撤销 (already revoked)")
            self.store.grants.revoke(grant_id, at=self._now(), by=who.actor, reason=reason.strip())
            AuditLog(self.store, clock=self.clock).decision(
                who,
                action="revoke",
                grant_id=grant_id,
                application_id=grant["application_id"],
                dataset=grant["dataset"],
                entry_code=grant["entry_code"],
                reason=reason.strip(),
            )
        return self.get(grant_id)

    def list(
        self,
        *,
        login: str | None = None,
        org: str | None = None,
        dataset: str | None = None,
        live_only: bool = False,
    ) -> builtins.list[dict[str, Any]]:
        """Grants newest first, each with ``status``; ``login`` and ``org`` together: grants
        to either (what applies to one user)."""
        now = self._now()
        grants = self.store.grants.find(
            login=login, org=org, dataset=dataset, live_at=now if live_only else None
        )
        return [{**g, "status": grant_status(g, now)} for g in grants]

    def mine(self, who: Principal) -> builtins.list[dict[str, Any]]:
        """Grants to ``who``'s login or organisation."""
        if who.is_anonymous:
            raise Unauthenticated("请先登录 (sign in first)")
        return self.list(login=who.login, org=who.org_code)

    # --- access --------------------------------------------------------------------------
    def access(self, who: Principal, dataset: str) -> DataAccess:
        """What ``who`` may read of ``dataset`` now (the module's docstring)."""
        info = self.dataset(dataset)
        return self._access(who, info)

    def _access(self, who: Principal, info: DatasetInfo) -> DataAccess:
        found = self._allowed(who, info)
        if found is not None:
            return found
        if who.is_anonymous:
            raise Unauthenticated(f"请先登录：数据集 {info.name} 不是开放数据 (sign in first)")
        raise Forbidden(
            f"{who.actor} 无权读取数据集 {info.name}：需要共享授权 (a grant is required)"
        )

    def _allowed(self, who: Principal, info: DatasetInfo) -> DataAccess | None:
        if not who.is_anonymous and who.org_code and who.org_code == info.provider_org:
            return DataAccess(
                dataset=info.name,
                table=info.name,
                columns=info.columns,
                basis="owner",
                entry_code=info.entry_code,
                pii=info.pii,
            )
        entry = self.store.entries.get(info.entry_code)
        if not who.is_anonymous and not (entry is not None and _not_shared(entry)):
            now = self._now()
            live = self.store.grants.find(
                login=who.login, org=who.org_code, dataset=info.name, live_at=now
            )
            if live:
                return _combined(info, sorted(live, key=lambda g: int(g["id"])))
        if entry is not None and (entry.get("open_type") or "") in OPEN_DATA:
            return DataAccess(
                dataset=info.name,
                table=info.name,
                columns=info.columns,
                masked=info.pii,
                basis="open",
                entry_code=info.entry_code,
                pii=info.pii,
            )
        return None

    def access_for_entry(self, who: Principal, entry_code: str) -> DataAccess:
        """``access`` to the dataset serving the entry (a published one first, by name)."""
        serving = sorted(
            (info for info in self.datasets().values() if info.entry_code == entry_code),
            key=lambda info: info.name,
        )
        if not serving:
            raise NotFound(f"目录 {entry_code} 没有对应的数据集 (no dataset serves this entry)")
        published = set(self.store.loads.published_datasets([i.name for i in serving]))
        serving.sort(key=lambda info: info.name not in published)
        return self._access(who, serving[0])

    def readable(self, who: Principal) -> builtins.list[DataAccess]:
        """Every published dataset ``who`` may read now, by name."""
        infos = self.datasets()
        published = self.store.loads.published_datasets(sorted(infos))
        found = []
        for name in published:
            allowed = self._allowed(who, infos[name])
            if allowed is not None:
                found.append(allowed)
        return found


def _row_filter(
    row_filter: Mapping[str, Sequence[str]], info: DatasetInfo
) -> dict[str, builtins.list[str]]:
    checked: dict[str, builtins.list[str]] = {}
    for column, values in row_filter.items():
        if column not in info.columns:
            raise InvalidInput(f"行过滤字段 {column} 不在数据集 {info.name} 中 (unknown column)")
        if isinstance(values, str):
            values = [values]
        kept = [str(v) for v in dict.fromkeys(values)]
        if not kept:
            raise InvalidInput(f"行过滤字段 {column} 没有允许的取值 (no values)")
        checked[column] = kept
    return checked


def _not_shared(entry: Mapping[str, Any]) -> bool:
    return str(entry.get("share_type") or "") == ShareType.NOT_SHARED


def _filter_of(grant: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    return {c: frozenset(str(v) for v in vs) for c, vs in (grant["row_filter"] or {}).items()}


def _columns_of(info: DatasetInfo, grant: Mapping[str, Any]) -> set[str]:
    return {c for c in (grant["columns"] or info.columns) if c in info.columns}


def _clear_of(info: DatasetInfo, grant: Mapping[str, Any]) -> set[str]:
    return {c for c in grant["unmasked"] if c in _columns_of(info, grant)}


def _view(
    info: DatasetInfo,
    grants: Sequence[Mapping[str, Any]],
    columns: set[str],
    clear: set[str],
    filters: Mapping[str, set[str] | frozenset[str]],
) -> DataAccess:
    shown = tuple(c for c in info.columns if c in columns)
    first = grants[0]
    return DataAccess(
        dataset=info.name,
        table=info.name,
        columns=shown,
        masked=frozenset(c for c in shown if c in info.pii and c not in clear),
        row_filter=tuple((c, tuple(sorted(v))) for c, v in sorted(filters.items())),
        basis="grant",
        grant_id=int(first["id"]),
        purpose=str(first["purpose"]),
        entry_code=info.entry_code,
        expires_at=min(str(g["expires_at"]) for g in grants),
        pii=info.pii,
    )


def _combined(info: DatasetInfo, grants: Sequence[Mapping[str, Any]]) -> DataAccess:
    """The view of several live grants (oldest first) of one dataset (the module's docstring)."""
    unfiltered = [g for g in grants if not _filter_of(g)]
    if unfiltered:  # all rows: only what the unfiltered grants give is shown on every row
        columns = set().union(*(_columns_of(info, g) for g in unfiltered))
        clear = set().union(*(_clear_of(info, g) for g in unfiltered))
        return _view(info, unfiltered, columns, clear, {})
    # the intersection of the filters: every grant covers every row shown
    columns = set().union(*(_columns_of(info, g) for g in grants))
    clear = set().union(*(_clear_of(info, g) for g in grants))
    filters: dict[str, set[str]] = {}
    for grant in grants:
        for column, allowed in _filter_of(grant).items():
            filters[column] = filters[column] & allowed if column in filters else set(allowed)
    intersection = _view(info, grants, columns, clear, filters)
    keys = {tuple(_filter_of(g)) for g in grants}
    if len(keys) == 1 and len(next(iter(keys))) == 1:  # the same single column: the union
        (column,) = next(iter(keys))
        values: set[str] = set().union(*(_filter_of(g)[column] for g in grants))

        def covered(names: Callable[[Mapping[str, Any]], set[str]]) -> set[str]:
            reach: dict[str, set[str]] = {}
            for grant in grants:
                for name in names(grant):
                    reach.setdefault(name, set()).update(_filter_of(grant)[column])
            return {name for name, seen in reach.items() if seen >= values}

        wide_columns = covered(lambda g: _columns_of(info, g))
        wide_clear = covered(lambda g: _clear_of(info, g)) & wide_columns
        if wide_columns >= columns and wide_clear >= clear:
            return _view(info, grants, wide_columns, wide_clear, {column: values})
    if any(not allowed for allowed in filters.values()) and len(keys) > 1:
        # provably no row: the grants filtering the most common column(s) instead
        counts: dict[tuple[str, ...], int] = {}
        for grant in grants:
            key = tuple(_filter_of(grant))
            counts[key] = counts.get(key, 0) + 1
        best = max(counts, key=lambda k: counts[k])  # ties: the oldest grant's key first
        return _combined(info, [g for g in grants if tuple(_filter_of(g)) == best])
    return intersection
