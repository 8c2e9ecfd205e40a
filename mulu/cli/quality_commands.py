"""``mulu quality``: stewards list, read and judge quality runs; scores per entry and org.

Fast paths: these commands read the metadata store; Great Expectations is never imported here
(accepting a held load publishes it with DuckDB, no validation needed). Errors pass to the
CLI's one handler: exit 3 no such run or rule, 2 bad input, 4 decided already or refused.
"""

from __future__ import annotations

import typer

from catalog.policies import OFFICER, SIGNED_IN, STEWARD
from mulu.cli.context import options
from mulu.cli.output import console, fail, print_json, print_table
from mulu.cli.policy import acting, requires
from warehouse.store import Store

app = typer.Typer(
    help="Quality runs (质量校验): review, accept, reject, waive; scores.", no_args_is_help=True
)


@app.command("runs")
@requires(OFFICER)
def runs(
    ctx: typer.Context,
    dataset: str | None = typer.Option(None, "--dataset", "-d", help="Only this dataset."),
    failed: bool = typer.Option(False, "--failed", help="Only blocked or warned runs."),
    pending: bool = typer.Option(False, "--pending", help="Only blocked runs not yet decided."),
    limit: int = typer.Option(50, help="At most this many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """Quality runs, newest first (a department officer: their own organisation's)."""
    who = acting(ctx)
    from catalog.reviews import runs_for  # settles interrupted reviews first

    workspace = options(ctx).workspace().ensure()
    with Store.open(workspace) as store:
        found = runs_for(
            who, store, workspace, dataset=dataset, failed=failed, pending=pending, limit=limit
        )
    if as_json:
        print_json(found)
        return
    # The run id and its dataset in one column, one above the other: both print whole (they
    # are what one types next) even at 80 columns.
    print_table(
        "quality runs",
        ["run / dataset", "status", "rows", "errors / warnings", "score"],
        (
            (
                f"{r['run_id']}\n{r['dataset']}",
                r["status"] + (f"\n{r['decision']}" if r["decision"] else ""),
                r["rows"],
                f"{r['errors']}/{r['warnings']}",
                r["score"],
            )
            for r in found
        ),
    )


@app.command("show")
@requires(OFFICER)
def show(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., help="Run id (or a unique prefix)."),
    show_all: bool = typer.Option(False, "--all", help="Also list the expectations passed."),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """One run: each expectation's result, failing-row samples, reviews.

    The samples are the dataset's rows: stewards, and officers of the entry's provider."""
    from catalog.reviews import run_for  # settles interrupted reviews first

    who = acting(ctx)
    workspace = options(ctx).workspace().ensure()
    with Store.open(workspace) as store:
        run = run_for(who, store, workspace, run_id)  # the web's rule: own organisation
    if as_json:
        print_json(run)
        return
    console.print(
        f"[bold]{run['run_id']}[/] {run['dataset']} ({run['entry_code']}): "
        f"[bold]{run['status']}[/]{' → ' + run['decision'] if run['decision'] else ''}"
        f", {run['rows']} rows, score {run['score']}",
        highlight=False,
    )
    listed = [r for r in run["results"] if show_all or not r["success"]]
    if listed:
        print_table(
            None,
            ["rule", "severity", "result", "unexpected", "description"],
            (
                (
                    r["rule"],
                    r["severity"],
                    "waived" if r["waived"] else "ok" if r["success"] else "FAILED",
                    r["unexpected_count"],
                    r["error"] or r["description"],
                )
                for r in listed
            ),
        )
    passed = sum(1 for r in run["results"] if r["success"])
    console.print(
        f"{passed} of {len(run['results'])} expectations passed"
        f"{'' if show_all else ' (--all lists them)'}",
        highlight=False,
    )
    for result in run["results"]:
        if result["samples"]:
            print_table(
                f"{result['rule']}: first failing rows",
                ["file", "row", "values"],
                (
                    (
                        s["source_file"],
                        s["source_row"],
                        ", ".join(f"{k}={v}" for k, v in s["values"].items()),
                    )
                    for s in result["samples"]
                ),
            )
    if run["quarantine_path"]:
        console.print(
            f"quarantine: {run['quarantined_rows']} rows in {run['quarantine_path']}"
            f" (mulu sql: quarantine.{run['dataset']})",
            highlight=False,
        )
    if run["data_docs"]:
        console.print(f"Data Docs: {run['data_docs']}", highlight=False)
    for review in run["reviews"]:
        console.print(
            f"{review['at']} {review['reviewer']}: {review['action']}"
            f"{' ' + review['rule'] if review['rule'] else ''} — {review['note'] or ''}"
            f" ({review['outcome']})",
            highlight=False,
        )


@app.command("review")
@requires(STEWARD)
def review(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., help="Run id (or a unique prefix)."),
    accept: bool = typer.Option(False, "--accept", help="Publish the blocked load."),
    reject: bool = typer.Option(False, "--reject", help="Keep the blocked load out."),
    waive: str | None = typer.Option(
        None, "--waive", metavar="EXPECTATION", help="Waive one failed expectation (its rule name)."
    ),
    note: str | None = typer.Option(None, "--note", help="Why: kept with the decision."),
    over_newer: bool = typer.Option(
        False, "--over-newer", help="Accept even though a newer load was published."
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """Record a steward's decision on a run (who and when are kept)."""
    from catalog.reviews import review

    who = acting(ctx)
    chosen = [
        name
        for name, on in (("accept", accept), ("reject", reject), ("waive", waive is not None))
        if on
    ]
    if len(chosen) != 1:
        fail("give exactly one of --accept, --reject, --waive EXPECTATION")
    workspace = options(ctx).workspace().ensure()
    with Store.open(workspace) as store:
        outcome = review(
            store,
            workspace,
            run_id,
            action=chosen[0],
            rule=waive,
            note=note,
            reviewer=who.actor,
            over_newer=over_newer,
        )
    if as_json:
        print_json(outcome)
    else:
        console.print(
            f"{outcome['run_id']}: {outcome['action']}"
            f"{' ' + outcome['rule'] if outcome['rule'] else ''} → {outcome['outcome']}",
            highlight=False,
        )


@app.command("scores")
@requires(SIGNED_IN)
def scores(
    ctx: typer.Context,
    org: bool = typer.Option(False, "--org", help="Per organisation instead of per entry."),
    months: int = typer.Option(6, help="Months of trend to show."),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """Quality score (0-100) per catalogue entry or organisation, with its monthly trend."""
    from quality.scores import entry_scores, organisation_scores

    acting(ctx)
    with Store.open(options(ctx).workspace().ensure()) as store:
        found = (organisation_scores if org else entry_scores)(store, months=months)
    if as_json:
        print_json(found)
        return
    key = "organisation" if org else "entry"
    print_table(
        f"quality scores by {key}",
        [key, "name", "score", "runs", "trend"],
        (
            (
                s["code"],
                s["name"],
                s["score"],
                s["runs"],
                " ".join(f"{t['month']}:{t['score']}" for t in s["trend"]),
            )
            for s in found
        ),
    )
