"""Deployment settings: the environment over config/settings.yaml, and every one documented."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from warehouse.settings import SETTINGS, Settings, redact
from warehouse.workspace import Workspace

DEPLOY_DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"


def test_every_setting_is_a_field_and_documented_in_deploy_md():
    assert [f.name for f in fields(Settings)] == list(SETTINGS)
    text = DEPLOY_DOC.read_text(encoding="utf-8")
    missing = [var for var, _doc in SETTINGS.values() if f"`{var}`" not in text]
    assert missing == []


def test_environment_wins_over_the_settings_file(tmp_path: Path):
    ws = Workspace(tmp_path / "ws").ensure()
    ws.settings_file.parent.mkdir(parents=True)
    ws.settings_file.write_text(
        "database_url: postgresql://a@db1/mulu\nlog_format: json\n", encoding="utf-8"
    )
    from_file = Settings.load(ws, environ={})
    assert from_file.database_url == "postgresql://a@db1/mulu"
    assert from_file.on_postgresql
    assert from_file.log_format == "json"
    assert from_file.lake_data_url is None
    from_env = Settings.load(ws, environ={"MULU_DATABASE_URL": "postgresql://b@db2/mulu"})
    assert from_env.database_url == "postgresql://b@db2/mulu"
    assert Settings.load(Workspace(tmp_path / "other"), environ={}) == Settings()


def test_an_unknown_setting_is_refused_by_name(tmp_path: Path):
    ws = Workspace(tmp_path / "ws").ensure()
    ws.settings_file.parent.mkdir(parents=True)
    ws.settings_file.write_text("databse_url: postgresql://x/y\n", encoding="utf-8")
    with pytest.raises(ValueError, match="databse_url"):
        Settings.load(ws, environ={})


def test_passwords_never_reach_logs():
    assert redact("postgresql://mulu:s3cret@db:5432/mulu") == "postgresql://mulu:***@db:5432/mulu"
    assert redact("postgresql://mulu@db/mulu") == "postgresql://mulu@db/mulu"
    assert redact(None) is None
