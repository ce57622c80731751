"""What every messenger worker must share, kept in the database.

Several ``serve`` processes may sit behind one reverse proxy. A Telegram
update redelivered after a timeout, a Zalo event replayed by an attacker, a
flood of messages split across workers, or a one-time link to a report opened
through another worker must all look the same to each of them, so none of it
lives in process memory. Adapters use these small APIs and never see SQL.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from bot.core.messages import OutFile
from bot.core.models import ProcessedEvent, RateCounter, SharedFile
from bot.db import Database, utcnow

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
EVENT_ID_CHARS = 128


def aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns: they are UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class ProcessedEvents:
    """First-delivery check for updates and events, shared by all workers.

    ``first(channel, event_id)`` inserts the id; the primary key makes a second
    insert fail in whichever worker tries it, so exactly one of them handles
    the event. Ids older than ``keep`` are purged now and then (Telegram
    retries an update for at most a day; Zalo signatures are refused after
    five minutes anyway).
    """

    def __init__(
        self,
        db: Database,
        *,
        keep: timedelta = timedelta(days=2),
        purge_every: int = 500,
        clock: Clock = utcnow,
    ) -> None:
        self.db = db
        self.keep = keep
        self.purge_every = purge_every
        self.clock = clock
        self._inserted = 0
        self._lock = threading.Lock()

    def first(self, channel: str, event_id: str) -> bool:
        """True the first time ``(channel, event_id)`` is seen by any worker."""
        key = event_id[:EVENT_ID_CHARS]
        try:
            with self.db.session() as session:
                session.add(ProcessedEvent(channel=channel, event_id=key, created_at=self.clock()))
        except IntegrityError:
            return False
        with self._lock:
            self._inserted += 1
            due = self._inserted % self.purge_every == 1
        if due:
            self.purge()
        return True

    def purge(self) -> int:
        """Forget ids older than ``keep``; returns how many were removed."""
        limit = self.clock() - self.keep
        with self.db.session() as session:
            result = session.execute(
                delete(ProcessedEvent).where(ProcessedEvent.created_at < limit)
            )
        return int(getattr(result, "rowcount", 0) or 0)


class FloodCounter:
    """Per-user message counter over a fixed window, shared by all workers.

    ``check`` answers ``"ok"``, ``"warn"`` (the first message over the limit:
    tell the user once) or ``"drop"`` (ignore silently until the window ends).
    """

    def __init__(
        self, db: Database, limit: int, window: float = 60.0, *, clock: Clock = utcnow
    ) -> None:
        self.db = db
        self.limit = limit
        self.window = timedelta(seconds=window)
        self.clock = clock

    def check(self, key: str) -> str:
        for _attempt in range(3):
            try:
                return self._check(key[:120])
            except IntegrityError:  # another worker created the row first: count again
                continue
        return "ok"

    def _check(self, key: str) -> str:
        now = self.clock()
        with self.db.session() as session:
            row = session.get(RateCounter, key, with_for_update=True)
            if row is None:
                session.add(RateCounter(key=key, window_start=now, count=1, warned=False))
                session.flush()
                return "ok"
            if now - aware(row.window_start) >= self.window:
                row.window_start, row.count, row.warned = now, 1, False
                return "ok"
            if row.count < self.limit:
                row.count += 1
                return "ok"
            if not row.warned:
                row.warned = True
                return "warn"
            return "drop"

    def purge(self) -> int:
        """Drop counters whose window ended long ago (called with the reminders)."""
        limit = self.clock() - 10 * self.window
        with self.db.session() as session:
            result = session.execute(delete(RateCounter).where(RateCounter.window_start < limit))
        return int(getattr(result, "rowcount", 0) or 0)


class SharedFiles:
    """Files served under an unguessable token for a limited time (a report that a
    channel cannot attach), by whichever worker the download reaches."""

    def __init__(self, db: Database, ttl_s: float = 3600.0, *, clock: Clock = utcnow) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self.clock = clock

    def put(self, file: OutFile, token: str | None = None) -> str:
        token = token or secrets.token_urlsafe(24)
        expires = self.clock() + timedelta(seconds=self.ttl_s)
        with self.db.session() as session:
            session.execute(delete(SharedFile).where(SharedFile.expires_at < self.clock()))
            session.add(
                SharedFile(
                    token=token[:64],
                    filename=file.filename[:255],
                    mime_type=file.mime_type[:120],
                    data=file.data,
                    expires_at=expires,
                )
            )
        return token

    def get(self, token: str) -> OutFile | None:
        if not token or len(token) > 64:
            return None
        with self.db.session() as session:
            row = session.get(SharedFile, token)
            if row is None or aware(row.expires_at) < self.clock():
                return None
            return OutFile(row.filename, row.data, row.mime_type)
