"""``mulu migrate`` and ``mulu workspace migrate --to postgresql://…`` (issue 14, docs/deploy.md).

``mulu migrate`` runs the configured store's pending schema migrations (``--status`` only
shows them); ``mulu workspace migrate --to URL`` copies the embedded ``catalog.sqlite`` into an
empty PostgreSQL database, verified (``warehouse.store.copy``), checks the audit log's hash
chain on the copy, and then names the database in ``config/settings.yaml``. Both are the
admin's (系统管理员).

Registered in ``mulu.cli``.
"""

from __future__ import annotations

import typer

from catalog.policies import ADMIN
from mulu.cli.context import options
from mulu.cli.output import console, print_json, print_problem, print_table
from mulu.cli.policy import acting, requires

app = typer.Typer(help="The workspace itself: copy it to PostgreSQL.", no_args_is_help=True)


@requires(ADMIN)
def migrate(
    ctx: typer.Context,
    status: bool = typer.Option(
        False, "--status", help="Only show the schema version found and the one expected."
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """Run the store's pending schema migrations (SQLite, or PostgreSQL with MULU_DATABASE_URL)."""
    from schemas.errors import Conflict
    from warehouse.store.migrating import run_migrations, schema_status

    workspace = options(ctx).workspace()
    # Read first: identifying a user opens the store, and opening a store migrates it.
    found = schema_status(workspace)
    acting(ctx)
    if found.found > found.expected:
        raise Conflict(
            f"{found.store}: schema version {found.found} is newer than this Mulu knows "
            f"({found.expected}): upgrade Mulu"
        )
    result = found if status else run_migrations(workspace, since=found.found)
    if as_json:
        print_json(result.as_dict())
        return
    where = f"{result.store} ({result.dialect})"
    if status:
        pending = ", ".join(map(str, result.pending))
        console.print(
            f"{where}: schema version {result.found}, expected {result.expected}"
            + (" — up to date" if result.up_to_date else f" — pending: {pending}"),
            highlight=False,
            markup=False,
        )
    elif result.ran:
        console.print(
            f"{where}: ran migration(s) {', '.join(map(str, result.ran))}; "
            f"now at version {result.found}",
            highlight=False,
            markup=False,
        )
    else:
        console.print(
            f"{where}: up to date (version {result.found})", highlight=False, markup=False
        )


@app.command("migrate")
@requires(ADMIN)
def migrate_workspace(
    ctx: typer.Context,
    to: str = typer.Option(
        ...,
        "--to",
        help="The PostgreSQL database to move the store into: postgresql://user@host:port/db "
        "(empty, or freshly migrated by Mulu).",
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """Copy this embedded workspace's store (catalog.sqlite) into PostgreSQL, verify it (row counts, checksums, the audit log's hash chain) and switch the workspace to it (database_url in config/settings.yaml)."""
    from catalog.sharing.audit import AuditCheck, AuditLog
    from schemas.errors import Conflict, NotFound
    from warehouse.settings import Settings, redact
    from warehouse.store import Store
    from warehouse.store.copy import CopyMismatch, CopyReport, copy_store, open_target
    from warehouse.store.copy import write_database_url as switch
    from warehouse.store.sqlite.database import SqliteDatabase

    acting(ctx)
    workspace = options(ctx).workspace()
    current = Settings.load(workspace).database_url
    if current:
        raise Conflict(
            f"the workspace {workspace.root} is on {redact(current)} already "
            "(MULU_DATABASE_URL or database_url in config/settings.yaml); only an embedded "
            "workspace (catalog.sqlite) is moved"
        )
    if not workspace.metadata_db.exists():
        raise NotFound(f"{workspace.metadata_db}: no embedded store to move")
    source = SqliteDatabase(workspace.metadata_db)
    target = open_target(to)
    audits: dict[str, AuditCheck] = {}

    def audit_chains_agree() -> None:
        # On this thread both stores' connections are inside the copy's transactions, so
        # these read the rows being copied (SQLite's under its write lock, PostgreSQL's
        # before the commit).
        audits["source"] = AuditLog(Store(source, workspace)).verify()
        audits["target"] = AuditLog(Store(target, workspace)).verify()
        src, dst = audits["source"], audits["target"]
        fields = ("ok", "checked", "last_seq", "last_hash")
        if [getattr(src, f) for f in fields] != [getattr(dst, f) for f in fields]:
            raise CopyMismatch(
                "copy rolled back: the audit log's hash chain does not verify the same on the "
                f"copy (source: ok={src.ok}, {src.checked} rows, last seq {src.last_seq}; "
                f"copy: ok={dst.ok}, {dst.checked} rows, last seq {dst.last_seq}; "
                f"{'; '.join(dst.problems[:3])})",
                [],
            )

    def switch_over(report: CopyReport) -> None:
        switch(workspace, to)

    try:
        with console.status("copying the store to PostgreSQL …", spinner="dots") as shown:

            def progress(table: str, rows: int) -> None:
                if not as_json:
                    shown.update(f"copying {table}: {rows:,} rows …")

            report = copy_store(
                source,
                target,
                before_commit=audit_chains_agree,
                after_commit=switch_over,
                progress=progress,
            )
    finally:
        source.close()
        target.close()
    out = report.as_dict()
    out["audit"] = {side: check.as_dict() for side, check in audits.items()}
    out["settings_file"] = str(workspace.settings_file)
    if as_json:
        print_json(out)
        return
    print_table(
        f"{workspace.metadata_db} → {report.target}",
        ["table", "rows", "checksum (sha256 sum)", "ok"],
        ((t.name, f"{t.source.rows:,}", t.source.hex[:16], "✓") for t in report.tables),
    )
    audit = audits.get("target")
    console.print(
        f"copied {report.rows:,} rows in {len(report.tables)} tables ({report.seconds:.1f} s); "
        f"counts and checksums match; audit log verifies "
        f"({audit.checked if audit else 0} rows, last seq {audit.last_seq if audit else '-'}); "
        f"search index ({', '.join(report.skipped) or 'none'}) rebuilt on the next search.",
        highlight=False,
        markup=False,
    )
    console.print(
        f"database_url written to {workspace.settings_file}: this workspace now uses "
        f"{report.target}. {workspace.metadata_db} is kept as it was (no longer written). "
        "Restart running servers and workers.",
        highlight=False,
        markup=False,
    )
    if "@" in to and ":" in to.split("://", 1)[1].split("@", 1)[0]:
        print_problem(
            "note:",
            f"the URL's password is now in {workspace.settings_file}; prefer a URL without it "
            "and PGPASSWORD or ~/.pgpass (libpq reads both)",
            "bold yellow",
        )
