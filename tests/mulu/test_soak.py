"""Soak (issue 11, point 6): a real ``mulu serve`` with HTTP readers and writers beside CLI
processes (``mulu freshness report`` one after another, ``mulu run`` loads of a dataset whose
blocked versions a steward accepts with ``mulu quality review``, a ``mulu catalog import`` of a
small real export) for a bounded time: no 5xx and no failed process, every acknowledged write
present afterwards, every acknowledged publish registered and the live table exactly the last
one, the import found by the server's search, the database intact.

``bench/soak.py`` does the work (``python -m bench.soak --seconds 600`` runs it longer; its
figures are in BENCHMARKS.md); this test runs it for ~20 s, in its own process as a user would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.server]

REPO = Path(__file__).resolve().parents[2]


def test_soak_loses_nothing_and_answers_every_request(tmp_path, real_data):
    done = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--seconds", "20", "--json"]
        + ["--home", str(tmp_path / "ws")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.stdout, done.stderr[-3000:]
    figures = json.loads(done.stdout)
    assert figures["errors"] == 0, figures["error_samples"]
    assert figures["reads"] > 50
    acknowledged = figures["api_writes_acknowledged"] + figures["cli_writes_acknowledged"]
    assert figures["api_writes_acknowledged"] > 20
    assert figures["cli_writes_acknowledged"] >= 1
    assert figures["writes_present"] == acknowledged
    assert figures["writes_missing"] == 0
    assert figures["loads_published"] >= 1
    assert figures["loads_registered"] == figures["loads_published"]
    assert figures["live_table_matches"]
    assert figures["import_exit"] == 0
    assert figures["imported_found_by_search"]
    assert figures["integrity"] == "ok"
    assert figures["ok"]
    assert done.returncode == 0
