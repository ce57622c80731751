"""The conversation engine itself, on every channel's terms (issue 13 items 8-10,
issue 12 items 13 and 17): unknown commands, prompts written for what a chat
can show, feedback only where there is something to rate, heavy work off the
conversation path, and the token file readable by its owner only.

The engine runs with its real services (SQLite, the shipped knowledge, real
embeddings). Concurrency is shown by ordering, never by timing: a heavy job is
held on an event while another user's question is answered.
"""

from __future__ import annotations

import asyncio
import os
import stat
import threading
from pathlib import Path

from sqlalchemy import func, select

from bot.channels.common import EngineRunner
from bot.channels.zalo.oa_client import TokenPair, TokenState, TokenStore
from bot.core.engine import Engine
from bot.core.messages import Attachment, Capabilities, Incoming, Reply
from bot.core.models import AnswerLog
from bot.core.registry import Command, Context
from tests.conftest import Province

TELEGRAM_PRIVATE = Capabilities(buttons=True, share_contact=True)
ZALO = Capabilities()  # plain text: numbered choices, no phone-sharing button
QUESTION = "Hạn chót hoàn thành khóa học MOOC là ngày nào?"


def say(engine: Engine, user: str, text: str, **kw: object) -> list[Reply]:
    channel = str(kw.pop("channel", "telegram"))
    caps = kw.pop("capabilities", TELEGRAM_PRIVATE)
    assert isinstance(caps, Capabilities)
    return engine.handle(Incoming(channel, user, text=text, chat_id=user, capabilities=caps))


def text_of(replies: list[Reply]) -> str:
    return "\n".join(r.text for r in replies)


def answers_logged(province: Province) -> int:
    with province.services.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(AnswerLog)) or 0)


# -- 13.8 unknown commands ---------------------------------------------------------------------
def test_unknown_command_is_not_a_question(province: Province) -> None:
    province.link("NV001", "telegram", "lan")
    replies = say(province.engine, "lan", "/dangkykhoahoc")
    text = text_of(replies)
    assert "/dangkykhoahoc không tồn tại" in text
    assert "/khoahoc" in text and "/trogiup" in text  # the closest command, and help
    assert "Tài liệu" not in text and not any(r.buttons for r in replies)  # no 👍/👎
    assert answers_logged(province) == 0  # not logged as a question

    typo = text_of(say(province.engine, "lan", "/ghinhanh"))
    assert "không tồn tại" in typo and "/ghinhan" in typo
    nothing_close = text_of(say(province.engine, "lan", "/xyzzyq"))
    assert "không tồn tại" in nothing_close and "Có phải" not in nothing_close
    # Known commands, their aliases and /command@bot still work.
    assert "Các lệnh:" in text_of(say(province.engine, "lan", "/help"))
    assert "Tiến độ" in text_of(say(province.engine, "lan", "/tiendo@hocvuso_bot"))


def test_unknown_command_inside_a_form_keeps_the_form(province: Province) -> None:
    province.link("NV001", "telegram", "lan")
    assert "Bước 1/5" in text_of(say(province.engine, "lan", "/ghinhan"))
    assert "không tồn tại" in text_of(say(province.engine, "lan", "/dangky"))
    with province.services.db.session() as session:
        from bot.core.models import ConversationState

        state = session.get(ConversationState, ("telegram", "lan"))
        assert state is not None and state.flow == "ghinhan" and state.step == "course"


# -- 13.9 prompts per capability -----------------------------------------------------------------
def test_link_prompt_is_written_for_the_channel(province: Province) -> None:
    telegram = say(province.engine, "stranger", "/batdau")
    prompt = next(r for r in telegram if r.request_contact)
    assert "bấm nút chia sẻ số điện thoại" in prompt.text and "/lienket" in prompt.text

    zalo = say(province.engine, "z-stranger", "/batdau", channel="zalo_bot", capabilities=ZALO)
    text = text_of(zalo)
    assert not any(r.request_contact for r in zalo)
    assert "/lienket <mã nhân viên> <mã liên kết>" in text
    assert "bấm nút" not in text and "chưa có nút" not in text  # never contradicted

    from bot.channels.zalo.render import render_replies

    rendered = "\n".join(getattr(o, "text", "") for o in render_replies(zalo))
    assert "bấm nút" not in rendered and "chưa có nút" not in rendered


# -- 13.10 unlinked /ghinhan, /duyet without buttons, no feedback on abstentions ---------------
def test_unlinked_log_gets_the_link_syntax_directly(province: Province) -> None:
    for caps, channel in ((ZALO, "zalo_oa"), (TELEGRAM_PRIVATE, "telegram")):
        text = text_of(
            say(province.engine, "nobody", "/ghinhan", channel=channel, capabilities=caps)
        )
        assert "/lienket <mã nhân viên> <mã liên kết>" in text, text
        assert "/batdau" not in text


def test_verify_without_buttons_numbers_each_item_unambiguously(province: Province) -> None:
    """Two pending reports on a chat without buttons: "3" is the second report's
    "Duyệt", never the first item's; the manager's own report is not listed."""
    from datetime import date

    from bot.tracking.service import CompletionInput

    tracking = province.tracking
    course = tracking.find_course("Chuyển đổi số")
    lan = tracking.staff_by_code("NV001")
    tracking.log_completion(
        "test", lan.id, CompletionInput(course.id, date(2026, 3, 11), "A1", True)
    )
    minh = tracking.staff_by_code("QL001")
    tracking.log_completion(
        "test", minh.id, CompletionInput(course.id, date(2026, 3, 12), "M1", True)
    )
    province.link("QL001", "zalo_bot", "minh")
    listing = text_of(say(province.engine, "minh", "/duyet", channel="zalo_bot", capabilities=ZALO))
    assert "Có 2 khai báo" in listing and "Trần Văn Minh" not in listing
    first, second = (line for line in listing.splitlines() if line.startswith("#"))
    second_id = second.split()[0]
    done = text_of(say(province.engine, "minh", "3", channel="zalo_bot", capabilities=ZALO))
    assert f"Đã duyệt khai báo {second_id}" in done and "Nguyễn Thị Lan" in done
    assert first.split()[0] not in done


def test_feedback_buttons_only_on_real_answers(province: Province) -> None:
    answered = say(province.engine, "u1", QUESTION)
    assert [b.label for b in answered[0].choices()] == ["👍 Hữu ích", "👎 Chưa đúng"]
    abstained = say(province.engine, "u1", "Giá vé máy bay Hà Nội đi Đà Nẵng tháng này bao nhiêu?")
    assert not any(r.buttons for r in abstained)
    refused = say(province.engine, "u1", "Bệnh nhân sốt cao nên dùng thuốc gì, liều bao nhiêu?")
    assert not any(r.buttons for r in refused)


# -- 12.17 heavy work off the conversation path ------------------------------------------------
NIGHT_SHIFT = (
    "QUY ĐỊNH TRỰC ĐÊM KHOA HỒI SỨC\n\nĐiều 1. Số đêm trực\n"
    "Mỗi điều dưỡng khoa Hồi sức trực tối đa 6 đêm mỗi tháng.\n"
)


async def test_questions_are_answered_while_an_upload_is_indexed(
    province: Province, tmp_path: Path
) -> None:
    """An admin's document is indexed in the background; meanwhile another user's
    question is answered, and the admin is told when the document is in."""
    services, engine = province.services, province.engine
    kb = services.kb
    release, started = threading.Event(), threading.Event()
    original = kb.add_upload

    def held_add_upload(path: Path, filename: str) -> object:
        started.set()
        assert release.wait(120), "the question never got through"
        return original(path, filename)

    kb.add_upload = held_add_upload  # type: ignore[method-assign]
    incoming = services.settings.uploads_dir / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    upload = incoming / "upload.txt"
    upload.write_text(NIGHT_SHIFT, encoding="utf-8")
    admin_msg = Incoming(
        "telegram",
        "admin",
        attachment=Attachment("truc-dem.txt", upload, upload.stat().st_size, "text/plain"),
    )
    services.settings.admin_ids.append("telegram:admin")
    runner = EngineRunner(engine, threads=2)
    delivered: list[list[Reply]] = []
    done = asyncio.Event()

    async def deliver(replies: list[Reply]) -> None:
        delivered.append(replies)
        done.set()

    try:
        notice = await runner.handle(admin_msg, deliver)
        upload.unlink()  # the adapter removes its copy at once; the job kept its own
        assert "Đang xử lý tệp “truc-dem.txt”" in text_of(notice)
        await asyncio.to_thread(started.wait, 60)
        answer = await runner.handle(Incoming("telegram", "lan", text=QUESTION))
        assert "Nguồn:" in text_of(answer) and not delivered  # answered while indexing
        release.set()
        await asyncio.wait_for(done.wait(), 120)
        assert "Đã thêm “truc-dem.txt”" in text_of(delivered[0])
        await runner.drain()
    finally:
        release.set()
        runner.close()
    after = text_of(say(engine, "lan", "Điều dưỡng khoa Hồi sức trực tối đa bao nhiêu đêm?"))
    assert "6 đêm" in after
    assert not list(incoming.glob("job-*")), "the job's copy of the upload is removed"


async def test_one_users_messages_stay_in_order_with_several_threads(
    province: Province,
) -> None:
    """A command that waits on the same user's next message would deadlock if
    two of one user's messages ran together; the engine's per-user lock keeps them
    in order while another user is served."""
    engine = province.engine
    gate = threading.Event()
    seen: list[str] = []

    def slow(ctx: Context, args: str) -> list[Reply]:
        seen.append(f"slow-start {ctx.msg.user_id}")
        gate.wait(60)
        seen.append(f"slow-end {ctx.msg.user_id}")
        return [Reply("chậm")]

    def fast(ctx: Context, args: str) -> list[Reply]:
        seen.append(f"fast {ctx.msg.user_id}")
        return [Reply("nhanh")]

    engine.registry.add_command(Command("cham", "chậm", slow, menu=False))
    engine.registry.add_command(Command("nhanh", "nhanh", fast, menu=False))
    runner = EngineRunner(engine, threads=4)
    try:
        first = asyncio.create_task(runner.handle(Incoming("telegram", "a", text="/cham")))
        while "slow-start a" not in seen:
            await asyncio.sleep(0.01)
        same_user = asyncio.create_task(runner.handle(Incoming("telegram", "a", text="/nhanh")))
        other = await runner.handle(Incoming("telegram", "b", text="/nhanh"))
        assert text_of(other) == "nhanh" and "fast b" in seen and "fast a" not in seen
        gate.set()
        await asyncio.gather(first, same_user)
        assert seen.index("slow-end a") < seen.index("fast a")
    finally:
        gate.set()
        runner.close()


# -- 12.13 the token file ----------------------------------------------------------------------
def test_token_file_is_private_even_over_a_stale_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "zalo_oa_tokens.json"
    stale = tmp_path / f".{path.name}.{os.getpid()}.tmp"  # left by a crash, world-readable
    stale.write_text("{}", encoding="utf-8")
    stale.chmod(0o644)
    old_umask = os.umask(0o022)
    try:
        TokenStore(path).save(TokenState(current=TokenPair("access-1", "refresh-1")))
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert TokenStore(path).load() is not None
