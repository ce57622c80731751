"""``hocvuso serve telegram``: build the PTB application and run it.

Long polling by default; webhook mode (with a secret token Telegram echoes in
``X-Telegram-Bot-Api-Secret-Token``) when ``TELEGRAM_WEBHOOK_URL`` is set.
SIGINT/SIGTERM stop the bot cleanly: PTB stops fetching updates, finishes the
updates in hand, stops the JobQueue and closes the HTTP clients; then the
engine worker and the database are closed.
"""

from __future__ import annotations

import logging
import re
import secrets
import signal
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from telegram import Update
from telegram.error import InvalidToken, NetworkError
from telegram.ext import AIORateLimiter, Application

from bot.channels.common import check_public_https_url
from bot.channels.telegram.adapter import Clock, TelegramAdapter
from bot.core.engine import Engine
from bot.errors import UserError
from bot.settings import Settings

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGABRT)
BOOTSTRAP_RETRIES = 5

TelegramApp = Application[Any, Any, Any, Any, Any, Any]


def api_urls(base: str | None) -> tuple[str, str] | None:
    """``TELEGRAM_API_BASE_URL`` (a Bot API server root such as ``http://127.0.0.1:8081``)
    -> PTB's ``base_url`` and ``base_file_url``. ``None`` means api.telegram.org."""
    if not base or not base.strip():
        return None
    root = base.strip().rstrip("/")
    if root.endswith("/bot"):
        root = root[: -len("/bot")]
    return f"{root}/bot", f"{root}/file/bot"


def build_application(
    settings: Settings,
    engine: Engine,
    *,
    reminder_interval: float = 600.0,
    reminder_first: float = 30.0,
    clock: Clock | None = None,
    rate_limit: bool = True,
    concurrent_updates: int = 64,
) -> TelegramApp:
    """The PTB application with every handler, the menu and the reminder job installed.

    ``reminder_interval``/``reminder_first`` (seconds) schedule the JobQueue
    job that sends due reminders and digests; ``clock`` replaces "now" for it.
    Updates of different users are handled concurrently, those of one user in
    order.
    """
    token = require_token(settings)
    adapter = TelegramAdapter(settings, engine, clock=clock)
    builder = (
        Application.builder()
        .token(token)
        .concurrent_updates(concurrent_updates)
        .connection_pool_size(max(8, concurrent_updates))
        .pool_timeout(30.0)
        .post_init(adapter.post_init)
        .post_stop(adapter.post_stop)
        .post_shutdown(adapter.post_shutdown)
    )
    urls = api_urls(settings.telegram_api_base_url)
    if urls is not None:
        builder = builder.base_url(urls[0]).base_file_url(urls[1])
    if rate_limit:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))  # type: ignore[arg-type]
    app: TelegramApp = builder.build()
    adapter.install(app)
    app.bot_data["adapter"] = adapter
    assert app.job_queue is not None, "install python-telegram-bot[job-queue]"
    # The job is added before the scheduler starts. An explicit first run time with no
    # misfire limit makes a slow start-up delay the first run instead of skipping it
    # (APScheduler would otherwise wait a whole interval), and late runs coalesce.
    first = datetime.now(UTC) + timedelta(seconds=reminder_first)
    app.job_queue.run_repeating(
        adapter.deliver_due,
        interval=reminder_interval,
        first=first,
        name="notifications",
        job_kwargs={"next_run_time": first, "misfire_grace_time": None, "coalesce": True},
    )
    return app


def require_token(settings: Settings) -> str:
    token = (settings.telegram_bot_token or "").strip()
    if not token:
        raise UserError(
            "Chưa cấu hình TELEGRAM_BOT_TOKEN (lấy từ @BotFather) trong tệp .env.",
            detail="TELEGRAM_BOT_TOKEN is not set",
        )
    return token


def webhook_secret(settings: Settings) -> str:
    """The configured secret, or a fresh random one for this run (sent with setWebhook)."""
    secret = (settings.telegram_webhook_secret or "").strip()
    if not secret:
        log.info("TELEGRAM_WEBHOOK_SECRET not set: using a random secret for this run")
        return secrets.token_urlsafe(32)
    if not SECRET_RE.match(secret):
        raise UserError(
            "TELEGRAM_WEBHOOK_SECRET chỉ được gồm chữ cái không dấu, chữ số, “_” và “-” "
            "(tối đa 256 ký tự).",
            detail="invalid TELEGRAM_WEBHOOK_SECRET",
        )
    return secret


def webhook_options(settings: Settings, secret: str) -> dict[str, Any]:
    """Arguments for PTB's ``run_webhook``/``updater.start_webhook`` from the settings.

    PTB listens on ``TELEGRAM_LISTEN_HOST:TELEGRAM_LISTEN_PORT`` at the path of
    ``TELEGRAM_WEBHOOK_URL`` (a reverse proxy with TLS forwards that public
    URL to it), registers the URL and the secret with ``setWebhook`` and
    answers 403 to any request without the right
    ``X-Telegram-Bot-Api-Secret-Token`` header.
    """
    url = (settings.telegram_webhook_url or "").strip()
    if not url:
        raise UserError("Chưa cấu hình TELEGRAM_WEBHOOK_URL.", detail="no webhook URL")
    check_public_https_url(
        url, "TELEGRAM_WEBHOOK_URL", "https://bot.syt.example.vn/telegram", "docs/telegram.md"
    )
    return {
        "listen": settings.telegram_listen_host,
        "port": settings.telegram_listen_port,
        "url_path": urlsplit(url).path.strip("/"),
        "webhook_url": url,
        "secret_token": secret,
        "allowed_updates": ALLOWED_UPDATES,
        "bootstrap_retries": BOOTSTRAP_RETRIES,
    }


class RedactSecrets(logging.Filter):
    """Replace the bot token and webhook secret in log lines and tracebacks (PTB puts
    the token in some error messages, e.g. when Telegram rejects it)."""

    def __init__(self, *secrets: str | None) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 8]

    def _clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "<redacted>")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        cleaned = self._clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        return True


def _configure_logging(settings: Settings) -> RedactSecrets:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    root.setLevel(settings.log_level.upper())
    redact = RedactSecrets(settings.telegram_bot_token)
    for handler in root.handlers:
        handler.addFilter(redact)
    # httpx logs every request URL at INFO, and Bot API URLs contain the token.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return redact


def run(settings: Settings) -> int:
    """Serve Telegram until SIGINT/SIGTERM; returns the exit status."""
    from bot.app import serving

    require_token(settings)
    redact = _configure_logging(settings)
    options = None
    if settings.telegram_webhook_url:
        secret = webhook_secret(settings)
        redact.secrets.append(secret)
        options = webhook_options(settings, secret)
    try:
        with serving(settings) as (_services, engine):
            app = build_application(settings, engine)
            if options is not None:
                log.info(
                    "Telegram webhook mode: %s, listening on %s:%s/%s",
                    options["webhook_url"],
                    options["listen"],
                    options["port"],
                    options["url_path"],
                )
                app.run_webhook(**options, stop_signals=STOP_SIGNALS)
            else:
                log.info("Telegram long polling mode")
                app.run_polling(
                    allowed_updates=ALLOWED_UPDATES,
                    bootstrap_retries=BOOTSTRAP_RETRIES,
                    stop_signals=STOP_SIGNALS,
                )
    except InvalidToken:
        log.error("Telegram refused TELEGRAM_BOT_TOKEN: check the token given by @BotFather")
        return 1
    except NetworkError as exc:
        log.error("could not reach the Telegram Bot API (%s): %s", _api_root(settings), exc)
        return 1
    log.info("Telegram bot stopped")
    return 0


def _api_root(settings: Settings) -> str:
    urls = api_urls(settings.telegram_api_base_url)
    return urls[0].rsplit("/bot", 1)[0] if urls else "https://api.telegram.org"
