"""Tracking sub-commands: staff, units, courses, completions, stats, report, demo-data.

Operators work here (English help, Vietnamese data). Each command builds the
same services the assistant uses, so the CLI and the chat see one database.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from bot.core.features import CliContext
from bot.tracking.models import JOB_GROUPS, STATUS_VI
from bot.tracking.normalize import parse_iso_or_vi, vi_date
from bot.tracking.service import CompletionInput
from bot.tracking.stats import Stats

OPERATOR = "cli"


def _day(value: str | None) -> date | None:
    return parse_iso_or_vi(value) if value else None


def _print_json(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2))


# -- staff / units --------------------------------------------------------------
def cmd_staff_import(args: argparse.Namespace, cli: CliContext) -> int:
    from bot.tracking.roster import import_staff

    tracking = cli.services.tracking
    report = import_staff(
        tracking, Path(args.file), OPERATOR, dry_run=args.dry_run, partial=args.partial
    )
    print(report.summary_vi(max_errors=args.max_errors))
    return 1 if report.errors and not (report.created or report.updated or report.unchanged) else 0


def cmd_units_import(args: argparse.Namespace, cli: CliContext) -> int:
    from bot.tracking.roster import import_units

    tracking = cli.services.tracking
    report = import_units(tracking, Path(args.file), OPERATOR, dry_run=args.dry_run)
    print(report.summary_vi())
    return 0


def cmd_units_list(args: argparse.Namespace, cli: CliContext) -> int:
    tracking = cli.services.tracking
    for unit in tracking.units():
        print(f"{'  ' * unit.depth}{unit.code}\t{unit.name}")
    return 0


def cmd_units_add(args: argparse.Namespace, cli: CliContext) -> int:
    tracking = cli.services.tracking
    unit = tracking.upsert_unit(
        OPERATOR, args.code, args.name, kind=args.kind, parent_code=args.parent
    )
    print(f"unit {unit.code} saved")
    return 0


def cmd_managers(args: argparse.Namespace, cli: CliContext) -> int:
    tracking = cli.services.tracking
    if args.remove:
        tracking.remove_manager(OPERATOR, args.staff_code, args.unit)
        print(f"{args.staff_code} no longer manages {args.unit}")
    else:
        tracking.add_manager(OPERATOR, args.staff_code, args.unit)
        print(f"{args.staff_code} now manages {args.unit}")
    return 0


def cmd_staff_link(args: argparse.Namespace, cli: CliContext) -> int:
    tracking = cli.services.tracking
    if args.user_id:
        staff = tracking.link_identity(args.staff_code, args.channel, args.user_id)
        print(f"linked {args.channel}:{args.user_id} to {staff.code}")
    else:
        code = tracking.issue_link_code(OPERATOR, args.staff_code)
        print(f"one-time link code for {args.staff_code} (3 days): {code}")
    return 0


# -- courses ------------------------------------------------------------------------
def cmd_courses_list(args: argparse.Namespace, cli: CliContext) -> int:
    tracking = cli.services.tracking
    for course in tracking.courses(catalogue_only=not args.all):
        mark = "" if course.in_catalogue else "\t(typed by staff)"
        print(f"{course.code}\t{course.name}{mark}")
    return 0


def cmd_courses_add(args: argparse.Namespace, cli: CliContext) -> int:
    tracking = cli.services.tracking
    course = tracking.add_course(OPERATOR, args.code, args.name, provider=args.provider)
    print(f"course {course.code} saved")
    return 0


def cmd_courses_retire(args: argparse.Namespace, cli: CliContext) -> int:
    tracking = cli.services.tracking
    tracking.retire_course(OPERATOR, args.code)
    print(f"course {args.code} retired")
    return 0


# -- completions --------------------------------------------------------------------
def cmd_completions_add(args: argparse.Namespace, cli: CliContext) -> int:
    tracking = cli.services.tracking
    staff = tracking.staff_by_code(args.staff_code)
    course = tracking.find_course(args.course)
    if course is None:
        print(f"error: no course {args.course!r}", file=sys.stderr)
        return 2
    day = _day(args.date) or date.today()
    row, created = tracking.log_completion(
        OPERATOR,
        staff.id,
        CompletionInput(course.id, day, args.certificate, args.vneid),
    )
    print(f"{'added' if created else 'updated'} completion #{row.id}")
    return 0


def cmd_completions_list(args: argparse.Namespace, cli: CliContext) -> int:
    tracking = cli.services.tracking
    from sqlalchemy import select

    from bot.tracking.models import Completion, Staff

    with tracking.db.session() as session:
        query = select(Completion).join(Staff, Staff.id == Completion.staff_id)
        if args.status:
            query = query.where(Completion.status == args.status)
        if args.staff_code:
            query = query.where(Staff.code == args.staff_code)
        rows = session.scalars(query.order_by(Completion.id).limit(args.limit)).unique().all()
    for row in rows:
        print(
            f"#{row.id}\t{row.staff.code}\t{row.staff.full_name}\t{row.course.name}\t"
            f"{vi_date(row.completed_on)}\tVNeID={'có' if row.vneid_confirmed else 'chưa'}\t"
            f"{STATUS_VI.get(row.status, row.status)}"
        )
    return 0


def cmd_completions_verify(args: argparse.Namespace, cli: CliContext) -> int:
    tracking = cli.services.tracking
    for ident in args.ids:
        tracking.verify(OPERATOR, ident)
        print(f"verified #{ident}")
    return 0


def cmd_completions_reject(args: argparse.Namespace, cli: CliContext) -> int:
    tracking = cli.services.tracking
    tracking.reject(OPERATOR, args.id, args.reason)
    print(f"rejected #{args.id}")
    return 0


# -- stats / reports -------------------------------------------------------------------
def _stats_line(s: Stats) -> str:
    return (
        f"{s.label[:44]:<44} {s.counts.active:>7} {s.counts.done:>7} {s.pct_done:>6.1f}% "
        f"{s.pct_vneid:>6.1f}% {s.pct_verified:>6.1f}%"
    )


def cmd_stats(args: argparse.Namespace, cli: CliContext) -> int:
    stats = cli.services.stats
    as_of = _day(args.date) or date.today()
    total, rows = stats.overview(None, args.unit, by=args.by, as_of=as_of, job=args.job)
    if args.json:
        _print_json({"total": total.to_dict(), "rows": [r.to_dict() for r in rows]})
        return 0
    print(f"{'':<44} {'active':>7} {'done':>7} {'done%':>7} {'VNeID%':>7} {'verif%':>7}")
    for row in rows:
        print(_stats_line(row))
    print(_stats_line(total))
    print(total.pace_vi())
    return 0


def cmd_missing(args: argparse.Namespace, cli: CliContext) -> int:
    stats = cli.services.stats
    people, total = stats.missing(None, args.unit, job=args.job, limit=args.limit)
    for staff, unit in people:
        print(f"{staff.code}\t{staff.full_name}\t{unit.name}\t{staff.phone or ''}")
    print(f"{total} staff not done yet", file=sys.stderr)
    return 0


def cmd_report(args: argparse.Namespace, cli: CliContext) -> int:
    from bot.tracking.normalize import vi_date as fmt
    from bot.tracking.reports import build_chart, build_xlsx

    stats = cli.services.stats
    as_of = _day(args.date) or date.today()
    out = Path(args.out)
    out.write_bytes(build_xlsx(stats, None, args.unit, as_of=as_of))
    print(f"wrote {out}")
    if args.chart:
        total, rows = stats.overview(None, args.unit, as_of=as_of)
        Path(args.chart).write_bytes(build_chart(rows, f"{total.label} — đến {fmt(as_of)}"))
        print(f"wrote {args.chart}")
    return 0


def cmd_targets(args: argparse.Namespace, cli: CliContext) -> int:
    tracking = cli.services.tracking
    if args.year and args.percent:
        deadline = _day(args.deadline) or date(args.year, 12, 31)
        tracking.set_target(OPERATOR, args.year, args.percent / 100, deadline, args.source)
    from sqlalchemy import select

    from bot.tracking.models import Target

    with tracking.db.session() as session:
        for t in session.scalars(select(Target).order_by(Target.year)):
            print(f"{t.year}\t{t.rate * 100:g}%\tbefore {vi_date(t.deadline)}\t{t.source or ''}")
    return 0


def cmd_demo(args: argparse.Namespace, cli: CliContext) -> int:
    from bot.tracking.demo import generate

    tracking = cli.services.tracking
    result = generate(
        tracking, staff=args.staff, units=args.units, completions=args.completions, seed=args.seed
    )
    print(
        f"demo province: {result['units']} units, {result['staff']} staff, {result['completions']} completions"
    )
    return 0


def register_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the tracking sub-commands to ``hocvuso``."""
    staff = sub.add_parser("staff", help="roster: import, link accounts, managers")
    ssub = staff.add_subparsers(dest="staff_command", required=True)
    p = ssub.add_parser("import", help="import a roster (CSV/XLSX, Vietnamese headers)")
    p.add_argument("file")
    p.add_argument("--dry-run", action="store_true", help="check and report, change nothing")
    p.add_argument("--partial", action="store_true", help="only add/update; never deactivate")
    p.add_argument("--max-errors", type=int, default=50)
    p.set_defaults(func=cmd_staff_import)
    p = ssub.add_parser("link", help="issue a one-time link code, or link an account directly")
    p.add_argument("staff_code")
    p.add_argument("--channel", default="telegram")
    p.add_argument("--user-id", help="link this messenger user id directly")
    p.set_defaults(func=cmd_staff_link)
    p = ssub.add_parser("manager", help="make a staff member manager of a unit")
    p.add_argument("staff_code")
    p.add_argument("unit")
    p.add_argument("--remove", action="store_true")
    p.set_defaults(func=cmd_managers)

    units = sub.add_parser("units", help="unit hierarchy")
    usub = units.add_subparsers(dest="units_command", required=True)
    p = usub.add_parser(
        "import", help="import units (Mã đơn vị, Tên đơn vị, Đơn vị cấp trên, Loại)"
    )
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

    courses = sub.add_parser("courses", help="course catalogue")
    csub = courses.add_subparsers(dest="courses_command", required=True)
    p = csub.add_parser("list")
    p.add_argument("--all", action="store_true", help="include courses typed by staff")
    p.set_defaults(func=cmd_courses_list)
    p = csub.add_parser("add")
    p.add_argument("code")
    p.add_argument("name")
    p.add_argument("--provider")
    p.set_defaults(func=cmd_courses_add)
    p = csub.add_parser("retire")
    p.add_argument("code")
    p.set_defaults(func=cmd_courses_retire)

    comp = sub.add_parser("completions", help="record, list, verify, reject completions")
    psub = comp.add_subparsers(dest="completions_command", required=True)
    p = psub.add_parser("add")
    p.add_argument("staff_code")
    p.add_argument("course", help="course code or name")
    p.add_argument("--date", help="YYYY-MM-DD or DD/MM/YYYY (default today)")
    p.add_argument("--certificate")
    p.add_argument("--vneid", action="store_true", help="confirmed on VNeID")
    p.set_defaults(func=cmd_completions_add)
    p = psub.add_parser("list")
    p.add_argument("--status", choices=["reported", "verified", "rejected"])
    p.add_argument("--staff-code")
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(func=cmd_completions_list)
    p = psub.add_parser("verify")
    p.add_argument("ids", type=int, nargs="+")
    p.set_defaults(func=cmd_completions_verify)
    p = psub.add_parser("reject")
    p.add_argument("id", type=int)
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_completions_reject)

    p = sub.add_parser("stats", help="completion against the target")
    p.add_argument("--unit", help="unit code or name (default: the whole province)")
    p.add_argument("--by", choices=["unit", "job"], default="unit")
    p.add_argument("--job", choices=sorted(JOB_GROUPS))
    p.add_argument("--date", help="as of this date (default today)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("missing", help="staff not done yet")
    p.add_argument("--unit")
    p.add_argument("--job", choices=sorted(JOB_GROUPS))
    p.add_argument("--limit", type=int, default=None)
    p.set_defaults(func=cmd_missing)

    p = sub.add_parser("report", help="XLSX report (+ PNG chart)")
    p.add_argument("--out", required=True)
    p.add_argument("--chart")
    p.add_argument("--unit")
    p.add_argument("--date")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("targets", help="list or set yearly targets")
    p.add_argument("year", type=int, nargs="?")
    p.add_argument("percent", type=float, nargs="?")
    p.add_argument("--deadline")
    p.add_argument("--source")
    p.set_defaults(func=cmd_targets)

    p = sub.add_parser("demo-data", help="generate a synthetic province (empty roster only)")
    p.add_argument("--staff", type=int, default=2000)
    p.add_argument("--units", type=int)
    p.add_argument("--completions", type=int)
    p.add_argument("--seed", type=int, default=2026)
    p.set_defaults(func=cmd_demo)
