"""Reminders, weekly manager digests and verdicts, delivered through any channel.

Cadence follows the deadline of the current target: weekly while it is more
than a month away, every three days in the last month, daily in the last
week, weekly again once it has passed (staff still count for next year).
Every message goes through the ``outbox`` table with a unique key (one
reminder per person and period), so several workers or restarts never send
the same reminder twice.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.core.messages import Reply
from bot.core.notifications import Notification
from bot.db import utcnow
from bot.settings import Settings
from bot.tracking import trend
from bot.tracking.models import Identity, Outbox, Staff, UnitManager
from bot.tracking.normalize import vi_date
from bot.tracking.service import TrackingService
from bot.tracking.stats import RULE_COLUMNS, StatsService
from bot.tracking.targets import rule_of


def period_key(today: date, deadline: date | None) -> str:
    """The reminder period ``today`` falls in (changes when a reminder is due)."""
    days = None if deadline is None else (deadline - today).days
    if days is not None and 0 <= days <= 7:
        return f"d{today.isoformat()}"
    if days is not None and 7 < days <= 30:
        return f"3d{today.toordinal() // 3}"
    year, week, _ = today.isocalendar()
    return f"w{year}-{week:02d}"


class TrackingNotifications:
    """The :class:`~bot.core.notifications.NotificationSource` of tracking."""

    def __init__(self, tracking: TrackingService, stats: StatsService, settings: Settings) -> None:
        self.tracking = tracking
        self.stats = stats
        self.settings = settings

    def due(self, now: datetime, channels: set[str]) -> list[Notification]:
        today = now.astimezone(ZoneInfo(self.settings.timezone)).date()
        # The day's snapshot of every unit's figures (the managers' trend).
        trend.ensure(self.tracking.db, today)
        self._queue_reminders(today)
        self._queue_digests(today)
        return self._deliver(now, channels)

    # -- queueing -----------------------------------------------------------------
    def _queue(self, key: str, staff_id: int, kind: str, text: str) -> None:
        with self.tracking.db.session() as session:
            if session.scalar(select(Outbox.id).where(Outbox.key == key)) is None:
                session.add(Outbox(key=key, staff_id=staff_id, kind=kind, text=text))

    def _queue_reminders(self, today: date) -> None:
        target = self.tracking.target_for(today)
        deadline = target.deadline if target else None
        rule = rule_of(target.rule if target else None)
        column = RULE_COLUMNS[rule.key]
        period = period_key(today, deadline)
        with self.tracking.db.session() as session:
            staff = session.execute(
                select(Staff.id, Staff.full_name, Staff.done_on)
                .join(Identity, Identity.staff_id == Staff.id)
                .where(Staff.active.is_(True), column.is_(None))
                .distinct()
            ).all()
        for staff_id, name, done_on in staff:
            if deadline is None:
                when = "theo kế hoạch của đơn vị"
            elif deadline >= today:
                when = f"trước ngày {vi_date(deadline)} ({(deadline - today).days} ngày nữa)"
            else:
                when = f"sớm nhất có thể (hạn {vi_date(deadline)} đã qua)"
            if done_on is None:
                text = (
                    f"⏰ Chào {name}, bạn chưa ghi nhận khóa học nào trên nền tảng "
                    f"“Bình dân học vụ số”. Yêu cầu: {rule.long_vi}, {when}.\n"
                    "Khi học xong, gõ /ghinhan để khai báo; gõ câu hỏi nếu cần hướng dẫn cách học."
                )
            else:
                text = (
                    f"⏰ Chào {name}, khóa học bạn khai báo {rule.lacking_vi or 'chưa đạt'}. "
                    f"Yêu cầu: {rule.long_vi}, {when}.\n"
                    "Khi đã xong, gõ /ghinhan và khai lại khóa học để cập nhật."
                )
            self._queue(f"remind:{staff_id}:{period}", staff_id, "reminder", text)

    def _queue_digests(self, today: date) -> None:
        year, week, _ = today.isocalendar()
        with self.tracking.db.session() as session:
            managers = session.execute(
                select(Staff.id)
                .join(UnitManager, UnitManager.staff_id == Staff.id)
                .join(Identity, Identity.staff_id == Staff.id)
                .where(Staff.active.is_(True))
                .distinct()
            ).all()
        for (staff_id,) in managers:
            key = f"digest:{staff_id}:{year}-{week:02d}"
            with self.tracking.db.session() as session:
                if session.scalar(select(Outbox.id).where(Outbox.key == key)) is not None:
                    continue
                identity = session.scalar(select(Identity).where(Identity.staff_id == staff_id))
            if identity is None:
                continue
            actor = self.tracking.resolve(identity.channel, identity.user_id, is_admin=False)
            summary = self.stats.summary(actor, as_of=today)
            _, pending = self.tracking.pending(actor, limit=0)
            text = (
                f"📊 Tổng hợp tuần — {summary.label}: {summary.counts.done}/"
                f"{summary.counts.active} nhân viên đã hoàn thành ({summary.pct_done:g}%), "
                f"VNeID {summary.pct_vneid:g}%, đã duyệt {summary.pct_verified:g}%; "
                f"đạt tiêu chí {summary.counted} người ({summary.pct_counted:g}%).\n"
                f"{summary.pace_vi()}\n{summary.rule_vi()}\n"
                f"Chờ duyệt: {pending}. Gõ /thongke, /chuahoanthanh hoặc /duyet để xem chi tiết."
            )
            self._queue(key, staff_id, "digest", text)

    # -- delivery -------------------------------------------------------------------
    def _deliver(self, now: datetime, channels: set[str]) -> list[Notification]:
        out: list[Notification] = []
        with self.tracking.db.session() as session:
            rows = session.execute(
                select(Outbox, Identity)
                .join(Identity, Identity.staff_id == Outbox.staff_id)
                .where(Outbox.sent_at.is_(None), Identity.channel.in_(channels))
                .order_by(Outbox.id)
            ).all()
            sent: set[int] = set()
            for item, identity in rows:
                out.append(
                    Notification(
                        channel=identity.channel,
                        user_id=identity.user_id,
                        chat_id=identity.chat_id,
                        replies=[Reply(item.text)],
                        kind=item.kind,
                    )
                )
                sent.add(item.id)
            for item, _identity in rows:
                if item.id in sent:
                    item.sent_at = utcnow()
        return out
