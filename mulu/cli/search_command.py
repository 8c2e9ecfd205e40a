"""``mulu search QUERY [--facet k=v] [--json]``: full-text search of the catalogue, with facets.

Registered in ``mulu.cli`` as ``app.command("search")(search_command.search)``.
"""

from __future__ import annotations

import typer

from catalog.policies import SIGNED_IN
from mulu.cli.context import options
from mulu.cli.output import console, print_json, print_table
from mulu.cli.policy import acting, requires


# Signed in once the workspace has users: the CLI does not filter to open entries as the
# anonymous portal does (``catalog.policies.visible_open_types``), so it asks for an identity.
@requires(SIGNED_IN)
def search(
    ctx: typer.Context,
    query: str = typer.Argument(
        "", help="Words, a 信息资源代码 or pinyin initials (sbk); empty: every entry."
    ),
    facet: list[str] = typer.Option(
        [],
        "--facet",
        "-f",
        help="Filter key=value, repeatable (values of one key OR-ed): "
        "organisation, category, share_type, open_type, "
        "update_cycle, freshness, format.",
    ),
    limit: int = typer.Option(20, "--limit", "-n", min=0, help="Hits to show."),
    offset: int = typer.Option(0, "--offset", min=0, help="Hits to skip."),
    rebuild: bool = typer.Option(False, "--rebuild", help="Rebuild the search index first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Search the catalogue (名称, 摘要, 信息项, 提供方, 标签; Chinese word segmentation)."""
    from rich.markup import escape

    from catalog.search import parse_facet_options, rebuild_index
    from catalog.search import search as run_search
    from warehouse.store import Store

    acting(ctx)
    filters = parse_facet_options(facet)  # a bad filter is InvalidInput: exit 2
    workspace = options(ctx).workspace().ensure()
    with Store.open(workspace) as store:
        if rebuild:
            rebuild_index(store)
        result = run_search(store, query, facets=filters, limit=limit, offset=offset)
    if as_json:
        print_json(result.as_dict())
        return
    title = f"{result.total} matches for {query!r}" if query else f"{result.total} entries"
    print_table(
        title,
        ["code", "name", "provider", "share type", "cycle", "freshness"],
        (
            (h.code, h.name, h.provider_name, h.share_type, h.update_cycle, h.freshness)
            for h in result.hits
        ),
    )
    for key, values in result.facets.items():
        if values:
            shown = ", ".join(f"{v} ({c})" for v, c in values[:8])
            more = f" … +{len(values) - 8}" if len(values) > 8 else ""
            console.print(f"[bold]{key}[/]: {escape(shown + more)}", highlight=False)
    console.print(f"[dim]{result.took_ms} ms[/]", markup=True)
