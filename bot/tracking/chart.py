"""The chart managers get with their statistics: who is behind, at a glance.

Units are sorted by the share of staff the target's rule counts; units below
the target are drawn in a warning colour, the whole scope's total is its own
bar and the target a dashed line. With many units (a province has hundreds)
only the lowest and highest :data:`SHOWN_EACH_END` are drawn, and a row in
the middle says how many were left out. matplotlib's DejaVu Sans has every
Vietnamese glyph.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from bot.tracking.stats import Stats
from bot.tracking.targets import rule_of

SHOWN_EACH_END = 15
BELOW = "#e65100"  # orange: below the target
REACHED = "#2e7d32"  # green
NO_TARGET = "#1565c0"
TOTAL = "#37474f"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float  # % of active staff the rule counts
    counted: int
    active: int
    below_target: bool
    code: str | None = None


@dataclass
class ChartData:
    """What the chart shows, separate from drawing it (and testable)."""

    lowest: list[Bar]
    highest: list[Bar] = field(default_factory=list)
    left_out: int = 0
    total: Bar | None = None
    target_pct: float | None = None
    axis_label: str = ""

    @property
    def bars(self) -> list[Bar]:
        return [*self.lowest, *self.highest]


def _bar(s: Stats, target: float | None) -> Bar:
    below = target is not None and s.pct_counted < target
    return Bar(s.label, s.pct_counted, s.counted, s.counts.active, below, s.unit_code)


def chart_data(total: Stats, rows: list[Stats], each_end: int = SHOWN_EACH_END) -> ChartData:
    target = total.target_pct
    ranked = sorted(rows, key=lambda s: (s.pct_counted, s.label))
    bars = [_bar(s, target) for s in ranked]
    axis = f"Tỷ lệ nhân viên {rule_of(total.rule).short_vi} (%)"
    if len(bars) <= 2 * each_end:
        lowest, highest, left_out = bars, [], 0
    else:
        lowest, highest = bars[:each_end], bars[-each_end:]
        left_out = len(bars) - 2 * each_end
    return ChartData(lowest, highest, left_out, _bar(total, target), target, axis)


def _short(label: str, code: str | None = None, width: int = 40) -> str:
    """A label that fits; a cut one keeps the unit code, so two cut names stay distinct."""
    if len(label) <= width:
        return label
    if code:
        keep = max(width - len(code) - 4, 12)
        return f"{label[:keep].rstrip()}… ({code})"
    return label[: width - 1] + "…"


def build_chart(data: ChartData, title: str) -> bytes:
    """Horizontal bars, lowest rate on top; PNG bytes.

    Drawn with matplotlib's object API on an Agg canvas, not pyplot: pyplot's
    global figure registry is not safe from the background worker threads
    that draw charts, and importing it costs a command-line report about a
    quarter of a second more.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # label, value (None: a note row), colour, "counted/active"
    rows: list[tuple[str, float | None, str, str]] = []
    for bar in data.lowest:
        colour = BELOW if bar.below_target else REACHED
        rows.append((_short(bar.label, bar.code), bar.value, colour, f"{bar.counted}/{bar.active}"))
    if data.left_out:
        rows.append((f"… {data.left_out} đơn vị ở giữa không hiển thị", None, "", ""))
    for bar in data.highest:
        colour = BELOW if bar.below_target else REACHED
        rows.append((_short(bar.label, bar.code), bar.value, colour, f"{bar.counted}/{bar.active}"))
    if data.target_pct is None:
        rows = [(a, v, NO_TARGET if v is not None else "", n) for a, v, _, n in rows]
    if data.total is not None:
        total = data.total
        rows.append(("", None, "", ""))
        rows.append(
            (_short(f"TỔNG: {total.label}"), total.value, TOTAL, f"{total.counted}/{total.active}")
        )
    height = max(2.6, 0.3 * len(rows) + 1.6)
    fig = Figure(figsize=(8.5, height), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    positions = list(range(len(rows)))[::-1]  # first row on top
    for y, (_label, value, colour, people) in zip(positions, rows, strict=True):
        if value is None:
            continue
        ax.barh(y, value, color=colour, height=0.7)
        ax.text(value + 1, y, f"{value:g}% ({people})", va="center", fontsize=7)
    ax.set_yticks(positions)
    ax.set_yticklabels([row[0] for row in rows], fontsize=7.5)
    for tick, line, row in zip(
        ax.get_yticklabels(), ax.yaxis.get_ticklines()[::2], rows, strict=True
    ):
        if row[1] is None:
            tick.set_fontstyle("italic")
            tick.set_color("#555555")
            line.set_visible(False)
    handles: list[Any] = []
    if data.target_pct is not None:
        handles.append(
            ax.axvline(
                data.target_pct,
                color="#c62828",
                linestyle="--",
                linewidth=1.4,
                label=f"Chỉ tiêu {data.target_pct:g}%",
            )
        )
        from matplotlib.patches import Patch

        handles += [
            Patch(color=BELOW, label="Dưới chỉ tiêu"),
            Patch(color=REACHED, label="Đạt chỉ tiêu"),
        ]
    if handles:
        ax.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.08 if len(rows) > 12 else -0.18),
            ncol=3,
            fontsize=7.5,
            frameon=False,
        )
    ax.set_xlim(0, 122)
    ax.set_xticks([0, 20, 40, 60, 80, 100])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel(data.axis_label, fontsize=8)
    ax.set_title(title, fontsize=9.5)
    ax.tick_params(axis="x", labelsize=7.5)
    ax.grid(axis="x", color="#e0e0e0", linewidth=0.6)
    ax.set_axisbelow(True)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
