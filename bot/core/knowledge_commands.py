"""Questions, feedback, help and the admin's document tools, for every channel."""

from __future__ import annotations

import argparse
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.answering.render import format_answer
from bot.core.actor import ADMIN
from bot.core.messages import Button, Reply
from bot.core.models import AnswerLog
from bot.core.registry import Command, Context, Registry
from bot.core.services import Services
from bot.core.uploads import UploadKind
from bot.errors import UserError
from bot.text import fold
from ingest.loaders import SUPPORTED_SUFFIXES
from ingest.names import safe_name

if TYPE_CHECKING:  # the ingest pipeline is imported by the commands that ingest
    from ingest.pipeline import FileResult

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 1000
CONFIRM_UPLOAD = "capnhat"  # button payload: capnhat:<token>:1|0


def answer_question(ctx: Context, question: str) -> list[Reply]:
    """Answer from the documents, log it, and offer 👍/👎 feedback buttons."""
    question = question.strip()
    if len(question) > MAX_QUESTION_CHARS:
        raise UserError(
            f"Câu hỏi quá dài (tối đa {MAX_QUESTION_CHARS} ký tự). Bạn hãy hỏi ngắn gọn hơn."
        )
    # Curated answers first (an admin wrote them for this question), else retrieval.
    from bot.curation.service import curated_answer

    answer = curated_answer(ctx.services, question) or ctx.services.kb.ask(question)
    text = format_answer(answer)
    with ctx.services.db.session() as session:
        entry = AnswerLog(
            channel=ctx.msg.channel,
            user_id=ctx.msg.user_id,
            question=question,
            answer=text,
            abstained=answer.abstained,
            sources=[s.to_json() | {"kind": s.kind} for s in answer.sources],
        )
        session.add(entry)
        session.flush()
        entry_id = entry.id
    if answer.abstained:  # a refusal or "not in the documents": nothing to rate
        return [Reply(text)]
    buttons = [
        [Button("👍 Hữu ích", f"fb:{entry_id}:1"), Button("👎 Chưa đúng", f"fb:{entry_id}:-1")]
    ]
    return [Reply(text, buttons=buttons)]


def _feedback(ctx: Context, rest: str) -> list[Reply]:
    try:
        entry_id, rating = (int(x) for x in rest.split(":", 1))
    except ValueError:
        return [Reply("Phản hồi không hợp lệ.")]
    with ctx.services.db.session() as session:
        entry = session.get(AnswerLog, entry_id)
        if entry is None or entry.user_id != ctx.msg.user_id or entry.channel != ctx.msg.channel:
            return [Reply("Không tìm thấy câu trả lời để ghi nhận phản hồi.")]
        entry.rating = 1 if rating > 0 else -1
        entry.rated_at = datetime.now(UTC)
    if rating > 0:
        return [Reply("Cảm ơn bạn đã phản hồi! 👍")]
    return [
        Reply("Cảm ơn bạn! Phản hồi đã được ghi lại để quản trị viên xem và cải thiện tài liệu.")
    ]


def _docs(ctx: Context, _args: str) -> list[Reply]:
    docs = ctx.services.kb.documents()
    if not docs:
        return [Reply("Kho tài liệu đang trống.")]
    lines = [f"Kho tài liệu có {len(docs)} văn bản:"]
    for d in docs:
        number = f"{d.number} — " if d.number else ""
        lines.append(f"• [{d.doc_id}] {number}{d.title} ({d.chunks} đoạn)")
    lines.append("Xóa một văn bản: /xoatailieu <mã>")
    return [Reply("\n".join(lines))]


def _remove_doc(ctx: Context, args: str) -> list[Reply]:
    if not args.strip():
        raise UserError("Bạn hãy ghi mã văn bản cần xóa, ví dụ: /xoatailieu ke-hoach-2948")
    removed = ctx.services.kb.remove(args.strip())
    if removed is None:
        raise UserError(
            f"Không tìm thấy văn bản có mã “{args.strip()}”. Gõ /tailieu để xem danh sách."
        )
    return [Reply(f"Đã xóa “{removed.title}” khỏi kho tài liệu.")]


def _feedback_report(ctx: Context, _args: str) -> list[Reply]:
    from sqlalchemy import select

    with ctx.services.db.session() as session:
        rows = session.scalars(
            select(AnswerLog)
            .where(AnswerLog.rating.is_not(None))
            .order_by(AnswerLog.rated_at.desc())
            .limit(15)
        ).all()
        total_up = sum(1 for r in rows if r.rating and r.rating > 0)
        if not rows:
            return [Reply("Chưa có phản hồi nào.")]
        lines = [f"{len(rows)} phản hồi gần nhất ({total_up} 👍, {len(rows) - total_up} 👎):"]
        for r in rows:
            mark = "👍" if r.rating and r.rating > 0 else "👎"
            lines.append(f"{mark} {r.question[:120]}")
    return [Reply("\n".join(lines))]


def _upload_reply(name: str, result: FileResult) -> list[Reply]:
    """The admin's answer to an upload (``name`` already printable): done, refused, warned."""
    if result.status == "failed":
        return [Reply(f"Không thêm được “{name}”: {result.reason_vi or 'không đọc được tệp.'}")]
    verb = {"added": "Đã thêm", "updated": "Đã cập nhật"}.get(result.status)
    if verb is None:
        return [Reply(f"Không có thay đổi: “{name}” đã có trong kho với đúng nội dung này.")]
    text = f"{verb} “{name}” ({result.chunks} đoạn). Nhân viên có thể hỏi về văn bản này ngay."
    if result.warning_vi:
        text += f"\n\n{result.warning_vi}"
    return [Reply(text)]


def _ingest_attachment(ctx: Context) -> list[Reply] | None:
    att = ctx.msg.attachment
    if att is None:
        return None
    if not ctx.actor.is_admin:
        return [Reply("Chỉ quản trị viên mới được thêm tài liệu vào kho.")]
    limit = ctx.services.settings.max_upload_mb
    if att.size > limit * 1024 * 1024:
        raise UserError(f"Tệp quá lớn (tối đa {limit} MB).")
    kb = ctx.services.kb
    result = kb.add_upload(att.path, att.filename)
    if result.status == "conflict":
        # Same name, other content: replace only when the admin says so.
        token = kb.hold_upload(att.path, att.filename)
        return [
            Reply(
                f"Đã có tài liệu “{safe_name(att.filename)}” trong kho với nội dung khác. "
                "Bạn có muốn thay bằng tệp vừa gửi không?",
                buttons=[
                    [
                        Button("Có, cập nhật", f"{CONFIRM_UPLOAD}:{token}:1"),
                        Button("Không, giữ bản cũ", f"{CONFIRM_UPLOAD}:{token}:0"),
                    ]
                ],
            )
        ]
    return _upload_reply(safe_name(att.filename), result)


def _confirm_upload(ctx: Context, rest: str) -> list[Reply]:
    """The admin's yes/no on replacing a document by a new file of the same name."""
    if not ctx.actor.is_admin:
        return [Reply("Chỉ quản trị viên mới được thêm tài liệu vào kho.")]
    token, _, answer = rest.partition(":")
    result = ctx.services.kb.confirm_upload(token, accept=answer == "1")
    if result is None:
        return [Reply("Yêu cầu cập nhật này đã hết hạn hoặc đã được xử lý. Bạn hãy gửi lại tệp.")]
    if answer != "1":
        return [Reply("Đã giữ nguyên bản cũ; tệp vừa gửi không được lưu.")]
    return _upload_reply(result.path, result)


class KnowledgeFeature:
    """Questions answered from the documents, feedback, and the admin's document tools."""

    name = "knowledge"

    def register(self, registry: Registry, services: Services) -> None:
        admin = frozenset({ADMIN})
        registry.add_command(
            Command(
                "tailieu", "Danh sách tài liệu (quản trị)", _docs, aliases=("docs",), roles=admin
            )
        )
        registry.add_command(
            Command(
                "xoatailieu",
                "Xóa một tài liệu (quản trị)",
                _remove_doc,
                aliases=("rmdoc",),
                roles=admin,
            )
        )
        registry.add_command(
            Command(
                "xemphanhoi",
                "Xem phản hồi của người dùng (quản trị)",
                _feedback_report,
                aliases=("feedback",),
                roles=admin,
            )
        )
        registry.on_payload("fb", _feedback)
        registry.on_payload(CONFIRM_UPLOAD, _confirm_upload, heavy=True)  # indexing
        registry.accept_uploads(
            UploadKind(
                "documents",
                "tài liệu",
                SUPPORTED_SUFFIXES,
                _ingest_attachment,
                heavy=True,  # indexing runs off the conversation path for admins
                roles=frozenset({ADMIN}),
            )
        )
        registry.on_text(answer_question)

    def register_cli(self, commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """Knowledge commands (ingest, docs, ask, eval) are the core of ``bot.cli``."""


def is_question_like(text: str) -> bool:
    """Cheap guard used by group chats: ignore one-word chatter."""
    return len(fold(text).split()) >= 2
