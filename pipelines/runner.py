"""Run dataset loads in this process (``mulu run``), with Dagster's run history kept in the
workspace (``<workspace>/dagster``) so ``mulu ui`` shows the same runs.

A run's outcome is a ``RunReport``: per dataset its load (status, rows, snapshot, quality), and
per failed dataset one ``LoadFailure`` (dataset, file, row, column, reason, exit code) — what
``mulu run`` prints as one line each. Dagster's own console output (with stack traces) is shown
only when asked (``debug``); every event stays in the run's history (``mulu ui``).

Exit codes (``RunReport.exit_code``): 0 every selected dataset published, unchanged or waiting
for its source; a failed load (or an unusable spec) exits with its error's code
(``schemas.errors``: 2 bad input — a source file's row or column, a spec; 3 not found; 4
conflict; 6 unavailable; 1 anything else, or failures of different kinds); with no failure but
a load blocked by the quality gate and held for a steward, ``BLOCKED_EXIT`` (7).
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from catalog.datasets import spec_paths
from pipelines.assets import raw_key, table_key
from pipelines.definitions import build_definitions
from pipelines.freshness_assets import SCORECARD_KEY, SWEEP_KEY
from schemas.entry import catalogue_now
from schemas.errors import InvalidInput, MuluError, NotFound
from warehouse.load import load_history
from warehouse.store import Store
from warehouse.workspace import Workspace

# No load failed, but at least one was blocked by the quality gate and is held for a steward.
BLOCKED_EXIT = 7

_INSTANCE_CONFIG = """\
# Dagster instance of this Mulu workspace: runs, events and schedules in SQLite files here.
telemetry:
  enabled: false
# Evaluate the datasets' freshness policies (from their entries' 更新周期) in the UI.
freshness:
  enabled: true
"""


def dagster_home(workspace: Workspace) -> Path:
    home = workspace.dagster_dir
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(_INSTANCE_CONFIG, encoding="utf-8")
    return home


# The terminal gets nothing from Dagster (mulu run prints one line per failed dataset); with
# debug, its warnings and errors with their stack traces. Every event is still in the run's
# history (mulu ui).
_QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
_DEBUG_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class LoadFailure:
    """One failed dataset: where (file, row, column) and why, in one line."""

    dataset: str
    reason: str  # the whole message
    file: str | None = None
    row: int | None = None
    column: str | None = None
    step: str | None = None  # the Dagster step (raw__x, warehouse__x); None for a bad spec
    kind: str = "error"  # invalid_input, not_found, conflict, forbidden, unavailable, error
    exit_code: int = 1

    def line(self) -> str:
        """``file …, row …, column …: reason`` on one line (the reason without a repeated file
        name and with its line breaks folded)."""
        reason = " ".join(self.reason.split())
        where = []
        if self.file:
            where.append(f"file {self.file}")
            for prefix in (f"{self.file}: ", f"{Path(self.file).name}: "):
                reason = reason.removeprefix(prefix)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {reason}" if where else reason

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunReport:
    success: bool
    run_id: str | None = None
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> load metadata
    failures: dict[str, LoadFailure] = field(default_factory=dict)  # dataset -> why it failed
    problems: list[str] = field(default_factory=list)  # specs that could not be used

    @property
    def blocked(self) -> list[str]:
        """Datasets whose load the quality gate blocked (held for a steward)."""
        return sorted(n for n, d in self.datasets.items() if d.get("status") == "blocked")

    @property
    def exit_code(self) -> int:
        if self.failures:
            codes = {f.exit_code for f in self.failures.values()}
            return codes.pop() if len(codes) == 1 else 1
        if not self.success:
            return 1
        return BLOCKED_EXIT if self.blocked else 0


class UnknownDataset(NotFound):
    pass


class BrokenSpec(InvalidInput):
    """``--select`` named a dataset whose spec cannot be used; the message is the spec's error."""


def run_datasets(
    workspace: Workspace, select: list[str] | None = None, *, debug: bool = False
) -> RunReport:
    """Materialise the selected datasets (all when ``select`` is empty), in-process.
    ``debug``: Dagster's console output, with stack traces, on stderr."""
    started = catalogue_now()  # loads record their start in catalogue time
    definitions, problems = build_definitions(workspace)
    assets: list[dg.AssetsDefinition] = []
    for asset in definitions.assets or []:
        # build_definitions makes only @asset definitions; Definitions' type allows more kinds.
        assert isinstance(asset, dg.AssetsDefinition), f"unexpected asset kind {asset!r}"
        assets.append(asset)
    names = sorted({key.path[-1] for a in assets for key in a.keys if key.path[0] == "warehouse"})
    wanted = select or names
    unknown = sorted(set(wanted) - set(names))
    for name in unknown:
        for problem in _problems_of(workspace, name, problems):
            raise BrokenSpec(problem)
    if unknown:
        raise UnknownDataset(
            f"no dataset named {', '.join(unknown)}; datasets: {', '.join(names) or '-'}"
        )
    instance = dg.DagsterInstance.from_config(str(dagster_home(workspace)))
    selection = [key for name in wanted for key in (raw_key(name), table_key(name))]
    if not select:  # a full run also refreshes the catalogue's freshness sweep and scorecard
        selection += [SWEEP_KEY, SCORECARD_KEY]
    result = dg.materialize(
        assets,
        instance=instance,
        selection=selection,
        raise_on_error=False,
        resources=definitions.resources,
        tags={"mulu/trigger": "cli"},
        run_config=_DEBUG_CONSOLE if debug else _QUIET_CONSOLE,
    )
    report = RunReport(success=result.success, run_id=result.run_id, problems=problems)
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key.path[0] == "warehouse":
            report.datasets[materialization.asset_key.path[-1]] = {
                key: value.value for key, value in materialization.metadata.items()
            }
    # A blocked load materialises nothing (the live table did not change): its load record says.
    for name in wanted:
        if name not in report.datasets and table_key(name).to_user_string().replace(
            "/", "__"
        ) not in {e.step_key for e in result.all_events if e.is_step_failure}:
            history = load_history(workspace, name)
            if history:
                last = history[-1]
                report.datasets[name] = {
                    "status": last.status,
                    "rows": last.rows,
                    "load_id": last.load_id,
                    "snapshot_id": last.snapshot_id,
                    "quality": last.quality,
                    "quality_run_id": last.quality_run_id,
                }
    for event in result.all_events:
        if event.is_step_failure:
            assert event.step_key is not None, "a step failure always names its step"
            failure = _failure(workspace, event.step_key, event.step_failure_data.error, started)
            report.failures.setdefault(failure.dataset, failure)
    for problem in problems if not select else []:  # a full run: an unusable spec failed too
        failure = _spec_failure(problem)
        report.failures.setdefault(failure.dataset, failure)
    return report


_QUALIFIED = re.compile(r"^((?:[A-Za-z_][\w]*\.)+)([A-Za-z_]\w*): ", re.DOTALL)
_KINDS = ("InvalidInput", "NotFound", "Conflict", "Forbidden", "Unavailable")


def _failure(workspace: Workspace, step: str, error: Any, started: dt.datetime) -> LoadFailure:
    """The failure of a step, from the exception the asset raised (Dagster keeps its class and
    message; the step's own wrapper error is its ``error``) and, for a load, from what the
    loader recorded in ``loads`` (file, row, column)."""
    dataset = step.split("__", 1)[1] if step.startswith(("warehouse__", "raw__")) else step
    cause = error.cause if error is not None and error.cause is not None else error
    message = (cause.message if cause is not None else "failed").strip()
    kind, exit_code = "error", 1
    qualified = _QUALIFIED.match(message)
    if qualified:
        message = message[qualified.end() :].strip()
        kind, exit_code = _kind_of(qualified.group(1).rstrip("."), qualified.group(2))
    failure = LoadFailure(dataset, message, step=step, kind=kind, exit_code=exit_code)
    if step.startswith("warehouse__"):
        _add_recorded_place(workspace, failure, started)
    return failure


def _kind_of(module: str, name: str) -> tuple[str, int]:
    """The error's kind (schemas.errors) and exit code, from its class."""
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return "error", 1
    if not (isinstance(cls, type) and issubclass(cls, MuluError)):
        return "error", 1
    for base in cls.__mro__:
        if base.__name__ in _KINDS and base.__module__ == MuluError.__module__:
            return re.sub(r"(?<!^)([A-Z])", r"_\1", base.__name__).lower(), cls.exit_code
    return "error", cls.exit_code


def _add_recorded_place(workspace: Workspace, failure: LoadFailure, started: dt.datetime) -> None:
    """File, row and column of the dataset's load that failed in this run, as recorded."""
    with Store.open(workspace) as store:
        records = store.loads.history(failure.dataset)
    for record in reversed(records):
        if dt.datetime.fromisoformat(record["started_at"]) < started:
            break
        if record["status"] == "failed":
            failure.file = record.get("error_file")
            failure.row = record.get("error_row")
            failure.column = record.get("error_column")
            if record.get("error") and len(record["error"]) > len(failure.reason):
                failure.reason = record["error"]
            return


_SPEC_PROBLEM = re.compile(r"^(?P<file>.+?\.ya?ml): (?P<reason>.*)$", re.DOTALL)


def _spec_failure(problem: str) -> LoadFailure:
    """An unusable spec as a failure: the dataset is named after its file."""
    found = _SPEC_PROBLEM.match(problem)
    if not found:
        return LoadFailure("?", problem, kind="invalid_input", exit_code=InvalidInput.exit_code)
    file = found["file"]
    return LoadFailure(
        Path(file).stem,
        found["reason"],
        file=file,
        kind="invalid_input",
        exit_code=InvalidInput.exit_code,
    )


def _problems_of(workspace: Workspace, name: str, problems: list[str]) -> list[str]:
    """The problems of the specs that would define dataset ``name``: a spec file named
    ``<name>.yaml``, or one whose ``name:`` line says ``name``."""
    says = re.compile(rf"^name:\s*['\"]?{re.escape(name)}['\"]?\s*(#.*)?$", re.MULTILINE)
    found = []
    for path in spec_paths(workspace):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        if path.stem == name or says.search(text):
            found += [p for p in problems if p.startswith(str(path))]
    return found
