"""``mulu demo``: the demo district and its department datasets, loaded (what ``make demo`` runs)."""

from __future__ import annotations

import datetime as dt
import time

import typer

from mulu.cli.context import open_directory
from mulu.cli.output import console, print_json, print_problem, print_table


def demo(
    ctx: typer.Context,
    seed: int = typer.Option(2024, help="Random seed; the same seed gives the same district."),
    today: str | None = typer.Option(None, help="Pretend today is this date (YYYY-MM-DD)."),
    scale: float = typer.Option(
        1.0, help="Multiply dataset row counts (1.0: 社保卡申领 has 1M rows)."
    ),
    load: bool = typer.Option(
        True, "--load/--no-load", help="Load the datasets after writing them."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Write a realistic district (343 organisations, 35,700 entries, ~12 department datasets)
    into the workspace and load the datasets into the warehouse."""
    from catalog.demo import build_demo, generate_district, write_demo_datasets

    directory, workspace = open_directory(ctx)
    started = time.perf_counter()
    day = dt.date.fromisoformat(today) if today else dt.date.today()
    try:
        with console.status("building the demo district …", spinner="dots"):
            district = generate_district(seed, today=day)
            summary = build_demo(directory, seed=seed, district=district)
            datasets = write_demo_datasets(workspace.root, district, seed=seed, scale=scale)
    finally:
        directory.close()
    summary = {**summary, "workspace": str(workspace.root), "datasets": len(datasets)}
    report = None
    if load:
        from pipelines.runner import run_datasets

        with console.status(f"loading {len(datasets)} datasets …", spinner="dots"):
            report = run_datasets(workspace)
        summary["loads"] = report.datasets
        summary["failures"] = [f.as_dict() for _, f in sorted(report.failures.items())]
    with console.status("indexing the catalogue for search …", spinner="dots"):
        # Now rather than on the first `mulu search` or portal visit (35,700 entries: ~10 s).
        from catalog.search import refresh_index
        from warehouse.store import Store

        with Store.open(workspace) as store:
            summary["indexed"] = refresh_index(store).indexed
    summary["seconds"] = round(time.perf_counter() - started, 2)
    if as_json:
        print_json(summary)
    else:
        console.print(
            f"demo district in {workspace.root}: {summary['organisations']} organisations, "
            f"{summary['entries']} entries, {summary['updates']} update events, "
            f"{len(datasets)} datasets ({summary['seconds']} s)"
        )
        if report is not None:
            print_table(
                "loads",
                ["dataset", "status", "rows", "quality", "quality run"],
                (
                    (n, d.get("status"), d.get("rows"), d.get("quality"), d.get("quality_run_id"))
                    for n, d in sorted(report.datasets.items())
                ),
            )
            for name, failure in sorted(report.failures.items()):
                print_problem(f"{name} failed:", failure.line())
        console.print(
            'Try: mulu catalog stats · mulu sql "select count(*) from '
            'social_security_card_applications" · mulu quality runs --failed · '
            "mulu quality show RUN · mulu quality review RUN --accept --note … · "
            "mulu search 低保 · mulu serve"
        )
    # The demo's blocked loads are meant (they wait for a steward): only failures fail it.
    if report is not None and report.failures:
        raise typer.Exit(report.exit_code)
