"""Messages the assistant sends on its own (reminders, digests).

Tracking decides *who* gets *what* and remembers what was sent; a channel
adapter only asks "what is due now on my channel?" on a timer and delivers.
Quiet hours are applied here so every channel honours them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from bot.core.messages import Reply

if TYPE_CHECKING:
    from bot.settings import Settings


@dataclass(frozen=True)
class Notification:
    """Replies to deliver to one user on one channel."""

    channel: str
    user_id: str
    chat_id: str
    replies: list[Reply] = field(default_factory=list)
    kind: str = "reminder"


class NotificationSource(Protocol):
    def due(self, now: datetime, channels: set[str]) -> list[Notification]:
        """Everything due at ``now`` for users on ``channels``; marks it as sent."""
        ...


def parse_quiet_hours(spec: str) -> tuple[time, time] | None:
    """``"21:00-07:00"`` -> (21:00, 07:00); empty or ``off`` -> None."""
    spec = spec.strip().lower()
    if not spec or spec in {"off", "none", "0"}:
        return None
    start, _, end = spec.partition("-")
    try:
        h1, m1 = (int(x) for x in start.strip().split(":"))
        h2, m2 = (int(x) for x in end.strip().split(":"))
        return time(h1, m1), time(h2, m2)
    except ValueError as exc:
        raise ValueError(f"QUIET_HOURS must look like 21:00-07:00, got {spec!r}") from exc


def in_quiet_hours(settings: Settings, now: datetime) -> bool:
    """True when ``now`` (any timezone) falls in the local quiet window."""
    window = parse_quiet_hours(settings.quiet_hours)
    if window is None:
        return False
    local = now.astimezone(ZoneInfo(settings.timezone)).time()
    start, end = window
    if start <= end:
        return start <= local < end
    return local >= start or local < end
