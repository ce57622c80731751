"""What both Zalo runners share: the message pipeline, reminders, shutdown.

A webhook (or poll) hands over one user message; it is answered at once and
processed in a background task: flood check, optional attachment download,
the engine on its worker thread, then the replies, in order. One lock per
user keeps a user's messages and replies in the order they arrived (asyncio
locks are FIFO), while different users proceed concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from bot.channels.common import FLOOD_MESSAGE, EngineRunner
from bot.channels.zalo.media import REFUSE_DOWNLOAD, Fetched
from bot.channels.zalo.render import OutMedia, OutText, render_replies
from bot.core.channel_state import FloodCounter, ProcessedEvents
from bot.core.engine import Engine
from bot.core.messages import PLAIN_TEXT, Incoming, Reply
from bot.core.services import Services

log = logging.getLogger(__name__)

REMINDER_INTERVAL_S = 300.0
DRAIN_TIMEOUT_S = 30.0
UNSUPPORTED_KIND = "Trợ lý chỉ đọc được tin nhắn chữ, ảnh và tệp. Hãy gõ câu hỏi, hoặc /trogiup để xem các chức năng."

# Builds the engine message for one user action, or a refusal to send instead.
MessageSource = Callable[[], Awaitable[Incoming | Fetched]]


class ZaloAdapter(ABC):
    """The transport-independent half of a Zalo runner."""

    channel: str = ""

    def __init__(
        self,
        services: Services,
        engine: Engine,
        *,
        reminder_interval_s: float = REMINDER_INTERVAL_S,
        text_limit: int = 2000,
    ) -> None:
        self.services = services
        self.engine = engine
        self.runner = EngineRunner(engine)
        # Shared by every worker through the database.
        self.flood = FloodCounter(services.db, services.settings.flood_limit_per_minute)
        self.processed = ProcessedEvents(services.db)
        self.reminder_interval_s = reminder_interval_s
        self.text_limit = text_limit
        self._tasks: set[asyncio.Task[Any]] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._loops: list[asyncio.Task[Any]] = []
        self._closed = False

    # -- to implement ----------------------------------------------------------------
    @abstractmethod
    async def send_text(self, chat_id: str, text: str) -> None: ...

    @abstractmethod
    async def send_media(self, chat_id: str, item: OutMedia) -> None: ...

    async def typing(self, chat_id: str) -> None:  # noqa: B027  (optional hook)
        """Show activity while the engine works (no-op where unsupported)."""

    def turn_finished(self, user_id: str) -> None:  # noqa: B027  (optional hook)
        """Called when one user message has been fully answered (or dropped)."""

    # -- tasks ---------------------------------------------------------------------------
    def spawn(
        self, coro: Coroutine[Any, Any, Any], name: str = "zalo-message"
    ) -> asyncio.Task[Any]:
        """Run ``coro`` in the background, tracked so shutdown can wait for it."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    def loop_every(
        self, interval_s: float, fn: Callable[[], Awaitable[Any]], name: str
    ) -> asyncio.Task[Any]:
        """Call ``fn`` now and then every ``interval_s`` seconds until stopped."""

        async def forever() -> None:
            while True:
                delay = interval_s
                try:
                    await fn()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    delay = max(interval_s, 5.0)
                    log.exception("%s failed; trying again in %.0f s", name, delay)
                await asyncio.sleep(delay)

        task = asyncio.create_task(forever(), name=name)
        self._loops.append(task)
        return task

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until every message accepted so far has been processed, and the
        heavy work they started has delivered its result."""
        while self._tasks or self.runner.pending:
            if not self._tasks:
                await self.runner.drain(timeout)
                if self.runner.pending and timeout is not None:
                    return
                continue
            _done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            if pending and timeout is not None:
                log.warning("%d message(s) still in progress at shutdown", len(pending))
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                return

    async def close(self) -> None:
        """Stop loops, finish in-flight messages, release the engine worker."""
        if self._closed:
            return
        self._closed = True
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops.clear()
        await self.drain(timeout=DRAIN_TIMEOUT_S)
        await asyncio.to_thread(self.runner.close)

    # -- the pipeline --------------------------------------------------------------------
    def _lock(self, user_id: str) -> asyncio.Lock:
        lock = self._locks.get(user_id)
        if lock is None:
            if len(self._locks) > 10_000:  # forget idle users' locks
                for key in [k for k, v in self._locks.items() if not v.locked()]:
                    del self._locks[key]
            lock = self._locks[user_id] = asyncio.Lock()
        return lock

    def accept(
        self, user_id: str, chat_id: str, source: MessageSource, event_key: str | None = None
    ) -> asyncio.Task[Any]:
        """Queue one user action for background processing (returns at once).

        ``event_key`` identifies the delivery: one some worker already took in
        is dropped (checked in the user's turn, so order is kept)."""
        return self.spawn(self.process(user_id, chat_id, source, event_key))

    async def process(
        self, user_id: str, chat_id: str, source: MessageSource, event_key: str | None = None
    ) -> None:
        async with self._lock(user_id):
            try:
                if event_key is not None and not await self.runner.quick(
                    self.processed.first, self.channel, event_key
                ):
                    log.info("duplicate %s delivery %s ignored", self.channel, event_key)
                    return
                await self._process(user_id, chat_id, source)
            finally:
                self.turn_finished(user_id)

    async def _process(self, user_id: str, chat_id: str, source: MessageSource) -> None:
        verdict = await self.runner.quick(self.flood.check, f"{self.channel}:{user_id}")
        if verdict == "drop":
            return
        if verdict == "warn":
            await self._safe_send(chat_id, OutText(FLOOD_MESSAGE))
            return
        log.debug("message from %s user %s", self.channel, user_id)
        await self._safe(self.typing(chat_id), "chat action")
        try:
            made = await source()
        except Exception:
            log.exception("could not prepare a %s message", self.channel)
            await self._safe_send(chat_id, OutText(REFUSE_DOWNLOAD))
            return
        if isinstance(made, Fetched):
            if made.attachment is None:
                await self._safe_send(chat_id, OutText(made.refusal or UNSUPPORTED_KIND))
                return
            made = Incoming(
                channel=self.channel,
                user_id=user_id,
                chat_id=chat_id,
                attachment=made.attachment,
            )
        try:
            replies = await self.runner.handle(made, self._later(user_id, chat_id))
        finally:
            if made.attachment is not None:
                made.attachment.path.unlink(missing_ok=True)
        await self.deliver(chat_id, replies)

    def _later(self, user_id: str, chat_id: str) -> Callable[[list[Reply]], Awaitable[None]]:
        """Delivery of a heavy job's result: in the user's turn order, when it is done."""

        async def deliver(replies: list[Reply]) -> None:
            async with self._lock(user_id):
                await self.deliver(chat_id, replies)

        return deliver

    async def deliver(self, chat_id: str, replies: list[Reply]) -> None:
        """Send an engine turn's replies in order; a failed send is logged, not fatal."""
        for item in render_replies(replies, self.text_limit):
            await self._safe_send(chat_id, item)

    async def _safe_send(self, chat_id: str, item: OutText | OutMedia) -> None:
        if isinstance(item, OutText):
            await self._safe(self.send_text(chat_id, item.text), "send text")
        else:
            await self._safe(self.send_media(chat_id, item), f"send {item.kind}")

    async def _safe(self, coro: Awaitable[Any], what: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s on %s failed: %s", what, self.channel, exc)

    def incoming(self, user_id: str, chat_id: str, text: str, name: str | None = None) -> Incoming:
        # Zalo chats have neither buttons nor a phone-sharing button: numbered text.
        return Incoming(
            channel=self.channel,
            user_id=user_id,
            chat_id=chat_id,
            text=text,
            display_name=name,
            capabilities=PLAIN_TEXT,
        )

    # -- reminders -----------------------------------------------------------------------
    async def send_due(self, now: datetime | None = None) -> int:
        """Deliver the reminders/digests due now on this channel; how many were sent."""
        when = now or datetime.now(UTC)
        notes = await self.runner.call(self.engine.due_notifications, when, {self.channel})
        for note in notes:
            async with self._lock(note.user_id):
                await self.deliver(note.chat_id or note.user_id, note.replies)
        if notes:
            log.info("sent %d reminder(s) on %s", len(notes), self.channel)
        return len(notes)

    def start_reminders(self) -> None:
        if self.reminder_interval_s > 0:
            self.loop_every(self.reminder_interval_s, self.send_due, f"{self.channel}-reminders")


async def serve_until_signalled(
    start: Callable[[], Awaitable[Any]],
    stop: Callable[[], Awaitable[Any]],
    signals: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT),
) -> None:
    """``start()``, wait for SIGTERM/SIGINT, then ``stop()`` (also on errors)."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    installed: list[signal.Signals] = []
    for sig in signals:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stopping.set)
            installed.append(sig)
    try:
        await start()
        await stopping.wait()
        log.info("signal received; shutting down")
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await stop()


def quiet_http_logs() -> None:
    """httpx logs every request URL at INFO; Bot Platform URLs contain the token."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
