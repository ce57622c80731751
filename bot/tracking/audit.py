"""The audit trail: every change to tracking data, who made it and what changed.

Each change writes its :class:`AuditLog` row in the same transaction as the
change itself, so the trail can never disagree with the data.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.core.actor import Actor
from bot.tracking.models import AuditLog

SYSTEM = "system"


def actor_label(actor: Actor | str) -> str:
    """How an actor is written in audit rows ("telegram:123 (NV001)", "cli:admin")."""
    if isinstance(actor, str):
        return actor
    label = f"{actor.channel}:{actor.user_id}"
    return f"{label} ({actor.staff_code})" if actor.staff_code else label


def audit(
    session: Session,
    actor: Actor | str,
    action: str,
    entity: str,
    entity_id: object = None,
    **details: Any,
) -> None:
    """Add one audit row to ``session`` (committed with the change it records)."""
    session.add(
        AuditLog(
            actor=actor_label(actor)[:120],
            action=action,
            entity=entity,
            entity_id=None if entity_id is None else str(entity_id)[:60],
            details={k: _jsonable(v) for k, v in details.items()},
        )
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def reviewer_label(actor: Actor | str) -> str:
    """Who verified or rejected, as a manager reads it in the report: a person.

    A linked manager is "Name (code)"; a configured administrator without a
    roster record "Quản trị viên (channel:id)"; the command line
    "Quản trị viên (dòng lệnh)" or the name given with ``--by`` ("cli:Name").
    """
    if isinstance(actor, Actor):
        if actor.name:
            code = f" ({actor.staff_code})" if actor.staff_code else ""
            return f"{actor.name}{code}"[:120]
        return f"Quản trị viên ({actor.channel}:{actor.user_id})"[:120]
    if actor == "cli":
        return "Quản trị viên (dòng lệnh)"
    if actor.startswith("cli:"):
        return actor[4:].strip()[:120] or "Quản trị viên (dòng lệnh)"
    return actor[:120]
