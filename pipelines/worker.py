"""A Celery worker for the workspace's loads (``mulu worker``): dagster-celery's worker, started
with the workspace's broker, result backend and queue.

Runs whose executor is Celery (MULU_CELERY_BROKER_URL) send each step to queue
``celery_queue`` (default ``mulu``) as a dagster-celery ``execute_plan`` task; the worker rebuilds
the job from the code location (``pipelines.definitions``, reading ``MULU_HOME``), runs the step
in its own process and writes the step's events to the run's Dagster instance (the instance is
named in the task, so a worker needs the same PostgreSQL or, on one machine, the same files).
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import yaml

from pipelines.instance import DEFAULT_QUEUE, celery_config, dagster_home
from schemas.errors import InvalidInput
from warehouse.settings import Settings
from warehouse.workspace import Workspace


def worker_command(
    workspace: Workspace,
    *,
    concurrency: int | None = None,
    name: str | None = None,
    loglevel: str = "INFO",
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of a Celery worker for ``workspace``'s loads."""
    settings = Settings.load(workspace)
    config = celery_config(settings)
    if config is None:
        raise InvalidInput(
            "no Celery broker: set MULU_CELERY_BROKER_URL (or celery_broker_url in "
            "config/settings.yaml), e.g. amqp://guest:guest@127.0.0.1:5672//"
        )
    queue = settings.celery_queue or DEFAULT_QUEUE
    home = dagster_home(workspace, settings)
    env = {**os.environ, "MULU_HOME": str(workspace.root), "DAGSTER_HOME": str(home)}
    config_dir = _celery_config_module(home, config, env)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(config_dir), env.get("PYTHONPATH", "")) if p
    )
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "dagster_celery.app",
        "worker",
        "--prefetch-multiplier=1",  # a load is long: take one step at a time
        "--loglevel",
        loglevel,
        "-Q",
        queue,
        "-n",
        f"{name or 'mulu-' + str(os.getpid())}@{socket.gethostname()}",
        # no worker-to-worker chatter: each worker only takes steps from the queue
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    if concurrency:
        command += ["--concurrency", str(concurrency)]
    return command, env


def _celery_config_module(home: Path, config: dict[str, object], env: dict[str, str]) -> Path:
    """The ``dagster_celery_config`` module dagster-celery's app reads (its worker CLI writes
    the same from the same executor config), in ``<dagster>/celery/``; environment references
    are resolved from ``env``."""
    from dagster_celery.cli import get_config_dir

    resolved = {key: _resolve(value, env) for key, value in config.items()}
    config_yaml = home / "celery.yaml"
    config_yaml.write_text(
        yaml.safe_dump({"execution": {"config": resolved}}, sort_keys=False), encoding="utf-8"
    )
    config_yaml.chmod(0o600)  # it may hold the broker's password
    saved = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)  # get_config_dir writes under the instance's folder
    try:
        return Path(get_config_dir(str(config_yaml)))
    finally:
        if saved is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = saved


def _resolve(value: object, env: dict[str, str]) -> object:
    if isinstance(value, dict) and set(value) == {"env"}:
        return env[str(value["env"])]
    return value
