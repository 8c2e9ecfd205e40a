"""``mulu demo``: build the demo district in the workspace (what ``make demo`` runs)."""

from __future__ import annotations

import datetime as dt
import time

import typer

from pipelines.cli.context import open_directory
from pipelines.cli.output import console, print_json


def demo(
    ctx: typer.Context,
    seed: int = typer.Option(2024, help="Random seed; the same seed gives the same district."),
    today: str | None = typer.Option(None, help="Pretend today is this date (YYYY-MM-DD)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Write a realistic district (343 organisations, 35,700 entries) into the workspace."""
    from catalog.demo import build_demo

    directory, workspace = open_directory(ctx)
    started = time.perf_counter()
    try:
        with console.status("building the demo district …", spinner="dots"):
            summary = build_demo(directory, seed=seed,
                                 today=dt.date.fromisoformat(today) if today else None)
    finally:
        directory.close()
    summary = {**summary, "workspace": str(workspace.root),
               "seconds": round(time.perf_counter() - started, 2)}
    if as_json:
        print_json(summary)
    else:
        console.print(
            f"demo district in {workspace.root}: {summary['organisations']} organisations, "
            f"{summary['entries']} entries, {summary['updates']} update events "
            f"({summary['seconds']} s). Try: mulu catalog stats")
