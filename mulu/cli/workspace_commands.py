"""``mulu migrate`` and ``mulu workspace migrate --to postgresql://…`` (issue 14): being written.

Registered in ``mulu.cli``.
"""

from __future__ import annotations

import typer

app = typer.Typer(help="The workspace itself: copy it to PostgreSQL.", no_args_is_help=True)
