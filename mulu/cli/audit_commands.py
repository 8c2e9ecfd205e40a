"""`mulu audit` (issue 13, in progress)."""

from __future__ import annotations

import typer

app = typer.Typer(help="(issue 13, in progress)", no_args_is_help=True)
