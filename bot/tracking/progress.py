"""Keep each staff member's progress dates in step with their completions.

``done_on`` is the earliest completion date among completions not rejected,
``vneid_on`` the earliest of those confirmed on VNeID, ``verified_on`` the
earliest verified one. Every change to completions calls :func:`refresh`
for the people it touched, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Update
from sqlalchemy.sql.selectable import ScalarSelect

from bot.tracking.models import REJECTED, VERIFIED, Completion, Staff


def _earliest(*conditions: ColumnElement[bool]) -> ScalarSelect[Any]:
    return (
        select(func.min(Completion.completed_on))
        .where(Completion.staff_id == Staff.id, *conditions)
        .scalar_subquery()
    )


def _statement() -> Update:
    return update(Staff).values(
        done_on=_earliest(Completion.status != REJECTED),
        vneid_on=_earliest(
            and_(Completion.status != REJECTED, Completion.vneid_confirmed.is_(True))
        ),
        verified_on=_earliest(Completion.status == VERIFIED),
    )


def refresh(session: Session, staff_ids: Iterable[int] | None = None) -> None:
    """Recompute progress dates for ``staff_ids`` (everyone when None)."""
    if staff_ids is None:
        session.execute(_statement())
        return
    ids = sorted(set(staff_ids))
    for start in range(0, len(ids), 5000):
        session.execute(
            _statement().where(Staff.id.in_(ids[start : start + 5000])),
            execution_options={"synchronize_session": False},
        )
