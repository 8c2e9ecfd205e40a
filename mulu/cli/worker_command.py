"""``mulu worker``: a Celery worker that runs the workspace's loads (issue 14, docs/deploy.md).

Registered in ``mulu.cli``.
"""

from __future__ import annotations

import os
import sys

import typer

from catalog.policies import STEWARD
from mulu.cli.context import options
from mulu.cli.output import console
from mulu.cli.policy import acting, requires


@requires(STEWARD)
def worker(
    ctx: typer.Context,
    concurrency: int = typer.Option(
        0, "--concurrency", "-c", help="Steps run at once (processes); default: one per CPU."
    ),
    name: str = typer.Option(None, "--name", "-n", help="The worker's name (default: mulu-PID)."),
    loglevel: str = typer.Option("INFO", "--loglevel", "-l", help="Celery's log level."),
) -> None:
    """Run loads on this machine: a Celery worker taking the workspace's Dagster steps from its
    queue (MULU_CELERY_BROKER_URL, MULU_CELERY_QUEUE; docs/deploy.md). Runs until stopped
    (SIGTERM: finishes its steps first)."""
    acting(ctx)
    from pipelines.worker import worker_command

    workspace = options(ctx).workspace().ensure()
    command, env = worker_command(
        workspace, concurrency=concurrency or None, name=name, loglevel=loglevel
    )
    console.print(f"Celery worker for {workspace.root} on queue {command[command.index('-Q') + 1]}")
    sys.stdout.flush()
    # The worker replaces this process, so signals (and the process id) reach Celery itself.
    os.execve(command[0], command, env)
