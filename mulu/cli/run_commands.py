"""``mulu run`` (load datasets in-process) and ``mulu ui`` (Dagster's UI on 127.0.0.1)."""

from __future__ import annotations

import os
import subprocess
import sys

import typer

from mulu.cli.context import options
from mulu.cli.output import console, print_json, print_problem, print_table


def run(
    ctx: typer.Context,
    select: list[str] = typer.Option(
        None, "--select", "-s", help="Dataset name(s) to load; default: all."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Land, load and register the workspace's datasets (in this process)."""
    from pipelines.runner import run_datasets

    workspace = options(ctx).workspace().ensure()
    with console.status("loading datasets …", spinner="dots"):
        report = run_datasets(workspace, select or None)
    for problem in report.problems:
        print_problem("skipped spec:", problem, "yellow")
    if as_json:
        print_json(
            {
                "success": report.success,
                "run_id": report.run_id,
                "datasets": report.datasets,
                "failures": report.failures,
                "problems": report.problems,
            }
        )
    else:
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
        for step, message in report.failures.items():
            print_problem(f"{step} failed:", message)
    if not report.success:
        raise typer.Exit(2)


def ui(
    ctx: typer.Context,
    port: int = typer.Option(3000, help="Port on 127.0.0.1."),
) -> None:
    """Start Dagster's UI and daemon for this workspace on 127.0.0.1."""
    from pipelines.runner import dagster_home

    workspace = options(ctx).workspace().ensure()
    env = {
        **os.environ,
        "MULU_HOME": str(workspace.root),
        "DAGSTER_HOME": str(dagster_home(workspace)),
    }
    command = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-m",
        "pipelines.definitions",
    ]
    console.print(f"Dagster UI on http://127.0.0.1:{port} (workspace {workspace.root})")
    raise typer.Exit(subprocess.call(command, env=env))
