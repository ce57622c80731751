"""The Telegram channel end to end: the real PTB Application and HTTP layer
against a fake Bot API server on 127.0.0.1 (tests/fake_telegram.py).

Every conversation waits for PTB to finish handling each update (a marker
handler in a late handler group), for a JobQueue run to complete (an
APScheduler listener) or for the fake server to record a message, and then
reads what the fake server recorded, so nothing depends on timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from openpyxl import load_workbook
from sqlalchemy import select
from telegram import Update
from telegram.ext import ContextTypes, TypeHandler

from bot.channels.common import FLOOD_MESSAGE
from bot.channels.telegram.adapter import (
    CONTACT_NOT_OWN,
    TelegramAdapter,
)
from bot.channels.telegram.render import (
    CONTACT_BUTTON,
    TEXT_LIMIT,
    render_reply,
    split_message,
    utf16_len,
)
from bot.channels.telegram.runner import (
    ALLOWED_UPDATES,
    RedactSecrets,
    api_urls,
    build_application,
    webhook_options,
    webhook_secret,
)
from bot.core.engine import APOLOGY, Engine
from bot.core.messages import Button, OutFile, Reply
from bot.core.models import AnswerLog
from bot.core.registry import Command, Context
from bot.core.services import Services
from bot.errors import UserError
from bot.settings import Settings
from tests.conftest import REPO, Province
from tests.fake_telegram import BOT_USERNAME, TOKEN, FakeTelegram, Sent

ADMIN = 555
LAN = 1001  # NV001, nurse
HUNG = 1002  # NV002, doctor with a pending completion
MINH = 9001  # QL001, manager of the hospital
STRANGER = 7007
GROUP = -100123


# -- harness ------------------------------------------------------------------------------
def tg_settings(fake: FakeTelegram, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake.root_url,
        "TELEGRAM_ADMIN_IDS": str(ADMIN),
        "QUIET_HOURS": "off",
    }
    values.update(extra)
    return values


class TgBot:
    """A running Application plus helpers to play users against it."""

    def __init__(self, fake: FakeTelegram, app: Any) -> None:
        self.fake, self.app = fake, app
        self._done: dict[int, asyncio.Future[None]] = {}
        app.add_handler(TypeHandler(Update, self._mark), group=99)
        # JobQueue runs that completed, counted by an APScheduler listener.
        self.job_runs = 0
        self._job_event = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_job(event: JobExecutionEvent) -> None:
            def count() -> None:
                self.job_runs += 1
                self._job_event.set()

            loop.call_soon_threadsafe(count)

        app.job_queue.scheduler.add_listener(on_job, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)

    async def job_ran(self, times: int) -> None:
        """Wait until the JobQueue has completed ``times`` runs in all."""
        while self.job_runs < times:
            self._job_event.clear()
            await asyncio.wait_for(self._job_event.wait(), 60)

    @property
    def adapter(self) -> TelegramAdapter:
        adapter: TelegramAdapter = self.app.bot_data["adapter"]
        return adapter

    async def _mark(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        future = self._done.pop(update.update_id, None)
        if future is not None and not future.done():
            future.set_result(None)

    def expect(self, update_id: int) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._done[update_id] = future
        return future

    async def send(self, update: dict[str, Any], *, settle: bool = True) -> list[Sent]:
        """Queue an update, wait until PTB has fully handled it (and, with ``settle``,
        until heavy work it started has delivered its result); return what was sent."""
        mark = self.fake.mark()
        update_id = self.fake.push(update)
        await asyncio.wait_for(self.expect(update_id), 60)
        if settle:
            await self.adapter.runner.drain(60)
        return self.fake.sent_since(mark)

    async def say(self, user: int, text: str, **kw: Any) -> list[Sent]:
        return await self.send(self.fake.text(user, text, **kw))

    async def text(self, user: int, text: str, **kw: Any) -> str:
        return "\n".join(s.text for s in await self.say(user, text, **kw))

    async def press(self, user: int, message: Sent, label: str) -> list[Sent]:
        return await self.send(self.fake.callback(user, message.button(label), message))


@contextlib.asynccontextmanager
async def running(
    fake: FakeTelegram, engine: Engine, *, webhook: dict[str, Any] | None = None, **build: Any
) -> AsyncIterator[TgBot]:
    """Start the application the way ``run_polling`` (or, given ``webhook`` options,
    ``run_webhook``) does, and stop it the same way."""
    build.setdefault("reminder_first", 3600.0)
    app = build_application(engine.services.settings, engine, **build)
    bot = TgBot(fake, app)
    assert app.updater is not None and app.post_init and app.post_shutdown
    await app.initialize()
    await app.post_init(app)
    if webhook is None:
        await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=ALLOWED_UPDATES)
    else:
        await app.updater.start_webhook(**webhook)
    await app.start()
    try:
        yield bot
    finally:
        await app.updater.stop()
        await app.stop()
        await app.post_stop(app)  # type: ignore[misc]
        await app.shutdown()
        await app.post_shutdown(app)


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
def make_tg_province(
    make_services: Callable[..., Services],
    make_province: Callable[[Services], Province],
    fake: FakeTelegram,
) -> Callable[..., Province]:
    """The small province with Lan, Hùng and Minh linked on Telegram; settings overridable."""

    def factory(**settings: Any) -> Province:
        province = make_province(make_services(**tg_settings(fake, **settings)))
        province.link("NV001", "telegram", str(LAN), str(LAN))
        province.link("NV002", "telegram", str(HUNG), str(HUNG))
        province.link("QL001", "telegram", str(MINH), str(MINH))
        return province

    return factory


@pytest.fixture
def tg_province(make_tg_province: Callable[..., Province]) -> Province:
    return make_tg_province()


def only(sent: list[Sent], chat: int | None = None) -> Sent:
    items = [s for s in sent if chat is None or s.chat_id == chat]
    assert len(items) == 1, [s.text for s in items]
    return items[0]


def joined(sent: list[Sent]) -> str:
    return "\n".join(s.text for s in sent)


# -- rendering (pure) ----------------------------------------------------------------------
def test_render_escapes_splits_and_draws_keyboards() -> None:
    calls = render_reply(Reply("a < b & c > d", buttons=[[Button("👍", "fb:1:1")]]))
    assert [c.text for c in calls] == ["a &lt; b &amp; c &gt; d"]
    assert calls[0].markup is not None
    assert calls[0].markup.inline_keyboard[0][0].callback_data == "fb:1:1"  # type: ignore[union-attr]

    paragraph = "Câu trả lời có trích dẫn nguồn. " * 40
    long = "\n\n".join(f"{i}. {paragraph}" for i in range(12))
    pieces = split_message(long)
    assert len(pieces) > 1 and all(utf16_len(p) <= TEXT_LIMIT for p in pieces)
    assert all(p[0].isdigit() for p in pieces)  # cut at paragraph breaks
    emoji = "👍" * 3000  # 6000 UTF-16 units in 3000 characters
    assert all(utf16_len(p) <= TEXT_LIMIT for p in split_message(emoji))
    assert "".join(split_message(emoji)) == emoji

    contact = render_reply(Reply("Liên kết tài khoản", request_contact=True))
    button = contact[0].markup.keyboard[0][0]  # type: ignore[union-attr]
    assert button.text == CONTACT_BUTTON and button.request_contact
    assert render_reply(Reply("Liên kết", request_contact=True), private=False)[0].markup is None

    chart = render_reply(Reply("Biểu đồ", photo=OutFile("c.png", b"png", "image/png")))
    assert [(c.kind, c.text) for c in chart] == [("photo", "Biểu đồ")]
    report = render_reply(Reply("x" * 2000, document=OutFile("r.xlsx", b"x")))
    assert [c.kind for c in report] == ["text", "document"]


def test_api_urls_and_accepted_types() -> None:
    assert api_urls(None) is None and api_urls("  ") is None
    assert api_urls("http://10.0.0.5:8081/") == (
        "http://10.0.0.5:8081/bot",
        "http://10.0.0.5:8081/file/bot",
    )
    assert api_urls("https://tg.example.vn/bot")[0] == "https://tg.example.vn/bot"  # type: ignore[index]


def test_accepted_file_types_come_from_the_features(services: Services) -> None:
    """Documents (knowledge), rosters and certificates (tracking): one registry, no copies."""
    from bot.app import build_registry

    accepted = build_registry(services).accepted_suffixes()
    assert {".pdf", ".docx", ".txt", ".csv", ".xlsx", ".jpg", ".png", ".html"} <= accepted
    assert ".exe" not in accepted


def test_logs_never_show_the_token() -> None:
    redact = RedactSecrets(TOKEN, None, "short")
    record = logging.LogRecord(
        "telegram.ext", logging.ERROR, __file__, 1, "token %s rejected", (TOKEN,), None
    )
    try:
        raise ValueError(f"The token `{TOKEN}` was rejected by the server.")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert redact.filter(record)
    formatted = logging.Formatter().format(record)
    assert TOKEN not in formatted and formatted.count("<redacted>") == 2


# -- staff: menu, linking, questions ---------------------------------------------------------
async def test_menu_start_and_linking_by_contact(tg_province: Province, fake: FakeTelegram) -> None:
    async with running(fake, tg_province.engine) as bot:
        menus = fake.calls_of("setMyCommands")
        default = next(c for c in menus if c.params.get("scope", {}).get("type") == "default")
        names = {c["command"] for c in default.params["commands"]}
        assert {"batdau", "trogiup", "ghinhan", "tiendo", "khoahoc", "huy"} <= names
        assert "tailieu" not in names and "thongke" not in names
        admin = next(c for c in menus if c.params.get("scope", {}).get("type") == "chat")
        assert admin.params["scope"]["chat_id"] == ADMIN
        assert {"tailieu", "xemphanhoi", "thongke"} <= {
            c["command"] for c in admin.params["commands"]
        }

        # An unlinked user: greeted, offered the contact button; can ask but not log.
        hello = await bot.say(STRANGER, "/start")
        assert "Xin chào" in hello[0].text and all(s.parse_mode == "HTML" for s in hello)
        prompt = next(s for s in hello if s.reply_markup and "keyboard" in s.reply_markup)
        button = prompt.reply_markup["keyboard"][0][0]  # type: ignore[index]
        assert button == {"text": CONTACT_BUTTON, "request_contact": True}
        assert "liên kết" in await bot.text(STRANGER, "/log")

        # Somebody else's contact is refused; one's own links to the roster.
        refused = await bot.send(fake.contact(STRANGER, "+84912000001", owner_id=4242))
        assert only(refused).text == CONTACT_NOT_OWN
        assert "liên kết" in await bot.text(STRANGER, "/tiendo")  # still not linked
        linked = await bot.send(fake.contact(STRANGER, "+84912000001", owner_id=STRANGER))
        assert "Nguyễn Thị Lan" in linked[0].text
        assert linked[0].reply_markup == {"remove_keyboard": True}
        assert "Tiến độ của Nguyễn Thị Lan" in await bot.text(STRANGER, "/progress")


async def test_linking_by_one_time_code(tg_province: Province, fake: FakeTelegram) -> None:
    async with running(fake, tg_province.engine) as bot:
        issued = await bot.text(MINH, "/taomalienket NV003")
        code = issued.split(": ")[1].split()[0]
        assert "Phạm Thị Mai" in await bot.text(3003, f"/link NV003 {code}")
        assert "không đúng" in await bot.text(3004, f"/lienket NV003 {code}")  # used once


async def test_question_with_citations_and_feedback(
    tg_province: Province, fake: FakeTelegram
) -> None:
    question = "Hạn chót hoàn thành khóa học MOOC là ngày nào?"
    async with running(fake, tg_province.engine) as bot:
        answer = only(await bot.say(LAN, question))
        assert "Nguồn:" in answer.text and answer.parse_mode == "HTML"
        assert [label for label, _ in answer.buttons] == ["👍 Hữu ích", "👎 Chưa đúng"]
        thanks = await bot.press(LAN, answer, "👍")
        assert "Cảm ơn" in only(thanks).text
        assert fake.calls_of("answerCallbackQuery")
        edit = fake.calls_of("editMessageReplyMarkup")[-1]
        assert int(edit.params["message_id"]) == answer.message_id  # buttons taken away
        with tg_province.services.db.session() as session:
            entry = session.scalars(select(AnswerLog)).one()
            assert (entry.channel, entry.user_id, entry.rating) == ("telegram", str(LAN), 1)
            assert entry.question == question and entry.sources and "Nguồn:" in entry.answer
        report = await bot.text(ADMIN, "/feedback")
        assert "1 phản hồi" in report and question[:40] in report
        assert "quyền" in await bot.text(LAN, "/xemphanhoi")


# -- staff: the completion form --------------------------------------------------------------
async def test_completion_form_with_buttons_cancel_bad_input_and_photo(
    tg_province: Province, fake: FakeTelegram
) -> None:
    async with running(fake, tg_province.engine) as bot:
        first = only(await bot.say(LAN, "/ghinhan"))
        assert "Bước 1/5" in first.text and "Chuyển đổi số" in [b for b, _ in first.buttons]
        assert "Đã hủy" in joined(await bot.press(LAN, first, "Hủy"))

        form = only(await bot.say(LAN, "/log"))  # English alias
        date_step = await bot.press(LAN, form, "Chuyển đổi số")
        assert "Khóa học: Chuyển đổi số" in date_step[0].text and "Bước 2/5" in date_step[1].text
        assert "không tồn tại" in await bot.text(LAN, "31/02/2026")
        assert "tương lai" in await bot.text(LAN, "01/01/2099")
        cert = only(await bot.press(LAN, date_step[1], "Hôm qua"))
        assert "Bước 3/5" in cert.text
        vneid = only(await bot.say(LAN, "CDS-<2026>&1"))
        assert "Bước 4/5" in vneid.text
        evidence = only(await bot.press(LAN, vneid, "Có"))
        assert "Bước 5/5" in evidence.text

        # Wrong type and too big are refused before anything is downloaded.
        refused = await bot.send(
            fake.document(LAN, "chungnhan.exe", b"MZ", "application/x-msdownload")
        )
        assert "không được hỗ trợ" in only(refused).text
        big = await bot.send(fake.photo(LAN, b"\xff\xd8small", declared_size=30 * 1024 * 1024))
        assert "vượt giới hạn 20 MB" in only(big).text
        assert not fake.calls_of("getFile") and not fake.file_downloads

        photo = b"\xff\xd8\xff\xe0" + b"JFIF-certificate" * 50
        saved = joined(await bot.send(fake.photo(LAN, photo)))
        assert "Đã ghi nhận" in saved and "Minh chứng: đã gửi" in saved
        assert "CDS-&lt;2026&gt;&amp;1" in saved  # the user's text comes back HTML-escaped
        row = tg_province.tracking.my_completions(tg_province.tracking.staff_by_code("NV001").id)[0]
        assert row.certificate_code == "CDS-<2026>&1" and row.vneid_confirmed
        assert (tg_province.services.settings.data_dir / row.evidence_path).read_bytes() == photo
        assert not list((tg_province.services.settings.uploads_dir / "incoming").iterdir())

        # Cancel at a later step with the command.
        await bot.say(LAN, "/ghinhan")
        await bot.say(LAN, "chuyen doi so")
        assert "Đã hủy" in await bot.text(LAN, "/huy")
        assert "Không có thao tác" in await bot.text(LAN, "/cancel")


# -- managers ------------------------------------------------------------------------------
async def test_manager_stats_chart_report_and_verify(
    tg_province: Province, fake: FakeTelegram
) -> None:
    async with running(fake, tg_province.engine) as bot:
        # A manager's private chat gets the manager commands in its menu, once.
        await bot.say(MINH, "/start")
        await bot.say(MINH, "/trogiup")
        await bot.say(LAN, "/start")  # staff keep the default menu: no call
        chat_menus = [
            c for c in fake.calls_of("setMyCommands") if c.params["scope"]["type"] == "chat"
        ]
        assert [c.params["scope"]["chat_id"] for c in chat_menus] == [ADMIN, MINH]
        manager_menu = {c["command"] for c in chat_menus[1].params["commands"]}
        assert {"thongke", "chuahoanthanh", "baocao", "duyet", "ghinhan"} <= manager_menu
        assert "tailieu" not in manager_menu

        stats = await bot.say(MINH, "/thongke")
        assert "1/4 người (25%)" in stats[0].text
        chart = stats[1]
        assert chart.method == "sendPhoto" and chart.file_data is not None
        assert chart.file_data.startswith(b"\x89PNG") and chart.file_name == "thong-ke.png"

        missing = await bot.text(MINH, "/chuahoanthanh")
        assert "Nguyễn Thị Lan" in missing and "Hoàng Văn Nam" not in missing

        notice, report = await bot.say(MINH, "/report")  # built off the conversation path
        assert "Đang xử lý" in notice.text
        assert report.method == "sendDocument" and report.file_name
        assert report.file_name.endswith(".xlsx") and report.file_data is not None
        workbook = load_workbook(io.BytesIO(report.file_data), read_only=True)
        assert workbook.sheetnames == ["Tổng hợp", "Chưa đạt", "Đã khai báo", "Xu hướng"]
        assert "Báo cáo gồm 4 trang" in report.text  # the caption

        pending = await bot.say(MINH, "/duyet")
        assert "1 khai báo" in pending[0].text and "Lê Văn Hùng" in pending[0].text
        approved = await bot.press(MINH, pending[0], "✅ Duyệt")
        assert "Đã duyệt" in only(approved).text
        assert "đã duyệt" in await bot.text(HUNG, "/tiendo")
        assert "quyền" in await bot.text(LAN, "/thongke")  # staff cannot


# -- admins -----------------------------------------------------------------------------------
NIGHT_SHIFT_TXT = """QUY ĐỊNH TRỰC ĐÊM KHOA HỒI SỨC TÍCH CỰC

Điều 1. Số đêm trực
Mỗi điều dưỡng khoa Hồi sức tích cực trực tối đa 6 đêm mỗi tháng.
Sau mỗi đêm trực, điều dưỡng được nghỉ bù một ngày.

Điều 2. Bàn giao ca
Bàn giao ca trực đêm lúc 7 giờ sáng tại phòng hành chính khoa, có ký sổ bàn giao.
"""


async def test_admin_document_upload_becomes_answerable(
    tg_province: Province, fake: FakeTelegram
) -> None:
    question = "Điều dưỡng khoa Hồi sức tích cực trực tối đa bao nhiêu đêm mỗi tháng?"
    data = NIGHT_SHIFT_TXT.encode("utf-8")
    async with running(fake, tg_province.engine) as bot:
        before = only(await bot.say(LAN, question)).text
        assert "6 đêm" not in before

        # Staff may not add documents; the admin may, with a progress message first.
        denied = await bot.send(fake.document(LAN, "truc-dem.txt", data, "text/plain"))
        assert "Chỉ quản trị viên" in denied[-1].text
        added = await bot.send(fake.document(ADMIN, "truc-dem.txt", data, "text/plain"))
        assert "Đã nhận tệp “truc-dem.txt”" in added[0].text
        assert "Đang xử lý tệp “truc-dem.txt”" in added[1].text  # indexed in the background
        assert "Đã thêm “truc-dem.txt”" in added[2].text
        assert fake.file_downloads  # downloaded through the Bot API file URL

        answer = only(await bot.say(LAN, question)).text
        assert "6 đêm" in answer and "Nguồn:" in answer
        # The listing shows each document as "• [doc id] title"; the id comes from the
        # file name whatever title the metadata parser finds.
        listing = await bot.text(ADMIN, "/tailieu")
        assert "[truc-dem]" in listing
        assert "Đã xóa" in await bot.text(ADMIN, "/xoatailieu truc-dem")
        assert "[truc-dem]" not in await bot.text(ADMIN, "/tailieu")
        assert "6 đêm" not in only(await bot.say(LAN, question)).text


async def test_admin_roster_upload_reports_row_errors(
    tg_province: Province, fake: FakeTelegram
) -> None:
    roster = (
        "Mã NV,Họ và tên,Đơn vị,Chức danh,Số điện thoại\n"
        "NV201,Trịnh Thị Nga,BVDK-NOI,Điều dưỡng,0912000201\n"
        "NV202,Mai Văn Sơn,Khoa Mắt,Bác sĩ,0912000202\n"
    ).encode()
    async with running(fake, tg_province.engine) as bot:
        result = await bot.send(fake.document(ADMIN, "bo-sung.csv", roster, "text/csv"))
        text = result[-1].text
        assert "bo-sung.csv" in text and "thêm mới 1" in text and "Dòng 3 (NV202)" in text
        assert tg_province.tracking.staff_by_code("NV201").full_name == "Trịnh Thị Nga"
        denied = await bot.send(fake.document(LAN, "bo-sung.csv", roster, "text/csv"))
        assert "quản trị" in denied[-1].text


# -- reminders ---------------------------------------------------------------------------------
NOON_VN = datetime(2026, 3, 16, 5, 0, tzinfo=UTC)  # Monday 12:00 in Vietnam
NIGHT_VN = datetime(2026, 3, 16, 16, 30, tzinfo=UTC)  # Monday 23:30 in Vietnam


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def test_reminder_job_fires_outside_quiet_hours(
    make_tg_province: Callable[..., Province], fake: FakeTelegram
) -> None:
    province = make_tg_province(QUIET_HOURS="21:00-07:00")
    clock = FixedClock(NIGHT_VN)
    async with running(
        fake, province.engine, clock=clock, reminder_first=0.05, reminder_interval=3600.0
    ) as bot:
        # The JobQueue fires at 23:30 Vietnam time: quiet hours, nothing is sent.
        await bot.job_ran(1)
        assert fake.sent_since(0) == []

        # At noon the same job delivers what was held back.
        clock.now = NOON_VN
        job = bot.app.job_queue.get_jobs_by_name("notifications")[0]
        job.job.modify(next_run_time=datetime.now(UTC))
        await bot.job_ran(2)
        reminder = only(fake.sent_since(0), LAN)
        assert reminder.text.startswith("⏰ Chào Nguyễn Thị Lan") and "/ghinhan" in reminder.text
        assert reminder.parse_mode == "HTML"
        manager = joined(fake.sent_since(0, MINH))
        assert "📊 Tổng hợp tuần" in manager and "Chờ duyệt: 1" in manager
        assert fake.sent_since(0, HUNG) == []  # Hùng has reported a course: no reminder

        # Delivered once per period: the next run sends nothing new.
        count = len(fake.sent_since(0))
        job.job.modify(next_run_time=datetime.now(UTC))
        await bot.job_ran(3)
        assert len(fake.sent_since(0)) == count


# -- webhook -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_webhook_requires_the_secret_token(
    make_tg_province: Callable[..., Province], fake: FakeTelegram
) -> None:
    port = free_port()
    province = make_tg_province(
        TELEGRAM_WEBHOOK_URL="https://bot.syt.example.vn/hocvuso/telegram",
        TELEGRAM_WEBHOOK_SECRET="bi-mat_0123456789",
        TELEGRAM_LISTEN_PORT=port,
    )
    settings = province.services.settings
    options = webhook_options(settings, webhook_secret(settings))
    assert (options["listen"], options["port"], options["url_path"]) == (
        "127.0.0.1",
        port,
        "hocvuso/telegram",
    )
    url = f"http://127.0.0.1:{port}/hocvuso/telegram"
    async with running(fake, province.engine, webhook=options) as bot:
        registered = fake.calls_of("setWebhook")[-1].params
        assert registered["url"] == "https://bot.syt.example.vn/hocvuso/telegram"
        assert registered["secret_token"] == "bi-mat_0123456789"
        assert set(registered["allowed_updates"]) == {"message", "callback_query"}
        assert not fake.calls_of("getUpdates")

        async with httpx.AsyncClient(timeout=30) as client:
            forged = fake.new_update(fake.text(LAN, "/tiendo"))
            wrong = await client.post(
                url, json=forged, headers={"X-Telegram-Bot-Api-Secret-Token": "doan-mo"}
            )
            missing = await client.post(url, json=forged)
            assert (wrong.status_code, missing.status_code) == (403, 403)

            update = fake.new_update(fake.text(LAN, "/tiendo"))
            handled = bot.expect(update["update_id"])
            good = await client.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "bi-mat_0123456789"}
            )
            assert good.status_code == 200
            await asyncio.wait_for(handled, 60)
        progress = only(fake.sent_since(0, LAN))
        assert "Tiến độ của Nguyễn Thị Lan" in progress.text
        assert len(fake.sent_since(0)) == 1  # the refused requests were never handled


async def test_replayed_updates_are_processed_once_in_polling_and_webhook_modes(
    make_tg_province: Callable[..., Province],
    fake: FakeTelegram,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 12.15: a replayed update_id is handled once, whichever mode or worker
    receives it (the ids are kept in the database)."""
    port = free_port()
    province = make_tg_province(
        TELEGRAM_WEBHOOK_URL="https://bot.syt.example.vn/tg",
        TELEGRAM_WEBHOOK_SECRET="bi-mat_0123456789",
        TELEGRAM_LISTEN_PORT=port,
    )
    # Polling: the greeting is sent once.
    polled = fake.new_update(fake.text(STRANGER, "/start"))
    async with running(fake, province.engine) as bot:
        fake.push(polled)
        await asyncio.wait_for(bot.expect(polled["update_id"]), 60)
    greetings = len(fake.sent_since(0, STRANGER))
    assert greetings >= 1

    settings = province.services.settings
    options = webhook_options(settings, webhook_secret(settings))
    headers = {"X-Telegram-Bot-Api-Secret-Token": "bi-mat_0123456789"}
    url = f"http://127.0.0.1:{port}/tg"
    async with (
        running(fake, province.engine, webhook=options) as bot,
        httpx.AsyncClient(timeout=30) as client,
    ):
        with caplog.at_level(logging.INFO, logger="bot.channels.telegram.adapter"):

            async def ignored(count: int) -> None:
                # A dropped update never reaches later handler groups: wait for its log.
                for _ in range(6000):
                    found = [r for r in caplog.records if "duplicate update" in r.getMessage()]
                    if len(found) >= count:
                        return
                    await asyncio.sleep(0.01)
                raise AssertionError("the duplicate was not recognised")

            # The update already handled by polling, posted to the webhook: ignored.
            assert (await client.post(url, json=polled, headers=headers)).status_code == 200
            await ignored(1)
            # A new update posted twice (a redelivery): answered once.
            fresh = fake.new_update(fake.text(LAN, "/tiendo"))
            handled = bot.expect(fresh["update_id"])
            assert (await client.post(url, json=fresh, headers=headers)).status_code == 200
            await asyncio.wait_for(handled, 60)
            assert (await client.post(url, json=fresh, headers=headers)).status_code == 200
            await ignored(2)
    assert len(fake.sent_since(0, STRANGER)) == greetings
    assert len(fake.sent_since(0, LAN)) == 1


def test_webhook_settings_are_checked(tmp_path: Path) -> None:
    def settings(**values: Any) -> Settings:
        return Settings(_env_file=None, HOCVUSO_DATA_DIR=tmp_path, **values)  # type: ignore[call-arg]

    with pytest.raises(UserError) as plain_http:
        webhook_options(settings(TELEGRAM_WEBHOOK_URL="http://bot.example.vn/tg"), "s")
    assert "HTTPS" in plain_http.value.message
    with pytest.raises(UserError) as bad_secret:
        webhook_secret(settings(TELEGRAM_WEBHOOK_SECRET="có dấu cách"))
    assert "TELEGRAM_WEBHOOK_SECRET" in bad_secret.value.message
    random_secret = webhook_secret(settings())
    assert len(random_secret) >= 32 and random_secret != webhook_secret(settings())


# -- groups ------------------------------------------------------------------------------------
async def test_group_answers_only_when_addressed(tg_province: Province, fake: FakeTelegram) -> None:
    question = "Hạn chót hoàn thành khóa học MOOC là ngày nào?"
    in_group: dict[str, Any] = {"chat_id": GROUP, "chat_type": "supergroup"}
    async with running(fake, tg_province.engine) as bot:
        assert await bot.say(LAN, question, **in_group) == []  # chatter among colleagues
        assert await bot.say(LAN, "/trogiup@other_bot", **in_group) == []
        assert await bot.send(fake.contact(LAN, "+84912000001", owner_id=LAN, **in_group)) == []

        # @mentioned: answered in the group, quoting the question, without the mention.
        update = fake.text(LAN, f"@{BOT_USERNAME} {question}", **in_group)
        answer = only(await bot.send(update))
        assert answer.chat_id == GROUP and answer.reply_to == update["message"]["message_id"]
        assert "Nguồn:" in answer.text
        with tg_province.services.db.session() as session:
            assert session.scalars(select(AnswerLog.question)).one() == question

        # A reply to the bot's message is addressed to it as well.
        follow_up = fake.reply_to_bot(HUNG, "Cần xác thực VNeID không?", answer, **in_group)
        reply = only(await bot.send(follow_up))
        assert reply.chat_id == GROUP and reply.reply_to == follow_up["message"]["message_id"]

        # Commands for this bot work; the contact button is not offered in groups.
        start = fake.text(STRANGER, f"/start@{BOT_USERNAME}", **in_group)
        hello = await bot.send(start)
        assert "Xin chào" in hello[0].text and hello[0].reply_to == start["message"]["message_id"]
        assert not any(s.reply_markup and "keyboard" in s.reply_markup for s in hello)
        assert all(s.chat_id == GROUP for s in hello)


# -- robustness --------------------------------------------------------------------------------
async def test_flood_limit_one_polite_message_then_silence(
    make_tg_province: Callable[..., Province], fake: FakeTelegram
) -> None:
    province = make_tg_province(FLOOD_LIMIT_PER_MINUTE=3)
    async with running(fake, province.engine) as bot:
        for _ in range(3):
            assert "Các lệnh:" in await bot.text(LAN, "/trogiup")
        assert only(await bot.say(LAN, "/trogiup")).text == FLOOD_MESSAGE
        assert await bot.say(LAN, "/trogiup") == []
        assert await bot.say(LAN, "/tiendo") == []
        assert "Các lệnh:" in await bot.text(HUNG, "/trogiup")  # others are not affected


async def test_unexpected_errors_get_an_apology_and_long_answers_are_split(
    tg_province: Province, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    paragraph = "Trích dẫn <mục 1.2> & hướng dẫn chi tiết cho điều dưỡng. " * 30
    long_text = "\n\n".join(f"Phần {i}. {paragraph}" for i in range(1, 8))
    assert len(long_text) > 2 * TEXT_LIMIT

    def long_answer(ctx: Context, _args: str) -> list[Reply]:
        return [Reply(long_text, buttons=[[Button("👍 Hữu ích", "fb:0:1")]])]

    tg_province.engine.registry.add_command(
        Command("dai", "Câu trả lời dài", long_answer, menu=False)
    )

    async with running(fake, tg_province.engine) as bot:
        # Telegram refuses a send: the handler fails, the error is logged, the user
        # gets the apology instead of silence.
        fake.fail_next("sendMessage", "Bad Request: can't parse entities")
        with caplog.at_level(logging.ERROR, logger="bot.channels.telegram.adapter"):
            sent = await bot.say(LAN, "/trogiup")
        assert only(sent).text == APOLOGY
        assert any("error while handling update" in r.message for r in caplog.records)
        assert "Các lệnh:" in await bot.text(LAN, "/trogiup")  # and it works again

        # A feature failing inside the engine ends in the same apology.
        def broken(_question: str) -> None:
            raise RuntimeError("vector store unavailable")

        original = tg_province.services.kb.ask
        tg_province.services.kb.ask = broken  # type: ignore[assignment,method-assign]
        try:
            assert only(await bot.say(LAN, "Hạn chót học MOOC là ngày nào?")).text == APOLOGY
        finally:
            tg_province.services.kb.ask = original  # type: ignore[method-assign]

        # Longer than 4096: several messages, cut between parts, escaped, buttons last.
        pieces = await bot.say(LAN, "/dai")
        assert len(pieces) >= 3 and all(utf16_len(p.text) <= TEXT_LIMIT for p in pieces)
        assert all(p.text.startswith("Phần ") for p in pieces)
        assert "<mục" not in joined(pieces) and "&lt;mục 1.2&gt; &amp;" in pieces[0].text
        assert [bool(p.buttons) for p in pieces] == [False] * (len(pieces) - 1) + [True]
        restored = joined(pieces).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        assert restored.split() == long_text.split()


# -- the process -------------------------------------------------------------------------------
SETTING_NAMES = {
    str(field.alias) for field in Settings.model_fields.values() if field.alias is not None
}


def test_serve_telegram_answers_then_stops_cleanly_on_sigterm(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    (knowledge / "truc-dem.txt").write_text(NIGHT_SHIFT_TXT, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=fake.root_url,
        HOCVUSO_DATA_DIR=str(tmp_path / "data"),
        HOCVUSO_KNOWLEDGE_DIR=str(knowledge),
        HOCVUSO_LOG_LEVEL="INFO",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
    )
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "telegram"],
            cwd=tmp_path,  # no .env from the repository
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            fake.push(fake.text(LAN, "Mỗi tháng điều dưỡng trực tối đa bao nhiêu đêm?"))
            fake.wait_for(lambda: bool(fake.sent_since(0, LAN)) or proc.poll() is not None, 120)
            assert proc.poll() is None, log_path.read_text(encoding="utf-8")
            assert "6 đêm" in only(fake.sent_since(0, LAN)).text

            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    log = log_path.read_text(encoding="utf-8")
    assert code == 0, log
    assert "Telegram long polling mode" in log and "Telegram bot stopped" in log
    assert "Traceback" not in log
    assert TOKEN not in log  # httpx request logs would leak the token
