"""Completion against the target, for any unit subtree, job group and date.

Definitions (shown to managers in the report's notes):
- active staff: the active roster of the unit and every unit under it;
- done: active staff with at least one completion not rejected, on or before
  the date (one person counts once however many courses they finish);
- VNeID-confirmed: done and at least one such completion confirmed on VNeID;
- verified: at least one completion a manager verified;
- target: the year's share and deadline (``targets`` table).

One grouped query returns counts per (unit, job group); everything above a
unit is summed in Python along the materialised unit paths.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Integer, case, func, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from bot.core.actor import Actor
from bot.errors import PermissionDenied, UserError
from bot.tracking.models import JOB_GROUPS, Staff, Unit
from bot.tracking.normalize import vi_date
from bot.tracking.service import TrackingService


@dataclass
class Counts:
    active: int = 0
    done: int = 0
    vneid: int = 0
    verified: int = 0

    def add(self, other: Counts) -> None:
        self.active += other.active
        self.done += other.done
        self.vneid += other.vneid
        self.verified += other.verified


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


@dataclass
class Stats:
    """One line of statistics (a unit, a job group, or a whole scope)."""

    label: str
    as_of: date
    counts: Counts
    target_rate: float | None = None
    deadline: date | None = None
    target_source: str | None = None
    unit_code: str | None = None
    key: str | None = None

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
    def target_pct(self) -> float | None:
        return None if self.target_rate is None else round(100 * self.target_rate, 1)

    @property
    def needed(self) -> int:
        """People still to finish to reach the target (0 when reached)."""
        if self.target_rate is None:
            return 0
        goal = math.ceil(self.target_rate * self.counts.active - 1e-9)
        return max(goal - self.counts.done, 0)

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
        if not self.needed:
            return f"Đã đạt chỉ tiêu {goal} (hạn {deadline})."
        days = self.days_left or 0
        if days < 0:
            return (
                f"Đã quá hạn {deadline} {-days} ngày; còn thiếu {self.needed} người để đạt {goal}."
            )
        return (
            f"Còn {days} ngày; cần thêm {self.per_day} người mỗi ngày "
            f"để đạt {goal} trước {deadline}."
        )

    def to_dict(self) -> dict[str, object]:
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
            "target_pct": self.target_pct,
            "deadline": self.deadline.isoformat() if self.deadline else None,
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


def _path_filter(paths: list[str]) -> ColumnElement[bool]:
    return or_(*(Unit.path.like(f"{p}%") for p in paths))


def counts_by_unit_job(
    session: Session,
    paths: list[str],
    as_of: date,
    job: str | None = None,
    *,
    by_job: bool = True,
) -> dict[tuple[int, str], Counts]:
    """Counts per (unit id, job group) for active staff under ``paths``.

    With ``by_job=False`` every group is ``""``: one row per unit, which is all
    the per-unit views need (500 rows instead of ~3,000 for a province).
    """
    group = Staff.job_group if by_job else literal("")

    def counted(column: Any) -> Any:
        return func.coalesce(func.sum(case((column <= as_of, 1), else_=0)), 0).cast(Integer)

    query = (
        select(
            Staff.unit_id,
            group,
            func.count(Staff.id),
            counted(Staff.done_on),
            counted(Staff.vneid_on),
            counted(Staff.verified_on),
        )
        # A semi-join on unit ids (not a join) lets the database read the
        # counts from the covering staff index alone.
        .where(
            Staff.active.is_(True),
            Staff.unit_id.in_(select(Unit.id).where(_path_filter(paths))),
        )
        .group_by(Staff.unit_id, *([Staff.job_group] if by_job else []))
    )
    if job:
        query = query.where(Staff.job_group == job)
    return {
        (unit_id, group): Counts(int(a), int(d), int(v), int(ver))
        for unit_id, group, a, d, v, ver in session.execute(query)
    }


class StatsService:
    """Statistics with the permission rules of :class:`TrackingService`."""

    def __init__(self, tracking: TrackingService) -> None:
        self.tracking = tracking

    def scope(self, actor: Actor | None, unit_ref: str | None = None) -> Scope:
        """Units to report on: the one asked for (if visible) or the actor's own."""
        tracking = self.tracking
        if unit_ref:
            unit = tracking.unit_by_ref(unit_ref)
            if actor is not None and not tracking.can_see_unit(actor, unit):
                raise PermissionDenied("Bạn chỉ xem được thống kê của đơn vị mình quản lý.")
            units = [unit]
        elif actor is None:
            units = tracking.root_units()
        else:
            if not actor.is_manager:
                raise PermissionDenied("Chỉ người quản lý đơn vị mới xem được thống kê.")
            units = tracking.default_units(actor)
        if not units:
            raise UserError("Chưa có đơn vị nào. Hãy nhập danh mục đơn vị trước.")
        label = units[0].name if len(units) == 1 else "Các đơn vị được giao"
        return Scope(units=units, label=label, all_units=tracking.units())

    def _target(self, as_of: date) -> tuple[float | None, date | None, str | None]:
        target = self.tracking.target_for(as_of)
        if target is None:
            return None, None, None
        return target.rate, target.deadline, target.source

    def _counts(
        self,
        actor: Actor | None,
        unit_ref: str | None,
        as_of: date,
        job: str | None,
        *,
        by_job: bool = True,
    ) -> tuple[Scope, dict[tuple[int, str], Counts]]:
        scope = self.scope(actor, unit_ref)
        paths = [u.path for u in scope.units]
        with self.tracking.db.session() as session:
            rows = counts_by_unit_job(session, paths, as_of, job, by_job=by_job)
        return scope, rows

    def _total(
        self, scope: Scope, rows: dict[tuple[int, str], Counts], as_of: date, job: str | None
    ) -> Stats:
        total = Counts()
        for counts in rows.values():
            total.add(counts)
        rate, deadline, source = self._target(as_of)
        code = scope.units[0].code if len(scope.units) == 1 else None
        label = scope.label + (f" — {JOB_GROUPS[job]}" if job else "")
        return Stats(label, as_of, total, rate, deadline, source, unit_code=code)

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
        as_of = as_of or date.today()
        scope, rows = self._counts(actor, unit_ref, as_of, job, by_job=by == "job")
        return self._total(scope, rows, as_of, job), self._split(scope, rows, by, as_of)

    def _split(
        self, scope: Scope, rows: dict[tuple[int, str], Counts], by: str, as_of: date
    ) -> list[Stats]:
        rate, deadline, source = self._target(as_of)
        if by == "job":
            per_job: dict[str, Counts] = defaultdict(Counts)
            for (_unit, group), counts in rows.items():
                per_job[group].add(counts)
            return [
                Stats(JOB_GROUPS[g], as_of, per_job[g], rate, deadline, source, key=g)
                for g in JOB_GROUPS
                if g in per_job
            ]
        if by != "unit":
            raise UserError("Chỉ thống kê theo đơn vị (unit) hoặc nhóm chức danh (job).")
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
                result.append(Stats(label, as_of, direct, rate, deadline, source, base.code))
            for child in children:
                total = per_branch.get((base.id, child.id))
                if total is not None and total.active:
                    result.append(
                        Stats(child.name, as_of, total, rate, deadline, source, child.code)
                    )
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
        """Active staff with no completion counted yet, by unit then name."""
        as_of = as_of or date.today()
        scope = self.scope(actor, unit_ref)
        with self.tracking.db.session() as session:
            query = (
                select(Staff, Unit)
                .join(Unit, Unit.id == Staff.unit_id)
                .where(
                    Staff.active.is_(True),
                    or_(Staff.done_on.is_(None), Staff.done_on > as_of),
                    _path_filter([u.path for u in scope.units]),
                )
            )
            if job:
                query = query.where(Staff.job_group == job)
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            query = query.order_by(Unit.path, Staff.full_name, Staff.code).offset(offset)
            if limit is not None:
                query = query.limit(limit)
            return [(s, u) for s, u in session.execute(query).unique()], total
