"""XLSX report and PNG chart for managers (Vietnamese headers and labels).

The workbook is written in openpyxl's write-only mode so a province of
100,000 staff fits in seconds and little memory. The chart uses DejaVu Sans,
which matplotlib ships and which has every Vietnamese glyph.
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from sqlalchemy import or_, select

from bot.core.actor import Actor
from bot.tracking.models import JOB_GROUPS, STATUS_VI, Completion, Course, Staff, Unit
from bot.tracking.normalize import vi_date
from bot.tracking.stats import Stats, StatsService

SUMMARY_HEADERS = [
    "Mã đơn vị",
    "Đơn vị",
    "Số nhân viên đang làm việc",
    "Đã hoàn thành ≥1 khóa",
    "Tỷ lệ hoàn thành (%)",
    "Chỉ tiêu (%)",
    "Đã xác nhận VNeID (%)",
    "Đã được duyệt (%)",
    "Còn thiếu (người)",
    "Tiến độ",
]
MISSING_HEADERS = ["Mã NV", "Họ và tên", "Đơn vị", "Chức danh", "Nhóm chức danh", "Số điện thoại"]
COMPLETION_HEADERS = [
    "Mã NV",
    "Họ và tên",
    "Đơn vị",
    "Khóa học",
    "Ngày hoàn thành",
    "Mã chứng nhận",
    "Xác nhận VNeID",
    "Trạng thái",
    "Người duyệt",
    "Lý do từ chối",
]


def _summary_row(s: Stats) -> list[object]:
    return [
        s.unit_code or "",
        s.label,
        s.counts.active,
        s.counts.done,
        s.pct_done,
        s.target_pct,
        s.pct_vneid,
        s.pct_verified,
        s.needed,
        s.pace_vi(),
    ]


def build_xlsx(
    stats: StatsService,
    actor: Actor | None,
    unit_ref: str | None = None,
    *,
    as_of: date | None = None,
) -> bytes:
    """Three sheets: summary per unit, not-yet-done staff, every completion."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    as_of = as_of or date.today()
    scope = stats.scope(actor, unit_ref)
    total, rows = stats.overview(actor, unit_ref, as_of=as_of)
    jobs = stats.breakdown(actor, unit_ref, by="job", as_of=as_of)
    wb = Workbook(write_only=True)
    bold = Font(bold=True)

    def header(ws: Any, names: list[str]) -> None:
        cells = []
        for name in names:
            cell = WriteOnlyCell(ws, value=name)
            cell.font = bold
            cells.append(cell)
        ws.append(cells)

    ws = wb.create_sheet("Tổng hợp")
    ws.append([f"Báo cáo hoàn thành khóa học Bình dân học vụ số — {scope.label}"])
    ws.append([f"Số liệu đến ngày {vi_date(as_of)}. {total.pace_vi()}"])
    ws.append([])
    header(ws, SUMMARY_HEADERS)
    for s in [*rows, total]:
        ws.append(_summary_row(s))
    ws.append([])
    header(ws, ["", "Nhóm chức danh", *SUMMARY_HEADERS[2:]])
    for s in jobs:
        ws.append(["", *_summary_row(s)[1:]])
    ws.append([])
    ws.append(
        [
            "Ghi chú: “Đã hoàn thành” là nhân viên đang làm việc có ít nhất một khóa học "
            "được khai báo (chờ duyệt hoặc đã duyệt) đến ngày báo cáo; mỗi người chỉ tính một lần."
        ]
    )

    paths = [u.path for u in scope.units]
    ws = wb.create_sheet("Chưa hoàn thành")
    header(ws, MISSING_HEADERS)
    missing, _ = stats.missing(actor, unit_ref, as_of=as_of, limit=None)
    for staff, unit in missing:
        ws.append(
            [
                staff.code,
                staff.full_name,
                unit.name,
                staff.title or "",
                JOB_GROUPS.get(staff.job_group, ""),
                staff.phone or "",
            ]
        )

    ws = wb.create_sheet("Đã khai báo")
    header(ws, COMPLETION_HEADERS)
    with stats.tracking.db.session() as session:
        query = (
            select(
                Staff.code,
                Staff.full_name,
                Unit.name,
                Course.name,
                Completion.completed_on,
                Completion.certificate_code,
                Completion.vneid_confirmed,
                Completion.status,
                Completion.verified_by,
                Completion.reject_reason,
            )
            .select_from(Completion)
            .join(Staff, Staff.id == Completion.staff_id)
            .join(Unit, Unit.id == Staff.unit_id)
            .join(Course, Course.id == Completion.course_id)
            .where(or_(*(Unit.path.like(f"{p}%") for p in paths)), Completion.completed_on <= as_of)
            .order_by(Unit.path, Staff.full_name, Completion.completed_on)
            .execution_options(yield_per=5000)
        )
        for code, name, unit_name, course, day, cert, vneid, status, by, reason in session.execute(
            query
        ):
            ws.append(
                [
                    code,
                    name,
                    unit_name,
                    course,
                    vi_date(day),
                    cert or "",
                    "Có" if vneid else "Không",
                    STATUS_VI.get(status, status),
                    by or "",
                    reason or "",
                ]
            )
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def build_chart(rows: list[Stats], title: str) -> bytes:
    """Horizontal bars of % done per unit with the target as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = rows[:40]  # beyond that a phone screen shows nothing readable
    height = max(2.5, 0.42 * len(rows) + 1.4)
    fig, ax = plt.subplots(figsize=(8, height), dpi=110)
    try:
        labels = [r.label if len(r.label) <= 38 else r.label[:36] + "…" for r in rows][::-1]
        values = [r.pct_done for r in rows][::-1]
        target = next((r.target_pct for r in rows if r.target_pct is not None), None)
        colors = ["#2e7d32" if target is not None and v >= target else "#1565c0" for v in values]
        bars = ax.barh(labels, values, color=colors)
        for bar, value in zip(bars, values, strict=True):
            ax.text(
                min(value + 1, 101),
                bar.get_y() + bar.get_height() / 2,
                f"{value:g}%",
                va="center",
                fontsize=8,
            )
        if target is not None:
            ax.axvline(
                target,
                color="#c62828",
                linestyle="--",
                linewidth=1.5,
                label=f"Chỉ tiêu {target:g}%",
            )
            ax.legend(loc="lower right", fontsize=8)
        ax.set_xlim(0, 110)
        ax.set_xlabel("Tỷ lệ nhân viên đã hoàn thành ít nhất một khóa học (%)")
        ax.set_title(title, fontsize=10)
        ax.tick_params(axis="y", labelsize=8)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(fig)
