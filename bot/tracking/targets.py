"""Yearly targets and the rule that decides who counts towards them.

A plan sets a share of the active roster and a deadline, and says what a
person must have done: plan 789/KH-TTYT counts anyone who finished a course;
plan 2948/KH-SYT only those whose course is also confirmed on VNeID. Each
target stores its rule, and every screen names the rule it used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from bot.core.actor import Actor
from bot.errors import UserError
from bot.tracking.audit import audit
from bot.tracking.models import Target
from bot.tracking.units import UnitDirectory


@dataclass(frozen=True)
class Rule:
    key: str
    short_vi: str  # a column header / chart axis
    long_vi: str  # a sentence: "Tiêu chí: ..."
    lacking_vi: str  # what a person who is done but not counted still lacks


RULES: dict[str, Rule] = {
    "done": Rule(
        "done",
        "hoàn thành ≥1 khóa",
        "hoàn thành ít nhất 01 khóa học (khai báo chưa bị từ chối)",
        "",
    ),
    "vneid": Rule(
        "vneid",
        "hoàn thành và xác nhận VNeID",
        "hoàn thành ít nhất 01 khóa học và được xác nhận trên VNeID",
        "chưa xác nhận trên VNeID",
    ),
    "verified": Rule(
        "verified",
        "hoàn thành và được duyệt",
        "hoàn thành ít nhất 01 khóa học và được người quản lý duyệt",
        "chưa được duyệt",
    ),
}
DEFAULT_RULE = "done"


def rule_of(key: str | None) -> Rule:
    return RULES.get(key or DEFAULT_RULE, RULES[DEFAULT_RULE])


def parse_rule(text: str) -> str:
    """A rule key from what an operator typed (``vneid``, ``done+vneid``...)."""
    key = text.strip().lower().replace(" ", "")
    aliases = {"done+vneid": "vneid", "done+verified": "verified", "verify": "verified"}
    key = aliases.get(key, key)
    if key not in RULES:
        raise UserError(
            f"Tiêu chí “{text}” không hợp lệ; dùng done, vneid (done+VNeID) hoặc verified."
        )
    return key


@dataclass(frozen=True)
class TargetView:
    """A target as the screens use it (detached from the database session)."""

    year: int
    rate: float
    deadline: date
    source: str | None
    rule: str

    @property
    def rule_info(self) -> Rule:
        return rule_of(self.rule)

    def describe_vi(self) -> str:
        """ "Tiêu chí: ... (KH 2948/KH-SYT), chỉ tiêu 100% trước 30/06/2026"."""
        source = f" (theo {self.source})" if self.source else ""
        return (
            f"Tiêu chí: {self.rule_info.long_vi}{source}; chỉ tiêu {self.rate * 100:g}% "
            f"trước {self.deadline.strftime('%d/%m/%Y')}."
        )


def _view(target: Target) -> TargetView:
    return TargetView(target.year, target.rate, target.deadline, target.source, target.rule)


class TargetBook(UnitDirectory):
    """Reading and setting yearly targets."""

    def target_for(self, day: date) -> TargetView | None:
        """The target of ``day``'s year, or the latest earlier one."""
        with self.db.session() as session:
            target = session.scalar(
                select(Target).where(Target.year <= day.year).order_by(Target.year.desc()).limit(1)
            )
            return None if target is None else _view(target)

    def targets(self) -> list[TargetView]:
        with self.db.session() as session:
            return [_view(t) for t in session.scalars(select(Target).order_by(Target.year))]

    def set_target(
        self,
        actor: Actor | str,
        year: int,
        rate: float,
        deadline: date,
        source: str | None,
        *,
        rule: str | None = None,
    ) -> TargetView:
        """Create or change a year's target; ``rule=None`` keeps the current rule."""
        if not 0 < rate <= 1:
            raise UserError("Chỉ tiêu phải trong khoảng 1–100%.")
        if not 2000 <= year <= 2100:
            raise UserError(f"Năm {year} không hợp lệ.")
        if rule is not None:
            rule = parse_rule(rule)
        with self.db.session() as session:
            target = session.get(Target, year)
            if target is None:
                target = Target(year=year, rule=DEFAULT_RULE)
                session.add(target)
            target.rate, target.deadline, target.source = rate, deadline, source
            if rule is not None:
                target.rule = rule
            audit(
                session,
                actor,
                "set",
                "target",
                year,
                rate=rate,
                deadline=deadline,
                rule=target.rule,
            )
            session.flush()
            return _view(target)
