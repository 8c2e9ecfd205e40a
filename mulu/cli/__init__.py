"""The ``mulu`` command. Thin: each command parses options, calls one core function, prints.

Start-up stays fast because heavy modules (dagster, great_expectations) are imported inside the
commands that need them, never here.

Errors are handled once, here: any ``schemas.errors.MuluError`` a command lets through is
printed as one red line and exits with the error's code (``mulu.cli.output.fail``), so commands
do not catch Mulu's errors only to print them.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from mulu.cli import (
    audit_commands,
    catalog_commands,
    demo_command,
    freshness_commands,
    grants_commands,
    quality_commands,
    run_commands,
    search_command,
    serve_command,
    sharing_commands,
    sql_command,
    users_commands,
    worker_command,
    workspace_commands,
)
from mulu.cli.context import set_options
from mulu.cli.output import fail
from schemas.errors import MuluError


class MuluCommands(TyperGroup):
    """The root command group: every subcommand runs inside its ``invoke``, so this is the one
    place a ``MuluError`` becomes an exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except MuluError as exc:
            fail(exc)


app = typer.Typer(
    name="mulu",
    help="Mulu (目录): government data-resource catalogue and data-sharing ETL.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    cls=MuluCommands,
)
app.callback()(set_options)
app.command("demo")(demo_command.demo)
app.command("run")(run_commands.run)
app.command("ui")(run_commands.ui)
app.command("worker")(worker_command.worker)
app.command("sql")(sql_command.sql)
app.command("search")(search_command.search)
app.command("serve")(serve_command.serve)
app.command("whoami")(users_commands.whoami)
app.command("migrate")(workspace_commands.migrate)
app.add_typer(catalog_commands.app, name="catalog")
app.add_typer(quality_commands.app, name="quality")
app.add_typer(freshness_commands.app, name="freshness")
app.add_typer(users_commands.app, name="users")
app.add_typer(sharing_commands.app, name="sharing")
app.add_typer(grants_commands.app, name="grants")
app.add_typer(audit_commands.app, name="audit")
app.add_typer(workspace_commands.app, name="workspace")


def main() -> None:
    app()
