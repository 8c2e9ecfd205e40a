"""Options every command shares (workspace, user), read once per invocation."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from warehouse.workspace import Workspace

if TYPE_CHECKING:  # imported where used: `mulu --help` stays fast
    from catalog.directory import Directory


@dataclass
class Options:
    home: Path | None = None
    user: str | None = None

    def workspace(self) -> Workspace:
        if self.home is not None:
            return Workspace(self.home.resolve())
        return Workspace.from_env()


def set_options(
    ctx: typer.Context,
    home: Path | None = typer.Option(
        None, "--home", help="Workspace folder (default: $MULU_HOME, else ./.mulu)."
    ),
    user: str | None = typer.Option(
        None, "--user", help="Who is acting, recorded in history (default: $MULU_USER, else login)."
    ),
) -> None:
    ctx.obj = Options(home=home, user=user or os.environ.get("MULU_USER"))


def options(ctx: typer.Context) -> Options:
    found = ctx.find_root().obj
    return found if isinstance(found, Options) else Options()


def open_directory(ctx: typer.Context) -> tuple[Directory, Workspace]:
    """The directory over a store of its own (close it when done) and its workspace."""
    from catalog.directory import Directory

    opts = options(ctx)
    workspace = opts.workspace()
    return Directory.open(workspace, user=opts.user), workspace
