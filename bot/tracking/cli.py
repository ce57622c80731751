"""Tracking sub-commands: staff, units, courses, completions, stats, report, demo-data.

Managers and administrators read this output, so it is Vietnamese (logs stay
English); ``--json`` prints stable English keys (listed in the README). Bad
input is a one-line message and exit code 2, never a traceback. Heavy modules
(openpyxl, matplotlib) are imported by the commands that use them only, so
``hocvuso stats`` starts fast.
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from bot.core.features import CliContext
from bot.errors import UserError
from bot.tracking.models import JOB_GROUPS, STATUS_VI
from bot.tracking.normalize import check_completion_day, parse_iso_or_vi, vi_date

if TYPE_CHECKING:
    from bot.tracking.stats import Stats
    from bot.tracking.trend import TrendPoint

OPERATOR = "cli"


def _day(value: str | None) -> date | None:
    return parse_iso_or_vi(value) if value else None


def _print_json(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2))


def _operator(args: argparse.Namespace) -> str:
    """The actor written on verifications: ``--by`` names the person."""
    name = " ".join((getattr(args, "by", None) or "").split())
    return f"cli:{name}" if name else OPERATOR


# -- staff / units --------------------------------------------------------------
def cmd_staff_import(args: argparse.Namespace, cli: CliContext) -> int:
    from bot.tracking.roster import import_staff

    report = import_staff(
        cli.services.tracking,
        Path(args.file),
        OPERATOR,
        dry_run=args.dry_run,
        partial=args.partial,
        create_units=args.create_units,
    )
    print(report.summary_vi(max_errors=args.max_errors))
    if report.errors and not (report.created or report.updated or report.unchanged):
        return 1
    return 0


def cmd_units_import(args: argparse.Namespace, cli: CliContext) -> int:
    from bot.tracking.roster import import_units

    report = import_units(cli.services.tracking, Path(args.file), OPERATOR, dry_run=args.dry_run)
    print(report.summary_vi().replace("danh sách", "danh mục đơn vị", 1))
    return 0


def cmd_units_list(args: argparse.Namespace, cli: CliContext) -> int:
    for unit in cli.services.tracking.units():
        print(f"{'  ' * unit.depth}{unit.code}\t{unit.name}")
    return 0


def cmd_units_add(args: argparse.Namespace, cli: CliContext) -> int:
    unit = cli.services.tracking.upsert_unit(
        OPERATOR, args.code, args.name, kind=args.kind, parent_code=args.parent
    )
    print(f"Đã lưu đơn vị {unit.code} — {unit.name}.")
    return 0


def cmd_managers(args: argparse.Namespace, cli: CliContext) -> int:
    tracking = cli.services.tracking
    if args.remove:
        tracking.remove_manager(OPERATOR, args.staff_code, args.unit)
        print(f"{args.staff_code} không còn là người quản lý {args.unit}.")
    else:
        tracking.add_manager(OPERATOR, args.staff_code, args.unit)
        print(f"{args.staff_code} đã là người quản lý {args.unit}.")
    return 0


def cmd_staff_link(args: argparse.Namespace, cli: CliContext) -> int:
    tracking = cli.services.tracking
    if args.user_id:
        staff = tracking.link_identity(args.staff_code, args.channel, args.user_id)
        print(f"Đã liên kết {args.channel}:{args.user_id} với {staff.full_name} ({staff.code}).")
    else:
        code = tracking.issue_link_code(OPERATOR, args.staff_code)
        print(
            f"Mã liên kết một lần cho {args.staff_code} (hết hạn sau 3 ngày): {code}\n"
            f"Nhân viên gõ: /lienket {args.staff_code} {code}"
        )
    return 0


def cmd_staff_locks(args: argparse.Namespace, cli: CliContext) -> int:
    locks = cli.services.tracking.link_locks()
    if args.json:
        _print_json(
            [
                {
                    "kind": x.kind,
                    "key": x.key,
                    "failures": x.failures,
                    "locked_at": str(x.locked_at),
                }
                for x in locks
            ]
        )
        return 0
    if not locks:
        print("Không có mã nhân viên hay tài khoản nào bị khóa liên kết.")
    for lock in locks:
        kind = "mã nhân viên" if lock.kind == "staff" else "tài khoản"
        print(
            f"{kind}\t{lock.key}\tsai {lock.failures} lần\t"
            f"khóa lúc {lock.locked_at:%d/%m/%Y %H:%M} (UTC)"
        )
    return 0


def cmd_staff_unlock(args: argparse.Namespace, cli: CliContext) -> int:
    lifted = cli.services.tracking.unlock(OPERATOR, args.key)
    if not lifted:
        print(f"“{args.key}” không bị khóa.", file=sys.stderr)
        return 1
    print(f"Đã mở khóa liên kết cho {args.key}.")
    return 0


# -- courses ------------------------------------------------------------------------
def cmd_courses_list(args: argparse.Namespace, cli: CliContext) -> int:
    for course in cli.services.tracking.courses(catalogue_only=not args.all):
        mark = "" if course.in_catalogue else "\t(nhân viên tự gõ)"
        print(f"{course.code}\t{course.name}{mark}")
    return 0


def cmd_courses_add(args: argparse.Namespace, cli: CliContext) -> int:
    course = cli.services.tracking.add_course(
        OPERATOR, args.code, args.name, provider=args.provider
    )
    print(f"Đã lưu khóa học {course.code} — {course.name}.")
    return 0


def cmd_courses_retire(args: argparse.Namespace, cli: CliContext) -> int:
    cli.services.tracking.retire_course(OPERATOR, args.code)
    print(f"Đã ngừng khóa học {args.code}.")
    return 0


# -- completions --------------------------------------------------------------------
def cmd_completions_add(args: argparse.Namespace, cli: CliContext) -> int:
    from bot.tracking.completions import CompletionInput

    tracking = cli.services.tracking
    staff = tracking.staff_by_code(args.staff_code)
    course = tracking.find_course(args.course)
    if course is None:
        raise UserError(
            f"Không có khóa học “{args.course}”. Xem danh mục: hocvuso courses list --all"
        )
    today = date.today()
    day = check_completion_day(_day(args.date) or today, today)
    row, created = tracking.log_completion(
        _operator(args), staff.id, CompletionInput(course.id, day, args.certificate, args.vneid)
    )
    verb = "Đã thêm" if created else "Đã cập nhật"
    print(
        f"{verb} khai báo #{row.id}: {staff.full_name} ({staff.code}) — {course.name}, {vi_date(day)}."
    )
    return 0


def cmd_completions_list(args: argparse.Namespace, cli: CliContext) -> int:
    from sqlalchemy import select

    from bot.tracking.models import Completion, Staff

    tracking = cli.services.tracking
    with tracking.db.session() as session:
        query = select(Completion).join(Staff, Staff.id == Completion.staff_id)
        if args.status:
            query = query.where(Completion.status == args.status)
        if args.staff_code:
            query = query.where(Staff.code == args.staff_code)
        rows = session.scalars(query.order_by(Completion.id).limit(args.limit)).unique().all()
    if not rows:
        print("Không có khai báo nào.", file=sys.stderr)
    for row in rows:
        print(
            f"#{row.id}\t{row.staff.code}\t{row.staff.full_name}\t{row.course.name}\t"
            f"{vi_date(row.completed_on)}\tVNeID: {'có' if row.vneid_confirmed else 'chưa'}\t"
            f"{STATUS_VI.get(row.status, row.status)}"
        )
    return 0


def cmd_completions_verify(args: argparse.Namespace, cli: CliContext) -> int:
    tracking = cli.services.tracking
    status = 0
    for ident in args.ids:
        try:
            row = tracking.verify(
                _operator(args), ident, override_rejection=args.override_rejection
            )
        except UserError as exc:
            message = exc.message
            if "đã bị từ chối" in message:
                message += " (thêm --override-rejection để vẫn duyệt)"
            print(message, file=sys.stderr)
            status = 2
            continue
        print(f"Đã duyệt khai báo #{row.id} của {row.staff.full_name}.")
    return status


def cmd_completions_reject(args: argparse.Namespace, cli: CliContext) -> int:
    row = cli.services.tracking.reject(_operator(args), args.id, args.reason)
    print(f"Đã từ chối khai báo #{row.id} của {row.staff.full_name}; nhân viên sẽ được báo lý do.")
    return 0


def cmd_completions_delete(args: argparse.Namespace, cli: CliContext) -> int:
    cli.services.tracking.delete_completion(_operator(args), args.id)
    print(f"Đã xóa khai báo #{args.id} (nhật ký vẫn giữ nội dung cũ).")
    return 0


# -- stats / reports -------------------------------------------------------------------
STATS_HEADERS = ("NV đang làm", "Đã HT", "HT%", "VNeID%", "Duyệt%", "Đạt TC", "Đạt%")


def _width(text: str) -> int:
    return sum(0 if unicodedata.combining(c) else 1 for c in unicodedata.normalize("NFC", text))


def _pad(text: str, width: int) -> str:
    return text + " " * max(width - _width(text), 0)


def _stats_line(s: Stats, label_width: int) -> str:
    return (
        f"{_pad(s.label, label_width)} {s.counts.active:>11} {s.counts.done:>7} "
        f"{s.pct_done:>6.1f} {s.pct_vneid:>7.1f} {s.pct_verified:>7.1f} "
        f"{s.counted:>7} {s.pct_counted:>6.1f}"
    )


def cmd_stats(args: argparse.Namespace, cli: CliContext) -> int:
    as_of = _day(args.date) or date.today()
    total, rows = cli.services.stats.overview(
        None, args.unit, by=args.by, as_of=as_of, job=args.job
    )
    history = cli.services.stats.trend(None, args.unit, as_of=as_of) if args.trend else []
    if args.json:
        data: dict[str, object] = {"total": total.to_dict(), "rows": [r.to_dict() for r in rows]}
        if args.trend:
            data["trend"] = [p.to_dict() for p in history]
        _print_json(data)
        return 0
    if args.trend:
        return _print_trend(total, history)
    # A unit without sub-units breaks down into itself: print it once, as the total.
    if len(rows) == 1 and rows[0].unit_code == total.unit_code and args.by == "unit":
        rows = []
    total.label = f"Tổng: {total.label}"
    width = min(max(_width(r.label) for r in [*rows, total]), 80)
    head = ("Nhóm chức danh" if args.by == "job" else "Đơn vị") if rows else ""
    print(f"Số liệu đến ngày {vi_date(as_of)}")
    print(
        f"{_pad(head, width)} {STATS_HEADERS[0]:>11} {STATS_HEADERS[1]:>7} {STATS_HEADERS[2]:>6} "
        f"{STATS_HEADERS[3]:>7} {STATS_HEADERS[4]:>7} {STATS_HEADERS[5]:>7} {STATS_HEADERS[6]:>6}"
    )
    for row in rows:
        print(_stats_line(row, width))
    print(_stats_line(total, width))
    print(total.rule_vi())
    print(total.pace_vi())
    print(
        "(HT: đã hoàn thành ≥1 khóa; Đạt TC: đạt tiêu chí của chỉ tiêu; tỷ lệ tính trên "
        "nhân viên đang làm việc)"
    )
    return 0


def _print_trend(total: Stats, history: list[TrendPoint]) -> int:
    """Weekly rate under the target's rule, with the target and the deadline."""
    from bot.tracking.trend import weekly

    print(f"Xu hướng — {total.label}")
    print(total.rule_vi())
    if total.target_pct is not None and total.deadline is not None:
        print(f"Chỉ tiêu {total.target_pct:g}% trước {vi_date(total.deadline)}. {total.pace_vi()}")
    points = weekly(history)
    if not points:
        print("Chưa có số liệu theo ngày.")
        return 0
    print(f"{'Ngày':<12} {'NV đang làm':>11} {'Đạt TC':>7} {'Đạt%':>6}")
    for p in points:
        note = "  (ước tính)" if p.estimated else ""
        print(f"{vi_date(p.day):<12} {p.active:>11} {p.counted:>7} {p.pct:>6.1f}{note}")
    if any(p.estimated for p in points):
        print(
            "(ước tính: các tuần trước khi bắt đầu lưu số liệu hằng ngày, tính lại từ ngày "
            "hoàn thành của danh sách hiện tại)"
        )
    return 0


def cmd_missing(args: argparse.Namespace, cli: CliContext) -> int:
    from bot.tracking.safe_text import tsv_field
    from bot.tracking.stats import lacking_vi

    stats = cli.services.stats
    as_of = _day(args.date) or date.today()
    people, total = stats.missing(None, args.unit, job=args.job, limit=args.limit, as_of=as_of)
    target = stats.target(as_of)
    rule = target.rule if target else "done"
    if args.json:
        _print_json(
            {
                "as_of": as_of.isoformat(),
                "rule": rule,
                "total": total,
                "staff": [
                    {
                        "code": s.code,
                        "name": s.full_name,
                        "unit_code": u.code,
                        "unit": u.name,
                        "title": s.title,
                        "phone": s.phone,
                        "lacking": lacking_vi(s.done_on, rule, as_of),
                    }
                    for s, u in people
                ],
            }
        )
        return 0
    for staff, unit in people:
        fields = (staff.code, staff.full_name, unit.name, staff.phone or "")
        lacking = lacking_vi(staff.done_on, rule, as_of)
        print("\t".join([*(tsv_field(f) for f in fields), lacking]))
    print(f"{total} người chưa đạt tiêu chí đến ngày {vi_date(as_of)}.", file=sys.stderr)
    return 0


def cmd_report(args: argparse.Namespace, cli: CliContext) -> int:
    from bot.tracking.reports import build_xlsx

    stats = cli.services.stats
    as_of = _day(args.date) or date.today()
    out = Path(args.out)
    if args.job and args.job not in JOB_GROUPS:
        raise UserError("Nhóm chức danh không hợp lệ.")
    out.write_bytes(build_xlsx(stats, None, args.unit, as_of=as_of, job=args.job))
    print(f"Đã ghi báo cáo {out}")
    if args.chart:
        from bot.tracking.chart import build_chart, chart_data

        total, rows = stats.overview(None, args.unit, as_of=as_of)
        title = f"{total.label} — đến {vi_date(as_of)}"
        Path(args.chart).write_bytes(build_chart(chart_data(total, rows), title))
        print(f"Đã ghi biểu đồ {args.chart}")
    return 0


def cmd_targets(args: argparse.Namespace, cli: CliContext) -> int:
    from bot.tracking.targets import rule_of

    tracking = cli.services.tracking
    if args.year and args.percent:
        deadline = _day(args.deadline) or date(args.year, 12, 31)
        tracking.set_target(
            OPERATOR, args.year, args.percent / 100, deadline, args.source, rule=args.rule
        )
    elif args.year or args.rule:
        raise UserError("Cần cả năm và tỷ lệ, ví dụ: hocvuso targets 2027 100 --rule vneid")
    for t in tracking.targets():
        print(
            f"{t.year}\t{t.rate * 100:g}%\ttrước {vi_date(t.deadline)}\t"
            f"tiêu chí: {rule_of(t.rule).short_vi} ({t.rule})\t{t.source or ''}"
        )
    return 0


def cmd_demo(args: argparse.Namespace, cli: CliContext) -> int:
    from bot.tracking.demo import generate

    result = generate(
        cli.services.tracking,
        staff=args.staff,
        units=args.units,
        completions=args.completions,
        seed=args.seed,
    )
    print(
        f"Tỉnh mẫu: {result['units']} đơn vị, {result['staff']} nhân viên, "
        f"{result['completions']} khai báo hoàn thành."
    )
    return 0


def register_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the tracking sub-commands to ``hocvuso``."""
    staff = sub.add_parser("staff", help="danh sách nhân viên: nhập, liên kết, người quản lý")
    ssub = staff.add_subparsers(dest="staff_command", required=True)
    p = ssub.add_parser("import", help="nhập danh sách nhân viên (CSV/XLSX, tiêu đề tiếng Việt)")
    p.add_argument("file")
    p.add_argument("--dry-run", action="store_true", help="kiểm tra và báo cáo, không lưu")
    p.add_argument("--partial", action="store_true", help="chỉ thêm/cập nhật, không chuyển ngừng")
    p.add_argument(
        "--create-units",
        action="store_true",
        help="tạo các đơn vị chưa có trong danh mục (xem trước bằng --dry-run)",
    )
    p.add_argument("--max-errors", type=int, default=50)
    p.set_defaults(func=cmd_staff_import)
    p = ssub.add_parser("link", help="cấp mã liên kết một lần, hoặc liên kết trực tiếp")
    p.add_argument("staff_code")
    p.add_argument("--channel", default="telegram")
    p.add_argument("--user-id", help="liên kết trực tiếp tài khoản này")
    p.set_defaults(func=cmd_staff_link)
    p = ssub.add_parser("locks", help="mã nhân viên / tài khoản bị khóa liên kết")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_staff_locks)
    p = ssub.add_parser("unlock", help="mở khóa liên kết: mã nhân viên hoặc kênh:mã tài khoản")
    p.add_argument("key")
    p.set_defaults(func=cmd_staff_unlock)
    p = ssub.add_parser("manager", help="đặt nhân viên làm người quản lý đơn vị")
    p.add_argument("staff_code")
    p.add_argument("unit")
    p.add_argument("--remove", action="store_true")
    p.set_defaults(func=cmd_managers)

    units = sub.add_parser("units", help="danh mục đơn vị")
    usub = units.add_subparsers(dest="units_command", required=True)
    p = usub.add_parser("import", help="nhập đơn vị (Mã đơn vị, Tên đơn vị, Đơn vị cấp trên, Loại)")
    p.add_argument("file")
    p.add_argument("--dry-run", action="store_true")
    p.set_defaults(func=cmd_units_import)
    p = usub.add_parser("list")
    p.set_defaults(func=cmd_units_list)
    p = usub.add_parser("add")
    p.add_argument("code")
    p.add_argument("name")
    p.add_argument("--parent")
    p.add_argument("--kind", default="other")
    p.set_defaults(func=cmd_units_add)

    courses = sub.add_parser("courses", help="danh mục khóa học")
    csub = courses.add_subparsers(dest="courses_command", required=True)
    p = csub.add_parser("list")
    p.add_argument("--all", action="store_true", help="kể cả khóa học nhân viên tự gõ")
    p.set_defaults(func=cmd_courses_list)
    p = csub.add_parser("add")
    p.add_argument("code")
    p.add_argument("name")
    p.add_argument("--provider")
    p.set_defaults(func=cmd_courses_add)
    p = csub.add_parser("retire")
    p.add_argument("code")
    p.set_defaults(func=cmd_courses_retire)

    comp = sub.add_parser("completions", help="khai báo hoàn thành: thêm, xem, duyệt, từ chối")
    psub = comp.add_subparsers(dest="completions_command", required=True)
    p = psub.add_parser("add")
    p.add_argument("staff_code")
    p.add_argument("course", help="mã hoặc tên khóa học")
    p.add_argument("--date", help="NNNN-TT-NN hoặc NN/TT/NNNN (mặc định hôm nay)")
    p.add_argument("--certificate")
    p.add_argument("--vneid", action="store_true", help="đã xác nhận trên VNeID")
    p.set_defaults(func=cmd_completions_add)
    p = psub.add_parser("list")
    p.add_argument("--status", choices=["reported", "verified", "rejected"])
    p.add_argument("--staff-code")
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(func=cmd_completions_list)
    p = psub.add_parser("verify")
    p.add_argument("ids", type=int, nargs="+")
    p.add_argument("--by", help="họ tên người duyệt (ghi vào báo cáo)")
    p.add_argument(
        "--override-rejection",
        action="store_true",
        help="vẫn duyệt khai báo đã bị từ chối (mặc định: từ chối thao tác)",
    )
    p.set_defaults(func=cmd_completions_verify)
    p = psub.add_parser("reject")
    p.add_argument("id", type=int)
    p.add_argument("--reason", required=True)
    p.add_argument("--by", help="họ tên người từ chối (ghi vào báo cáo)")
    p.set_defaults(func=cmd_completions_reject)
    p = psub.add_parser("delete", help="xóa một khai báo nhập nhầm")
    p.add_argument("id", type=int)
    p.set_defaults(func=cmd_completions_delete)

    p = sub.add_parser("stats", help="tỷ lệ hoàn thành so với chỉ tiêu")
    p.add_argument("--unit", help="mã hoặc tên đơn vị (mặc định: toàn tỉnh)")
    p.add_argument("--by", choices=["unit", "job"], default="unit")
    p.add_argument("--job", choices=sorted(JOB_GROUPS))
    p.add_argument("--date", help="số liệu đến ngày này (mặc định hôm nay)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--trend", action="store_true", help="xu hướng theo tuần so với chỉ tiêu và hạn")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("missing", help="nhân viên chưa đạt tiêu chí")
    p.add_argument("--unit")
    p.add_argument("--job", choices=sorted(JOB_GROUPS))
    p.add_argument("--date")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_missing)

    p = sub.add_parser("report", help="báo cáo XLSX (+ biểu đồ PNG)")
    p.add_argument("--out", required=True)
    p.add_argument("--chart")
    p.add_argument("--unit")
    p.add_argument("--job", choices=sorted(JOB_GROUPS), help="chỉ một nhóm chức danh")
    p.add_argument("--date")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("targets", help="xem hoặc đặt chỉ tiêu theo năm")
    p.add_argument("year", type=int, nargs="?")
    p.add_argument("percent", type=float, nargs="?")
    p.add_argument("--deadline")
    p.add_argument("--source")
    p.add_argument(
        "--rule",
        help="tiêu chí tính: done (hoàn thành), vneid (hoàn thành + VNeID), verified (+ được duyệt)",
    )
    p.set_defaults(func=cmd_targets)

    p = sub.add_parser("demo-data", help="tạo tỉnh mẫu (chỉ khi danh sách nhân viên trống)")
    p.add_argument("--staff", type=int, default=2000)
    p.add_argument("--units", type=int)
    p.add_argument("--completions", type=int)
    p.add_argument("--seed", type=int, default=2026)
    p.set_defaults(func=cmd_demo)
