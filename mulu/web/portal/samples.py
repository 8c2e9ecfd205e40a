"""Sample rows on an entry page (issue 13): what the visitor may read of the entry's data, and
otherwise the way to ask for it.

The rows follow the visitor's ``DataAccess`` (``catalog.sharing.grants.Grants.access_for_entry``,
read through ``warehouse.granted``): the providing organisation's own users see them in clear;
a grantee sees its grant's columns, PII masked unless the grant unmasks it; anyone (anonymous
too) sees open data (无条件开放) with PII masked. Without access there are no rows but:

* 不予共享: why — the entry's 共享条件, its stated basis — and no way to apply;
* a signed-in user of another organisation: a 申请共享 link to ``/sharing/apply/<code>``;
* an anonymous visitor: a 登录后申请 link to ``/login?next=/sharing/apply/<code>``.

Each sample shown is one row of the audit log (channel ``portal``): one insert per page view
with rows, nothing more.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from catalog.sharing.audit import AuditLog
from catalog.sharing.grants import Grants
from schemas.access import DataAccess
from schemas.errors import Conflict, Forbidden, NotFound, Unauthenticated
from schemas.principal import Principal
from warehouse import granted
from warehouse.store import Store
from warehouse.workspace import Workspace

SAMPLE_ROWS = 10

# The sample's words (Chinese, English), by key; the page picks one language.
WORDS: dict[str, tuple[str, str]] = {
    "apply": ("申请共享", "Apply for access"),
    "login_to_apply": ("登录后申请", "Sign in to apply"),
    "need_login": (
        "查看本目录的数据需登录并获得共享授权",
        "Sign in and obtain a grant to see this data",
    ),
    "need_grant": ("查看本目录的数据需共享授权", "A grant is needed to see this data"),
    "closed": ("不予共享：不提供数据", "Not shared: no data is provided"),
    "closed_basis": ("不予共享的依据", "Basis for not sharing"),
    "no_basis": ("（未填写依据）", "(no basis recorded)"),
    "no_dataset": ("尚无接入的数据集", "No dataset loaded for this entry yet"),
    "unavailable": ("数据暂不可用", "The data is unavailable now"),
    "basis_owner": ("本单位数据，明文显示", "Your organisation's data, in clear"),
    "basis_grant": ("依据共享授权", "Under grant"),
    "basis_open": ("开放数据，个人信息已脱敏", "Open data, personal data masked"),
    "purpose": ("用途", "purpose"),
    "expires": ("有效期至", "until"),
    "masked_note": ("标 * 的列已脱敏", "Columns marked * are masked"),
    "download": ("下载", "Download"),
    "first_rows": ("前 {n} 行，共 {total} 行", "First {n} of {total} rows"),
}


def words(lang: str) -> dict[str, str]:
    index = 1 if lang == "en" else 0
    return {key: pair[index] for key, pair in WORDS.items()}


@dataclass(frozen=True)
class Sample:
    """What the sample card shows: rows (if any) and their basis, or a note and a way on."""

    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    total: int = 0
    masked: frozenset[str] = frozenset()
    access: DataAccess | None = None
    note: str | None = None  # a WORDS key
    reason: str | None = None  # 不予共享: the entry's 共享条件
    apply_url: str | None = None
    login_url: str | None = None


def apply_url(code: str) -> str:
    return f"/sharing/apply/{code}"


def entry_sample(
    workspace: Workspace,
    store: Store,
    who: Principal,
    entry: dict[str, Any],
    *,
    remote: str | None = None,
) -> Sample:
    """The sample card of ``entry`` for ``who`` (the module's docstring)."""
    code = str(entry["code"])
    note: str | None = None
    try:
        access = Grants(store, workspace).access_for_entry(who, code)
    except NotFound:
        access, note = None, "no_dataset"
    except Unauthenticated:
        access, note = None, "need_login"
    except Forbidden:
        access, note = None, "need_grant"
    if access is not None:
        try:
            page = granted.read_page(workspace, access, limit=SAMPLE_ROWS)
        except NotFound:  # a spec, but nothing published yet
            access, note = None, "no_dataset"
        except Conflict:  # the table no longer has what the grant names
            return Sample(note="unavailable")
        else:
            AuditLog(store).access(
                who,
                channel="portal",
                dataset=access.dataset,
                columns=page.columns,
                rows=len(page.rows),
                grant_id=access.grant_id,
                purpose=access.purpose,
                entry_code=code,
                remote=remote,
                detail={"basis": access.basis},
            )
            return Sample(
                columns=page.columns,
                rows=page.rows,
                total=page.total,
                masked=access.masked & frozenset(page.columns),
                access=access,
            )
    if (entry.get("share_type") or "").startswith("不予"):
        return Sample(note="closed", reason=str(entry.get("share_condition") or "") or None)
    if who.is_anonymous:
        target = urllib.parse.quote(apply_url(code), safe="/")
        return Sample(note=note, login_url=f"/login?next={target}")
    if who.org_code and who.org_code == entry.get("provider_code"):
        return Sample(note=note)  # its own entry, nothing loaded yet
    return Sample(note=note, apply_url=apply_url(code))
