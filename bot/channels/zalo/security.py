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
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BOT_SECRET_HEADER = "X-Bot-Api-Secret-Token"
OA_SIGNATURE_HEADER = "X-ZEvent-Signature"
DEFAULT_WINDOW_S = 300.0
MAX_TIMESTAMP_DIGITS = 16  # milliseconds since 1970 have 13
# "timestamp": "1700000000000" or "timestamp":1700000000000 anywhere in the body;
# every candidate is tried (at most a few), the parsed event must then agree.
_TIMESTAMP_IN_BODY = re.compile(rb'"timestamp"\s*:\s*("?)(\d{1,%d})\1' % MAX_TIMESTAMP_DIGITS)
_MAX_CANDIDATES = 8


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
        text = str(value) if 0 <= value < 10**MAX_TIMESTAMP_DIGITS else ""
        return text or None
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit() and text.isascii() and len(text) <= MAX_TIMESTAMP_DIGITS:
            return text
    return None


def signed_timestamps(raw_body: bytes) -> list[str]:
    """Timestamps in the raw body that the signature may cover (bounded, unparsed)."""
    found: list[str] = []
    for match in _TIMESTAMP_IN_BODY.finditer(raw_body):
        value = match.group(2).decode("ascii")
        if value not in found:
            found.append(value)
        if len(found) >= _MAX_CANDIDATES:
            break
    return found


@dataclass(frozen=True)
class Verdict:
    """Outcome of a signature check: ``ok``, ``duplicate`` or a refusal."""

    status: str  # "ok" | "duplicate" | "missing" | "invalid" | "stale"
    reason: str = ""
    timestamp: str = ""  # the signed timestamp (when the signature matched)
    signature: str = ""

    @property
    def accepted(self) -> bool:
        return self.status in {"ok", "duplicate"}

    @property
    def http_status(self) -> int:
        return {"ok": 200, "duplicate": 200, "missing": 401}.get(self.status, 403)


class OASignatureVerifier:
    """Checks ``X-ZEvent-Signature`` on the raw body, and the event's age.

    ``verify`` never parses the body: the timestamp that is part of the signed
    text is looked for in the bytes. The caller parses only an accepted body
    and checks that the event's ``timestamp`` is the one that was signed. A
    repeated delivery is detected by the caller (shared across workers).
    """

    def __init__(
        self,
        app_id: str,
        secret_key: str,
        *,
        window_s: float = DEFAULT_WINDOW_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app_id = app_id
        self.secret_key = secret_key
        self.window_s = window_s
        self.clock = clock

    def verify(self, raw_body: bytes, header: str | None) -> Verdict:
        if not header or not header.strip():
            return Verdict("missing", "no signature header")
        value = header.strip()
        if value.lower().startswith("mac="):
            value = value[4:]
        received = value.strip().lower().encode("ascii", "replace")
        candidates = signed_timestamps(raw_body)
        if not candidates:
            return Verdict("invalid", "event has no timestamp")
        for timestamp in candidates:
            expected = oa_signature(self.app_id, raw_body, timestamp, self.secret_key)
            if hmac.compare_digest(received, expected.encode("ascii")):
                break
        else:
            return Verdict("invalid", "signature mismatch")
        age = self.clock() - int(timestamp) / 1000.0
        if abs(age) > self.window_s:
            return Verdict("stale", f"timestamp {age:.0f}s away from now")
        return Verdict("ok", timestamp=timestamp, signature=expected)


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
