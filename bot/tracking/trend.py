"""Dated snapshots of each unit's figures, and the trend managers read from them.

"Are we on pace?" needs yesterday's figures as they were, not today's roster
replayed: people leave and move between units. Once a day (the serving
process's notification tick, or the first statistics read of the day) one
grouped read of the staff index stores every unit's active / done / VNeID /
verified counts (~500 rows for a province, about 0.1 s at 100,000 staff).
When snapshots start on a database that already has completions, the weeks
before are reconstructed once from the progress dates of the current roster
and marked ``estimated``.

A trend for any scope is then a sum over the snapshots of the units under it,
grouped by day: a few thousand small rows instead of the staff table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Integer, cast, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db import Database
from bot.tracking.counting import counts_by_unit_job, in_units
from bot.tracking.models import Staff, Unit, UnitSnapshot
from bot.tracking.targets import DEFAULT_RULE

log = logging.getLogger(__name__)

# Which snapshot column a target rule counts.
RULE_SNAPSHOT_COLUMNS: dict[str, Any] = {
    "done": UnitSnapshot.done,
    "vneid": UnitSnapshot.vneid,
    "verified": UnitSnapshot.verified,
}
# Reconstructed history before the first stored snapshot: one point a week,
# at most a year and a half back (older progress dates start the first point).
BACKFILL_STEP = timedelta(days=7)
BACKFILL_MAX_POINTS = 80


@dataclass(frozen=True)
class TrendPoint:
    """A scope's figures on one day under the target's rule."""

    day: date
    active: int
    counted: int
    estimated: bool = False

    @property
    def pct(self) -> float:
        return round(100 * self.counted / self.active, 1) if self.active else 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "day": self.day.isoformat(),
            "active": self.active,
            "counted": self.counted,
            "pct": self.pct,
            "estimated": self.estimated,
        }


def _root_paths(session: Session) -> list[str]:
    return list(session.scalars(select(Unit.path).where(Unit.parent_id.is_(None))))


def record(session: Session, day: date, *, estimated: bool = False) -> int:
    """Store every unit's figures as of ``day`` (replacing that day's rows)."""
    paths = _root_paths(session)
    if not paths:
        return 0
    counts = counts_by_unit_job(session, paths, day, by_job=False)
    session.execute(delete(UnitSnapshot).where(UnitSnapshot.day == day))
    rows = [
        {
            "day": day,
            "unit_id": unit_id,
            "active": c.active,
            "done": c.done,
            "vneid": c.vneid,
            "verified": c.verified,
            "estimated": estimated,
        }
        for (unit_id, _group), c in counts.items()
    ]
    if rows:
        session.execute(insert(UnitSnapshot), rows)
    return len(rows)


def _backfill_days(session: Session, today: date) -> list[date]:
    first = session.scalar(select(func.min(Staff.done_on)).where(Staff.active.is_(True)))
    if first is None or first >= today:
        return []
    days: list[date] = []
    day = today - BACKFILL_STEP
    while day >= first and len(days) < BACKFILL_MAX_POINTS:
        days.append(day)
        day -= BACKFILL_STEP
    days.append(max(first, day + BACKFILL_STEP) if days else first)
    return sorted(set(days))


def ensure(db: Database, today: date) -> bool:
    """Take today's snapshot unless one exists; the first time, reconstruct the weeks before.

    Returns whether anything was written. Safe with several workers: a
    second writer of the same day hits the primary key and leaves the first
    one's rows.
    """
    with db.session() as session:
        if session.scalar(select(UnitSnapshot.day).where(UnitSnapshot.day == today).limit(1)):
            return False
    try:
        with db.session() as session:
            first_ever = session.scalar(select(UnitSnapshot.day).limit(1)) is None
            if first_ever:
                for day in _backfill_days(session, today):
                    record(session, day, estimated=True)
            written = record(session, today)
    except IntegrityError:
        log.info("snapshot of %s written by another worker", today)
        return False
    if written:
        log.info("unit snapshot of %s: %d units", today, written)
    return bool(written)


def series(
    session: Session,
    paths: list[str],
    rule: str | None,
    *,
    until: date,
    since: date | None = None,
) -> list[TrendPoint]:
    """Figures of the units under ``paths`` per stored day, oldest first."""
    column = RULE_SNAPSHOT_COLUMNS.get(rule or DEFAULT_RULE, UnitSnapshot.done)
    units = select(Unit.id).where(in_units(paths))
    query = (
        select(
            UnitSnapshot.day,
            func.sum(UnitSnapshot.active),
            func.sum(column),
            func.max(cast(UnitSnapshot.estimated, Integer)),
        )
        .where(UnitSnapshot.unit_id.in_(units), UnitSnapshot.day <= until)
        .group_by(UnitSnapshot.day)
        .order_by(UnitSnapshot.day)
    )
    if since is not None:
        query = query.where(UnitSnapshot.day >= since)
    return [
        TrendPoint(day, int(active or 0), int(counted or 0), bool(est))
        for day, active, counted, est in session.execute(query)
    ]


def weekly(points: list[TrendPoint]) -> list[TrendPoint]:
    """The last point of each ISO week (and the last point): a readable table or line."""
    by_week: dict[tuple[int, int], TrendPoint] = {}
    for p in points:
        year, week, _ = p.day.isocalendar()
        by_week[(year, week)] = p
    result = sorted(by_week.values(), key=lambda p: p.day)
    if points and result[-1] != points[-1]:
        result.append(points[-1])
    return result


def trend_vi(points: list[TrendPoint], target_pct: float | None, deadline: date | None) -> str:
    """One chat line: the last weeks' rate under the rule, and what the target asks."""
    shown = weekly(points)[-6:]
    if len(shown) < 2:
        return "Xu hướng: chưa đủ số liệu theo ngày (số liệu được lưu mỗi ngày)."
    steps = " → ".join(f"{p.day.day:02d}/{p.day.month:02d}: {p.pct:g}%" for p in shown)
    change = shown[-1].pct - shown[0].pct
    line = f"Xu hướng tỷ lệ đạt: {steps} ({change:+.1f} điểm %"
    line += f" trong {(shown[-1].day - shown[0].day).days} ngày)"
    if target_pct is not None and deadline is not None:
        line += f"; chỉ tiêu {target_pct:g}% trước {deadline.day:02d}/{deadline.month:02d}/{deadline.year}"
    if any(p.estimated for p in shown):
        line += ". Các tuần trước khi bắt đầu lưu số liệu là ước tính từ ngày hoàn thành"
    return line + "."
