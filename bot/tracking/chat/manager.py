"""What managers do in the chat: statistics with a chart, the not-done list,
the Excel report, verification, link codes."""

from __future__ import annotations

from bot.core.messages import Button, OutFile, Reply
from bot.core.registry import Context
from bot.errors import PermissionDenied, UserError
from bot.text import normalize_name
from bot.tracking.chat.common import today
from bot.tracking.chat.forms import REJECT_FORM
from bot.tracking.models import JOB_GROUPS, REJECTED
from bot.tracking.normalize import vi_date
from bot.tracking.stats import lacking_vi
from bot.tracking.trend import trend_vi

MISSING_SHOWN = 30
PENDING_SHOWN = 5
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def issue_code(ctx: Context, args: str) -> list[Reply]:
    code = args.strip()
    if not code:
        return [Reply("Cách dùng: /taomalienket <mã nhân viên>")]
    tracking = ctx.services.tracking
    staff = tracking.visible_staff(ctx.actor, code)
    secret = tracking.issue_link_code(ctx.actor, code)
    return [
        Reply(
            f"Mã liên kết cho {staff.full_name} ({staff.code}): {secret}\n"
            "Mã dùng một lần, hết hạn sau 3 ngày; mã cấp trước đó (nếu có) không còn dùng được. "
            f"Nhân viên gõ: /lienket {staff.code} {secret}"
        )
    ]


def _parse_stats_args(args: str) -> tuple[str | None, str]:
    words = args.split()
    by = "unit"
    if words and normalize_name(words[-1]) in {"nhom", "job", "chuc danh", "nghe"}:
        by = "job"
        words = words[:-1]
    return (" ".join(words) or None), by


def stats(ctx: Context, args: str) -> list[Reply]:
    from bot.tracking.chart import build_chart, chart_data

    unit_ref, by = _parse_stats_args(args)
    day = today(ctx)
    total, rows = ctx.services.stats.overview(ctx.actor, unit_ref, by=by, as_of=day)
    target = (
        f", chỉ tiêu {total.target_pct:g}% ({total.counted}/{total.counts.active} người đạt, "
        f"{total.pct_counted:g}%)"
        if total.target_pct is not None
        else ""
    )
    lines = [
        f"📊 {total.label} — đến ngày {vi_date(day)}",
        f"Đã hoàn thành: {total.counts.done}/{total.counts.active} người ({total.pct_done:g}%)"
        + target,
        f"Xác nhận VNeID: {total.pct_vneid:g}% · Đã duyệt: {total.pct_verified:g}%",
        total.pace_vi(),
        trend_vi(
            ctx.services.stats.trend(ctx.actor, unit_ref, as_of=day, today=day),
            total.target_pct,
            total.deadline,
        ),
        total.rule_vi(),
        "",
        ("Theo nhóm chức danh:" if by == "job" else "Theo đơn vị:")
        + " số người đạt tiêu chí/đang làm việc",
    ]
    lines += [f"• {r.label}: {r.counted}/{r.counts.active} ({r.pct_counted:g}%)" for r in rows[:25]]
    if len(rows) > 25:
        lines.append(f"… và {len(rows) - 25} dòng khác (xem /baocao).")
    lines.append("Danh sách chưa đạt: /chuahoanthanh · Báo cáo Excel: /baocao")
    replies = [Reply("\n".join(lines))]
    if rows:
        chart = build_chart(chart_data(total, rows), f"{total.label} — đến {vi_date(day)}")
        replies.append(Reply(photo=OutFile("thong-ke.png", chart, "image/png")))
    return replies


def missing(ctx: Context, args: str) -> list[Reply]:
    unit_ref = args.strip() or None
    day = today(ctx)
    stats = ctx.services.stats
    people, total = stats.missing(ctx.actor, unit_ref, as_of=day, limit=MISSING_SHOWN)
    target = stats.target(day)
    rule = target.rule if target else "done"
    if not total:
        return [Reply("Tất cả nhân viên đang làm việc đã đạt tiêu chí. 🎉")]
    lines = [f"Chưa đạt tiêu chí: {total} người."]
    if target is not None:
        lines.append(target.describe_vi())
    current = None
    for staff, unit in people:
        if unit.name != current:
            current = unit.name
            lines.append(f"{unit.name}:")
        title = staff.title or JOB_GROUPS.get(staff.job_group, "")
        phone = f" — {staff.phone}" if staff.phone else ""
        lines.append(
            f"  • {staff.full_name} ({staff.code}) — {title}{phone} — {lacking_vi(staff.done_on, rule, day)}"
        )
    if total > len(people):
        lines.append(f"… và {total - len(people)} người khác: xem đủ trong /baocao.")
    return [Reply("\n".join(lines))]


def report(ctx: Context, args: str) -> list[Reply]:
    from bot.tracking.reports import build_xlsx

    unit_ref = args.strip() or None
    day = today(ctx)
    data = build_xlsx(ctx.services.stats, ctx.actor, unit_ref, as_of=day)
    name = f"bao-cao-hoan-thanh-{day.isoformat()}.xlsx"
    return [
        Reply(
            "Báo cáo gồm 4 trang: Tổng hợp, Chưa đạt, Đã khai báo, Xu hướng.",
            document=OutFile(name, data, XLSX_MIME),
        )
    ]


def pending(ctx: Context, _args: str) -> list[Reply]:
    """Reports waiting for verification, in ONE message whose choices name the #id:
    on channels without buttons the numbers run on, so "3" is always one item."""
    rows, total = ctx.services.tracking.pending(ctx.actor, limit=PENDING_SHOWN)
    if not total:
        return [Reply("Không có khai báo nào đang chờ duyệt.")]
    shown = f", {PENDING_SHOWN} khai báo đầu tiên" if total > PENDING_SHOWN else ""
    lines = [f"Có {total} khai báo chờ duyệt{shown}:"]
    buttons: list[list[Button]] = []
    for row in rows:
        lines.append(
            f"#{row.id} {row.staff.full_name} ({row.staff.code}) — {row.course.name}\n"
            f"   Hoàn thành {vi_date(row.completed_on)} · mã CN: {row.certificate_code or '—'} · "
            f"VNeID: {'có' if row.vneid_confirmed else 'chưa'} · "
            f"minh chứng: {'có' if row.evidence_path else 'không'}"
        )
        buttons.append(
            [
                Button(f"✅ Duyệt #{row.id}", f"vr:ok:{row.id}"),
                Button(f"❌ Từ chối #{row.id}", f"vr:no:{row.id}"),
            ]
        )
    return [Reply("\n".join(lines), buttons=buttons)]


def verdict(ctx: Context, rest: str) -> list[Reply]:
    if not ctx.actor.is_manager:
        raise PermissionDenied()
    action, _, ident = rest.partition(":")
    if not ident.isdigit():
        raise UserError("Lựa chọn không hợp lệ.")
    tracking = ctx.services.tracking
    completion_id = int(ident)
    if action in ("ok", "force"):
        current = tracking.completion_for(ctx.actor, completion_id)
        if current.status == REJECTED and action == "ok":
            return [
                Reply(
                    f"Khai báo #{current.id} của {current.staff.full_name} đã bị từ chối "
                    f"(lý do: {current.reject_reason or '—'}). Vẫn duyệt khai báo này?",
                    buttons=[
                        [
                            Button(f"Vẫn duyệt #{current.id}", f"vr:force:{current.id}"),
                            Button("Giữ từ chối", f"vr:keep:{current.id}"),
                        ]
                    ],
                )
            ]
        row = tracking.verify(ctx.actor, completion_id, override_rejection=action == "force")
        return [
            Reply(f"Đã duyệt khai báo #{row.id} của {row.staff.full_name} ({row.course.name}).")
        ]
    if action == "keep":
        return [Reply(f"Giữ nguyên: khai báo #{completion_id} vẫn bị từ chối.")]
    if action == "no":
        tracking.completion_for(ctx.actor, completion_id)  # permission check first
        return REJECT_FORM.start(ctx, ident)
    raise UserError("Lựa chọn không hợp lệ.")
