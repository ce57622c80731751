"""Transport helpers shared by every messenger adapter (no business logic)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlsplit

from bot.core.engine import Engine
from bot.core.messages import Incoming, Reply
from bot.errors import UserError

T = TypeVar("T")
log = logging.getLogger(__name__)

FLOOD_MESSAGE = "Bạn gửi tin nhắn hơi nhanh. Vui lòng đợi một chút rồi gửi tiếp nhé."


def check_public_https_url(url: str, setting: str, example: str, doc: str) -> None:
    """Messengers only call webhooks over HTTPS: refuse anything else at start-up,
    in one line naming the setting, rather than register a URL that never works."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise UserError(
            f"{setting} phải là địa chỉ HTTPS công khai, ví dụ {example} — xem {doc}.",
            detail=f"invalid {setting} {url!r}",
        )


def split_text(text: str, limit: int) -> list[str]:
    """Split a long message into pieces of at most ``limit`` characters.

    Cuts at paragraph breaks, then line breaks, then sentence ends, then spaces,
    so a citation or a numbered step is not cut in half when avoidable.
    """
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = -1
        for sep in ("\n\n", "\n", ". ", " "):
            pos = window.rfind(sep)
            if pos >= limit // 3:
                cut = pos + (1 if sep == ". " else 0)
                break
        if cut <= 0:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


class FloodGuard:
    """Per-user sliding window: at most ``limit`` messages per ``window`` seconds.

    The first message over the limit is answered politely once; further ones in
    the same window are dropped silently so a stuck client cannot spam replies.
    """

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._seen: dict[str, deque[float]] = defaultdict(deque)
        self._warned: dict[str, float] = {}

    def check(self, key: str, now: float | None = None) -> str:
        """``"ok"``, ``"warn"`` (send FLOOD_MESSAGE) or ``"drop"``."""
        now = time.monotonic() if now is None else now
        seen = self._seen[key]
        while seen and now - seen[0] > self.window:
            seen.popleft()
        if len(seen) < self.limit:
            seen.append(now)
            self._warned.pop(key, None)
            return "ok"
        if now - self._warned.get(key, -1e9) > self.window:
            self._warned[key] = now
            return "warn"
        return "drop"


Deliver = Callable[[list[Reply]], Awaitable[None]]
"""Sends replies that come after the turn (a heavy job's result) to the user."""


class EngineRunner:
    """Runs the synchronous engine off the event loop.

    ``ENGINE_THREADS`` threads answer messages, so one slow question does not
    hold up everyone else; the adapters keep each user's messages in order
    (one lock per user) and the engine serialises a user across workers.
    Heavy work (indexing an admin's upload, building a report) runs on a
    separate single background thread, so it never takes all the answering
    threads, and its replies are handed to the adapter's ``Deliver`` when done.
    Quick bookkeeping (flood counters, update de-duplication) has its own two
    threads so it never waits behind answers.
    """

    def __init__(self, engine: Engine, threads: int | None = None) -> None:
        self.engine = engine
        self.threads = threads or engine.services.settings.engine_threads
        self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="engine")
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine-heavy")
        self._quick = ThreadPoolExecutor(max_workers=2, thread_name_prefix="engine-quick")
        self._jobs: set[asyncio.Task[None]] = set()

    async def handle(self, msg: Incoming, deliver: Deliver | None = None) -> list[Reply]:
        """The turn's replies; a heavy job's replies go to ``deliver`` when it ends
        (without ``deliver`` they are waited for and returned with the rest)."""
        loop = asyncio.get_running_loop()
        turn = await loop.run_in_executor(self._pool, self.engine.turn, msg)
        if turn.later is None:
            return turn.replies
        if deliver is None:
            return turn.replies + await loop.run_in_executor(self._background, turn.later)
        task = asyncio.create_task(self._finish(turn.later, deliver), name="engine-heavy")
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)
        return turn.replies

    async def _finish(self, job: Callable[[], list[Reply]], deliver: Deliver) -> None:
        replies = await asyncio.get_running_loop().run_in_executor(self._background, job)
        try:
            await deliver(replies)
        except Exception:
            log.exception("could not deliver the result of a background job")

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run any blocking core call (reminders, downloads bookkeeping) on the workers."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, fn, *args)

    async def quick(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a short database call (flood counter, de-duplication) off the loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._quick, fn, *args)

    @property
    def pending(self) -> int:
        """Background jobs not yet finished and delivered."""
        return len(self._jobs)

    async def drain(self, timeout: float | None = None) -> None:
        """Wait for background jobs (and the delivery of their results)."""
        if self._jobs:
            _done, pending = await asyncio.wait(set(self._jobs), timeout=timeout)
            if pending:
                log.warning("%d background job(s) still running at shutdown", len(pending))

    def close(self) -> None:
        for pool in (self._pool, self._background, self._quick):
            pool.shutdown(wait=True)
