"""The province chart (issue 13, item 13): sorted, warning colour, total, target, no silent drops."""

from __future__ import annotations

import random
from datetime import date

from bot.tracking.chart import SHOWN_EACH_END, build_chart, chart_data
from bot.tracking.stats import Counts, Stats
from bot.tracking.targets import TargetView

TARGET = TargetView(2026, 0.9, date(2026, 6, 30), "2948/KH-SYT", "vneid")


def _rows(n: int) -> list[Stats]:
    rng = random.Random(n)
    rows = []
    for i in range(n):
        active = rng.randint(20, 400)
        counted = int(active * rng.random())
        counts = Counts(active, counted, counted, 0, counted)
        rows.append(Stats(f"Trạm Y tế xã số {i}", date(2026, 6, 1), counts, TARGET, f"U{i}"))
    return rows


def _total(rows: list[Stats]) -> Stats:
    total = Counts()
    for row in rows:
        total.add(row.counts)
    return Stats("Sở Y tế", date(2026, 6, 1), total, TARGET)


def test_500_units_show_lowest_and_highest_with_a_note_of_the_rest() -> None:
    """Before: rows[:40] in input order, 460 units dropped silently, no total."""
    rows = _rows(500)
    data = chart_data(_total(rows), rows)
    assert len(data.lowest) == len(data.highest) == SHOWN_EACH_END
    assert data.left_out == 500 - 2 * SHOWN_EACH_END
    values = [b.value for b in data.bars]
    assert values == sorted(values)
    ranked = sorted(r.pct_counted for r in rows)
    assert values[:SHOWN_EACH_END] == ranked[:SHOWN_EACH_END]
    assert values[-SHOWN_EACH_END:] == ranked[-SHOWN_EACH_END:]
    assert all(b.below_target == (b.value < 90) for b in data.bars)
    assert data.total is not None and data.total.active == sum(r.counts.active for r in rows)
    assert data.target_pct == 90 and "VNeID" in data.axis_label
    png = build_chart(data, "Sở Y tế — đến 01/06/2026")
    assert png.startswith(b"\x89PNG")


def test_few_units_are_all_shown() -> None:
    rows = _rows(7)
    data = chart_data(_total(rows), rows)
    assert len(data.bars) == 7 and data.left_out == 0 and not data.highest
