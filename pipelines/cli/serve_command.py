"""``mulu serve``: the API (and, with it, the web portal) on 127.0.0.1."""

from __future__ import annotations

import typer

from pipelines.cli.context import options
from pipelines.cli.output import console


def serve(
    ctx: typer.Context,
    port: int = typer.Option(8000, help="Port on 127.0.0.1."),
    host: str = typer.Option("127.0.0.1", help="Interface; keep 127.0.0.1 unless a proxy "
                                               "in front of it controls access."),
) -> None:
    """Serve the REST API, the CKAN Action API subset, DCAT and the web portal."""
    import uvicorn

    from catalog.api import create_app

    workspace = options(ctx).workspace().ensure()
    console.print(f"Mulu on http://{host}:{port}/ (API docs: /api/docs; workspace "
                  f"{workspace.root})", highlight=False)
    uvicorn.run(create_app(workspace), host=host, port=port, log_level="warning")
