"""Async client of the Zalo Bot Platform (``{base}/bot{TOKEN}/{method}``).

The Bot Platform is Telegram-like: JSON in, ``{"ok": true, "result": ...}``
out, ``{"ok": false, "error_code": ..., "description": ...}`` on errors. Ids
are strings and dates are milliseconds. Events arrive wrapped
(``{"ok": true, "result": {"event_name": ..., "message": {...}}}``) or, from
some senders, unwrapped; :func:`parse_update` accepts both, and a
``getUpdates`` result that is one event or a list of events.

The bot token is part of every URL, so it is never logged here (the runners
also keep the ``httpx`` request log at WARNING for the same reason).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(20.0, connect=10.0)

TEXT_EVENT = "message.text.received"
IMAGE_EVENT = "message.image.received"
STICKER_EVENT = "message.sticker.received"
VOICE_EVENT = "message.voice.received"
UNSUPPORTED_EVENT = "message.unsupported.received"


class ZaloBotError(Exception):
    """The Bot Platform refused a call (``ok: false``) or answered nonsense."""

    def __init__(self, method: str, code: int | None, description: str) -> None:
        super().__init__(f"Zalo Bot API {method} failed: {code} {description}")
        self.method = method
        self.code = code
        self.description = description


@dataclass(frozen=True)
class BotUpdate:
    """One incoming Bot Platform message, normalised."""

    event_name: str
    user_id: str
    chat_id: str
    message_id: str | None = None
    text: str = ""
    photo_url: str | None = None
    caption: str = ""
    display_name: str | None = None
    date_ms: int | None = None
    chat_type: str | None = None
    from_bot: bool = False


def _str(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | str):
        text = str(value).strip()
        return text or None
    return None


def _ms(value: Any) -> int | None:
    """A date in milliseconds, sent as a number or a string of digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def unwrap_events(body: Any) -> list[dict[str, Any]]:
    """Events in a webhook body or ``getUpdates`` answer (wrapped or not, one or many)."""
    if isinstance(body, dict) and "result" in body and "event_name" not in body:
        body = body["result"]
    if isinstance(body, dict):
        return [body] if "event_name" in body or "message" in body else []
    if isinstance(body, list):
        return [e for e in body if isinstance(e, dict)]
    return []


def parse_update(event: dict[str, Any]) -> BotUpdate | None:
    """A :class:`BotUpdate` for a message event; None for anything we do not handle."""
    message = event.get("message")
    if not isinstance(message, dict):
        return None
    sender = _dict(message.get("from"))
    chat = _dict(message.get("chat"))
    user_id = _str(sender.get("id"))
    chat_id = _str(chat.get("id")) or user_id
    if user_id is None or chat_id is None:
        return None
    name = sender.get("display_name") or sender.get("name")
    photo = message.get("photo") or message.get("photo_url")
    if isinstance(photo, dict):
        photo = photo.get("url")
    if isinstance(photo, list) and photo:
        last = photo[-1]
        photo = last.get("url") if isinstance(last, dict) else last
    text = message.get("text")
    caption = message.get("caption")
    return BotUpdate(
        event_name=str(event.get("event_name") or (TEXT_EVENT if text else "")),
        user_id=user_id,
        chat_id=chat_id,
        message_id=_str(message.get("message_id")),
        text=text if isinstance(text, str) else "",
        photo_url=photo if isinstance(photo, str) and photo else None,
        caption=caption if isinstance(caption, str) else "",
        display_name=name if isinstance(name, str) else None,
        date_ms=_ms(message.get("date")),
        chat_type=_str(chat.get("chat_type")),
        from_bot=bool(sender.get("is_bot")),
    )


class ZaloBotClient:
    """Bot Platform methods used by the runner."""

    def __init__(
        self,
        token: str,
        base_url: str = "https://bot-api.zaloplatforms.com",
        *,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        if not token:
            raise ValueError("ZALO_BOT_TOKEN is not set")
        self._token = token
        self.base_url = base_url.rstrip("/")
        self._own_http = http is None
        self.http = http or httpx.AsyncClient(timeout=DEFAULT_TIMEOUT)

    def __repr__(self) -> str:  # never show the token
        return f"ZaloBotClient(base_url={self.base_url!r})"

    async def aclose(self) -> None:
        if self._own_http:
            await self.http.aclose()

    async def call(
        self, method: str, payload: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        """POST ``payload`` as JSON to ``method``; the ``result`` or :class:`ZaloBotError`."""
        url = f"{self.base_url}/bot{self._token}/{method}"
        kwargs: dict[str, Any] = {"json": payload or {}}
        if timeout is not None:
            kwargs["timeout"] = httpx.Timeout(timeout, connect=10.0)
        try:
            response = await self.http.post(url, **kwargs)
        except httpx.HTTPError as exc:
            # str(exc) may contain the URL (and so the token): keep only the type.
            raise ZaloBotError(method, None, f"transport error: {type(exc).__name__}") from None
        try:
            data = response.json()
        except ValueError:
            raise ZaloBotError(method, response.status_code, "answer is not JSON") from None
        if not isinstance(data, dict):
            raise ZaloBotError(method, response.status_code, "answer is not a JSON object")
        if not data.get("ok"):
            code = data.get("error_code", response.status_code)
            raise ZaloBotError(
                method, code if isinstance(code, int) else None, str(data.get("description", ""))
            )
        return data.get("result")

    async def get_me(self) -> dict[str, Any]:
        result = await self.call("getMe")
        return result if isinstance(result, dict) else {}

    async def get_updates(self, timeout: int = 30) -> list[dict[str, Any]]:
        """Long-poll for events; an empty list when the poll timed out."""
        try:
            result = await self.call(
                "getUpdates", {"timeout": str(timeout)}, timeout=timeout + 15.0
            )
        except ZaloBotError as exc:
            if exc.code == 408:  # long poll ended without events
                return []
            raise
        return unwrap_events(result)

    async def set_webhook(self, url: str, secret_token: str) -> Any:
        return await self.call("setWebhook", {"url": url, "secret_token": secret_token})

    async def delete_webhook(self) -> Any:
        return await self.call("deleteWebhook")

    async def send_message(self, chat_id: str, text: str) -> Any:
        return await self.call("sendMessage", {"chat_id": chat_id, "text": text})

    async def send_photo(self, chat_id: str, photo_url: str, caption: str = "") -> Any:
        payload = {"chat_id": chat_id, "photo": photo_url}
        if caption:
            payload["caption"] = caption
        return await self.call("sendPhoto", payload)

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> Any:
        return await self.call("sendChatAction", {"chat_id": chat_id, "action": action})
