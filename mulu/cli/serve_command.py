"""``mulu serve``: the API (and, with it, the web portal) on 127.0.0.1."""

from __future__ import annotations

import os

import typer

from mulu.cli.context import options
from mulu.cli.output import console


def serve(
    ctx: typer.Context,
    port: int = typer.Option(8000, help="Port on 127.0.0.1."),
    host: str = typer.Option(
        "127.0.0.1", help="Interface; keep 127.0.0.1 unless a proxy in front of it controls access."
    ),
) -> None:
    """Serve the REST API, the CKAN Action API subset, DCAT and the web portal."""
    import uvicorn

    workspace = options(ctx).workspace().ensure()
    console.print(
        f"Mulu on http://{host}:{port}/ (API docs: /api/docs; workspace {workspace.root})",
        highlight=False,
    )
    # The web layer is named, not imported: it reads the workspace from MULU_HOME when the
    # server starts, so the CLI and the web app stay independent of each other.
    os.environ["MULU_HOME"] = str(workspace.root)
    uvicorn.run(
        "mulu.web.app:app_from_env", factory=True, host=host, port=port, log_level="warning"
    )
