"""REST: entries (目录条目) and organisations (提供方)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel, Field

from catalog.directory import Directory, EntryNotFound
from mulu.web.deps import Web, connection, entry_or_404, organisation_or_404
from warehouse.catalog_store import row_to_entry


class UpdateReport(BaseModel):
    """A department reports that an entry's data was updated (数据更新)."""

    at: dt.datetime | None = Field(None, description="when; default now (catalogue time)")
    note: str | None = None
    reported_by: str = Field("api", description="who reports it")


def register(app: FastAPI, web: Web) -> None:
    workspace = web.workspace
    @app.get("/api/entries", tags=["catalogue"])
    def list_entries(org: str | None = None, share_type: str | None = None,
                     update_cycle: str | None = None,
                     limit: int = Query(50, ge=1, le=1000), offset: int = Query(0, ge=0)
                     ) -> dict[str, Any]:
        where, params = ["status = 'active'"], []
        for column, value in (("provider_code", org), ("share_type", share_type),
                              ("update_cycle", update_cycle)):
            if value:
                if column == "provider_code":
                    where.append("(provider_code = ? OR provider_name = ?)")
                    params.append(value)
                else:
                    where.append(f"{column} = ?")
                params.append(value)
        sql_where = " AND ".join(where)
        with connection(workspace) as con:
            total = con.execute(f"SELECT count(*) FROM entries WHERE {sql_where}",
                                params).fetchone()[0]
            rows = con.execute(f"SELECT * FROM entries WHERE {sql_where} ORDER BY code "
                               f"LIMIT ? OFFSET ?", [*params, limit, offset]).fetchall()
        return {"total": total, "entries": [row_to_entry(r) for r in rows]}

    @app.get("/api/entries/{code:path}/history", tags=["catalogue"])
    def entry_history(code: str) -> dict[str, Any]:
        directory = Directory.open(workspace, user="api")
        try:
            entry = directory.get(code)
            return {"code": entry["code"], "history": directory.store.history.of(entry["code"]),
                    "updates": directory.store.history.updates(entry["code"])}
        except EntryNotFound:
            raise HTTPException(status_code=404, detail=f"no entry {code}") from None
        finally:
            directory.close()

    @app.post("/api/entries/{code:path}/updates", tags=["freshness"], status_code=201)
    def report_update(code: str, report: UpdateReport) -> dict[str, Any]:
        directory = Directory.open(workspace, user=report.reported_by)
        try:
            entry = directory.report_update(code, at=report.at, source="report",
                                            note=report.note)
        except EntryNotFound:
            raise HTTPException(status_code=404, detail=f"no entry {code}") from None
        finally:
            directory.close()
        return {"code": entry["code"], "updated_at": entry["updated_at"]}

    @app.get("/api/entries/{code:path}", tags=["catalogue"])
    def get_entry(code: str) -> dict[str, Any]:
        with connection(workspace) as con:
            return entry_or_404(con, code)

    @app.get("/api/organisations", tags=["catalogue"])
    def list_organisations() -> list[dict[str, Any]]:
        with connection(workspace) as con:
            rows = con.execute(
                "SELECT o.*, count(e.code) AS entries FROM organisations o LEFT JOIN entries e "
                "ON e.provider_code = o.code AND e.status = 'active' GROUP BY o.code "
                "ORDER BY o.code").fetchall()
        return [dict(r) for r in rows]

    @app.get("/api/organisations/{key}", tags=["catalogue"])
    def get_organisation(key: str) -> dict[str, Any]:
        with connection(workspace) as con:
            organisation = organisation_or_404(con, key)
            organisation["entries"] = con.execute(
                "SELECT count(*) FROM entries WHERE provider_code = ? AND status = 'active'",
                (organisation["code"],)).fetchone()[0]
        return organisation

    @app.get("/api/stats", tags=["catalogue"])
    def stats() -> dict[str, Any]:
        directory = Directory.open(workspace, user="api")
        try:
            return directory.stats()
        finally:
            directory.close()
