"""Fixtures the loader's tests share: where a department's files and the specs are written."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """The exchange folder a department delivers its files to (outside the workspace)."""
    return tmp_path / "exchange"


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    return tmp_path / "datasets"
