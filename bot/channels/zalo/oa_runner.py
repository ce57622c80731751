"""``hocvuso serve zalo-oa``: the assistant as a Zalo Official Account.

A tornado server on ``ZALO_LISTEN_HOST:ZALO_LISTEN_PORT`` receives the OA's
webhook events (any path: configure the public URL in the Zalo developer
console and forward it here through a TLS reverse proxy):

* ``X-ZEvent-Signature`` must match the raw body (missing: 401; wrong, or an
  event older than 5 minutes: 403), checked before any parsing; a signed body
  that is not a JSON event (or nests too deep, or carries 5000-digit numbers)
  gets 400 — never a crash. A repeated delivery (same message id or signature,
  remembered in the database for every worker) is answered 200 and *not*
  processed: Zalo resends events that did not get a 200 and is
  reported to disable webhooks that keep failing, so a genuine redelivery
  must be acknowledged — and a replayed copy gains nothing either way;
* ``user_send_text`` goes to the engine; ``user_send_image`` /
  ``user_send_file`` are downloaded first (size and type checked) and passed
  as an attachment; ``follow`` starts the conversation like ``/batdau``;
  stickers, voice, video and the like get a short explanation; events the OA
  itself produced are ignored;
* the answer to Zalo is immediate; the engine and the replies run in a
  background task.

Replies use the OA customer-service message API, addressed to the message
being answered (``recipient.message_id``: a free *reply*, at most 8 within
48 h of it); reminders and anything past that allowance go to the user id (a
*proactive* message, subject to Zalo's rules for those). Charts (PNG) are uploaded
with the OA image upload API and sent as an image message; documents are
uploaded with the file upload API (Zalo accepts PDF/DOC/DOCX there), and when
that is refused (the Excel report) the user gets a one-hour link under
``ZALO_OA_WEBHOOK_URL`` (``<url>/files/<random token>``, served by this
server whatever path prefix the proxy keeps) or, without it, an explanation.
The access token is kept fresh by :class:`OATokenManager` (checked every 5
minutes).

``GET /zalo_verifier<code>.html`` serves that file from the data directory,
for Zalo's domain verification of the webhook URL.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

import httpx

from bot.channels.common import check_public_https_url
from bot.channels.zalo import OA_CHANNEL
from bot.channels.zalo.base import (
    UNSUPPORTED_KIND,
    MessageSource,
    ZaloAdapter,
    quiet_http_logs,
    serve_until_signalled,
)
from bot.channels.zalo.media import AttachmentFetcher, Fetched, MediaStore
from bot.channels.zalo.oa_client import OATokenManager, TokenStore, ZaloOAClient, ZaloOAError
from bot.channels.zalo.render import PHOTO_FALLBACK, OutMedia, document_fallback, document_link
from bot.channels.zalo.security import (
    OA_SIGNATURE_HEADER,
    OASignatureVerifier,
    Verdict,
    event_timestamp,
)
from bot.channels.zalo.web import WebRequest, WebResponse, WebServer, json_object, listen
from bot.core.engine import Engine
from bot.core.messages import Incoming
from bot.core.services import Services
from bot.errors import UserError
from bot.settings import Settings

log = logging.getLogger(__name__)

TOKEN_FILE = "zalo_oa_tokens.json"
TOKEN_CHECK_INTERVAL_S = 300.0
USER_UNSUPPORTED = {
    "user_send_sticker",
    "user_send_gif",
    "user_send_audio",
    "user_send_video",
    "user_send_location",
    "user_send_link",
    "user_send_business_card",
}
VERIFIER = re.compile(r"/(zalo_verifier[A-Za-z0-9_-]{1,100}\.html)")
REPLY_QUOTA = 8  # replies Zalo allows per user message (within 48 h; a turn takes seconds)


@dataclass
class _Answering:
    """The user message the OA is answering, and how many replies it has used."""

    msg_id: str
    used: int = 0


def _id(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _event_key(event: dict[str, Any], verdict: Verdict) -> str:
    """What identifies one delivery: the user message id, else the signature."""
    message = event.get("message")
    msg_id = _id(message.get("msg_id")) if isinstance(message, dict) else None
    return f"msg:{msg_id}" if msg_id else f"sig:{verdict.signature}"


def _declared_size(value: Any) -> int | None:
    """The attachment size Zalo declares, if it is a plausible number of bytes."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < 10**15 else None
    if isinstance(value, str) and value.isdigit() and value.isascii() and len(value) <= 15:
        return int(value)
    return None


def _attachment(event: dict[str, Any]) -> dict[str, Any] | None:
    message = event.get("message")
    if not isinstance(message, dict):
        return None
    items = message.get("attachments")
    if not isinstance(items, list) or not items or not isinstance(items[0], dict):
        return None
    payload = items[0].get("payload")
    return payload if isinstance(payload, dict) else None


class ZaloOAAdapter(ZaloAdapter):
    """Official Account transport around the shared pipeline."""

    channel = OA_CHANNEL

    def __init__(
        self,
        services: Services,
        engine: Engine,
        client: ZaloOAClient,
        verifier: OASignatureVerifier,
        *,
        http: httpx.AsyncClient,
        app_id: str,
        listen_host: str = "127.0.0.1",
        listen_port: int = 8080,
        public_base_url: str | None = None,
        media: MediaStore | None = None,
        token_check_interval_s: float = TOKEN_CHECK_INTERVAL_S,
        **kwargs: Any,
    ) -> None:
        super().__init__(services, engine, **kwargs)
        settings = services.settings
        self.client = client
        self.verifier = verifier
        self.http = http
        self.app_id = app_id
        self.listen_host = listen_host
        self.listen_port = listen_port
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.media = media or MediaStore(db=services.db)
        self.token_check_interval_s = token_check_interval_s
        self.fetcher = AttachmentFetcher(
            http,
            settings.uploads_dir / "incoming",
            settings.max_upload_mb,
            engine.registry.accepted_suffixes(),
        )
        self.server: WebServer | None = None
        self.port: int | None = None
        self._answering: dict[str, _Answering] = {}

    # -- lifecycle ------------------------------------------------------------------------
    def build_server(self) -> WebServer:
        return WebServer(
            [
                (r"(?:/.*)?/files/([A-Za-z0-9_.-]+)", {"GET": self.serve_file}),
                (r"/zalo_verifier[A-Za-z0-9_-]+\.html", {"GET": self.serve_verifier}),
                (r"/.*", {"POST": self.handle_webhook, "GET": self.health}),
            ]
        )

    async def start(self) -> None:
        self.server = self.build_server()
        self.port = await listen(self.server, self.listen_host, self.listen_port)
        log.info("Zalo OA webhook server on %s:%s", self.listen_host, self.port)
        if self.token_check_interval_s > 0:
            self.loop_every(
                self.token_check_interval_s, self.client.tokens.maintain, "zalo-oa-tokens"
            )
        self.start_reminders()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None
        await self.close()

    # -- receiving ------------------------------------------------------------------------
    async def health(self, request: WebRequest) -> WebResponse:
        return WebResponse.json(200, {"ok": True, "channel": self.channel})

    async def serve_verifier(self, request: WebRequest) -> WebResponse:
        match = VERIFIER.fullmatch(request.path)
        path = self.services.settings.data_dir / match.group(1) if match else None
        if path is None or not path.is_file():
            return WebResponse.json(404, {"ok": False, "error": "not found"})
        return WebResponse(200, path.read_bytes(), "text/html; charset=utf-8")

    async def handle_webhook(self, request: WebRequest) -> WebResponse:
        header = request.headers.get(OA_SIGNATURE_HEADER)
        if not header:
            return WebResponse.json(401, {"ok": False, "error": "missing signature"})
        # Authenticate the raw bytes first: nothing unsigned is ever parsed.
        verdict = self.verifier.verify(request.body, header)
        if not verdict.accepted:
            log.warning("Zalo OA webhook refused: %s", verdict.reason)
            return WebResponse.json(verdict.http_status, {"ok": False, "error": verdict.status})
        event = json_object(request.body)
        if event is None:
            return WebResponse.json(400, {"ok": False, "error": "body is not a JSON object"})
        if event_timestamp(event) != verdict.timestamp:
            log.warning("Zalo OA webhook refused: signed timestamp is not the event's")
            return WebResponse.json(403, {"ok": False, "error": "invalid"})
        app_id = _id(event.get("app_id"))
        if app_id is not None and app_id != self.app_id:
            return WebResponse.json(403, {"ok": False, "error": "event for another app"})
        name = event.get("event_name")
        if not isinstance(name, str) or not name:
            return WebResponse.json(400, {"ok": False, "error": "no event_name"})
        # A redelivery or a replay within the window: acknowledged (so Zalo stops
        # resending) and not processed again, whichever worker saw it first.
        if not await self.runner.quick(
            self.processed.first, self.channel, _event_key(event, verdict)
        ):
            log.info("duplicate Zalo OA event ignored")
            return WebResponse.json(200, {"ok": True, "duplicate": True})
        return self.dispatch(name, event)

    def dispatch(self, name: str, event: dict[str, Any]) -> WebResponse:
        """Queue the event's work and say how it went (400 for a malformed user event)."""
        if name == "follow":
            user = _id(event.get("follower")) or _id(event.get("user_id_by_app"))
            if user:
                self.accept(user, user, self._text_source(user, "/batdau", None))
            return WebResponse.json(200, {"ok": True})
        if not name.startswith("user_send_"):
            return WebResponse.json(200, {"ok": True, "ignored": name})
        user = _id(event.get("sender"))
        if user is None:
            return WebResponse.json(400, {"ok": False, "error": "event has no sender"})
        message = event.get("message")
        msg_id = _id(message.get("msg_id")) if isinstance(message, dict) else None
        if name == "user_send_text":
            text = message.get("text") if isinstance(message, dict) else None
            if not isinstance(text, str):
                return WebResponse.json(400, {"ok": False, "error": "text event without text"})
            self.accept(user, user, self._text_source(user, text, msg_id))
        elif name in {"user_send_image", "user_send_file"}:
            payload = _attachment(event)
            url = payload.get("url") if payload else None
            if not isinstance(url, str) or not url:
                return WebResponse.json(400, {"ok": False, "error": "attachment without url"})
            filename = payload.get("name") if payload and name == "user_send_file" else None
            size = payload.get("size") if payload else None
            declared = _declared_size(size)
            if size is not None and declared is None:
                return WebResponse.json(400, {"ok": False, "error": "implausible size"})
            self.accept(user, user, self._file_source(user, url, filename, declared, msg_id))
        elif name in USER_UNSUPPORTED:
            self.accept(user, user, self._refusal(user, UNSUPPORTED_KIND, msg_id))
        return WebResponse.json(200, {"ok": True})

    # The sources run inside the user's lock, just before the engine: the replies
    # that follow answer exactly this message.
    def _text_source(self, user: str, text: str, msg_id: str | None = None) -> MessageSource:
        async def make() -> Incoming:
            self._now_answering(user, msg_id)
            return self.incoming(user, user, text)

        return make

    def _file_source(
        self, user: str, url: str, filename: Any, size: int | None, msg_id: str | None
    ) -> MessageSource:
        name = filename if isinstance(filename, str) and filename else None

        async def make() -> Fetched:
            self._now_answering(user, msg_id)
            return await self.fetcher.fetch(url, name, size)

        return make

    def _refusal(self, user: str, text: str, msg_id: str | None) -> MessageSource:
        async def make() -> Fetched:
            self._now_answering(user, msg_id)
            return Fetched(refusal=text)

        return make

    # -- sending --------------------------------------------------------------------------
    def _now_answering(self, user: str, msg_id: str | None) -> None:
        if msg_id is None:
            self._answering.pop(user, None)
        else:
            self._answering[user] = _Answering(msg_id)

    def turn_finished(self, user_id: str) -> None:
        # Later sends (reminders) are not answers to that message.
        self._answering.pop(user_id, None)

    def reply_to(self, user: str) -> str | None:
        """The user message to address the next send to, while Zalo counts it as a reply."""
        answering = self._answering.get(user)
        if answering is None or answering.used >= REPLY_QUOTA:
            return None
        answering.used += 1
        return answering.msg_id

    async def send_text(self, chat_id: str, text: str) -> None:
        await self.client.send_text(chat_id, text, reply_to=self.reply_to(chat_id))

    async def send_media(self, chat_id: str, item: OutMedia) -> None:
        file = item.file
        if item.kind == "photo":
            try:
                attachment_id = await self.client.upload_image(
                    file.data, file.filename, file.mime_type
                )
                await self.client.send_image(
                    chat_id, attachment_id, item.caption, reply_to=self.reply_to(chat_id)
                )
            except ZaloOAError as exc:
                log.warning("OA image send failed (%s); sending the text fallback", exc)
                await self.send_text(chat_id, PHOTO_FALLBACK)
            return
        try:
            token = await self.client.upload_file(file.data, file.filename, file.mime_type)
            await self.client.send_file(chat_id, token, reply_to=self.reply_to(chat_id))
            return
        except ZaloOAError as exc:
            log.info("OA file upload refused (%s); offering a link or an explanation", exc)
        if self.public_base_url and self.server is not None:
            token = await asyncio.to_thread(self.media.put, file)
            url = f"{self.public_base_url}/files/{token}"
            await self.send_text(chat_id, document_link(file, url, self.media.ttl_s))
        else:
            await self.send_text(chat_id, document_fallback(file))

    async def serve_file(self, request: WebRequest) -> WebResponse:
        token = request.path_args[0] if request.path_args else ""
        file = await asyncio.to_thread(self.media.get, token)
        if file is None:
            return WebResponse.json(404, {"ok": False, "error": "not found"})
        headers = {"Content-Disposition": f'attachment; filename="{file.filename}"'}
        return WebResponse(200, file.data, file.mime_type, headers)


def missing_settings(settings: Settings) -> list[str]:
    """The OA settings that are required and not set (tokens: unless a token file exists)."""
    missing = [
        name
        for name, value in (
            ("ZALO_OA_APP_ID", settings.zalo_oa_app_id),
            ("ZALO_OA_SECRET_KEY", settings.zalo_oa_secret_key),
            ("ZALO_OA_APP_SECRET", settings.zalo_oa_app_secret),
        )
        if not (value or "").strip()
    ]
    has_tokens = settings.zalo_oa_access_token or settings.zalo_oa_refresh_token
    if not has_tokens and not (settings.data_dir / TOKEN_FILE).exists():
        missing.append("ZALO_OA_REFRESH_TOKEN")
    return missing


def check_settings(settings: Settings) -> None:
    """Refuse to start, with one clear line, when the OA settings cannot work."""
    missing = missing_settings(settings)
    if missing:
        raise UserError(
            f"Chưa cấu hình {', '.join(missing)} trong tệp .env cho Zalo OA — xem docs/zalo.md.",
            detail=f"missing settings: {', '.join(missing)}",
        )
    url = settings.zalo_oa_webhook_url
    if url:
        check_public_https_url(
            url, "ZALO_OA_WEBHOOK_URL", "https://bot.syt.example.vn/zalo/oa", "docs/zalo.md"
        )


def build_adapter(
    settings: Settings,
    services: Services,
    engine: Engine,
    http: httpx.AsyncClient,
) -> ZaloOAAdapter:
    """The adapter for these settings (:class:`UserError` names what is missing)."""
    check_settings(settings)
    assert settings.zalo_oa_app_id and settings.zalo_oa_secret_key and settings.zalo_oa_app_secret
    tokens = OATokenManager(
        TokenStore(settings.data_dir / TOKEN_FILE),
        app_id=settings.zalo_oa_app_id.strip(),
        app_secret=settings.zalo_oa_app_secret.strip(),
        oauth_base_url=settings.zalo_oauth_base_url,
        http=http,
        seed_access_token=settings.zalo_oa_access_token or None,
        seed_refresh_token=settings.zalo_oa_refresh_token or None,
    )
    if not tokens.configured:
        raise UserError(
            "Không có access/refresh token cho Zalo OA: đặt ZALO_OA_ACCESS_TOKEN và "
            "ZALO_OA_REFRESH_TOKEN trong tệp .env — xem docs/zalo.md.",
            detail="no Zalo OA tokens",
        )
    client = ZaloOAClient(tokens, settings.zalo_oa_api_base_url, http=http)
    verifier = OASignatureVerifier(
        settings.zalo_oa_app_id.strip(), settings.zalo_oa_secret_key.strip()
    )
    return ZaloOAAdapter(
        services,
        engine,
        client,
        verifier,
        http=http,
        app_id=settings.zalo_oa_app_id.strip(),
        listen_host=settings.zalo_listen_host,
        listen_port=settings.zalo_listen_port,
        public_base_url=settings.zalo_oa_webhook_url or None,
    )


async def serve(settings: Settings, services: Services, engine: Engine) -> None:
    async with httpx.AsyncClient(timeout=httpx.Timeout(20.0, connect=10.0)) as http:
        adapter = build_adapter(settings, services, engine, http)
        await serve_until_signalled(adapter.start, adapter.stop)


def run(settings: Settings) -> int:
    """Entry point of ``hocvuso serve zalo-oa``; returns the exit status.

    Configuration problems raise :class:`~bot.errors.UserError` (the CLI prints
    its one-line message and exits with 2); SIGTERM/SIGINT stop cleanly (0).
    """
    from bot.app import serving

    logging.getLogger("bot").setLevel(settings.log_level.upper())
    quiet_http_logs()
    check_settings(settings)
    with serving(settings) as (services, engine):
        asyncio.run(serve(settings, services, engine))
    return 0
