"""Concurrency (issue 14): ``mulu serve --workers 2`` on a PostgreSQL store under 16 HTTP clients
— readers, update reports, sharing applications submitted by applicants and decided by the
data office and the provider, stewards reviewing blocked loads — while ``mulu run`` loads run
on a real Celery worker (``mulu worker``, RabbitMQ): no 5xx, no refused connection, no
unexpected answer and no failed process; afterwards every acknowledged write is in the store
(reports, applications in the state their last acknowledged decision left them), every
acknowledged publish (a load's exit 0, a review's 201) is a published load registered with its
entry, and each dataset's live table is exactly its last acknowledged version.

``bench/concurrency.py`` does the work (``python -m bench.concurrency`` runs 32 clients on 4
workers for 2 minutes; its figures are in BENCHMARKS.md); this test runs it for ~25 s, in its own
process as a user would. The latency figures are printed by the bench, not judged here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.server, pytest.mark.postgresql]

REPO = Path(__file__).resolve().parents[2]


def test_clients_and_loads_at_once_lose_nothing_and_get_every_answer(tmp_path, real_data):
    done = subprocess.run(
        [sys.executable, "-m", "bench.concurrency", "--json", "--store", "postgresql"]
        + ["--seconds", "25", "--idle-seconds", "5", "--clients", "16", "--workers", "2"]
        + ["--home", str(tmp_path / "ws")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.stdout, done.stderr[-3000:]
    figures = json.loads(done.stdout)
    assert figures["errors"] == 0, figures["error_samples"]
    assert figures["unexpected"] == 0, figures["error_samples"]
    assert figures["reads_idle"] > 20
    assert figures["reads_loaded"] > 20
    # Every kind of write happened, and every acknowledged one is there.
    assert figures["reports_acknowledged"] > 10
    assert figures["reports_present"] == figures["reports_acknowledged"]
    assert figures["applications_acknowledged"] >= 2
    assert figures["decisions_acknowledged"] >= 2
    assert figures["applications_as_acknowledged"] == figures["applications_acknowledged"]
    # Version 1 of both datasets before the clients, then at least one blocked load that a
    # client's review published.
    assert figures["loads_blocked"] >= 1
    assert figures["reviews_acknowledged"] >= 1
    assert figures["loads_published"] >= 3
    assert figures["loads_published_in_store"] == figures["loads_published"]
    assert figures["loads_registered"] == figures["loads_published"]
    assert figures["live_tables_match"]
    assert figures["ok"]
    assert done.returncode == 0
