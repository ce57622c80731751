"""``hocvuso serve zalo-bot``: the assistant on the Zalo Bot Platform.

Two ways to receive messages:

* **polling** (default): ``deleteWebhook`` once, then ``getUpdates`` long polls
  in a loop (with back-off on errors);
* **webhook**, when ``ZALO_BOT_WEBHOOK_URL`` is set: a tornado server on
  ``ZALO_LISTEN_HOST:ZALO_LISTEN_PORT`` serves the URL's path (put a TLS
  reverse proxy in front), ``setWebhook`` registers the URL with a secret
  (``ZALO_BOT_WEBHOOK_SECRET``, or a random one per start), and every request
  must carry it in ``X-Bot-Api-Secret-Token`` (constant-time comparison).
  Malformed bodies get 400, a missing secret 401, a wrong one 403. A good
  request is answered 200 at once; the engine runs in a background task.

Photos: ``sendPhoto`` takes only a URL. In webhook mode a chart is served for
an hour from ``<webhook URL>/files/<random token>.png`` (same host and path
prefix, so the proxy that forwards the webhook forwards it too) and that URL
is sent. In polling mode there is no public server, so the user gets a short
text instead (the statistics themselves are always in the text reply).
Documents (the Excel report) become a link the same way, or an explanation.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from typing import Any
from urllib.parse import urlparse

import httpx

from bot.channels.common import check_public_https_url
from bot.channels.zalo import BOT_CHANNEL
from bot.channels.zalo.base import (
    UNSUPPORTED_KIND,
    ZaloAdapter,
    quiet_http_logs,
    serve_until_signalled,
)
from bot.channels.zalo.bot_client import (
    IMAGE_EVENT,
    STICKER_EVENT,
    TEXT_EVENT,
    VOICE_EVENT,
    BotUpdate,
    ZaloBotClient,
    ZaloBotError,
    parse_update,
    unwrap_events,
)
from bot.channels.zalo.media import AttachmentFetcher, Fetched, MediaStore
from bot.channels.zalo.render import (
    PHOTO_FALLBACK,
    OutMedia,
    document_fallback,
    document_link,
)
from bot.channels.zalo.security import BOT_SECRET_HEADER, check_bot_secret
from bot.channels.zalo.web import WebRequest, WebResponse, WebServer, json_object, listen
from bot.core.engine import Engine
from bot.core.messages import Incoming
from bot.core.services import Services
from bot.errors import UserError
from bot.settings import Settings

log = logging.getLogger(__name__)

# Zalo takes 8-256 characters; it travels in an HTTP header, so no spaces or controls.
SECRET_RE = re.compile(r"[\x21-\x7e]{8,256}")
GROUP_HINT = "Vui lòng nhắn riêng cho trợ lý để dùng các chức năng (không dùng trong nhóm)."
POLL_BACKOFF_MAX_S = 30.0


class ZaloBotAdapter(ZaloAdapter):
    """Bot Platform transport around the shared pipeline."""

    channel = BOT_CHANNEL

    def __init__(
        self,
        services: Services,
        engine: Engine,
        client: ZaloBotClient,
        *,
        http: httpx.AsyncClient,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        listen_host: str = "127.0.0.1",
        listen_port: int = 8080,
        poll_timeout: int = 30,
        media: MediaStore | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(services, engine, **kwargs)
        settings = services.settings
        self.client = client
        self.http = http
        self.webhook_url = webhook_url.rstrip("/") if webhook_url else None
        self.webhook_secret = webhook_secret or secrets.token_urlsafe(32)
        self.listen_host = listen_host
        self.listen_port = listen_port
        self.poll_timeout = poll_timeout
        self.media = media or MediaStore(db=services.db)
        self.fetcher = AttachmentFetcher(
            http,
            settings.uploads_dir / "incoming",
            settings.max_upload_mb,
            engine.registry.accepted_suffixes(),
        )
        self.server: WebServer | None = None
        self.port: int | None = None
        self._poll_failures = 0

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def webhook_path(self) -> str:
        path = urlparse(self.webhook_url or "").path.rstrip("/")
        return path or ""

    def build_server(self) -> WebServer:
        base = re.escape(self.webhook_path)  # a path, not a pattern
        return WebServer(
            [
                (f"{base}/files/([A-Za-z0-9_.-]+)", {"GET": self.serve_file}),
                (base or "/", {"POST": self.handle_webhook}),
            ]
        )

    async def start(self) -> None:
        """Begin receiving (webhook or polling) and sending reminders."""
        if self.webhook_url:
            self.server = self.build_server()
            self.port = await listen(self.server, self.listen_host, self.listen_port)
            log.info(
                "Zalo Bot webhook server on %s:%s, path %s",
                self.listen_host,
                self.port,
                self.webhook_path or "/",
            )
            await self.client.set_webhook(self.webhook_url, self.webhook_secret)
            log.info("Zalo Bot webhook registered: %s", self.webhook_url)
        else:
            try:
                await self.client.delete_webhook()
            except ZaloBotError as exc:
                log.warning("deleteWebhook failed (%s); polling anyway", exc)
            self.loop_every(0, self.poll_once, "zalo-bot-polling")
            log.info("Zalo Bot polling for messages")
        self.start_reminders()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None
        await self.close()

    # -- receiving ------------------------------------------------------------------------
    async def poll_once(self) -> int:
        """One ``getUpdates`` round; errors back off (returns the number of events)."""
        try:
            events = await self.client.get_updates(self.poll_timeout)
        except ZaloBotError as exc:
            self._poll_failures += 1
            delay = min(POLL_BACKOFF_MAX_S, 2.0 ** (self._poll_failures - 1))
            log.warning("getUpdates failed (%s); retrying in %.0f s", exc, delay)
            await asyncio.sleep(delay)
            return 0
        self._poll_failures = 0
        count = 0
        for event in events:
            update = parse_update(event)
            if update is not None:
                self.accept_update(update)
                count += 1
        return count

    async def handle_webhook(self, request: WebRequest) -> WebResponse:
        received = request.headers.get(BOT_SECRET_HEADER)
        if received is None:
            return WebResponse.json(401, {"ok": False, "error": "missing secret token"})
        if not check_bot_secret(self.webhook_secret, received):
            return WebResponse.json(403, {"ok": False, "error": "wrong secret token"})
        body = json_object(request.body)
        if body is None:
            return WebResponse.json(400, {"ok": False, "error": "body is not a JSON object"})
        events = unwrap_events(body)
        if not events:
            return WebResponse.json(400, {"ok": False, "error": "no event in body"})
        updates: list[BotUpdate] = []
        for event in events:
            update = parse_update(event)
            if update is None:
                if isinstance(event.get("event_name"), str) and "message" not in event:
                    continue  # an event without a message we do not use
                return WebResponse.json(400, {"ok": False, "error": "malformed event"})
            updates.append(update)
        for update in updates:
            self.accept_update(update)
        return WebResponse.json(200, {"ok": True})

    def accept_update(self, update: BotUpdate) -> asyncio.Task[Any] | None:
        """Queue one update unless it is a redelivery, from a bot, or not for us."""
        if update.from_bot:
            return None
        if update.chat_type and update.chat_type.upper() != "PRIVATE":
            if update.text.startswith("/"):
                return self.spawn(self._safe_send_text(update.chat_id, GROUP_HINT))
            return None
        # Redeliveries are recognised by message id in the database (every worker).
        key = f"msg:{update.message_id}" if update.message_id else None
        return self.accept(
            update.user_id, update.chat_id, lambda: self._message(update), event_key=key
        )

    async def _safe_send_text(self, chat_id: str, text: str) -> None:
        await self._safe(self.send_text(chat_id, text), "send text")

    async def _message(self, update: BotUpdate) -> Incoming | Fetched:
        if update.event_name == IMAGE_EVENT and update.photo_url:
            return await self.fetcher.fetch(update.photo_url)
        if update.event_name in {STICKER_EVENT, VOICE_EVENT} or (
            update.event_name != TEXT_EVENT and not update.text
        ):
            return Fetched(refusal=UNSUPPORTED_KIND)
        return self.incoming(update.user_id, update.chat_id, update.text, update.display_name)

    # -- sending --------------------------------------------------------------------------
    async def send_text(self, chat_id: str, text: str) -> None:
        await self.client.send_message(chat_id, text)

    async def typing(self, chat_id: str) -> None:
        await self.client.send_chat_action(chat_id, "typing")

    def public_file_url(self, token: str) -> str | None:
        if not self.webhook_url or self.server is None:
            return None
        return f"{self.webhook_url}/files/{token}"

    async def send_media(self, chat_id: str, item: OutMedia) -> None:
        token = None
        if self.webhook_url and self.server:
            token = await asyncio.to_thread(self.media.put, item.file)
        url = self.public_file_url(token) if token else None
        if item.kind == "photo":
            if url is None:
                await self.send_text(chat_id, PHOTO_FALLBACK)
                return
            try:
                await self.client.send_photo(chat_id, url, item.caption)
            except ZaloBotError as exc:
                log.warning("sendPhoto failed (%s); sending the text fallback", exc)
                await self.send_text(chat_id, PHOTO_FALLBACK)
            return
        if url is None:
            await self.send_text(chat_id, document_fallback(item.file))
        else:
            await self.send_text(chat_id, document_link(item.file, url, self.media.ttl_s))

    async def serve_file(self, request: WebRequest) -> WebResponse:
        token = request.path_args[0] if request.path_args else ""
        file = await asyncio.to_thread(self.media.get, token)
        if file is None:
            return WebResponse.json(404, {"ok": False, "error": "not found"})
        headers = {"Cache-Control": "private, max-age=3600"}
        if not file.mime_type.startswith("image/"):
            headers["Content-Disposition"] = f'attachment; filename="{file.filename}"'
        return WebResponse(200, file.data, file.mime_type, headers)


def check_settings(settings: Settings) -> None:
    """Refuse to start, with one clear line, when the Bot Platform settings cannot work."""
    if not (settings.zalo_bot_token or "").strip():
        raise UserError(
            "Chưa cấu hình ZALO_BOT_TOKEN (token của Zalo Bot) trong tệp .env — xem docs/zalo.md.",
            detail="ZALO_BOT_TOKEN is not set",
        )
    secret = settings.zalo_bot_webhook_secret
    if secret and not SECRET_RE.fullmatch(secret):
        raise UserError(
            "ZALO_BOT_WEBHOOK_SECRET phải dài 8–256 ký tự, không dấu cách, không dấu tiếng Việt "
            "— xem docs/zalo.md.",
            detail="invalid ZALO_BOT_WEBHOOK_SECRET",
        )
    url = settings.zalo_bot_webhook_url
    if url:
        check_public_https_url(
            url, "ZALO_BOT_WEBHOOK_URL", "https://bot.syt.example.vn/zalo/bot", "docs/zalo.md"
        )


def build_adapter(
    settings: Settings, services: Services, engine: Engine, http: httpx.AsyncClient
) -> ZaloBotAdapter:
    """The adapter for these settings (token, API base, webhook, listen address)."""
    check_settings(settings)
    assert settings.zalo_bot_token
    client = ZaloBotClient(
        settings.zalo_bot_token.strip(), settings.zalo_bot_api_base_url, http=http
    )
    return ZaloBotAdapter(
        services,
        engine,
        client,
        http=http,
        webhook_url=settings.zalo_bot_webhook_url or None,
        webhook_secret=settings.zalo_bot_webhook_secret or None,
        listen_host=settings.zalo_listen_host,
        listen_port=settings.zalo_listen_port,
    )


async def serve(settings: Settings, services: Services, engine: Engine) -> None:
    async with httpx.AsyncClient(timeout=httpx.Timeout(20.0, connect=10.0)) as http:
        adapter = build_adapter(settings, services, engine, http)
        me = await adapter.client.get_me()
        log.info("Zalo Bot: %s", me.get("account_name") or me.get("id") or "?")
        await serve_until_signalled(adapter.start, adapter.stop)


def run(settings: Settings) -> int:
    """Entry point of ``hocvuso serve zalo-bot``; returns the exit status.

    Configuration problems raise :class:`~bot.errors.UserError` (the CLI prints
    its one-line message and exits with 2); SIGTERM/SIGINT stop cleanly (0).
    """
    from bot.app import serving

    logging.getLogger("bot").setLevel(settings.log_level.upper())
    quiet_http_logs()
    check_settings(settings)
    with serving(settings) as (services, engine):
        try:
            asyncio.run(serve(settings, services, engine))
        except ZaloBotError as exc:
            log.error("Zalo Bot Platform refused the bot: %s (check ZALO_BOT_TOKEN)", exc)
            return 1
    return 0
