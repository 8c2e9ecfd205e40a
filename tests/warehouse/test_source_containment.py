"""Sources contained: a spec's relative path is relative to the workspace, and local files
(symlinks resolved) must lie in the workspace's source folders or those MULU_SOURCE_ROOTS names.
A refused file is never read: nothing of it reaches landing/, the error or ``loads.error``.
Real files, real symlinks, a real DuckLake; the live table is checked before and after."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from loading_fixtures import ROSTER_HEADER, ROSTER_ROWS, live_table, loads, write_csv, write_spec

from warehouse.landing import LocalRoots, SourceRefused, land
from warehouse.load import SourceError, load_dataset
from warehouse.workspace import Workspace

# What must never be echoed: a line of the refused file.
SECRET = "root:$6$SECRETHASHdoNotEcho:19000:0:99999:7:::"


@pytest.fixture(autouse=True)
def only_the_workspace(monkeypatch):
    """No extra roots: conftest allows the whole pytest temp folder, these tests do not."""
    monkeypatch.delenv("MULU_SOURCE_ROOTS", raising=False)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file beside the workspace, outside its roots, holding a secret."""
    path = tmp_path / "outside" / "shadow.csv"
    path.parent.mkdir()
    path.write_text(f"姓名,身份证号\n{SECRET}\n", encoding="utf-8")
    return path


def published(workspace: Workspace) -> tuple[int, int]:
    """A published 'dibao' table from the workspace's own sources/: the version to protect."""
    good = write_csv(workspace.sources_dir / "minzheng" / "低保.csv", ROSTER_HEADER, ROSTER_ROWS)
    spec = write_spec(workspace.datasets_dir / "minzheng", "dibao", good)
    assert load_dataset(workspace, spec).status == "published"
    return live_table(workspace, "dibao")


def landed(workspace: Workspace, dataset: str = "dibao") -> list[str]:
    folder = workspace.landing_dir / dataset
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def assert_refused(workspace: Workspace, url: str, shown: str) -> str:
    """Load a spec whose url is ``url``: refused in one line naming ``shown``, recorded as the
    load's error, nothing of the file anywhere, the live table as it was."""
    before, landed_before = live_table(workspace, "dibao"), landed(workspace)
    spec = write_spec(workspace.datasets_dir / "minzheng", "dibao", url, format="csv")
    with pytest.raises(SourceError) as refused:
        load_dataset(workspace, spec)
    message = str(refused.value)
    assert "\n" not in message
    assert f"source {shown} is outside the folders local sources may be read from" in message
    assert str(workspace.sources_dir.resolve()) in message  # where it may be instead
    assert "MULU_SOURCE_ROOTS" in message
    record = loads(workspace, "dibao")[-1]
    assert (record["status"], record["error"]) == ("failed", message)
    for text in (message, record["error"]):
        assert "SECRET" not in text
        assert "root:" not in text
    assert landed(workspace) == landed_before  # nothing copied in
    assert not list(workspace.staging_dir.rglob("*.parquet"))
    assert live_table(workspace, "dibao") == before
    return message


@pytest.mark.slow
def test_a_relative_path_out_of_the_workspace_is_refused(workspace):
    published(workspace)
    message = assert_refused(workspace, "../../etc/passwd", "../../etc/passwd")
    # It is resolved against the workspace (not the shell's directory) to say where it leads.
    target = os.path.realpath(workspace.root / "../../etc/passwd")
    assert f"(it resolves to {target})" in message


@pytest.mark.slow
def test_absolute_and_file_urls_outside_are_refused(workspace, outside):
    published(workspace)
    assert_refused(workspace, str(outside), str(outside))
    assert_refused(workspace, outside.as_uri(), outside.as_uri())
    assert_refused(workspace, "/etc/passwd", "/etc/passwd")


@pytest.mark.slow
def test_a_symlink_to_a_file_outside_is_refused(workspace, outside):
    published(workspace)
    link = workspace.sources_dir / "minzheng" / "低保_link.csv"
    link.symlink_to(outside)
    message = assert_refused(workspace, str(link), str(link))
    assert f"(it resolves to {outside})" in message
    # A glob that matches it among good files is refused whole, naming it, before any file
    # is landed.
    assert_refused(workspace, str(workspace.sources_dir / "minzheng" / "*.csv"), str(link))


@pytest.mark.slow
def test_a_symlinked_folder_out_of_the_workspace_is_refused(workspace, outside):
    published(workspace)
    folder = workspace.sources_dir / "exchange"
    folder.symlink_to(outside.parent, target_is_directory=True)
    assert_refused(workspace, "sources/exchange/shadow.csv", "sources/exchange/shadow.csv")
    message = assert_refused(workspace, "sources/exchange/*.csv", "sources/exchange/*.csv")
    assert f"(it resolves to {outside.parent})" in message  # refused before listing there


def test_a_glob_starting_outside_is_refused_before_listing(workspace, tmp_path):
    with pytest.raises(SourceRefused, match=r"source /etc/\*\.conf is outside"):
        land("/etc/*.conf", workspace.landing_dir, "x", roots=LocalRoots.of(workspace))
    assert not (workspace.landing_dir / "x").exists()  # not even its folder


@pytest.mark.slow
def test_a_relative_path_is_relative_to_the_workspace_not_the_shell(
    workspace, tmp_path, monkeypatch
):
    write_csv(workspace.sources_dir / "minzheng" / "低保.csv", ROSTER_HEADER, ROSTER_ROWS[:2])
    elsewhere = tmp_path / "shell"  # the shell's directory has a file of the same name
    write_csv(elsewhere / "sources" / "minzheng" / "低保.csv", ROSTER_HEADER, ROSTER_ROWS)
    monkeypatch.chdir(elsewhere)
    spec = write_spec(workspace.datasets_dir / "minzheng", "dibao", "sources/minzheng/低保.csv")
    result = load_dataset(workspace, spec)
    assert (result.status, result.rows) == ("published", 2)
    assert live_table(workspace, "dibao")[0] == 2
    [source] = loads(workspace, "dibao")[-1]["sources"]
    assert source["url"] == str(workspace.sources_dir / "minzheng" / "低保.csv")


def test_a_symlink_within_the_roots_is_followed(workspace):
    target = write_csv(workspace.sources_dir / "real" / "低保.csv", ROSTER_HEADER, ROSTER_ROWS)
    link = workspace.datasets_dir / "minzheng" / "低保.csv"
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    spec = write_spec(workspace.datasets_dir / "minzheng", "dibao", "datasets/minzheng/低保.csv")
    assert load_dataset(workspace, spec).rows == len(ROSTER_ROWS)


@pytest.mark.slow
def test_mulu_source_roots_adds_folders(workspace, tmp_path, monkeypatch):
    exchange = tmp_path / "exchange"
    path = write_csv(exchange / "低保.csv", ROSTER_HEADER, ROSTER_ROWS)
    spec = write_spec(workspace.datasets_dir / "minzheng", "dibao", path)
    with pytest.raises(SourceError, match="is outside the folders"):
        load_dataset(workspace, spec)
    assert not (workspace.landing_dir / "dibao").exists()
    # Read when the load runs; a relative entry is relative to the workspace.
    monkeypatch.setenv("MULU_SOURCE_ROOTS", os.pathsep.join(["/nonexistent", "../exchange"]))
    assert workspace.source_roots()[-1] == exchange.resolve()
    assert load_dataset(workspace, spec).status == "published"
    assert live_table(workspace, "dibao")[0] == len(ROSTER_ROWS)


def test_an_unreadable_file_is_named_not_echoed(workspace, tmp_path):
    if os.geteuid() == 0:
        # root reads any file; a directory posing as the file gives the same kind of error.
        path = workspace.sources_dir / "minzheng" / "低保.csv"
        path.mkdir(parents=True)
        expected = "is a directory"
    else:
        path = write_csv(workspace.sources_dir / "minzheng" / "低保.csv", ["x"], [[SECRET]])
        path.chmod(0)
        expected = "Permission"
    spec = write_spec(workspace.datasets_dir / "minzheng", "dibao", path)
    with pytest.raises(SourceError, match=expected) as failed:
        load_dataset(workspace, spec)
    assert "SECRET" not in str(failed.value)
    assert "SECRET" not in loads(workspace, "dibao")[-1]["error"]
    assert landed(workspace) == []
