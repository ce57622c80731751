"""Completion against the target, for any unit subtree, job group and date.

Definitions (shown to managers in the report's notes):
- active staff: the active roster of the unit and every unit under it;
- done: active staff with at least one completion not rejected, on or before
  the date (one person counts once however many courses they finish);
- VNeID-confirmed: at least one such completion also confirmed on VNeID;
- verified: at least one completion a manager verified;
- counted: the people the year's target rule counts (done, VNeID-confirmed
  or verified: :mod:`bot.tracking.targets`); the target is a share of the
  active staff counted by the deadline. Counted after the deadline is "late".

One grouped query returns counts per (unit, job group); everything above a
unit is summed in Python along the materialised unit paths.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, or_, select

from bot.core.actor import Actor
from bot.errors import PermissionDenied, UserError
from bot.tracking.counting import RULE_COLUMNS, Counts, counts_by_unit_job, in_units
from bot.tracking.models import JOB_GROUPS, Staff, Unit
from bot.tracking.normalize import vi_date
from bot.tracking.service import TrackingService
from bot.tracking.targets import DEFAULT_RULE, TargetView, rule_of
from bot.tracking.trend import TrendPoint, ensure, series


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


@dataclass
class Stats:
    """One line of statistics (a unit, a job group, or a whole scope)."""

    label: str
    as_of: date
    counts: Counts
    target: TargetView | None = None
    unit_code: str | None = None
    key: str | None = None

    # -- the target --------------------------------------------------------------
    @property
    def rule(self) -> str:
        return self.target.rule if self.target else DEFAULT_RULE

    @property
    def target_rate(self) -> float | None:
        return self.target.rate if self.target else None

    @property
    def deadline(self) -> date | None:
        return self.target.deadline if self.target else None

    @property
    def target_source(self) -> str | None:
        return self.target.source if self.target else None

    @property
    def target_pct(self) -> float | None:
        return None if self.target_rate is None else round(100 * self.target_rate, 1)

    def rule_vi(self) -> str:
        """The sentence every screen shows under its figures."""
        if self.target is None:
            return f"Tiêu chí: {rule_of(self.rule).long_vi} (chưa đặt chỉ tiêu cho năm này)."
        return self.target.describe_vi()

    # -- figures -----------------------------------------------------------------
    @property
    def pct_done(self) -> float:
        return _pct(self.counts.done, self.counts.active)

    @property
    def pct_vneid(self) -> float:
        return _pct(self.counts.vneid, self.counts.active)

    @property
    def pct_verified(self) -> float:
        return _pct(self.counts.verified, self.counts.active)

    @property
    def counted(self) -> int:
        """People who meet the target's rule (on or before ``as_of``)."""
        return self.counts.by_rule(self.rule)

    @property
    def pct_counted(self) -> float:
        return _pct(self.counted, self.counts.active)

    @property
    def deadline_passed(self) -> bool:
        return self.deadline is not None and self.as_of > self.deadline

    @property
    def on_time(self) -> int:
        """Counted by the deadline (all of ``counted`` while it has not passed)."""
        return self.counts.on_time if self.deadline_passed else self.counted

    @property
    def late(self) -> int:
        """Counted only after the deadline."""
        return self.counted - self.on_time

    def _goal(self) -> int:
        assert self.target_rate is not None
        return math.ceil(self.target_rate * self.counts.active - 1e-9)

    @property
    def needed(self) -> int:
        """People still to meet the rule to reach the target (0 when reached)."""
        if self.target_rate is None:
            return 0
        return max(self._goal() - self.counted, 0)

    @property
    def reached_on_time(self) -> bool:
        return self.target_rate is not None and self.on_time >= self._goal()

    @property
    def days_left(self) -> int | None:
        return None if self.deadline is None else (self.deadline - self.as_of).days

    @property
    def per_day(self) -> int | None:
        days = self.days_left
        if days is None or days < 0 or not self.needed:
            return None
        return math.ceil(self.needed / max(days, 1))

    def pace_vi(self) -> str:
        if self.target_rate is None or self.deadline is None:
            return "Chưa đặt chỉ tiêu cho năm này."
        goal = f"{self.target_pct:g}%"
        deadline = vi_date(self.deadline)
        days = self.days_left or 0
        if not self.deadline_passed:
            if not self.needed:
                return f"Đã đạt chỉ tiêu {goal} (hạn {deadline})."
            if days == 0:
                return f"Hôm nay là hạn cuối ({deadline}); còn thiếu {self.needed} người để đạt {goal}."
            return (
                f"Còn {days} ngày; cần thêm {self.per_day} người mỗi ngày "
                f"để đạt {goal} trước {deadline}."
            )
        if self.reached_on_time:
            return f"Đã đạt chỉ tiêu {goal} đúng hạn {deadline}."
        parts = [
            f"Hạn {deadline} đã qua {-days} ngày: đến hạn đạt "
            f"{_pct(self.on_time, self.counts.active):g}% ({self.on_time}/{self.counts.active} "
            f"người), chưa đạt chỉ tiêu {goal}."
        ]
        if self.late:
            parts.append(f"{self.late} người hoàn thành muộn (sau hạn).")
        if self.needed:
            parts.append(f"Hiện còn thiếu {self.needed} người.")
        else:
            parts.append("Hiện đã đủ số người nhưng là muộn.")
        return " ".join(parts)

    def to_dict(self) -> dict[str, object]:
        """Stable English keys (documented in the README for ``--json``)."""
        return {
            "label": self.label,
            "unit_code": self.unit_code,
            "key": self.key,
            "as_of": self.as_of.isoformat(),
            "active": self.counts.active,
            "done": self.counts.done,
            "vneid_confirmed": self.counts.vneid,
            "verified": self.counts.verified,
            "pct_done": self.pct_done,
            "pct_vneid": self.pct_vneid,
            "pct_verified": self.pct_verified,
            "rule": self.rule,
            "counted": self.counted,
            "pct_counted": self.pct_counted,
            "on_time": self.on_time,
            "late": self.late,
            "target_pct": self.target_pct,
            "target_source": self.target_source,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "deadline_passed": self.deadline_passed,
            "days_left": self.days_left,
            "needed": self.needed,
            "per_day": self.per_day,
        }


@dataclass
class Scope:
    """The units a statistics request covers, after permission checks."""

    units: list[Unit]
    label: str
    all_units: list[Unit] = field(default_factory=list)


def lacking_vi(done_on: date | None, rule: str, as_of: date) -> str:
    """What a person not counted still has to do (for the not-done lists)."""
    if done_on is None or done_on > as_of:
        return "chưa khai báo khóa học nào"
    return rule_of(rule).lacking_vi or "chưa đạt"


class StatsService:
    """Statistics with the permission rules of :class:`TrackingService`."""

    def __init__(self, tracking: TrackingService) -> None:
        self.tracking = tracking

    def scope(self, actor: Actor | None, unit_ref: str | None = None) -> Scope:
        """Units to report on: the one asked for (if visible) or the actor's own."""
        tracking = self.tracking
        if actor is not None and not actor.is_manager:
            raise PermissionDenied("Chỉ người quản lý đơn vị mới xem được thống kê.")
        if unit_ref:
            visible_to = None if actor is None or actor.is_admin else actor
            units = [tracking.unit_by_ref(unit_ref, visible_to)]
        elif actor is None:
            units = tracking.root_units()
        else:
            units = tracking.default_units(actor)
        if not units:
            raise UserError(
                "Chưa có đơn vị nào. Hãy nhập danh mục đơn vị trước (hocvuso units import)."
            )
        label = units[0].name if len(units) == 1 else "Các đơn vị được giao"
        return Scope(units=units, label=label, all_units=tracking.units())

    def target(self, as_of: date) -> TargetView | None:
        return self.tracking.target_for(as_of)

    def _counts(
        self,
        scope: Scope,
        as_of: date,
        job: str | None,
        target: TargetView | None,
        *,
        by_job: bool = True,
    ) -> dict[tuple[int, str], Counts]:
        paths = [u.path for u in scope.units]
        with self.tracking.db.session() as session:
            return counts_by_unit_job(session, paths, as_of, job, by_job=by_job, target=target)

    def _total(
        self,
        scope: Scope,
        rows: dict[tuple[int, str], Counts],
        as_of: date,
        job: str | None,
        target: TargetView | None,
    ) -> Stats:
        total = Counts()
        for counts in rows.values():
            total.add(counts)
        code = scope.units[0].code if len(scope.units) == 1 else None
        label = scope.label + (f" — {JOB_GROUPS[job]}" if job else "")
        return Stats(label, as_of, total, target, unit_code=code)

    def summary(
        self,
        actor: Actor | None,
        unit_ref: str | None = None,
        *,
        as_of: date | None = None,
        job: str | None = None,
    ) -> Stats:
        """The whole scope on one line: active, done, % against the year's target."""
        return self.overview(actor, unit_ref, as_of=as_of, job=job)[0]

    def breakdown(
        self,
        actor: Actor | None,
        unit_ref: str | None = None,
        *,
        by: str = "unit",
        as_of: date | None = None,
        job: str | None = None,
    ) -> list[Stats]:
        """Per direct sub-unit (``by="unit"``) or per job group (``by="job"``)."""
        return self.overview(actor, unit_ref, by=by, as_of=as_of, job=job)[1]

    def overview(
        self,
        actor: Actor | None,
        unit_ref: str | None = None,
        *,
        by: str = "unit",
        as_of: date | None = None,
        job: str | None = None,
    ) -> tuple[Stats, list[Stats]]:
        """:meth:`summary` and :meth:`breakdown` from one query (what a manager's
        statistics screen shows: 100,000 staff are counted once, not twice)."""
        if by not in ("unit", "job"):
            raise UserError("Chỉ thống kê theo đơn vị (unit) hoặc nhóm chức danh (job).")
        as_of = as_of or date.today()
        scope = self.scope(actor, unit_ref)
        target = self.target(as_of)
        rows = self._counts(scope, as_of, job, target, by_job=by == "job")
        total = self._total(scope, rows, as_of, job, target)
        return total, self._split(scope, rows, by, as_of, target)

    def overview_with_jobs(
        self,
        actor: Actor | None,
        unit_ref: str | None = None,
        *,
        as_of: date | None = None,
    ) -> tuple[Stats, list[Stats], list[Stats]]:
        """Total, per sub-unit and per job group from one (unit, job) grouped read.

        The web overview shows all three; one read of the staff index instead
        of two halves its cost at province scale.
        """
        as_of = as_of or date.today()
        scope = self.scope(actor, unit_ref)
        target = self.target(as_of)
        rows = self._counts(scope, as_of, None, target, by_job=True)
        total = self._total(scope, rows, as_of, None, target)
        return (
            total,
            self._split(scope, rows, "unit", as_of, target),
            self._split(scope, rows, "job", as_of, target),
        )

    def trend(
        self,
        actor: Actor | None,
        unit_ref: str | None = None,
        *,
        as_of: date | None = None,
        today: date | None = None,
    ) -> list[TrendPoint]:
        """The scope's figures per stored day under the target's rule, up to ``as_of``.

        Takes today's snapshot first when none exists yet (the first read of
        the day pays ~0.1 s at province scale; see :mod:`bot.tracking.trend`).
        """
        today = today or date.today()
        as_of = as_of or today
        scope = self.scope(actor, unit_ref)
        target = self.target(as_of)
        ensure(self.tracking.db, today)
        with self.tracking.db.session() as session:
            return series(
                session,
                [u.path for u in scope.units],
                target.rule if target else DEFAULT_RULE,
                until=as_of,
            )

    def _split(
        self,
        scope: Scope,
        rows: dict[tuple[int, str], Counts],
        by: str,
        as_of: date,
        target: TargetView | None,
    ) -> list[Stats]:
        if by == "job":
            per_job: dict[str, Counts] = defaultdict(Counts)
            for (_unit, group), counts in rows.items():
                per_job[group].add(counts)
            return [
                Stats(JOB_GROUPS[g], as_of, per_job[g], target, key=g)
                for g in JOB_GROUPS
                if g in per_job
            ]
        path_of = {u.id: u.path for u in scope.all_units}
        children_of: dict[int | None, list[Unit]] = defaultdict(list)
        for unit in scope.all_units:
            children_of[unit.parent_id].append(unit)
        # Paths are "/<id>/<id>/.../": the direct child of ``base`` a unit sits
        # under is the path segment right after base's own path.
        per_branch: dict[tuple[int, int], Counts] = defaultdict(Counts)
        for (unit_id, _g), counts in rows.items():
            path = path_of.get(unit_id, "")
            for base in scope.units:
                if path.startswith(base.path):
                    head = path[len(base.path) :].split("/", 1)[0]
                    per_branch[(base.id, int(head) if head else base.id)].add(counts)
        result: list[Stats] = []
        for base in scope.units:
            children = children_of.get(base.id, [])
            direct = per_branch.get((base.id, base.id), Counts())
            if direct.active or not children:
                label = f"{base.name} (trực thuộc)" if children else base.name
                result.append(Stats(label, as_of, direct, target, base.code))
            for child in children:
                total = per_branch.get((base.id, child.id))
                if total is not None and total.active:
                    result.append(Stats(child.name, as_of, total, target, child.code))
        return result

    def missing(
        self,
        actor: Actor | None,
        unit_ref: str | None = None,
        *,
        as_of: date | None = None,
        job: str | None = None,
        limit: int | None = 30,
        offset: int = 0,
    ) -> tuple[list[tuple[Staff, Unit]], int]:
        """Active staff the target's rule does not count yet, by unit then name."""
        as_of = as_of or date.today()
        scope = self.scope(actor, unit_ref)
        target = self.target(as_of)
        column = RULE_COLUMNS[target.rule if target else DEFAULT_RULE]
        with self.tracking.db.session() as session:
            query = (
                select(Staff, Unit)
                .join(Unit, Unit.id == Staff.unit_id)
                .where(
                    Staff.active.is_(True),
                    or_(column.is_(None), column > as_of),
                    # A semi-join: start from the units' staff, not every staff row.
                    Staff.unit_id.in_(
                        select(Unit.id).where(in_units([u.path for u in scope.units]))
                    ),
                )
            )
            if job:
                query = query.where(Staff.job_group == job)
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            query = query.order_by(Unit.path, Staff.full_name, Staff.code).offset(offset)
            if limit is not None:
                query = query.limit(limit)
            return [(s, u) for s, u in session.execute(query).unique()], total
