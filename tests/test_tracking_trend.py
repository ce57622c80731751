"""Are we on pace? Dated snapshots of each unit's figures and the trend (issue 13 item 14).

The trend is read from snapshots stored day by day, so a person who leaves
still counts in the days they worked; the weeks before snapshots started are
reconstructed once and marked as estimates. Chat, CLI and the XLSX report show
the same points.
"""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.tracking.reports import build_xlsx
from bot.tracking.roster import import_staff
from bot.tracking.service import CompletionInput
from bot.tracking.trend import ensure
from tests.conftest import ROSTER_CSV, UNITS_CSV, Province
from tests.tracking_support import *  # noqa: F403
from tests.tracking_support import Chat

START = date(2026, 3, 20)


def _log(prov: Province, code: str, day: date) -> None:
    tracking = prov.tracking
    staff = tracking.staff_by_code(code)
    course = tracking.find_course("Chuyển đổi số")
    tracking.log_completion("test", staff.id, CompletionInput(course.id, day, None, True))


def test_trend_keeps_history_when_people_leave(prov: Province, tmp_path: Path) -> None:
    """NV001 completes, then leaves: past days keep counting them, today does not."""
    _log(prov, "NV001", date(2026, 3, 12))
    assert ensure(prov.services.db, START)  # first snapshot: weeks before reconstructed
    assert not ensure(prov.services.db, START)  # once a day
    first = prov.stats.trend(None, "BVDK", as_of=START, today=START)
    assert first[-1].day == START and not first[-1].estimated
    assert any(p.estimated for p in first[:-1])
    assert (first[-1].active, first[-1].counted) == (4, 2)  # NV001-3 + QL001; NV001, NV002

    roster = tmp_path / "roster-without-nv001.csv"
    roster.write_text(
        "\n".join(line for line in ROSTER_CSV.splitlines() if not line.startswith("NV001")),
        encoding="utf-8",
    )
    assert not import_staff(prov.tracking, roster, "test").errors
    later = START + timedelta(days=8)
    points = prov.stats.trend(None, "BVDK", as_of=later, today=later)
    by_day = {p.day: p for p in points}
    assert (by_day[START].active, by_day[START].counted) == (4, 2)  # history as it was
    assert (by_day[later].active, by_day[later].counted) == (3, 1)  # today's roster
    # Today's statistics agree with today's snapshot.
    now = prov.stats.summary(None, "BVDK", as_of=later)
    assert (now.counts.active, now.counted) == (by_day[later].active, by_day[later].counted)


def test_trend_is_scoped_to_the_managers_units(prov: Province) -> None:
    ensure(prov.services.db, START)
    prov.link("QL002", "console", "ql2")
    manager = prov.engine.actor("console", "ql2")
    points = prov.stats.trend(manager, as_of=START, today=START)
    assert points[-1].active == 3  # TTYT-NL: QL002, NV004, NV005 — not the hospital's staff


def test_cli_stats_trend_prints_weekly_rates_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    data = str(tmp_path / "data")
    units = tmp_path / "units.csv"
    units.write_text(UNITS_CSV, encoding="utf-8")
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER_CSV, encoding="utf-8")
    assert main(["--data-dir", data, "units", "import", str(units)]) == 0
    assert main(["--data-dir", data, "staff", "import", str(roster)]) == 0
    for code, day in (("NV001", "02/02/2026"), ("NV002", "20/02/2026")):
        argv = ["completions", "add", code, "BDHVS-CDS", "--date", day, "--vneid"]
        assert main(["--data-dir", data, *argv]) == 0
    capsys.readouterr()
    assert main(["--data-dir", data, "stats", "--trend"]) == 0
    out = capsys.readouterr().out
    assert "Xu hướng" in out and "Đạt%" in out and "(ước tính)" in out
    assert main(["--data-dir", data, "stats", "--trend", "--json"]) == 0
    last = json.loads(capsys.readouterr().out)["trend"][-1]
    assert {"day", "active", "counted", "pct", "estimated"} <= set(last)
    assert (last["active"], last["counted"], last["estimated"]) == (7, 2, False)


def test_chat_stats_and_report_show_the_same_trend(prov: Province) -> None:
    _log(prov, "NV001", date(2026, 2, 2))
    day = date(2026, 4, 1)
    ensure(prov.services.db, day)
    prov.link("QL001", "console", "ql1")
    text = Chat(prov, "ql1").text("/thongke")
    assert "Xu hướng tỷ lệ đạt:" in text

    book = load_workbook(
        io.BytesIO(build_xlsx(prov.stats, None, "BVDK", as_of=day, today=day)), read_only=True
    )
    assert book.sheetnames == ["Tổng hợp", "Chưa đạt", "Đã khai báo", "Xu hướng"]
    rows = [r for r in book["Xu hướng"].iter_rows(values_only=True) if r and r[0]]
    header = rows.index(next(r for r in rows if r[0] == "Ngày"))
    last = rows[-1]
    assert last[0] == "01/04/2026" and (last[1], last[2]) == (4, 2)
    assert header < len(rows) - 1


def test_report_for_one_job_group(prov: Province) -> None:
    day = date(2026, 4, 1)
    book = load_workbook(
        io.BytesIO(build_xlsx(prov.stats, None, None, as_of=day, job="doctor", today=day)),
        read_only=True,
    )
    missing = [r for r in book["Chưa đạt"].iter_rows(min_row=2, values_only=True) if r and r[0]]
    assert missing == []  # the one doctor (NV002) reported on 10/03/2026
    nurses = load_workbook(
        io.BytesIO(build_xlsx(prov.stats, None, None, as_of=day, job="nurse", today=day)),
        read_only=True,
    )
    codes = {r[0] for r in nurses["Chưa đạt"].iter_rows(min_row=2, values_only=True) if r}
    assert codes == {"NV001", "NV005"}
