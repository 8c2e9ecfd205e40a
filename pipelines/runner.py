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

import contextlib
import datetime as dt
import importlib
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.definitions.assets.job.asset_job import IMPLICIT_ASSET_JOB_NAME as ASSET_JOB
from dagster._core.definitions.reconstruct import ReconstructableJob, ReconstructableRepository
from dagster._core.definitions.selector import JobSubsetSelector
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.remote_representation.code_location import CodeLocation
from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from catalog.datasets import discover_datasets, spec_paths
from catalog.directory import Directory
from pipelines.assets import raw_key, table_key
from pipelines.definitions import build_definitions
from pipelines.freshness_assets import SCORECARD_KEY, SWEEP_KEY
from pipelines.instance import DATASET_TAG, LOCATION, MODULE, open_instance, run_tags
from pipelines.instance import dagster_home as dagster_home
from pipelines.resources import PIPELINE_USER
from schemas.entry import catalogue_now
from schemas.errors import InvalidInput, MuluError, NotFound
from warehouse.load import load_history
from warehouse.settings import Settings
from warehouse.store import Store
from warehouse.workspace import Workspace

# No load failed, but at least one was blocked by the quality gate and is held for a steward.
BLOCKED_EXIT = 7

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
    run_ids: list[str] = field(default_factory=list)  # every Dagster run (one per dataset queued)

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
    settings = Settings.load(workspace)
    run_config = _DEBUG_CONSOLE if debug else _QUIET_CONSOLE
    catalogue = [] if select else [SWEEP_KEY, SCORECARD_KEY]  # a full run refreshes these too
    with open_instance(workspace, settings) as instance:
        if settings.run_queue:
            # One queued run per dataset (its tags are what the queue limits), started by the
            # daemon; this process waits for them all.
            run_ids = queue_datasets(workspace, instance, wanted, run_config, catalogue=catalogue)
            runs = wait_for_runs(instance, run_ids)
            success = all(r.status == DagsterRunStatus.SUCCESS for r in runs)
            events = [
                e.dagster_event
                for run_id in run_ids
                for e in instance.all_logs(run_id)
                if e.dagster_event is not None
            ]
        elif settings.celery_broker_url:
            # Out of process: the steps run on Celery workers, which rebuild the job from the
            # code location (pipelines.definitions) in their own workspace.
            selection = [key for name in wanted for key in (raw_key(name), table_key(name))]
            with (
                _home_in_environment(workspace),
                dg.execute_job(
                    _reconstructable_asset_job(),
                    instance=instance,
                    run_config=run_config,
                    tags=dict(_TRIGGER),
                    asset_selection=selection + catalogue,
                ) as executed,
            ):
                success, run_ids = executed.success, [executed.run_id]
                events = list(executed.all_events)
        else:
            result = dg.materialize(
                assets,
                instance=instance,
                selection=[key for n in wanted for key in (raw_key(n), table_key(n))] + catalogue,
                raise_on_error=False,
                resources=definitions.resources,
                tags=dict(_TRIGGER),
                run_config=run_config,
            )
            success, run_ids, events = result.success, [result.run_id], list(result.all_events)
    report = RunReport(success=success, run_id=run_ids[0], run_ids=run_ids, problems=problems)
    failed_steps = {e.step_key for e in events if e.is_step_failure}
    for event in events:
        if event.is_step_materialization:
            materialization = event.step_materialization_data.materialization
            if materialization.asset_key.path[0] == "warehouse":
                report.datasets[materialization.asset_key.path[-1]] = {
                    key: value.value for key, value in materialization.metadata.items()
                }
    # A blocked load materialises nothing (the live table did not change): its load record says.
    for name in wanted:
        step = table_key(name).to_user_string().replace("/", "__")
        if name not in report.datasets and step not in failed_steps:
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
    for event in events:
        if event.is_step_failure:
            assert event.step_key is not None, "a step failure always names its step"
            failure = _failure(workspace, event.step_key, event.step_failure_data.error, started)
            report.failures.setdefault(failure.dataset, failure)
    for problem in problems if not select else []:  # a full run: an unusable spec failed too
        failure = _spec_failure(problem)
        report.failures.setdefault(failure.dataset, failure)
    return report


_TRIGGER = {"mulu/trigger": "cli"}
_FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


def queue_datasets(
    workspace: Workspace,
    instance: dg.DagsterInstance,
    names: list[str],
    run_config: dict[str, Any] | None = None,
    *,
    catalogue: list[dg.AssetKey] | None = None,
) -> list[str]:
    """Submit one run per named dataset (a name twice: two runs), tagged with its dataset and
    department, plus one run of the ``catalogue`` assets if any, to the instance's run
    coordinator; returns the runs' ids. Under the queued coordinator the daemon starts them
    as its limits allow."""
    tags_of = {tags[DATASET_TAG]: tags for tags in _dataset_tags(workspace, names)}
    unknown = sorted(set(names) - set(tags_of))
    if unknown:
        raise UnknownDataset(f"no dataset named {', '.join(unknown)}")
    batches = [([raw_key(n), table_key(n)], tags_of[n]) for n in names]
    if catalogue:
        batches.append((catalogue, {}))
    config = run_config if run_config is not None else _QUIET_CONSOLE
    with _code_location(workspace, instance) as location:
        return [
            submit_run(instance, location, keys, {**tags, **_TRIGGER}, config)
            for keys, tags in batches
        ]


def _dataset_tags(workspace: Workspace, names: list[str]) -> list[dict[str, str]]:
    """The run tags (dataset, department) of the named datasets."""
    directory = Directory.open(workspace, user=PIPELINE_USER)
    try:
        plans, _problems = discover_datasets(workspace, directory)
    finally:
        directory.close()
    return [run_tags(p.spec) for p in plans if p.spec.name in names]


@contextlib.contextmanager
def _home_in_environment(workspace: Workspace) -> Iterator[None]:
    """MULU_HOME names ``workspace`` while Dagster rebuilds the code location in this process
    (``pipelines.definitions`` reads it, as it does in the daemon's and the workers' processes)."""
    before = os.environ.get("MULU_HOME")
    os.environ["MULU_HOME"] = str(workspace.root)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MULU_HOME", None)
        else:
            os.environ["MULU_HOME"] = before


def _reconstructable_asset_job() -> ReconstructableJob:
    """The code location's asset job, as a pointer other processes can rebuild it from."""
    repository = ReconstructableRepository.for_module(MODULE, "defs")
    return repository.get_reconstructable_job(ASSET_JOB)


@contextlib.contextmanager
def _code_location(workspace: Workspace, instance: dg.DagsterInstance) -> Iterator[CodeLocation]:
    """The ``mulu`` code location loaded in this process, named as the daemon's workspace.yaml
    names it, so the daemon launches the runs made from it."""
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(executable_path=sys.executable, module_name=MODULE),
        location_name=LOCATION,
    )
    with _home_in_environment(workspace), origin.create_location(instance) as location:
        yield location


def submit_run(
    instance: dg.DagsterInstance,
    location: CodeLocation,
    keys: list[dg.AssetKey],
    tags: dict[str, str],
    run_config: dict[str, Any],
) -> str:
    """Create a run of the asset job for ``keys`` and hand it to the instance's run coordinator
    (queued: the daemon starts it when the queue's limits allow). Returns its id."""
    repository = next(iter(location.get_repositories().values()))
    selector = JobSubsetSelector(
        location_name=location.name,
        repository_name=repository.name,
        job_name=ASSET_JOB,
        op_selection=None,
        asset_selection=set(keys),
    )
    remote_job = location.get_job(selector)
    plan = location.get_execution_plan(
        remote_job, run_config, step_keys_to_execute=None, known_state=None, instance=instance
    )
    run = instance.create_run(
        job_name=ASSET_JOB,
        run_id=None,
        run_config=run_config,
        resolved_op_selection=None,
        step_keys_to_execute=plan.execution_plan_snapshot.step_keys_to_execute,
        op_selection=None,
        status=None,
        root_run_id=None,
        parent_run_id=None,
        tags={**remote_job.tags, **tags},
        job_snapshot=remote_job.job_snapshot,
        execution_plan_snapshot=plan.execution_plan_snapshot,
        parent_job_snapshot=remote_job.parent_job_snapshot,
        remote_job_origin=remote_job.get_remote_origin(),
        job_code_origin=remote_job.get_python_origin(),
        asset_selection=frozenset(keys),
        asset_check_selection=None,
        asset_graph=repository.asset_graph,
    )
    return instance.submit_run(run.run_id, workspace=None).run_id  # type: ignore[arg-type]


def wait_for_runs(
    instance: dg.DagsterInstance,
    run_ids: list[str],
    *,
    poll: float = 0.5,
    timeout: float | None = None,
) -> list[DagsterRun]:
    """Wait until every run has finished (succeeded, failed or was cancelled); TimeoutError
    after ``timeout`` seconds (None: wait as long as it takes, as ``mulu run`` does)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        runs = [instance.get_run_by_id(run_id) for run_id in run_ids]
        if all(r is not None and r.status in _FINISHED for r in runs):
            return [r for r in runs if r is not None]
        if deadline is not None and time.monotonic() > deadline:
            waiting = [r.run_id for r in runs if r is not None and r.status not in _FINISHED]
            raise TimeoutError(f"runs still not finished after {timeout} s: {waiting}")
        time.sleep(poll)


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
