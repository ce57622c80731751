"""Zalo Bot Platform and Official Account adapters against a fake Zalo on 127.0.0.1.

Every test runs the adapters' real HTTP code: the bot's webhook server on an
ephemeral port, the httpx clients talking to :mod:`tests.fake_zalo`. Waits
use conditions with a safety timeout, never sleeps or timing assertions.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.channels.common import FLOOD_MESSAGE
from bot.channels.zalo import oa_runner
from bot.channels.zalo.bot_client import ZaloBotClient, parse_update, unwrap_events
from bot.channels.zalo.bot_runner import ZaloBotAdapter
from bot.channels.zalo.oa_client import (
    RECOVERY_HINT,
    OATokenManager,
    TokenPair,
    TokenState,
    TokenStore,
    ZaloOAClient,
)
from bot.channels.zalo.oa_runner import ZaloOAAdapter
from bot.channels.zalo.render import (
    PHOTO_FALLBACK,
    OutMedia,
    OutText,
    render_replies,
    zalo_length,
)
from bot.channels.zalo.security import (
    OASignatureVerifier,
    check_bot_secret,
    oa_signature,
)
from bot.core.messages import Button, OutFile, Reply
from bot.core.services import Services
from tests.conftest import Province
from tests.fake_zalo import (
    APP_ID,
    APP_SECRET,
    BOT_TOKEN,
    OA_SECRET_KEY,
    Call,
    FakeZalo,
    zalo_signature,
)

SECRET = "webhook-secret-0123456789"
PUBLIC = "https://bot.example.vn/zalo/bot"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
QUESTION = "Mô hình chính quyền địa phương mấy cấp được tuyên truyền?"


# -- fixtures ------------------------------------------------------------------------------
@pytest.fixture
async def fake() -> AsyncIterator[FakeZalo]:
    server = await FakeZalo().start()
    yield server
    await server.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10.0) as client:
        yield client


BotFactory = Callable[..., Any]


@pytest.fixture
async def bot_adapter(fake: FakeZalo, http: httpx.AsyncClient) -> AsyncIterator[Callable[..., Any]]:
    """Factory: a started Bot Platform adapter (webhook mode unless ``webhook=False``)."""
    made: list[ZaloBotAdapter] = []

    async def factory(services: Services, engine: Any, *, webhook: bool = True) -> ZaloBotAdapter:
        client = ZaloBotClient(BOT_TOKEN, fake.url, http=http)
        adapter = ZaloBotAdapter(
            services,
            engine,
            client,
            http=http,
            webhook_url=PUBLIC if webhook else None,
            webhook_secret=SECRET,
            listen_host="127.0.0.1",
            listen_port=0,
            poll_timeout=1,
            reminder_interval_s=0,
        )
        await adapter.start()
        made.append(adapter)
        return adapter

    yield factory
    for adapter in made:
        await adapter.stop()


def wrapped(user: str, text: str = "", *, mid: str | None = None, **message: Any) -> dict:
    msg: dict[str, Any] = {
        "from": {"id": user, "display_name": "Lan", "is_bot": False},
        "chat": {"id": user, "chat_type": "PRIVATE"},
        "message_id": mid or f"mid-{time.monotonic_ns()}",
        "date": 1750316131602,
    }
    if text:
        msg["text"] = text
    msg.update(message)
    event = "message.image.received" if "photo" in message else "message.text.received"
    return {"ok": True, "result": {"event_name": event, "message": msg}}


class BotUser:
    """One Zalo user talking to the bot's webhook."""

    def __init__(self, adapter: ZaloBotAdapter, fake: FakeZalo, http: httpx.AsyncClient, uid: str):
        self.adapter, self.fake, self.http, self.uid = adapter, fake, http, uid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.adapter.port}/zalo/bot"

    async def post(self, body: Any, secret: str | None = SECRET) -> httpx.Response:
        headers = {"X-Bot-Api-Secret-Token": secret} if secret is not None else {}
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return await self.http.post(self.url, content=content, headers=headers)

    async def say(self, text: str = "", **message: Any) -> list[str]:
        before = len(self.fake.texts("bot", self.uid))
        response = await self.post(wrapped(self.uid, text, **message))
        assert response.status_code == 200, response.text
        await self.adapter.drain()
        return self.fake.texts("bot", self.uid)[before:]

    async def text(self, text: str = "", **message: Any) -> str:
        return "\n".join(await self.say(text, **message))


# -- security and rendering (no network) -----------------------------------------------------
def test_oa_signature_is_plain_sha256_of_app_body_timestamp_secret() -> None:
    body = b'{"event_name":"user_send_text","timestamp":"1700000000000"}'
    expected = zalo_signature(APP_ID, body, "1700000000000", OA_SECRET_KEY)
    assert "mac=" + oa_signature(APP_ID, body, "1700000000000", OA_SECRET_KEY) == expected


def test_oa_verifier_valid_missing_wrong_stale_future_duplicate() -> None:
    now = 1_700_000_000.0
    verifier = OASignatureVerifier(APP_ID, OA_SECRET_KEY, clock=lambda: now)

    def event(ts_ms: int) -> tuple[bytes, dict[str, Any]]:
        data = {"event_name": "user_send_text", "timestamp": str(ts_ms)}
        return json.dumps(data).encode(), data

    body, data = event(int(now * 1000) - 2000)
    good = zalo_signature(APP_ID, body, data["timestamp"], OA_SECRET_KEY)
    verdict = verifier.verify(body, good)
    assert verdict.status == "ok" and verdict.timestamp == data["timestamp"]
    assert verifier.verify(body, None).http_status == 401
    assert verifier.verify(body, "mac=" + "0" * 64).status == "invalid"
    assert verifier.verify(body + b" ", good).status == "invalid"  # body changed
    other = zalo_signature(APP_ID, body, data["timestamp"], "another-secret")
    assert verifier.verify(body, other).http_status == 403
    old_body, old = event(int(now * 1000) - 3600_000)  # a captured event replayed an hour later
    replay = zalo_signature(APP_ID, old_body, old["timestamp"], OA_SECRET_KEY)
    assert verifier.verify(old_body, replay).status == "stale"
    future_body, future = event(int(now * 1000) + 3600_000)
    ahead = zalo_signature(APP_ID, future_body, future["timestamp"], OA_SECRET_KEY)
    assert verifier.verify(future_body, ahead).status == "stale"
    assert verifier.verify(b"{}", good).status == "invalid"  # no timestamp


def test_bot_secret() -> None:
    assert check_bot_secret(SECRET, SECRET)
    assert not check_bot_secret(SECRET, SECRET + "x")
    assert not check_bot_secret(SECRET, None)
    assert not check_bot_secret("", "")


def assert_link_prompt_for_plain_text(text: str) -> None:
    """Issue 13.9: on Zalo the linking prompt gives the /lienket syntax and never
    mentions a phone-sharing button (neither offering one nor saying it is missing)."""
    assert "/lienket <mã nhân viên> <mã liên kết>" in text, text
    assert "bấm nút" not in text and "chưa có nút" not in text, text


def test_events_wrapped_unwrapped_or_listed() -> None:
    inner = wrapped("u1", "xin chào")["result"]
    for body in (wrapped("u1", "xin chào"), inner, [inner], {"ok": True, "result": [inner]}):
        events = unwrap_events(body)
        assert len(events) == 1
        update = parse_update(events[0])
        assert update is not None and update.user_id == "u1" and update.text == "xin chào"
    plain = parse_update(inner)
    assert plain is not None and plain.date_ms == 1750316131602  # dates are in ms
    as_text = dict(inner, message=dict(inner["message"], date="1750316131602", message_id=42))
    update = parse_update(as_text)
    assert update is not None and update.date_ms == 1750316131602 and update.message_id == "42"
    numeric = dict(
        inner, message=dict(inner["message"], **{"from": {"id": 123}, "chat": {"id": 123}})
    )
    ids = parse_update(numeric)
    assert ids is not None and ids.user_id == "123" and ids.chat_id == "123"  # ids as strings
    assert unwrap_events({"foo": 1}) == [] and unwrap_events("x") == []
    assert parse_update({"event_name": "message.text.received", "message": {"text": "a"}}) is None


def test_render_numbers_choices_across_replies_and_splits_long_text() -> None:
    replies = [
        Reply("Có 2 khai báo", buttons=[[Button("✅ Duyệt #1", "vr:ok:1")]]),
        Reply("Khai báo #2", buttons=[[Button("✅ Duyệt #2", "a"), Button("❌ Từ chối #2", "b")]]),
        Reply("Liên kết", request_contact=True),
        Reply(photo=OutFile("c.png", PNG, "image/png")),
    ]
    out = render_replies(replies)
    texts = [o.text for o in out if isinstance(o, OutText)]
    assert "Trả lời bằng số:\n1. ✅ Duyệt #1" in texts[0]
    assert "2. ✅ Duyệt #2\n3. ❌ Từ chối #2" in texts[1]
    assert texts[2] == "Liên kết"  # no button to mention: prompts are written per channel
    assert isinstance(out[-1], OutMedia) and out[-1].kind == "photo"
    long = render_replies([Reply(("Đoạn văn bản dài. " * 60 + "\n\n") * 6)])
    assert len(long) > 1 and all(len(o.text) <= 2000 for o in long if isinstance(o, OutText))
    # Emoji count twice in UTF-16: pieces fit whichever way Zalo counts.
    emoji = render_replies([Reply("📊 Tỷ lệ hoàn thành ✅ " * 150 + "😀" * 2500)])
    pieces = [o.text for o in emoji if isinstance(o, OutText)]
    assert all(zalo_length(t) <= 2000 for t in pieces) and len(pieces) >= 4
    assert "".join(pieces).count("😀") == 2500


# -- Bot Platform: webhook --------------------------------------------------------------------
async def test_bot_webhook_secret_checks_and_malformed_bodies(
    services: Services, engine: Any, fake: FakeZalo, http: httpx.AsyncClient, bot_adapter: Any
) -> None:
    adapter = await bot_adapter(services, engine)
    assert fake.sent("bot", "setWebhook")[0].payload == {"url": PUBLIC, "secret_token": SECRET}
    user = BotUser(adapter, fake, http, "u1")
    body = wrapped("u1", "/trogiup")
    assert (await user.post(body, secret=None)).status_code == 401
    assert (await user.post(body, secret="wrong-secret")).status_code == 403
    assert (await user.post(body, secret=SECRET[:-1])).status_code == 403
    malformed: list[Any] = [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b'{"ok": true, "result": ',
        [1, 2, 3],
        "a string",
        {"unrelated": True},
        {"ok": True, "result": {"event_name": "message.text.received", "message": {"text": "x"}}},
        {"event_name": "message.text.received", "message": {"from": {}, "chat": {}}},
        {"ok": True, "result": {"event_name": 5, "message": "nope"}},
    ]
    for bad in malformed:
        response = await user.post(bad)
        assert 400 <= response.status_code < 500, (bad, response.status_code)
    # Over the 1 MB limit tornado answers 400 and closes; the client may see either.
    try:
        big = await user.post(b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}')
        assert 400 <= big.status_code < 500
    except httpx.TransportError:
        pass
    get = await http.get(user.url)
    assert get.status_code == 405
    await adapter.drain()
    assert fake.texts("bot") == []  # nothing refused reached the engine
    # The server is still up and a good request works after all that.
    assert "/huy" in await user.text("/trogiup")


async def test_bot_question_gets_quoted_answer_with_citations_and_numbered_feedback(
    services: Services, engine: Any, fake: FakeZalo, http: httpx.AsyncClient, bot_adapter: Any
) -> None:
    adapter = await bot_adapter(services, engine)
    user = BotUser(adapter, fake, http, "u7")
    sent = await user.say(QUESTION)
    answer = "\n".join(sent)
    assert "Nguồn:" in answer and "“" in answer
    assert "Trả lời bằng số:\n1. 👍 Hữu ích\n2. 👎 Chưa đúng" in answer
    assert all(len(t) <= 2000 for t in sent)
    assert fake.sent("bot", "sendChatAction")[0].payload == {"chat_id": "u7", "action": "typing"}
    # The unwrapped event shape works too, and "1" picks the first choice.
    before = len(fake.texts("bot"))
    inner = wrapped("u7", "1")["result"]
    assert (await user.post(inner)).status_code == 200
    await adapter.drain()
    assert "Cảm ơn bạn đã phản hồi" in fake.texts("bot")[before]
    # A redelivered message (same message_id) is processed once.
    body = wrapped("u7", "/trogiup", mid="same-id")
    await user.post(body), await user.post(body)
    await adapter.drain()
    assert sum("/huy —" in t for t in fake.texts("bot")) == 1
    # ... also when it reaches a second worker (another process, the same database).
    second = await bot_adapter(services, engine)
    assert (await BotUser(second, fake, http, "u7").post(body)).status_code == 200
    await second.drain()
    assert sum("/huy —" in t for t in fake.texts("bot")) == 1


async def test_bot_polling_mode_receives_wrapped_and_listed_updates(
    services: Services, engine: Any, fake: FakeZalo, bot_adapter: Any
) -> None:
    adapter = await bot_adapter(services, engine, webhook=False)
    assert fake.sent("bot", "deleteWebhook") and not fake.sent("bot", "setWebhook")
    fake.updates.append(wrapped("p1", "/trogiup")["result"])
    fake.updates.append([wrapped("p2", "/huy")["result"], wrapped("p3", "/batdau")["result"]])
    await fake.wait_for(lambda: {"p1", "p2", "p3"} <= set(_chats(fake)))
    await adapter.drain()
    assert "/huy" in "\n".join(fake.texts("bot", "p1"))
    assert_link_prompt_for_plain_text("\n".join(fake.texts("bot", "p3")))


def _chats(fake: FakeZalo) -> list[str]:
    return [c.payload["chat_id"] for c in fake.sent("bot", "sendMessage")]


# -- Bot Platform: the staff and manager conversations ------------------------------------------
def _choice(text: str, number: int) -> str:
    match = re.search(rf"^{number}\. (.+)$", text, re.M)
    assert match, text
    return match.group(1)


async def test_bot_full_staff_conversation_link_form_and_certificate_photo(
    province: Province, fake: FakeZalo, http: httpx.AsyncClient, bot_adapter: Any
) -> None:
    adapter = await bot_adapter(province.services, province.engine)
    province.link("QL001", "zalo_bot", "m1")
    manager = BotUser(adapter, fake, http, "m1")
    issued = await manager.text("/taomalienket NV001")
    match = re.search(r"/lienket NV001 (\S+)", issued)
    assert match, issued

    lan = BotUser(adapter, fake, http, "z-lan")
    assert_link_prompt_for_plain_text(await lan.text("/batdau"))  # no contact button on Zalo
    assert "Đã liên kết tài khoản với nhân viên Nguyễn Thị Lan" in await lan.text(
        f"/lienket NV001 {match.group(1)}"
    )
    form = await lan.text("/ghinhan")
    assert "Bước 1/5" in form and "Trả lời bằng số:" in form
    course = _choice(form, 1)
    step2 = await lan.text("1")
    assert f"Khóa học: {course}." in step2 and "Bước 2/5" in step2
    assert "1. Hôm nay" in step2 and "2. Hôm qua" in step2
    step3 = await lan.text("05/03/2026")
    assert "Bước 3/5" in step3 and "1. Bỏ qua" in step3
    step4 = await lan.text("CDS-777")
    assert "Bước 4/5" in step4 and "1. Có" in step4 and "2. Chưa" in step4
    assert "Bước 5/5" in await lan.text("1")
    # A "photo" that is not an image is refused by the adapter; the form waits.
    fake_photo = fake.add_file("not-an-image.jpg", b"<html>hello</html>", "image/jpeg")
    assert "không được nhận" in await lan.text(photo=fake_photo)
    photo = fake.add_file("chungnhan.png", PNG, "image/png")
    saved = await lan.text(photo=photo, caption="giấy chứng nhận")
    assert "Đã ghi nhận" in saved and "Minh chứng: đã gửi" in saved
    assert "05/03/2026" in saved and "CDS-777" in saved
    tracking = province.tracking
    row = tracking.my_completions(tracking.staff_by_code("NV001").id)[0]
    assert row.course.name == course and row.vneid_confirmed
    assert (province.services.settings.data_dir / row.evidence_path).read_bytes() == PNG
    incoming = province.services.settings.uploads_dir / "incoming"
    assert not any(incoming.iterdir())  # downloads are removed once handled
    assert "Tiến độ của Nguyễn Thị Lan" in await lan.text("/tiendo")


async def test_bot_manager_statistics_chart_served_from_the_webhook_server(
    province: Province, fake: FakeZalo, http: httpx.AsyncClient, bot_adapter: Any
) -> None:
    adapter = await bot_adapter(province.services, province.engine)
    province.link("QL001", "zalo_bot", "m1")
    manager = BotUser(adapter, fake, http, "m1")
    stats = await manager.text("/thongke")
    assert "📊 Bệnh viện Đa khoa tỉnh" in stats and "Đã hoàn thành:" in stats
    photo_url = fake.sent("bot", "sendPhoto")[-1].payload["photo"]
    assert photo_url.startswith(PUBLIC + "/files/") and photo_url.endswith(".png")
    local = photo_url.replace("https://bot.example.vn", f"http://127.0.0.1:{adapter.port}")
    chart = await http.get(local)
    assert chart.status_code == 200 and chart.headers["content-type"] == "image/png"
    assert chart.content.startswith(b"\x89PNG")
    guessed = re.sub(r"/files/[^/]+$", "/files/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.png", local)
    assert (await http.get(guessed)).status_code == 404
    report = await manager.text("/baocao")
    link = re.search(r"https://\S+\.xlsx", report)
    assert link and "Tải tệp" in report
    xlsx = await http.get(link.group(0).replace("https://bot.example.vn", local.split("/zalo")[0]))
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    # Verification by number: "1" approves the first pending report.
    pending = await manager.text("/duyet")
    assert "1. ✅ Duyệt #" in pending and "2. ❌ Từ chối #" in pending
    assert "Đã duyệt khai báo" in await manager.text("1")


async def test_bot_polling_mode_degrades_chart_and_report_to_text(
    province: Province, fake: FakeZalo, bot_adapter: Any
) -> None:
    adapter = await bot_adapter(province.services, province.engine, webhook=False)
    province.link("QL001", "zalo_bot", "m1")
    fake.updates.append(wrapped("m1", "/thongke")["result"])
    await fake.wait_for(lambda: any(t == PHOTO_FALLBACK for t in fake.texts("bot", "m1")))
    fake.updates.append(wrapped("m1", "/baocao")["result"])
    await fake.wait_for(lambda: any("chưa gửi được" in t and ".xlsx" in t for t in fake.texts()))
    await adapter.drain()
    assert not fake.sent("bot", "sendPhoto")


async def test_bot_reminders_go_to_linked_zalo_users(
    province: Province, fake: FakeZalo, bot_adapter: Any
) -> None:
    adapter = await bot_adapter(province.services, province.engine)
    province.link("NV001", "zalo_bot", "z-lan")
    province.link("QL001", "zalo_bot", "m1")
    noon = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)  # 12:00 in Vietnam
    assert await adapter.send_due(noon) >= 2
    assert any(t.startswith("⏰ Chào Nguyễn Thị Lan") for t in fake.texts("bot", "z-lan"))
    assert any("Tổng hợp tuần" in t for t in fake.texts("bot", "m1"))
    assert await adapter.send_due(noon) == 0  # once per period
    night = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # 23:00: quiet hours
    assert await adapter.send_due(night) == 0


async def test_bot_flood_guard_warns_once_then_drops(
    make_services: Callable[..., Services],
    make_engine: Callable[[Services], Any],
    fake: FakeZalo,
    http: httpx.AsyncClient,
    bot_adapter: Any,
) -> None:
    services = make_services(FLOOD_LIMIT_PER_MINUTE=2)
    adapter = await bot_adapter(services, make_engine(services))
    user = BotUser(adapter, fake, http, "spam")
    for _ in range(5):
        await user.post(wrapped("spam", "/huy"))
    await adapter.drain()
    texts = fake.texts("bot", "spam")
    assert texts.count(FLOOD_MESSAGE) == 1 and len(texts) == 3


# -- Official Account: helpers ---------------------------------------------------------------
OA_ID = "3662729599332560487"
OA_PUBLIC = "https://bot.example.vn/zalo/oa"
_msg_ids = itertools.count(1)


def now_ms() -> int:
    return int(time.time() * 1000)


def oa_event(
    user: str,
    name: str = "user_send_text",
    *,
    text: str | None = None,
    attachments: list[dict[str, Any]] | None = None,
    ts_ms: int | None = None,
) -> dict[str, Any]:
    """An OA webhook event shaped like Zalo's (ids and the ms timestamp as strings)."""
    message: dict[str, Any] = {"msg_id": f"msg-{next(_msg_ids)}"}
    if text is not None:
        message["text"] = text
    if attachments is not None:
        message["attachments"] = attachments
    return {
        "app_id": APP_ID,
        "user_id_by_app": f"app-{user}",
        "event_name": name,
        "sender": {"id": user},
        "recipient": {"id": OA_ID},
        "message": message,
        "timestamp": str(now_ms() if ts_ms is None else ts_ms),
    }


def sign(body: bytes, timestamp: str, secret: str = OA_SECRET_KEY) -> dict[str, str]:
    return {
        "X-ZEvent-Signature": zalo_signature(APP_ID, body, timestamp, secret),
        "Content-Type": "application/json",
    }


def signed(event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event, ensure_ascii=False).encode("utf-8")
    return body, sign(body, str(event.get("timestamp", "")))


def save_pair(fake: FakeZalo, path: Path, expires_in: float, now: float | None = None) -> TokenPair:
    """Issue a pair on the fake and store it as the bot would have."""
    access, refresh = fake.issue_pair()
    now = time.time() if now is None else now
    pair = TokenPair(access, refresh, expires_at=now + expires_in, obtained_at=now)
    TokenStore(path).save(TokenState(current=pair))
    return pair


def token_manager(
    fake: FakeZalo,
    http: httpx.AsyncClient,
    path: Path,
    *,
    store: TokenStore | None = None,
    clock: Callable[[], float] = time.time,
    seed: tuple[str, str] | None = None,
) -> OATokenManager:
    return OATokenManager(
        store or TokenStore(path),
        app_id=APP_ID,
        app_secret=APP_SECRET,
        oauth_base_url=fake.url,
        http=http,
        seed_access_token=seed[0] if seed else None,
        seed_refresh_token=seed[1] if seed else None,
        clock=clock,
    )


def stored(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@pytest.fixture
async def oa_adapter(fake: FakeZalo, http: httpx.AsyncClient) -> AsyncIterator[Callable[..., Any]]:
    """Factory: a started OA adapter with a fresh token pair (valid for 20 h)."""
    made: list[ZaloOAAdapter] = []

    async def factory(
        services: Services, engine: Any, *, public_url: str | None = None
    ) -> ZaloOAAdapter:
        path = services.settings.data_dir / oa_runner.TOKEN_FILE
        save_pair(fake, path, 20 * 3600)
        client = ZaloOAClient(token_manager(fake, http, path), fake.url, http=http)
        adapter = ZaloOAAdapter(
            services,
            engine,
            client,
            OASignatureVerifier(APP_ID, OA_SECRET_KEY),
            http=http,
            app_id=APP_ID,
            listen_host="127.0.0.1",
            listen_port=0,
            public_base_url=public_url,
            reminder_interval_s=0,
            token_check_interval_s=0,
        )
        await adapter.start()
        made.append(adapter)
        return adapter

    yield factory
    for adapter in made:
        await adapter.stop()


class OAUser:
    """One Zalo user writing to the Official Account (signed webhook events)."""

    def __init__(self, adapter: ZaloOAAdapter, fake: FakeZalo, http: httpx.AsyncClient, uid: str):
        self.adapter, self.fake, self.http, self.uid = adapter, fake, http, uid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.adapter.port}/zalo/oa"

    async def post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        try:  # Zalo knows the messages users send: replies may address them
            msg_id = json.loads(body)["message"]["msg_id"]
            self.fake.oa_messages[msg_id] = self.uid
        except (ValueError, TypeError, KeyError, RecursionError):
            pass
        return await self.http.post(self.url, content=body, headers=headers)

    async def send(self, event: dict[str, Any]) -> list[str]:
        before = len(self.fake.texts("oa", self.uid))
        response = await self.post(*signed(event))
        assert response.status_code == 200, response.text
        await self.adapter.drain()
        return self.fake.texts("oa", self.uid)[before:]

    async def text(self, text: str) -> str:
        return "\n".join(await self.send(oa_event(self.uid, text=text)))

    async def image(self, url: str) -> str:
        payload = {"thumbnail": url, "url": url}
        event = oa_event(
            self.uid, "user_send_image", attachments=[{"type": "image", "payload": payload}]
        )
        return "\n".join(await self.send(event))


# -- Official Account: webhook security ------------------------------------------------------------
async def test_oa_webhook_signature_valid_missing_wrong_stale_replayed(
    services: Services, engine: Any, fake: FakeZalo, http: httpx.AsyncClient, oa_adapter: Any
) -> None:
    adapter = await oa_adapter(services, engine)
    user = OAUser(adapter, fake, http, "u-sig")
    event = oa_event("u-sig", text="/trogiup")
    body, headers = signed(event)
    # Valid: 200 and handled.
    response = await user.post(body, headers)
    assert response.status_code == 200 and response.json() == {"ok": True}
    await adapter.drain()
    assert "/huy" in "\n".join(fake.texts("oa", "u-sig"))
    answered = len(fake.sent("oa", "message"))

    refused: list[tuple[bytes, dict[str, str], int]] = []
    fresh = oa_event("u-sig", text="/trogiup")
    fresh_body, fresh_headers = signed(fresh)
    refused.append((fresh_body, {"Content-Type": "application/json"}, 401))  # no header
    refused.append((fresh_body, {"X-ZEvent-Signature": ""}, 401))  # empty header
    refused.append((fresh_body, {"X-ZEvent-Signature": "mac=" + "0" * 64}, 403))  # wrong mac
    refused.append((fresh_body, {"X-ZEvent-Signature": "mac=zz"}, 403))  # not even hex
    refused.append((fresh_body, sign(fresh_body, fresh["timestamp"], "other-oa-secret"), 403))
    refused.append((fresh_body + b" ", fresh_headers, 403))  # body changed after signing
    # A captured event replayed a day later: correctly signed, timestamp outside the window.
    old = oa_event("u-sig", text="/trogiup", ts_ms=now_ms() - 24 * 3600 * 1000)
    refused.append((*signed(old), 403))
    ahead = oa_event("u-sig", text="/trogiup", ts_ms=now_ms() + 24 * 3600 * 1000)
    refused.append((*signed(ahead), 403))
    # Correctly signed by our secret but for another app.
    other_app = dict(fresh, app_id="999")
    refused.append((*signed(other_app), 403))
    for bad_body, bad_headers, status in refused:
        response = await user.post(bad_body, bad_headers)
        assert response.status_code == status, (bad_headers, response.text)
        assert response.json()["ok"] is False
    # The exact same delivery again (a replay within the window, or Zalo resending):
    # acknowledged with 200 so Zalo stops resending, and not processed a second time.
    again = await user.post(body, headers)
    assert again.status_code == 200 and again.json() == {"ok": True, "duplicate": True}
    await adapter.drain()
    assert len(fake.sent("oa", "message")) == answered  # nothing sent for any of them


async def test_oa_webhook_malformed_bodies_get_4xx_and_the_server_keeps_working(
    services: Services, engine: Any, fake: FakeZalo, http: httpx.AsyncClient, oa_adapter: Any
) -> None:
    adapter = await oa_adapter(services, engine)
    user = OAUser(adapter, fake, http, "u-bad")
    some_mac = {"X-ZEvent-Signature": "mac=" + "a" * 64}
    for raw in (b"", b"not json", b"\xff\xfe\x00", b'{"event_name": ', b"[1, 2]", b'"text"', b"42"):
        response = await user.post(raw, some_mac)  # unsigned: refused before any parsing
        assert response.status_code == 403, (raw, response.text)
        ts = str(now_ms())  # signed, timestamp in the bytes, but not a JSON event
        signed_raw = raw + b' "timestamp":"' + ts.encode() + b'"'
        response = await user.post(signed_raw, sign(signed_raw, ts))
        assert response.status_code == 400, (raw, response.text)

    def variant(**changes: Any) -> dict[str, Any]:
        event = oa_event("u-bad", text="xin chào")
        for key, value in changes.items():
            if value is None:
                event.pop(key)
            else:
                event[key] = value
        return event

    cases: list[tuple[dict[str, Any], int]] = [
        (variant(sender=None), 400),
        (variant(event_name=None), 400),
        (variant(message=None), 400),
        (variant(sender=["u-bad"]), 400),
        (variant(sender={"id": {"nested": 1}}), 400),
        (variant(sender={"id": True}), 400),
        (variant(event_name=7), 400),
        (variant(message="xin chào"), 400),
        (variant(message={"text": 5}), 400),
        (variant(event_name="user_send_image", message={"attachments": "nope"}), 400),
        (
            variant(
                event_name="user_send_file", message={"attachments": [{"payload": {"url": 5}}]}
            ),
            400,
        ),
        (variant(event_name="user_send_image", message={"attachments": [None]}), 400),
    ]
    for event, status in cases:
        response = await user.post(*signed(event))
        assert response.status_code == status, (event, response.text)
    # Timestamp missing or of the wrong type: the signature cannot be checked -> 403.
    for bad_ts in (None, True, 1.5, "abc", ["1"]):
        event = variant(timestamp=bad_ts) if bad_ts is not None else variant(timestamp=None)
        body = json.dumps(event).encode()
        response = await user.post(body, sign(body, "0"))
        assert response.status_code == 403, (bad_ts, response.text)
    # A body over the 1 MB limit: tornado answers 400 and closes (the client may see either).
    huge = json.dumps(variant(padding="x" * (2 * 1024 * 1024))).encode()
    try:
        big = await user.post(huge, sign(huge, "0"))
        assert 400 <= big.status_code < 500
    except httpx.TransportError:
        pass
    await adapter.drain()
    assert fake.sent("oa", "message") == []  # nothing reached the engine
    # Still alive: the next good event is answered.
    assert "/huy" in await user.text("/trogiup")


async def test_oa_hostile_bodies_get_4xx_without_a_traceback(
    services: Services,
    engine: Any,
    fake: FakeZalo,
    http: httpx.AsyncClient,
    oa_adapter: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 12.14: the signature is checked on the raw body before any parsing;
    nesting depth and number sizes are bounded, signed or not."""
    adapter = await oa_adapter(services, engine)
    user = OAUser(adapter, fake, http, "u-hostile")
    ts = str(now_ms())
    deep = b'{"timestamp":"' + ts.encode() + b'","a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    five_thousand = "9" * 5000
    hostile: list[tuple[bytes, dict[str, str], int]] = [
        (deep, {"X-ZEvent-Signature": "mac=" + "0" * 64}, 403),  # unsigned: never parsed
        (deep, sign(deep, ts), 400),  # signed, but nested beyond any real event
    ]
    big_ts = oa_event("u-hostile", text="xin chào")
    big_ts["timestamp"] = five_thousand
    hostile.append((*signed(big_ts), 403))  # not a plausible signed timestamp
    big_int = json.dumps(oa_event("u-hostile", text="a")).encode()[:-1] + b', "n": '
    big_int += five_thousand.encode() + b"}"
    hostile.append((big_int, sign(big_int, big_ts_of(big_int)), 400))
    for size in (five_thousand, int(five_thousand[:30])):
        payload = {"url": fake.url + "/cdn/a.pdf", "name": "a.pdf", "size": size}
        event = oa_event(
            "u-hostile", "user_send_file", attachments=[{"type": "file", "payload": payload}]
        )
        hostile.append((*signed(event), 400))
    with caplog.at_level(logging.DEBUG):
        for body, headers, status in hostile:
            response = await user.post(body, headers)
            assert response.status_code == status, (body[:80], response.text)
    await adapter.drain()
    assert "Traceback" not in caplog.text and not any(r.exc_info for r in caplog.records)
    assert fake.sent("oa", "message") == []
    assert "/huy" in await user.text("/trogiup")  # and the server still answers


def big_ts_of(body: bytes) -> str:
    return json.loads(body.split(b', "n": ')[0] + b"}")["timestamp"]


# -- Official Account: conversations -----------------------------------------------------------
async def test_oa_full_staff_conversation(
    province: Province, fake: FakeZalo, http: httpx.AsyncClient, oa_adapter: Any
) -> None:
    adapter = await oa_adapter(province.services, province.engine)
    province.link("QL001", "zalo_oa", "oa-m1")
    manager = OAUser(adapter, fake, http, "oa-m1")
    issued = await manager.text("/taomalienket NV001")
    code = re.search(r"/lienket NV001 (\S+)", issued)
    assert code, issued

    lan = OAUser(adapter, fake, http, "oa-lan")
    # Following the OA starts the conversation; there is no contact button on Zalo.
    follow = {
        "app_id": APP_ID,
        "oa_id": OA_ID,
        "event_name": "follow",
        "follower": {"id": "oa-lan"},
        "user_id_by_app": "app-oa-lan",
        "timestamp": str(now_ms()),
    }
    welcome = "\n".join(await lan.send(follow))
    assert "Xin chào" in welcome
    assert_link_prompt_for_plain_text(welcome)

    # A question: quoted answer with citations, feedback as numbered choices.
    sent = await lan.send(oa_event("oa-lan", text=QUESTION))
    answer = "\n".join(sent)
    assert "Nguồn:" in answer and "“" in answer
    assert "Trả lời bằng số:\n1. 👍 Hữu ích\n2. 👎 Chưa đúng" in answer
    assert all(zalo_length(t) <= 2000 for t in sent)
    assert "Cảm ơn bạn đã phản hồi" in await lan.text("1")

    # Identity linking with the manager's one-time code (used once only).
    linked = await lan.text(f"/lienket NV001 {code.group(1)}")
    assert "Đã liên kết tài khoản với nhân viên Nguyễn Thị Lan" in linked
    other = OAUser(adapter, fake, http, "oa-intruder")
    assert "Đã liên kết" not in await other.text(f"/lienket NV001 {code.group(1)}")

    # The completion form, answered with numbers; the last choice cancels.
    form = await lan.text("/ghinhan")
    assert "Bước 1/5" in form and "Trả lời bằng số:" in form
    numbers = re.findall(r"^(\d+)\. (.+)$", form, re.M)
    assert numbers[-1][1] == "Hủy"
    assert "Đã hủy khai báo" in await lan.text(numbers[-1][0])
    assert "Bước 1/5" not in await lan.text("2")  # the form is gone: "2" is no longer a choice

    form = await lan.text("/ghinhan")
    course = _choice(form, 1)
    step2 = await lan.text("1")
    assert f"Khóa học: {course}." in step2 and "1. Hôm nay" in step2
    assert "không tồn tại" in await lan.text("31/02/2026")  # a bad date: asked again
    assert "tương lai" in await lan.text("01/01/2099")
    step3 = await lan.text("05/03/2026")
    assert "Bước 3/5" in step3 and "1. Bỏ qua" in step3
    step4 = await lan.text("1")
    assert "Bước 4/5" in step4 and "1. Có" in step4
    assert "Bước 5/5" in await lan.text("1")

    # Certificate: a sticker, a file too large, and a fake "image" are refused first.
    sticker = oa_event(
        "oa-lan", "user_send_sticker", attachments=[{"type": "sticker", "payload": {}}]
    )
    assert "chỉ đọc được tin nhắn chữ, ảnh và tệp" in "\n".join(await lan.send(sticker))
    big_url = fake.add_file("big.pdf", b"%PDF-1.4 big", "application/pdf")
    big = oa_event(
        "oa-lan",
        "user_send_file",
        attachments=[
            {
                "type": "file",
                "payload": {"url": big_url, "name": "big.pdf", "size": str(50 * 2**20)},
            }
        ],
    )
    assert "Tệp quá lớn" in "\n".join(await lan.send(big))
    assert "big.pdf" not in fake.downloads  # refused from the declared size, never downloaded
    html = fake.add_file("not-an-image", b"<html>hello</html>", "image/jpeg")
    assert "Tệp này không được nhận. Chỉ nhận các loại tệp:" in await lan.image(html)
    png = fake.add_file("chungnhan-oa.png", PNG, "image/png")
    saved = await lan.image(png)
    assert "Đã ghi nhận" in saved and "Minh chứng: đã gửi" in saved
    assert "05/03/2026" in saved and "Xác nhận VNeID: có" in saved
    assert "chungnhan-oa.png" in fake.downloads
    tracking = province.tracking
    row = tracking.my_completions(tracking.staff_by_code("NV001").id)[0]
    assert row.course.name == course and row.vneid_confirmed and row.certificate_code is None
    assert (province.services.settings.data_dir / row.evidence_path).read_bytes() == PNG
    incoming = province.services.settings.uploads_dir / "incoming"
    assert not any(incoming.iterdir())  # downloads are removed once handled

    progress = await lan.text("tiến độ của tôi")
    assert "Tiến độ của Nguyễn Thị Lan (NV001)" in progress and course in progress
    # Answers are sent as replies to the user's message (Zalo's free reply messages);
    # only the welcome after "follow" (no message to answer) goes to the user id.
    to_lan = [c for c in fake.sent("oa", "message") if c.headers["user"] == "oa-lan"]
    proactive = [c for c in to_lan if c.headers["quota"] != "reply"]
    assert [c.payload["recipient"] for c in proactive] == [{"user_id": "oa-lan"}] * len(proactive)
    assert 0 < len(proactive) <= 3 and all(c in to_lan[:3] for c in proactive)  # the welcome
    assert all(isinstance(v, str) for c in to_lan for v in c.payload["recipient"].values())


async def test_oa_reply_allowance_and_reminders_go_to_the_user_id(
    province: Province, fake: FakeZalo, oa_adapter: Any
) -> None:
    adapter = await oa_adapter(province.services, province.engine)
    adapter._now_answering("u1", "msg-x")
    assert [adapter.reply_to("u1") for _ in range(9)] == ["msg-x"] * 8 + [None]
    adapter.turn_finished("u1")
    assert adapter.reply_to("u1") is None
    province.link("NV001", "zalo_oa", "oa-lan")
    noon = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)  # 12:00 in Vietnam
    assert await adapter.send_due(noon) >= 1
    reminder = [c for c in fake.sent("oa", "message") if c.headers["user"] == "oa-lan"]
    assert reminder and reminder[0].payload["recipient"] == {"user_id": "oa-lan"}
    assert reminder[0].payload["message"]["text"].startswith("⏰ Chào Nguyễn Thị Lan")


async def test_oa_manager_statistics_text_chart_image_and_report_link(
    province: Province, fake: FakeZalo, http: httpx.AsyncClient, oa_adapter: Any
) -> None:
    adapter = await oa_adapter(province.services, province.engine, public_url=OA_PUBLIC)
    province.link("QL001", "zalo_oa", "oa-m1")
    manager = OAUser(adapter, fake, http, "oa-m1")
    stats = await manager.text("/thongke")
    assert "📊 Bệnh viện Đa khoa tỉnh" in stats and "Đã hoàn thành:" in stats
    assert "Theo đơn vị:" in stats and "Khoa Nội" in stats
    # The chart: uploaded through the OA image API, then sent as an image message.
    upload = fake.sent("oa", "upload_image")[-1]
    assert upload.payload["filename"] == "thong-ke.png"
    assert upload.payload["content_type"] == "image/png"
    assert fake.files["oa-thong-ke.png"][0].startswith(b"\x89PNG")
    messages = fake.sent("oa", "message")
    image = messages[-1].payload
    assert messages[-1].headers == messages[-2].headers | {"quota": "reply"}
    assert messages[-1].headers["user"] == "oa-m1" and "message_id" in image["recipient"]
    element = image["message"]["attachment"]["payload"]["elements"][0]
    assert element == {"media_type": "image", "attachment_id": "att-1"}
    assert "text" in messages[-2].payload["message"]  # figures first, then the chart

    # The Excel report: the OA file API takes PDF/DOC/DOCX only, so a link is sent.
    report = await manager.text("/baocao")
    assert fake.sent("oa", "upload_file")  # tried first
    link = re.search(r"https://\S+\.xlsx", report)
    assert link and link.group(0).startswith(OA_PUBLIC + "/files/"), report
    local = link.group(0).replace("https://bot.example.vn", f"http://127.0.0.1:{adapter.port}")
    xlsx = await http.get(local)
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    assert (await http.get(local[:-10] + "AAAAA.xlsx")).status_code == 404

    pending = await manager.text("/duyet")
    assert "1. ✅ Duyệt #" in pending and "2. ❌ Từ chối #" in pending
    assert "Đã duyệt khai báo" in await manager.text("1")


async def test_oa_rejected_access_token_is_refreshed_and_the_message_retried_once(
    services: Services, engine: Any, fake: FakeZalo, http: httpx.AsyncClient, oa_adapter: Any
) -> None:
    adapter = await oa_adapter(services, engine)
    user = OAUser(adapter, fake, http, "u-exp")
    old = adapter.client.tokens.state
    assert old is not None
    fake.valid_access.discard(old.current.access_token)  # Zalo expired it early
    assert "/huy" in await user.text("/trogiup")
    rejected = fake.sent("oa", "rejected_message")
    assert len(rejected) == 1 and rejected[0].headers["token"] == old.current.access_token
    assert len(fake.sent("oauth", "refresh")) == 1
    new = adapter.client.tokens.state
    assert new is not None and new.current.access_token != old.current.access_token
    assert fake.sent("oa", "message")[-1].headers["token"] == new.current.access_token
    # Rejected again and the refresh fails too: one retry (with the previous token), no loop.
    fake.valid_access.clear()
    fake.oauth_mode = "error500"
    before = len(fake.sent("oa"))
    assert await user.text("/trogiup") == ""
    assert len(fake.sent("oa")) - before == 2


# -- Official Account: token refresh -----------------------------------------------------------
async def test_fake_oauth_invalidates_a_used_refresh_token(
    fake: FakeZalo, http: httpx.AsyncClient
) -> None:
    _access, refresh = fake.issue_pair()
    form = {"refresh_token": refresh, "app_id": APP_ID, "grant_type": "refresh_token"}
    url, headers = f"{fake.url}/v4/oa/access_token", {"secret_key": APP_SECRET}
    first = (await http.post(url, data=form, headers=headers)).json()
    assert first["refresh_token"] != refresh and first["access_token"]
    again = (await http.post(url, data=form, headers=headers)).json()
    assert again["error"] == -14014 and "access_token" not in again
    wrong_secret = (await http.post(url, data=form, headers={"secret_key": "x"})).json()
    assert wrong_secret["error"] == -14003


async def test_oa_proactive_refresh_saves_the_new_pair_before_using_it(
    fake: FakeZalo, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    path = tmp_path / "data" / "zalo_oa_tokens.json"
    old = save_pair(fake, path, 3600)  # one hour left: inside the 6 h refresh margin
    tokens = token_manager(fake, http, path)
    client = ZaloOAClient(tokens, fake.url, http=http)
    on_disk: list[str] = []

    def look(call: Call) -> None:
        if call.api == "oa":
            on_disk.append(stored(path)["current"]["access_token"])

    fake.on_record = look
    await client.send_text("u1", "xin chào")
    refresh = fake.sent("oauth", "refresh")
    assert len(refresh) == 1 and refresh[0].payload["refresh_token"] == old.refresh_token
    assert refresh[0].payload["grant_type"] == "refresh_token"
    assert refresh[0].headers["Secret_key"] == APP_SECRET
    assert old.refresh_token not in fake.valid_refresh  # single use: rotated away
    used = fake.sent("oa", "message")[0].headers["token"]
    assert used != old.access_token and on_disk == [used]  # saved before it was used
    data = stored(path)
    assert data["current"]["access_token"] == used
    assert data["current"]["refresh_token"] in fake.valid_refresh
    assert data["previous"]["refresh_token"] == old.refresh_token
    assert (
        data["refresh_started_at"] is None
        and data["current"]["expires_at"] > time.time() + 24 * 3600
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # No second refresh while the new token is fresh; a restart reads the same pair.
    await client.send_text("u1", "lần nữa")
    assert len(fake.sent("oauth", "refresh")) == 1
    restarted = token_manager(fake, http, path)
    assert await restarted.access_token() == used and len(fake.sent("oauth", "refresh")) == 1


class FlakyStore(TokenStore):
    """A token store whose saves fail on demand (disk full) or "crash" the process."""

    def __init__(self, path: Path, fail: set[int] | None = None, crash: set[int] | None = None):
        super().__init__(path)
        self.fail, self.crash, self.saves = fail or set(), crash or set(), 0

    def save(self, state: TokenState) -> None:
        self.saves += 1
        if self.saves in self.crash:
            raise SimulatedCrash()
        if self.saves in self.fail or -1 in self.fail:
            raise OSError(28, "No space left on device")
        super().save(state)


class SimulatedCrash(BaseException):
    """The process dies here (not an Exception: nothing may catch it)."""


async def test_oa_refresh_answered_but_save_fails_keeps_the_pair_in_memory_and_saves_later(
    fake: FakeZalo, http: httpx.AsyncClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.channels.zalo.oa_client")
    path = tmp_path / "zalo_oa_tokens.json"
    old = save_pair(fake, path, 3600)
    store = FlakyStore(path, fail={2})  # 1: the "refresh started" marker; 2: the new pair
    tokens = token_manager(fake, http, path, store=store)
    client = ZaloOAClient(tokens, fake.url, http=http)
    await client.send_text("u1", "xin chào")
    new_access = fake.sent("oa", "message")[0].headers["token"]
    assert new_access != old.access_token and old.refresh_token not in fake.valid_refresh
    assert "Could not save Zalo OA tokens" in caplog.text
    assert stored(path)["current"]["refresh_token"] == old.refresh_token  # disk still old
    # The disk recovers: the next use saves the pair kept in memory.
    await tokens.maintain()
    data = stored(path)
    assert data["current"]["access_token"] == new_access and data["refresh_started_at"] is None
    assert "saved to" in caplog.text and "after an earlier failure" in caplog.text
    restarted = token_manager(fake, http, path)
    assert await restarted.access_token() == new_access
    assert len(fake.sent("oauth", "refresh")) == 1


async def test_oa_crash_between_zalo_answer_and_save_does_not_lock_the_bot_out(
    fake: FakeZalo, http: httpx.AsyncClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.channels.zalo.oa_client")
    path = tmp_path / "zalo_oa_tokens.json"
    old = save_pair(fake, path, 3 * 3600)
    tokens = token_manager(fake, http, path, store=FlakyStore(path, crash={2}))
    with pytest.raises(SimulatedCrash):
        await tokens.access_token()
    # Zalo issued a new pair and invalidated the old refresh token; the answer is lost.
    assert old.refresh_token not in fake.valid_refresh and len(fake.issued) == 2
    assert stored(path)["refresh_started_at"] is not None

    caplog.clear()
    restarted = token_manager(fake, http, path)  # the process comes back
    assert "did not finish" in caplog.text
    client = ZaloOAClient(restarted, fake.url, http=http)
    await client.send_text("u1", "vẫn gửi được")  # the stored access token still works
    assert fake.sent("oa", "message")[-1].headers["token"] == old.access_token
    assert "refresh refused" in caplog.text and RECOVERY_HINT in caplog.text
    assert "valid until" in caplog.text
    assert stored(path)["last_error"] and stored(path)["refresh_started_at"] is None

    # The operator follows the instructions: a new pair in .env replaces the stored one.
    caplog.clear()
    fresh = fake.issue_pair()
    recovered = token_manager(fake, http, path, seed=fresh)
    assert "is new: it replaces the stored" in caplog.text
    client = ZaloOAClient(recovered, fake.url, http=http)
    await client.send_text("u1", "đã khôi phục")
    data = stored(path)
    assert data["current"]["refresh_token"] in fake.valid_refresh  # refreshed from the seed
    assert fake.sent("oa", "message")[-1].headers["token"] == data["current"]["access_token"]
    # The unchanged .env does not override later refreshes on the next start.
    again = token_manager(fake, http, path, seed=fresh)
    assert (
        again.state is not None
        and again.state.current.refresh_token == data["current"]["refresh_token"]
    )


async def test_oa_refresh_network_errors_keep_the_current_token_and_retry_with_backoff(
    fake: FakeZalo, http: httpx.AsyncClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.channels.zalo.oa_client")
    clock = [1_800_000_000.0]
    path = tmp_path / "zalo_oa_tokens.json"
    old = save_pair(fake, path, 2 * 3600, now=clock[0])
    tokens = token_manager(fake, http, path, clock=lambda: clock[0])
    fake.oauth_mode = "error500"
    assert await tokens.access_token() == old.access_token
    assert "refresh failed" in caplog.text and "retrying in 1 min" in caplog.text
    assert old.refresh_token in fake.valid_refresh  # nothing consumed
    assert await tokens.access_token() == old.access_token  # backing off: no new attempt
    assert len(fake.sent("oauth", "refresh")) == 1
    # Zalo unreachable (connection refused).
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_port = closed.getsockname()[1]
    tokens.oauth_base_url = f"http://127.0.0.1:{dead_port}"
    clock[0] += 61
    assert await tokens.access_token() == old.access_token
    assert "no answer from Zalo OAuth" in caplog.text and "retrying in 2 min" in caplog.text
    # The network is back: the next attempt after the back-off succeeds.
    tokens.oauth_base_url, fake.oauth_mode = fake.url, "ok"
    clock[0] += 121
    new_access = await tokens.access_token()
    assert new_access != old.access_token and stored(path)["current"]["access_token"] == new_access
    assert stored(path)["last_error"] is None


async def test_oa_refresh_answer_lost_in_transit_keeps_working_and_logs_recovery(
    fake: FakeZalo, http: httpx.AsyncClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.channels.zalo.oa_client")
    clock = [1_800_000_000.0]
    path = tmp_path / "zalo_oa_tokens.json"
    old = save_pair(fake, path, 3 * 3600, now=clock[0])
    tokens = token_manager(fake, http, path, clock=lambda: clock[0])
    fake.oauth_mode = "drop"  # Zalo rotates the pair, then the connection breaks
    assert await tokens.access_token() == old.access_token
    assert old.refresh_token not in fake.valid_refresh
    fake.oauth_mode = "ok"
    clock[0] += 61
    assert await tokens.access_token() == old.access_token  # still usable for hours
    assert "refresh refused" in caplog.text and RECOVERY_HINT in caplog.text
    assert "(3.0 h left)" in caplog.text  # 3 h minus the 61 s of back-off
    caplog.clear()
    token_manager(fake, http, path, clock=lambda: clock[0])  # a restart says what happened
    assert "last Zalo OA token refresh failed" in caplog.text


async def test_oa_due_refresh_is_postponed_while_the_token_file_cannot_be_written(
    fake: FakeZalo, http: httpx.AsyncClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.channels.zalo.oa_client")
    clock = [1_800_000_000.0]
    path = tmp_path / "zalo_oa_tokens.json"
    old = save_pair(fake, path, 3 * 3600, now=clock[0])
    tokens = token_manager(
        fake, http, path, store=FlakyStore(path, fail={-1}), clock=lambda: clock[0]
    )
    assert await tokens.access_token() == old.access_token
    assert not fake.sent("oauth") and "refresh postponed" in caplog.text
    # Under an hour left: refreshing in memory beats expiring.
    clock[0] += 2.5 * 3600
    new_access = await tokens.access_token()
    assert new_access != old.access_token and len(fake.sent("oauth", "refresh")) == 1
    assert stored(path)["current"]["access_token"] == old.access_token
    assert "Could not save Zalo OA tokens" in caplog.text


# -- hocvuso serve zalo-bot / zalo-oa ---------------------------------------------------------
def serve_env(tmp_path: Path, **values: str) -> dict[str, str]:
    """The environment of a ``hocvuso serve`` subprocess: no settings from this machine."""
    prefixes = ("HOCVUSO_", "ZALO_", "TELEGRAM_", "LLM_")
    names = {
        "DATABASE_URL",
        "CHROMA_URL",
        "ANSWER_MODE",
        "EMBEDDING_BACKEND",
        "EMBEDDING_MODEL_PATH",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes) and k not in names}
    env.update(HOCVUSO_DATA_DIR=str(tmp_path / "data"), HOCVUSO_KNOWLEDGE_DIR=str(tmp_path / "kb"))
    env.update(values)
    return env


def hocvuso(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot.cli", *args]


def test_serve_refuses_missing_or_bad_zalo_settings_in_one_line(tmp_path: Path) -> None:
    cases = [
        ("zalo-bot", {}, "ZALO_BOT_TOKEN"),
        (
            "zalo-bot",
            {"ZALO_BOT_TOKEN": BOT_TOKEN, "ZALO_BOT_WEBHOOK_SECRET": "short"},
            "ZALO_BOT_WEBHOOK_SECRET",
        ),
        (
            "zalo-bot",
            {"ZALO_BOT_TOKEN": BOT_TOKEN, "ZALO_BOT_WEBHOOK_URL": "http://x.vn/b"},
            "HTTPS",
        ),
        (
            "zalo-oa",
            {},
            "ZALO_OA_APP_ID, ZALO_OA_SECRET_KEY, ZALO_OA_APP_SECRET, ZALO_OA_REFRESH_TOKEN",
        ),
        (
            "zalo-oa",
            {"ZALO_OA_APP_ID": APP_ID, "ZALO_OA_SECRET_KEY": "k", "ZALO_OA_APP_SECRET": "s"},
            "ZALO_OA_REFRESH_TOKEN",
        ),
    ]
    for channel, values, expected in cases:
        done = subprocess.run(
            hocvuso("serve", channel),
            cwd=tmp_path,
            env=serve_env(tmp_path, **values),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, (channel, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], done.stderr
        assert "docs/zalo.md" in lines[0] and "Traceback" not in done.stderr


TINY_KB = """# Hướng dẫn thử nghiệm trợ lý

## 1. Thời hạn
Hạn chót hoàn thành khóa học Chuyển đổi số cơ bản là ngày 30/6/2026.
"""


async def test_serve_zalo_bot_webhook_subprocess_answers_and_stops_on_sigterm(
    tmp_path: Path, fake: FakeZalo, http: httpx.AsyncClient
) -> None:
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "huong-dan-thu.md").write_text(TINY_KB, encoding="utf-8")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = serve_env(
        tmp_path,
        ZALO_BOT_TOKEN=BOT_TOKEN,
        ZALO_BOT_API_BASE_URL=fake.url,
        ZALO_BOT_WEBHOOK_URL=PUBLIC,
        ZALO_BOT_WEBHOOK_SECRET=SECRET,
        ZALO_LISTEN_HOST="127.0.0.1",
        ZALO_LISTEN_PORT=str(port),
        HOCVUSO_LOG_LEVEL="INFO",
    )
    proc = await asyncio.create_subprocess_exec(
        *hocvuso("serve", "zalo-bot"),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        # Safety timeout only (start-up indexes the folder and loads the embedding model).
        await fake.wait_for(lambda: bool(fake.sent("bot", "setWebhook")), timeout=120)
        assert fake.sent("bot", "setWebhook")[0].payload == {"url": PUBLIC, "secret_token": SECRET}
        url = f"http://127.0.0.1:{port}/zalo/bot"
        body = json.dumps(wrapped("u-cli", "Hạn chót hoàn thành khóa học Chuyển đổi số?")).encode()
        refused = await http.post(url, content=body, headers={"X-Bot-Api-Secret-Token": "nope"})
        assert refused.status_code == 403
        response = await http.post(url, content=body, headers={"X-Bot-Api-Secret-Token": SECRET})
        assert response.status_code == 200
        await fake.wait_for(lambda: bool(fake.texts("bot", "u-cli")), timeout=60)
        answer = "\n".join(fake.texts("bot", "u-cli"))
        assert "30/6/2026" in answer and "Nguồn:" in answer
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    log = err.decode()
    assert "signal received; shutting down" in log and "Traceback" not in log
    assert BOT_TOKEN not in log  # the token is part of every API URL: never logged
