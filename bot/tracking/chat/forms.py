"""The multi-step forms of tracking: logging a completion, rejecting one.

Each step is persisted by the engine, so a form survives a restart and
continues on another worker; buttons become numbered choices where a channel
has none.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from bot.core.messages import Button, Reply
from bot.core.registry import Context, Flow
from bot.errors import UserError
from bot.text import normalize_name
from bot.tracking.chat.common import link_prompt, today
from bot.tracking.completions import CompletionInput
from bot.tracking.evidence import EVIDENCE_SUFFIXES, store_evidence
from bot.tracking.limits import LIMITS
from bot.tracking.normalize import parse_day, vi_date, yes_no

CANCEL_WORDS = {"huy", "thoi", "cancel", "dung"}


class CompletionFlow(Flow):
    """Course -> date -> certificate code -> VNeID -> evidence -> saved."""

    name = "ghinhan"

    def start(self, ctx: Context, args: str) -> list[Reply]:
        if not ctx.actor.is_linked:
            return link_prompt(ctx)
        ctx.flow, ctx.step, ctx.data = self.name, "course", {}
        courses = ctx.services.tracking.courses()
        buttons = [[Button(c.name, f"{self.name}:course:{c.id}")] for c in courses[:10]]
        buttons.append([Button("Hủy", f"{self.name}:cancel")])
        return [
            Reply(
                "Bước 1/5 — Bạn đã hoàn thành khóa học nào trên nền tảng “Bình dân học vụ số”? "
                "Chọn trong danh mục hoặc gõ tên khóa học. (Gõ /huy để dừng bất cứ lúc nào.)",
                buttons=buttons,
            )
        ]

    def handle(self, ctx: Context) -> list[Reply]:
        msg = ctx.msg
        payload = (msg.payload or "").partition(":")[2]
        if payload == "cancel" or (
            not payload and normalize_name(msg.text) in CANCEL_WORDS and msg.attachment is None
        ):
            ctx.finish()
            return [Reply("Đã hủy khai báo. Chưa có gì thay đổi.")]
        step = ctx.step
        if step == "course":
            return self._course(ctx, payload)
        if step == "date":
            return self._date(ctx, payload)
        if step == "cert":
            return self._cert(ctx, payload)
        if step == "vneid":
            return self._vneid(ctx, payload)
        if step == "evidence":
            return self._evidence(ctx, payload)
        ctx.finish()
        return [Reply("Biểu mẫu đã hết hạn. Gõ /ghinhan để bắt đầu lại.")]

    def _ask_date(self) -> Reply:
        return Reply(
            "Bước 2/5 — Bạn hoàn thành khóa học ngày nào? Nhập ngày/tháng/năm (ví dụ 05/03/2026).",
            buttons=[
                [
                    Button("Hôm nay", f"{self.name}:date:today"),
                    Button("Hôm qua", f"{self.name}:date:yesterday"),
                ]
            ],
        )

    def _course(self, ctx: Context, payload: str) -> list[Reply]:
        tracking = ctx.services.tracking
        if payload.startswith("course:"):
            course_id = int(payload.split(":", 1)[1])
            course = next(
                (c for c in tracking.courses(catalogue_only=False) if c.id == course_id), None
            )
            if course is None:
                raise UserError("Khóa học này không còn trong danh mục. Hãy chọn lại.")
        elif ctx.msg.text.strip():
            course = tracking.course_for_name(ctx.actor, ctx.msg.text)
        else:
            return [Reply("Hãy chọn một khóa học hoặc gõ tên khóa học.")]
        ctx.data.update(course_id=course.id, course_name=course.name)
        ctx.goto("date")
        return [Reply(f"Khóa học: {course.name}."), self._ask_date()]

    def _date(self, ctx: Context, payload: str) -> list[Reply]:
        text = {"date:today": "hôm nay", "date:yesterday": "hôm qua"}.get(payload, ctx.msg.text)
        day = parse_day(text, today(ctx))
        ctx.data["completed_on"] = day.isoformat()
        ctx.goto("cert")
        return [
            Reply(
                f"Ngày hoàn thành: {vi_date(day)}.\nBước 3/5 — Mã số giấy chứng nhận (nếu có)? "
                "Gõ mã, hoặc chọn Bỏ qua.",
                buttons=[[Button("Bỏ qua", f"{self.name}:skip")]],
            )
        ]

    def _cert(self, ctx: Context, payload: str) -> list[Reply]:
        if payload != "skip":
            code = " ".join(ctx.msg.text.split())
            if not code:
                return [Reply("Hãy gõ mã chứng nhận, hoặc chọn Bỏ qua.")]
            if len(code) > LIMITS.certificate:
                raise UserError(f"Mã chứng nhận quá dài (tối đa {LIMITS.certificate} ký tự).")
            ctx.data["certificate_code"] = code
        ctx.goto("vneid")
        return [
            Reply(
                "Bước 4/5 — Kết quả học đã được xác nhận trên ứng dụng VNeID chưa?",
                buttons=[
                    [
                        Button("Có", f"{self.name}:vneid:yes"),
                        Button("Chưa", f"{self.name}:vneid:no"),
                    ]
                ],
            )
        ]

    def _vneid(self, ctx: Context, payload: str) -> list[Reply]:
        answer = {"vneid:yes": True, "vneid:no": False}.get(payload)
        if answer is None:
            answer = yes_no(ctx.msg.text)
        if answer is None:
            return [Reply("Hãy trả lời “Có” hoặc “Chưa”.")]
        ctx.data["vneid"] = answer
        ctx.goto("evidence")
        limit = ctx.services.settings.max_upload_mb
        return [
            Reply(
                "Bước 5/5 — Gửi ảnh chụp hoặc tệp PDF giấy chứng nhận (không bắt buộc, tối đa "
                f"{limit} MB), hoặc chọn Bỏ qua để lưu.",
                buttons=[[Button("Bỏ qua và lưu", f"{self.name}:skip")]],
            )
        ]

    def _evidence(self, ctx: Context, payload: str) -> list[Reply]:
        evidence: str | None = None
        att = ctx.msg.attachment
        settings = ctx.services.settings
        if att is not None:
            suffix = Path(att.filename).suffix.lower()
            if suffix not in EVIDENCE_SUFFIXES:
                return [
                    Reply(
                        "Chỉ nhận ảnh (JPG, PNG, WEBP, HEIC) hoặc tệp PDF. Hãy gửi lại, hoặc chọn Bỏ qua."
                    )
                ]
            if att.size > settings.max_upload_mb * 1024 * 1024:
                return [
                    Reply(f"Tệp quá lớn (tối đa {settings.max_upload_mb} MB). Hãy gửi ảnh nhỏ hơn.")
                ]
            assert ctx.actor.staff_id is not None
            evidence = store_evidence(
                settings.data_dir, ctx.actor.staff_id, ctx.actor.staff_code, att.path, suffix
            )
        elif payload != "skip":
            return [Reply("Hãy gửi ảnh/tệp PDF giấy chứng nhận, hoặc chọn Bỏ qua và lưu.")]
        return self._save(ctx, evidence)

    def _save(self, ctx: Context, evidence: str | None) -> list[Reply]:
        data = ctx.data
        assert ctx.actor.staff_id is not None
        row, created = ctx.services.tracking.log_completion(
            ctx.actor,
            ctx.actor.staff_id,
            CompletionInput(
                course_id=int(data["course_id"]),
                completed_on=date.fromisoformat(data["completed_on"]),
                certificate_code=data.get("certificate_code"),
                vneid_confirmed=bool(data.get("vneid")),
                evidence_path=evidence,
            ),
        )
        ctx.finish()
        head = (
            "✅ Đã ghi nhận"
            if created
            else "✅ Bạn đã khai báo khóa này trước đó; thông tin đã được cập nhật (không tính trùng)"
        )
        lines = [
            f"{head}:",
            f"• Khóa học: {row.course.name}",
            f"• Ngày hoàn thành: {vi_date(row.completed_on)}",
            f"• Mã chứng nhận: {row.certificate_code or '—'}",
            f"• Xác nhận VNeID: {'có' if row.vneid_confirmed else 'chưa'}",
            f"• Minh chứng: {'đã gửi' if row.evidence_path else 'không có'}",
            "Kết quả đang chờ người quản lý đơn vị duyệt. Gõ /tiendo để xem tiến độ.",
        ]
        target = ctx.services.tracking.target_for(today(ctx))
        if not row.vneid_confirmed and target is not None and target.rule == "vneid":
            lines.append(
                "Lưu ý: kế hoạch chỉ tính khi kết quả được xác nhận trên VNeID; khi đã xác nhận, "
                "gõ /ghinhan và khai lại khóa này với “Có”."
            )
        return [Reply("\n".join(lines))]


class RejectFlow(Flow):
    """Asks the reason for a rejection, which the staff member is told."""

    name = "tuchoi"

    def start(self, ctx: Context, args: str) -> list[Reply]:
        ctx.flow, ctx.step, ctx.data = self.name, "reason", {"id": int(args)}
        return [
            Reply(
                f"Lý do từ chối khai báo #{args}? (nhân viên sẽ nhận được lý do này; /huy để dừng)"
            )
        ]

    def handle(self, ctx: Context) -> list[Reply]:
        reason = ctx.msg.text.strip()
        if not reason:
            return [Reply("Hãy gõ lý do từ chối.")]
        row = ctx.services.tracking.reject(ctx.actor, int(ctx.data["id"]), reason)
        ctx.finish()
        return [
            Reply(
                f"Đã từ chối khai báo #{row.id} của {row.staff.full_name}. Nhân viên sẽ được báo lý do."
            )
        ]


COMPLETION_FORM = CompletionFlow()
REJECT_FORM = RejectFlow()
