"""The ``mulu`` command. Thin: each command parses options, calls one core function, prints.

Start-up stays fast because heavy modules (dagster, great_expectations) are imported inside the
commands that need them, never here.
"""

from __future__ import annotations

import typer

from mulu.cli import (
    catalog_commands,
    demo_command,
    freshness_commands,
    quality_commands,
    run_commands,
    search_command,
    serve_command,
    sql_command,
)
from mulu.cli.context import set_options

app = typer.Typer(
    name="mulu",
    help="Mulu (目录): government data-resource catalogue and data-sharing ETL.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
app.callback()(set_options)
app.command("demo")(demo_command.demo)
app.command("run")(run_commands.run)
app.command("ui")(run_commands.ui)
app.command("sql")(sql_command.sql)
app.command("search")(search_command.search)
app.command("serve")(serve_command.serve)
app.add_typer(catalog_commands.app, name="catalog")
app.add_typer(quality_commands.app, name="quality")
app.add_typer(freshness_commands.app, name="freshness")


def main() -> None:
    app()
