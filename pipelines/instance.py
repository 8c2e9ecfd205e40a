"""The workspace's Dagster instance and executor, from its deployment settings (docs/deploy.md).

``<workspace>/dagster`` is ``DAGSTER_HOME`` for every Dagster process of the workspace (``mulu
run``, ``mulu ui``, ``dagster-daemon``, ``mulu worker``). Its ``dagster.yaml`` is written from
the settings whenever a command asks for the folder:

- embedded default: runs, event logs and schedules in SQLite files there; runs start at once;
- ``dagster_database_url`` (MULU_DAGSTER_DATABASE_URL): storage on PostgreSQL (dagster-postgres);
- ``run_queue`` (MULU_RUN_QUEUE): the queued run coordinator, at most that many runs at once,
  one per dataset (tag ``mulu/dataset``) and ``department_run_limit`` per department (tag
  ``mulu/department``, default 2); the daemon (``dagster-daemon run``, or ``mulu ui``) starts
  queued runs.

``workspace.yaml`` beside it names the one code location, ``mulu`` (``pipelines.definitions``),
for the daemon and the UI. With ``celery_broker_url`` (MULU_CELERY_BROKER_URL) every run's
steps go to Celery workers (``mulu worker``) on queue ``celery_queue`` (default ``mulu``).

The broker URL, when it came from the environment, is written as a reference to its variable
(``{env: …}``); the Dagster database URL is copied into ``dagster.yaml`` (its driver named for
dagster-postgres), which only its owner may read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

from schemas.dataset_spec import DatasetSpec
from warehouse.settings import SETTINGS, Settings
from warehouse.workspace import Workspace

LOCATION = "mulu"  # the code location's name in workspace.yaml and in every run's origin
MODULE = "pipelines.definitions"
DATASET_TAG = "mulu/dataset"
DEPARTMENT_TAG = "mulu/department"
DEFAULT_DEPARTMENT_LIMIT = 2
DEFAULT_QUEUE = "mulu"
# Files Mulu wrote (and may rewrite) start with this line; anything else is left alone.
_HEADER = "# Dagster instance of this Mulu workspace"


def run_tags(spec: DatasetSpec) -> dict[str, str]:
    """The tags of a run loading ``spec``'s dataset: the dataset and its department (the
    提供方's code, the first part of the entry's 信息资源代码), which the queue limits."""
    return {DATASET_TAG: spec.name, DEPARTMENT_TAG: spec.entry_code.split("/", 1)[0]}


def setting_source(settings: Settings, name: str) -> Any:
    """A setting's value for Dagster's config: ``{env: VAR}`` when the environment gave it."""
    variable = SETTINGS[name][0]
    value = getattr(settings, name)
    if value is not None and os.environ.get(variable, "").strip() == value:
        return {"env": variable}
    return value


def sqlalchemy_url(settings: Settings) -> str:
    """MULU_DAGSTER_DATABASE_URL for dagster-postgres, which speaks psycopg2 through
    SQLAlchemy (SQLAlchemy 2.1 would pick psycopg 3 for a bare postgresql:// URL)."""
    url = str(settings.dagster_database_url)
    scheme, sep, rest = url.partition("://")
    if sep and scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg2://{rest}"
    return url


def positive_int(settings: Settings, name: str, default: int | None) -> int | None:
    value = getattr(settings, name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ValueError(f"{SETTINGS[name][0]}: expected a whole number ≥ 1, got {value!r}")
    return number


def instance_config(settings: Settings) -> dict[str, Any]:
    """``dagster.yaml`` for these settings."""
    config: dict[str, Any] = {"telemetry": {"enabled": False}, "freshness": {"enabled": True}}
    if settings.dagster_database_url:
        config["storage"] = {"postgres": {"postgres_url": sqlalchemy_url(settings)}}
    queue = positive_int(settings, "run_queue", None)
    if queue is not None:
        per_department = positive_int(settings, "department_run_limit", DEFAULT_DEPARTMENT_LIMIT)
        config["run_coordinator"] = {
            "module": "dagster._core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {
                "max_concurrent_runs": queue,
                "dequeue_interval_seconds": 1,
                "tag_concurrency_limits": [
                    {"key": DATASET_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1},
                    {
                        "key": DEPARTMENT_TAG,
                        "value": {"applyLimitPerUniqueValue": True},
                        "limit": per_department,
                    },
                ],
            },
        }
    return config


def workspace_config() -> dict[str, Any]:
    """``workspace.yaml``: the one code location, for the daemon and the UI."""
    return {"load_from": [{"python_module": {"module_name": MODULE, "location_name": LOCATION}}]}


def dagster_home(workspace: Workspace, settings: Settings | None = None) -> Path:
    """The workspace's ``DAGSTER_HOME``, its ``dagster.yaml`` and ``workspace.yaml`` up to date
    with the settings (a ``dagster.yaml`` someone else wrote is kept as it is)."""
    settings = settings or Settings.load(workspace)
    home = workspace.dagster_dir
    home.mkdir(parents=True, exist_ok=True)
    header = f"{_HEADER}: written by Mulu from its settings (docs/deploy.md); edit those instead.\n"
    _write_if_ours(home / "dagster.yaml", header, instance_config(settings))
    _write_if_ours(home / "workspace.yaml", header, workspace_config())
    return home


def _write_if_ours(path: Path, header: str, config: dict[str, Any]) -> None:
    text = header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    if path.exists():
        current = path.read_text(encoding="utf-8")
        if current == text or not current.startswith(_HEADER):
            return
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.chmod(0o600)  # it may hold a database password
    temporary.replace(path)  # readers never see half a file


def open_instance(workspace: Workspace, settings: Settings | None = None) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(dagster_home(workspace, settings)))


def celery_config(settings: Settings) -> dict[str, Any] | None:
    """The Celery executor's config (dagster-celery), or None when loads run in-process."""
    if not settings.celery_broker_url:
        return None
    return {
        "broker": setting_source(settings, "celery_broker_url"),
        "backend": setting_source(settings, "celery_backend_url") or "rpc://",
        "config_source": {"task_default_queue": settings.celery_queue or DEFAULT_QUEUE},
    }


def executor_for(settings: Settings) -> dg.ExecutorDefinition | None:
    """The executor of the code location's jobs: Celery's when configured, else Dagster's
    default."""
    config = celery_config(settings)
    if config is None:
        return None
    from dagster_celery import celery_executor

    configured: dg.ExecutorDefinition = celery_executor.configured(config)
    return configured
