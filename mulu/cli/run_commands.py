"""``mulu run`` (load datasets in-process) and ``mulu ui`` (Dagster's UI on 127.0.0.1)."""

from __future__ import annotations

import os
import subprocess
import sys

import typer

from catalog.policies import STEWARD
from mulu.cli.context import options
from mulu.cli.output import console, print_json, print_problem, print_table
from mulu.cli.policy import acting, requires


@requires(STEWARD)
def run(
    ctx: typer.Context,
    select: list[str] = typer.Option(
        None, "--select", "-s", help="Dataset name(s) to load; default: all."
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
    debug: bool = typer.Option(
        False, "--debug", help="Also show Dagster's log of the run, with stack traces."
    ),
) -> None:
    """Land, load and register the workspace's datasets (in this process; on Celery workers
    with MULU_CELERY_BROKER_URL; through the run queue with MULU_RUN_QUEUE — one run per
    dataset, started by the Dagster daemon — waiting for them to finish).

    Exit status: 0 every dataset published, unchanged or waiting for its source; 7 none
    failed but some load was blocked by the quality gate (held for a steward); a failed load
    exits with its error's code: 2 bad input (a source file's row or column, a dataset spec),
    3 not found, 4 conflict, 6 unavailable, 1 anything else or failures of several kinds."""
    acting(ctx)
    from pipelines.runner import run_datasets

    workspace = options(ctx).workspace().ensure()
    with console.status("loading datasets …", spinner="dots"):
        report = run_datasets(workspace, select or None, debug=debug)
    if as_json:
        print_json(
            {
                "success": report.success,
                "exit_code": report.exit_code,
                "run_id": report.run_id,
                "datasets": report.datasets,
                "blocked": report.blocked,
                "failures": [f.as_dict() for _, f in sorted(report.failures.items())],
                "problems": report.problems,
            }
        )
    else:
        if report.datasets:
            print_loads(report)
        print_outcome(report)
    raise typer.Exit(report.exit_code)


def print_loads(report) -> None:
    print_table(
        "loads",
        ["dataset", "status", "rows", "snapshot", "quality", "quality run"],
        (
            (
                name,
                d.get("status"),
                d.get("rows"),
                d.get("snapshot_id"),
                d.get("quality"),
                d.get("quality_run_id"),
            )
            for name, d in sorted(report.datasets.items())
        ),
    )


def print_outcome(report) -> None:
    """One line per failed dataset (file, row, column, reason), one per blocked load."""
    for name, failure in sorted(report.failures.items()):
        print_problem(f"{name} failed:", failure.line())
    for name in report.blocked:
        run = report.datasets[name].get("quality_run_id")
        print_problem(
            f"{name} blocked:",
            f"held for a steward by quality run {run}; the live table is unchanged "
            f"(mulu quality show {run})",
            "bold yellow",
        )


@requires(STEWARD)
def ui(
    ctx: typer.Context,
    port: int = typer.Option(3000, help="Port on 127.0.0.1."),
) -> None:
    """Start Dagster's UI and daemon for this workspace on 127.0.0.1 (the daemon runs the
    schedules, the sensor and, with MULU_RUN_QUEUE, starts queued runs)."""
    acting(ctx)
    from pipelines.runner import dagster_home

    workspace = options(ctx).workspace().ensure()
    home = dagster_home(workspace)
    env = {**os.environ, "MULU_HOME": str(workspace.root), "DAGSTER_HOME": str(home)}
    command = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-w",
        str(home / "workspace.yaml"),  # the code location named as queued runs name it
    ]
    console.print(f"Dagster UI on http://127.0.0.1:{port} (workspace {workspace.root})")
    raise typer.Exit(subprocess.call(command, env=env))
