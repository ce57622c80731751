"""Webhook authentication for both Zalo channels.

* Bot Platform: Zalo echoes the ``secret_token`` given to ``setWebhook`` in the
  ``X-Bot-Api-Secret-Token`` header; it is compared in constant time.
* Official Account: ``X-ZEvent-Signature: mac=<hex>`` where
  ``hex = sha256(app_id + raw_body + timestamp + oa_secret_key)`` (plain
  SHA-256, not HMAC) and ``timestamp`` is the event's own ``timestamp`` field in
  milliseconds. Events older (or further in the future) than a window are
  refused, so a captured request cannot be replayed later; within the window a
  repeated signature is recognised as a duplicate delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BOT_SECRET_HEADER = "X-Bot-Api-Secret-Token"
OA_SIGNATURE_HEADER = "X-ZEvent-Signature"
DEFAULT_WINDOW_S = 300.0


def check_bot_secret(expected: str, received: str | None) -> bool:
    """True when the webhook header carries the secret we registered."""
    if not expected or received is None:
        return False
    return hmac.compare_digest(received.encode("utf-8"), expected.encode("utf-8"))


def oa_signature(app_id: str, raw_body: bytes, timestamp: str, secret_key: str) -> str:
    """The hex digest Zalo puts after ``mac=`` in ``X-ZEvent-Signature``."""
    digest = hashlib.sha256()
    digest.update(app_id.encode("utf-8"))
    digest.update(raw_body)
    digest.update(timestamp.encode("utf-8"))
    digest.update(secret_key.encode("utf-8"))
    return digest.hexdigest()


def event_timestamp(event: dict[str, Any]) -> str | None:
    """The event's ``timestamp`` as the exact text that was signed (ms)."""
    value = event.get("timestamp")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip().isdigit():
        return value.strip()
    return None


@dataclass(frozen=True)
class Verdict:
    """Outcome of a signature check: ``ok``, ``duplicate`` or a refusal."""

    status: str  # "ok" | "duplicate" | "missing" | "invalid" | "stale"
    reason: str = ""

    @property
    def accepted(self) -> bool:
        return self.status in {"ok", "duplicate"}

    @property
    def http_status(self) -> int:
        return {"ok": 200, "duplicate": 200, "missing": 401}.get(self.status, 403)


class OASignatureVerifier:
    """Checks ``X-ZEvent-Signature`` and the event age; remembers recent signatures.

    ``verify`` takes the raw body and the parsed event (the timestamp is part
    of the signed text, so the body must be parsed first; a malformed body is
    the caller's 400).
    """

    def __init__(
        self,
        app_id: str,
        secret_key: str,
        *,
        window_s: float = DEFAULT_WINDOW_S,
        clock: Callable[[], float] = time.time,
        remember: int = 10_000,
    ) -> None:
        self.app_id = app_id
        self.secret_key = secret_key
        self.window_s = window_s
        self.clock = clock
        self.remember = remember
        self._seen: OrderedDict[str, float] = OrderedDict()

    def verify(self, raw_body: bytes, event: dict[str, Any], header: str | None) -> Verdict:
        if not header or not header.strip():
            return Verdict("missing", "no signature header")
        value = header.strip()
        if value.lower().startswith("mac="):
            value = value[4:]
        value = value.strip().lower()
        timestamp = event_timestamp(event)
        if timestamp is None:
            return Verdict("invalid", "event has no timestamp")
        expected = oa_signature(self.app_id, raw_body, timestamp, self.secret_key)
        if not hmac.compare_digest(value.encode("ascii", "replace"), expected.encode("ascii")):
            return Verdict("invalid", "signature mismatch")
        now = self.clock()
        age = now - int(timestamp) / 1000.0
        if abs(age) > self.window_s:
            return Verdict("stale", f"timestamp {age:.0f}s away from now")
        self._forget_before(now - self.window_s)
        if expected in self._seen:
            return Verdict("duplicate", "signature already seen")
        self._seen[expected] = now
        while len(self._seen) > self.remember:
            self._seen.popitem(last=False)
        return Verdict("ok")

    def _forget_before(self, limit: float) -> None:
        while self._seen:
            key, seen_at = next(iter(self._seen.items()))
            if seen_at >= limit:
                break
            del self._seen[key]


class RecentIds:
    """A bounded memory of delivery ids (Bot Platform message ids) to drop redeliveries."""

    def __init__(self, size: int = 5_000) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def seen(self, key: str) -> bool:
        """True if ``key`` was seen before; otherwise remember it and return False."""
        if key in self._ids:
            return True
        self._ids[key] = None
        while len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return False
