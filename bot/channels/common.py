"""Transport helpers shared by every messenger adapter (no business logic)."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlsplit

from bot.core.engine import Engine
from bot.core.messages import Incoming, Reply
from bot.errors import UserError

T = TypeVar("T")

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


class EngineRunner:
    """Runs the synchronous engine off the event loop, one message at a time.

    One worker thread keeps the embedding model and SQLite single-threaded
    (both are fast enough: tens of milliseconds per question).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine")

    async def handle(self, msg: Incoming) -> list[Reply]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.engine.handle, msg)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run any blocking core call (reminders, downloads bookkeeping) on the worker."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, fn, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
