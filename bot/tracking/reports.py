"""The XLSX report managers open on their own computer (Vietnamese headers).

Streamed with :class:`~bot.tracking.xlsx_stream.XlsxStream`: rows go into the
file as they are read from the database (``yield_per``), so a province of
100,000 staff (about 2 million cells) costs seconds and little memory;
openpyxl's write-only mode spent 85% of a report building cell objects. Text
is always written as an inline string (never a formula), and every text that
comes from a person or a roster also passes
:func:`bot.tracking.safe_text.cell_text` (OWASP: a leading apostrophe before
``= + - @``), so editing the cell in Excel cannot turn it into one either.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select, true

from bot.core.actor import Actor
from bot.tracking.models import JOB_GROUPS, STATUS_VI, Completion, Course, Staff, Unit
from bot.tracking.normalize import vi_date
from bot.tracking.safe_text import cell_text
from bot.tracking.stats import RULE_COLUMNS, Stats, StatsService, lacking_vi
from bot.tracking.targets import DEFAULT_RULE, rule_of
from bot.tracking.trend import weekly
from bot.tracking.xlsx_stream import XlsxStream

SUMMARY_HEADERS = [
    "Mã đơn vị",
    "Đơn vị",
    "Số nhân viên đang làm việc",
    "Đã hoàn thành ≥1 khóa",
    "Tỷ lệ hoàn thành (%)",
    "Đã xác nhận VNeID (%)",
    "Đã được duyệt (%)",
    "Đạt tiêu chí (người)",
    "Tỷ lệ đạt tiêu chí (%)",
    "Chỉ tiêu (%)",
    "Đạt đúng hạn (người)",
    "Đạt sau hạn (người)",
    "Còn thiếu (người)",
    "Tiến độ",
]
MISSING_HEADERS = [
    "Mã NV",
    "Họ và tên",
    "Đơn vị",
    "Chức danh",
    "Nhóm chức danh",
    "Số điện thoại",
    "Còn thiếu",
]
COMPLETION_HEADERS = [
    "Mã NV",
    "Họ và tên",
    "Đơn vị",
    "Khóa học",
    "Ngày hoàn thành",
    "Mã chứng nhận",
    "Xác nhận VNeID",
    "Trạng thái",
    "Đúng hạn",
    "Người duyệt",
    "Lý do từ chối",
]
TREND_HEADERS = [
    "Ngày",
    "Số nhân viên đang làm việc",
    "Đạt tiêu chí (người)",
    "Tỷ lệ đạt tiêu chí (%)",
    "Chỉ tiêu (%)",
    "Ghi chú",
]
SHEETS = ("Tổng hợp", "Chưa đạt", "Đã khai báo", "Xu hướng")


def reviewer_vi(label: str | None) -> str:
    """A stored reviewer as a manager reads it (older rows stored "cli")."""
    if not label:
        return ""
    if label == "cli":
        return "Quản trị viên (dòng lệnh)"
    if label == "demo":
        return "Dữ liệu mẫu"
    return label


def _summary_row(s: Stats) -> list[object]:
    return [
        cell_text(s.unit_code),
        cell_text(s.label),
        s.counts.active,
        s.counts.done,
        s.pct_done,
        s.pct_vneid,
        s.pct_verified,
        s.counted,
        s.pct_counted,
        s.target_pct,
        s.on_time,
        s.late,
        s.needed,
        s.pace_vi(),
    ]


def build_xlsx(
    stats: StatsService,
    actor: Actor | None,
    unit_ref: str | None = None,
    *,
    as_of: date | None = None,
    job: str | None = None,
    today: date | None = None,
) -> bytes:
    """Four sheets: summary per unit and job group, staff not counted yet, every
    completion, and the trend (weekly, from the daily snapshots).

    With ``job`` every sheet is limited to that job group (the trend, kept
    per unit only, stays the whole scope's and says so).
    """
    as_of = as_of or date.today()
    scope = stats.scope(actor, unit_ref)
    total, rows = stats.overview(actor, unit_ref, as_of=as_of, job=job)
    jobs = stats.breakdown(actor, unit_ref, by="job", as_of=as_of, job=job)
    target = total.target
    rule = target.rule if target else DEFAULT_RULE
    book = XlsxStream()
    ws = book.sheet(SHEETS[0], {0: 14, 1: 40})
    ws.append([cell_text(f"Báo cáo hoàn thành khóa học Bình dân học vụ số — {scope.label}")])
    ws.append([f"Số liệu đến ngày {vi_date(as_of)}. {total.pace_vi()}"])
    ws.append([total.rule_vi()])
    ws.append([])
    ws.header(SUMMARY_HEADERS)
    for s in [*rows, total]:
        ws.append(_summary_row(s))
    ws.append([])
    ws.header(["", "Nhóm chức danh", *SUMMARY_HEADERS[2:]])
    for s in jobs:
        ws.append(["", *_summary_row(s)[1:]])
    ws.append([])
    ws.append(
        [
            "Ghi chú: “Đã hoàn thành” là nhân viên đang làm việc có ít nhất một khóa học "
            "được khai báo (chờ duyệt hoặc đã duyệt) đến ngày báo cáo; mỗi người chỉ tính một lần. "
            f"“Đạt tiêu chí”: {rule_of(rule).long_vi}. “Đạt sau hạn”: đạt tiêu chí sau hạn "
            "của chỉ tiêu, không tính là đạt đúng hạn."
        ]
    )

    paths = [u.path for u in scope.units]
    # Semi-joins from the units in scope: the database starts from those units'
    # staff (staff index) instead of scanning every staff row and completion.
    # A whole province needs no unit filter at all (and a semi-join would only slow it).
    roots = {u.id for u in scope.all_units if u.parent_id is None}
    whole = {u.id for u in scope.units} == roots
    unit_ids = select(Unit.id).where(or_(*(Unit.path.like(f"{p}%") for p in paths)))
    staff_ids = select(Staff.id).where(Staff.unit_id.in_(unit_ids), Staff.active.is_(True))
    in_units = true() if whole else Staff.unit_id.in_(unit_ids)
    in_staff = Staff.active.is_(True) if whole else Completion.staff_id.in_(staff_ids)
    column = RULE_COLUMNS[rule]
    ws = book.sheet(SHEETS[1], {0: 12, 1: 28, 2: 28, 6: 26})
    ws.header(MISSING_HEADERS)
    with stats.tracking.db.session() as session:
        missing = (
            select(
                Staff.code,
                Staff.full_name,
                Unit.name,
                Staff.title,
                Staff.job_group,
                Staff.phone,
                Staff.done_on,
            )
            .join(Unit, Unit.id == Staff.unit_id)
            .where(
                Staff.active.is_(True),
                or_(column.is_(None), column > as_of),
                in_units,
                *([Staff.job_group == job] if job else []),
            )
            .order_by(Unit.path, Staff.full_name, Staff.code)
            .execution_options(yield_per=5000)
        )
        groups = dict(JOB_GROUPS)
        for code, name, unit_name, title, group, phone, done_on in session.execute(missing):
            ws.append(
                (
                    cell_text(code),
                    cell_text(name),
                    cell_text(unit_name),
                    cell_text(title),
                    groups.get(group, ""),
                    cell_text(phone),
                    lacking_vi(done_on, rule, as_of),
                )
            )

    ws = book.sheet(SHEETS[2], {0: 12, 1: 28, 2: 28, 3: 32, 9: 24})
    ws.header(COMPLETION_HEADERS)
    deadline = target.deadline if target else None
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
            .where(
                in_staff,
                Completion.completed_on <= as_of,
                *([Staff.job_group == job] if job else []),
            )
            .order_by(Unit.path, Staff.full_name, Staff.code, Completion.completed_on)
            .execution_options(yield_per=5000)
        )
        statuses = dict(STATUS_VI)
        for code, name, unit_name, course, day, cert, vneid, status, by, reason in session.execute(
            query
        ):
            ws.append(
                (
                    cell_text(code),
                    cell_text(name),
                    cell_text(unit_name),
                    cell_text(course),
                    vi_date(day),
                    cell_text(cert),
                    "Có" if vneid else "Không",
                    statuses.get(status, status),
                    "" if deadline is None else ("Muộn" if day > deadline else "Đúng hạn"),
                    cell_text(reviewer_vi(by)),
                    cell_text(reason),
                )
            )

    ws = book.sheet(SHEETS[3], {0: 14, 5: 60})
    ws.append([cell_text(f"Tỷ lệ đạt tiêu chí theo tuần — {scope.label}")])
    ws.append([total.rule_vi()])
    ws.append([])
    ws.header(TREND_HEADERS)
    target_pct = total.target_pct
    history = weekly(stats.trend(actor, unit_ref, as_of=as_of, today=today))
    for point in history:
        ws.append(
            (
                vi_date(point.day),
                point.active,
                point.counted,
                point.pct,
                "" if target_pct is None else target_pct,
                "ước tính từ ngày hoàn thành" if point.estimated else "",
            )
        )
    if job:
        ws.append([])
        ws.append(["Ghi chú: xu hướng tính cho toàn bộ nhân viên của đơn vị, mọi nhóm chức danh."])
    return book.close()
