"""Working days for sharing deadlines (issue 13): China's holidays and 调休 via chinesecalendar,
the workspace's holidays file for later years, and the sharing rules' day counts."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from catalog.sharing.calendar import PACKAGE_LAST_YEAR, WorkingCalendar
from catalog.sharing.rules import DeadlineStatus, SharingRules, deadline_status
from schemas.errors import InvalidInput
from warehouse.workspace import Workspace

D = dt.date
T = dt.datetime


def end_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59, 59))


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


def write_holidays(workspace: Workspace, text: str) -> Path:
    path = workspace.holidays_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_spring_festival_2026_and_its_make_up_saturdays() -> None:
    cal = WorkingCalendar()
    # chinesecalendar 1.11.0: 春节 2026-02-15 (Sun) .. 2026-02-23 (Mon); 调休 Sat 02-14 and 02-28.
    assert all(not cal.is_working_day(D(2026, 2, d)) for d in range(15, 24))
    assert cal.is_working_day(D(2026, 2, 14))  # a Saturday, 调休上班
    assert cal.is_working_day(D(2026, 2, 28))
    assert not cal.is_working_day(D(2026, 2, 7))  # an ordinary Saturday
    # Friday evening before the holiday: the make-up Saturday counts, then after the holiday.
    friday = T(2026, 2, 13, 18, 30)
    assert cal.add_working_days(friday, 1) == end_of(D(2026, 2, 14))
    assert cal.add_working_days(friday, 2) == end_of(D(2026, 2, 24))
    assert cal.add_working_days(friday, 5) == end_of(D(2026, 2, 27))


def test_national_day_2025_and_2026() -> None:
    cal = WorkingCalendar()
    assert all(not cal.is_working_day(D(2025, 10, d)) for d in range(1, 9))
    assert cal.is_working_day(D(2025, 9, 28))
    assert cal.is_working_day(D(2025, 10, 11))
    assert all(not cal.is_working_day(D(2026, 10, d)) for d in range(1, 8))
    assert cal.is_working_day(D(2026, 9, 20))
    assert cal.is_working_day(D(2026, 10, 10))
    # Friday 2025-09-26 evening, 5 working days: Sun 28 (调休), 29, 30, then 10-09, 10-10.
    deadline = cal.deadline(T(2025, 9, 26, 20, 0), 5)
    assert deadline.at == end_of(D(2025, 10, 10))
    assert not deadline.provisional
    assert deadline.warnings == []
    # The data office's 2 days from 2026-09-30 (Wed) evening: 10-08, 10-09.
    assert cal.add_working_days(T(2026, 9, 30, 21, 0), 2) == end_of(D(2026, 10, 9))


def test_the_day_of_start_never_counts_a_saturday_counts_from_monday() -> None:
    cal = WorkingCalendar()
    assert cal.add_working_days(T(2026, 3, 7, 10, 0), 1) == end_of(D(2026, 3, 9))  # Sat → Mon
    assert cal.add_working_days(T(2026, 3, 9, 0, 1), 1) == end_of(D(2026, 3, 10))  # Mon → Tue
    assert cal.add_working_days(T(2026, 3, 9, 9, 0), 0) == end_of(D(2026, 3, 9))
    aware = dt.datetime(2026, 3, 6, 17, 0, tzinfo=dt.UTC)  # Sat 01:00 in Shanghai
    assert cal.add_working_days(aware, 1) == end_of(D(2026, 3, 9))
    with pytest.raises(InvalidInput):
        cal.add_working_days(T(2026, 3, 9), -1)


def test_working_days_between_is_the_inverse_of_add() -> None:
    cal = WorkingCalendar()
    start = T(2026, 2, 13, 18, 30)
    for n in (0, 1, 2, 5, 10):
        assert cal.working_days_between(start, cal.add_working_days(start, n)) == n
    assert cal.working_days_between(D(2026, 10, 1), D(2026, 10, 7)) == 0
    assert cal.working_days_between(D(2026, 3, 13), D(2026, 3, 6)) == -5


def test_beyond_the_package_counts_monday_to_friday_with_a_warning(workspace: Workspace) -> None:
    assert PACKAGE_LAST_YEAR == 2026  # chinesecalendar 1.11.0; a new pin moves these dates
    cal = WorkingCalendar.from_workspace(workspace)  # no holidays file
    assert cal.covered_until == D(2026, 12, 31)
    deadline = cal.deadline(T(2026, 12, 31, 16, 0), 1)
    assert deadline.at == end_of(D(2027, 1, 1))  # a Friday: 元旦, but not in the tables
    assert deadline.provisional
    assert "暂定" in deadline.warnings[0]
    assert "provisional" in deadline.warnings[0]
    assert str(workspace.holidays_file) in deadline.warnings[0]
    assert not cal.is_working_day(D(2027, 1, 2))
    assert cal.is_working_day(D(2027, 1, 4))
    assert cal.warnings_between(D(2026, 12, 1), D(2026, 12, 31)) == []
    assert cal.warnings_between(D(2026, 12, 1), D(2027, 1, 4)) != []


def test_a_workspace_year_is_used_instead_without_warning(workspace: Workspace) -> None:
    write_holidays(
        workspace,
        "2027:\n"
        "  holidays: [2027-01-01, 2027-02-05..2027-02-11]   # 放假\n"
        "  workdays: [2027-02-14]                            # 调休上班\n",
    )
    cal = WorkingCalendar.from_workspace(workspace)
    assert cal.covered_until == D(2027, 12, 31)
    deadline = cal.deadline(T(2026, 12, 31, 16, 0), 1)
    assert deadline.at == end_of(D(2027, 1, 4))
    assert not deadline.provisional
    assert deadline.warnings == []
    assert not cal.is_working_day(D(2027, 2, 8))
    assert cal.is_working_day(D(2027, 2, 14))  # a Sunday, 调休上班
    assert cal.add_working_days(T(2027, 2, 4, 18, 0), 1) == end_of(D(2027, 2, 12))
    assert cal.deadline(T(2027, 12, 30), 2).provisional  # 2028 still unknown


def test_a_workspace_year_replaces_the_package_year(workspace: Workspace) -> None:
    # A correction: 2026 with only 元旦 — the package's Spring Festival no longer applies.
    write_holidays(workspace, "2026:\n  holidays: [2026-01-01]\n")
    cal = WorkingCalendar.from_workspace(workspace)
    assert not cal.is_working_day(D(2026, 1, 1))
    assert cal.is_working_day(D(2026, 1, 2))
    assert cal.is_working_day(D(2026, 2, 16))
    assert not cal.is_working_day(D(2026, 2, 14))  # no longer a make-up Saturday
    assert cal.covered_until == D(2026, 12, 31)


def test_a_year_after_a_gap_does_not_extend_coverage(workspace: Workspace) -> None:
    write_holidays(workspace, "2028:\n  holidays: [2028-01-03]\n  workdays: [2027-12-31]\n")
    cal = WorkingCalendar.from_workspace(workspace)
    assert cal.covered_until == D(2026, 12, 31)
    assert not cal.is_working_day(D(2028, 1, 3))
    assert cal.deadline(T(2027, 6, 1), 1).provisional


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("2027:\n  holidays: [2027-01-01, 2027-13-01]\n", 2, "2027-13-01"),
        ("2027:\n  holiday: [2027-01-01]\n", 2, "holiday"),
        ("next year:\n  holidays: []\n", 1, "四位年份"),
        ("2027:\n  holidays: [2027-02-11..2027-02-05]\n", 2, "早于"),
        ("2027:\n  holidays: [2029-01-01]\n", 2, "不属于 2027"),
        ("2027:\n  holidays: 2027-01-01\n", 2, "日期列表"),
        ("2027:\n  holidays: [2027-01-01]\n  workdays: [2027-01-01]\n", 2, "同时"),
        ("2027:\n  holidays: [2027-01-01\n", 3, "YAML"),
        ("- 2027-01-01\n", 1, "顶层"),
    ],
)
def test_a_malformed_file_names_file_and_line(
    workspace: Workspace, text: str, line: int, words: str
) -> None:
    path = write_holidays(workspace, text)
    with pytest.raises(InvalidInput) as caught:
        WorkingCalendar.from_workspace(workspace)
    message = str(caught.value)
    assert str(path) in message
    assert words in message
    assert f"第 {line} 行" in message


def test_rules_defaults_and_overrides(workspace: Workspace) -> None:
    rules = SharingRules.from_workspace(workspace)
    assert (rules.check_days, rules.answer_days, rules.answer_days_unpublished) == (2, 5, 10)
    assert rules.answer_days_for(published=True) == 5
    assert rules.answer_days_for(published=False) == 10
    workspace.sharing_rules_file.parent.mkdir(parents=True)
    workspace.sharing_rules_file.write_text("check_days: 3\nanswer_days_unpublished: 15\n")
    rules = SharingRules.from_workspace(workspace)
    assert (rules.check_days, rules.answer_days, rules.answer_days_unpublished) == (3, 5, 15)


@pytest.mark.parametrize(
    ("text", "words"),
    [("check_day: 3\n", "check_day"), ("answer_days: -1\n", "answer_days"), ("[1]\n", "顶层")],
)
def test_bad_rules_name_file_and_key(workspace: Workspace, text: str, words: str) -> None:
    workspace.sharing_rules_file.parent.mkdir(parents=True)
    workspace.sharing_rules_file.write_text(text)
    with pytest.raises(InvalidInput) as caught:
        SharingRules.from_workspace(workspace)
    assert str(workspace.sharing_rules_file) in str(caught.value)
    assert words in str(caught.value)


def test_deadline_status_in_the_freshness_vocabulary() -> None:
    deadline = end_of(D(2026, 2, 24))
    assert deadline_status(deadline, T(2026, 2, 13, 19, 0)) is DeadlineStatus.ON_TIME
    assert deadline_status(deadline, T(2026, 2, 24, 9, 0)) is DeadlineStatus.DUE_SOON
    assert deadline_status(deadline, T(2026, 2, 25, 0, 0)) is DeadlineStatus.OVERDUE
    assert deadline_status(deadline, T(2026, 2, 22, 9, 0), due_soon_days=3).chinese == "即将到期"
    assert [s.chinese for s in DeadlineStatus] == ["按时", "即将到期", "逾期"]


@pytest.mark.slow
def test_mulu_sharing_deadline(workspace: Workspace) -> None:
    mulu = str(Path(sys.executable).with_name("mulu"))
    env = {**os.environ, "MULU_HOME": str(workspace.root), "COLUMNS": "200"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [mulu, "sharing", "deadline", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, check=False)

    done = run("--from", "2026-12-31T16:00", "--rule", "check", "--json")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert (shown["days"], shown["deadline"]) == (2, "2027-01-04T23:59:59")
    assert shown["provisional"]
    assert "暂定" in shown["warnings"][0]
    done = run("--from", "2026-02-13T18:30", "--days", "2")
    assert done.returncode == 0, done.stderr
    assert "2026-02-24 23:59:59" in done.stdout
    assert run("--from", "2026-02-13").returncode == 2
