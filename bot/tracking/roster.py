"""Roster and unit imports from CSV/XLSX, idempotent and forgiving per row.

A staff import runs in three steps:

1. :func:`parse_staff` reads the file and checks each row on its own (code
   pattern, lengths, phone, a code repeated in the file): a bad row is
   reported with its spreadsheet row number and never costs the others;
2. :func:`diff_staff` compares the good rows with the database: who is new,
   who changed, who of the covered units is missing (and becomes inactive:
   kept with their history, out of the denominator; ``partial=True`` only adds
   and updates), which unit names are unknown;
3. :func:`apply_staff` writes the plan in one transaction (skipped by a dry run).

Units named in the roster but missing from the catalogue are refused with a
hint to import units first, or created (top-level) with ``create_units``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from bot.core.actor import Actor
from bot.db import utcnow
from bot.text import fold, normalize_name
from bot.tracking.audit import audit
from bot.tracking.limits import LIMITS, clip, valid_code
from bot.tracking.models import UNIT_KINDS, Staff, Unit, UnitManager
from bot.tracking.normalize import job_group, normalize_phone
from bot.tracking.service import TrackingService
from bot.tracking.tabular import read_table

STAFF_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": (
        "Mã NV",
        "Mã nhân viên",
        "Mã cán bộ",
        "Mã CB",
        "Mã số",
        "Mã viên chức",
        "Staff code",
        "Code",
    ),
    "full_name": ("Họ và tên", "Họ tên", "Tên nhân viên", "Full name", "Name"),
    "unit": ("Đơn vị", "Khoa/Phòng", "Khoa phòng", "Nơi công tác", "Mã đơn vị", "Unit"),
    "title": ("Chức danh", "Chức danh nghề nghiệp", "Chức vụ", "Vị trí", "Title", "Job title"),
    "phone": ("Số điện thoại", "SĐT", "Điện thoại", "Số ĐT", "Di động", "Phone"),
    "role": ("Vai trò", "Quản lý", "Role"),
}

UNIT_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("Mã đơn vị", "Mã ĐV", "Mã", "Code"),
    "name": ("Tên đơn vị", "Đơn vị", "Tên", "Name"),
    "parent": ("Đơn vị cấp trên", "Mã đơn vị cấp trên", "Cấp trên", "Trực thuộc", "Parent"),
    "kind": ("Loại", "Loại đơn vị", "Kind"),
}

_KIND_KEYS = {normalize_name(v): k for k, v in UNIT_KINDS.items()} | {k: k for k in UNIT_KINDS}
_KIND_KEYS |= {
    "so": "department",
    "benh vien": "hospital",
    "ttyt": "health_centre",
    "trung tam": "health_centre",
    "tram": "commune_station",
    "tram y te xa": "commune_station",
    "tyt": "commune_station",
}
_MANAGER_WORDS = {"quan ly", "manager", "x", "co", "truong khoa", "truong phong", "giam doc"}

# A roster change this large refreshes the database's planner statistics.
BULK_ROWS = 1000
NAMES_SHOWN = 20


@dataclass
class RowError:
    row: int
    code: str
    message: str  # Vietnamese, shown to the admin as is


@dataclass
class ImportReport:
    dry_run: bool
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    reactivated: int = 0
    errors: list[RowError] = field(default_factory=list)
    deactivated_people: list[tuple[str, str]] = field(default_factory=list)  # (code, name)
    unknown_units: list[str] = field(default_factory=list)
    new_units: list[tuple[str, str]] = field(default_factory=list)  # (code, name)

    @property
    def stored(self) -> int:
        return self.created + self.updated + self.deactivated

    def summary_vi(self, max_errors: int = 20, *, for_chat: bool = False) -> str:
        counts = (
            f"thêm mới {self.created}, cập nhật {self.updated}, không đổi {self.unchanged}, "
            f"chuyển ngừng hoạt động {self.deactivated}, lỗi {len(self.errors)} dòng."
        )
        if self.dry_run:
            head = f"Kiểm tra thử (chưa lưu gì): {counts}"
        elif self.stored:
            head = f"Đã nhập danh sách: {counts}"
        else:
            head = f"Chưa nhập được dòng nào: {counts}"
        lines = [head]
        if self.new_units:
            verb = "Sẽ tạo" if self.dry_run else "Đã tạo"
            shown = ", ".join(f"{name} ({code})" for code, name in self.new_units[:NAMES_SHOWN])
            more = len(self.new_units) - NAMES_SHOWN
            lines.append(
                f"{verb} {len(self.new_units)} đơn vị mới (cấp cao nhất): {shown}"
                + (f" … và {more} đơn vị khác." if more > 0 else ".")
            )
        if self.unknown_units:
            shown = ", ".join(f"“{u}”" for u in self.unknown_units[:NAMES_SHOWN])
            how = (
                "Hãy gửi tệp danh mục đơn vị (Mã đơn vị, Tên đơn vị, Đơn vị cấp trên) trước, "
                "rồi gửi lại danh sách nhân viên."
                if for_chat
                else "Hãy nhập danh mục đơn vị trước (hocvuso units import don-vi.xlsx), hoặc "
                "thêm --create-units để tạo các đơn vị này (chạy kèm --dry-run trước để xem)."
            )
            lines.append(
                f"{len(self.unknown_units)} đơn vị trong tệp chưa có trong danh mục ({shown}). "
                + how
            )
        if self.deactivated_people:
            verb = "Sẽ chuyển" if self.dry_run else "Đã chuyển"
            shown = ", ".join(
                f"{name} ({code})" for code, name in self.deactivated_people[:NAMES_SHOWN]
            )
            more = len(self.deactivated_people) - NAMES_SHOWN
            lines.append(
                f"{verb} ngừng hoạt động (không có trong tệp): {shown}"
                + (f" … và {more} người khác." if more > 0 else ".")
            )
        for err in self.errors[:max_errors]:
            code = f" ({err.code})" if err.code else ""
            lines.append(f"• Dòng {err.row}{code}: {err.message}")
        if len(self.errors) > max_errors:
            lines.append(f"… và {len(self.errors) - max_errors} dòng lỗi khác.")
        return "\n".join(lines)


# -- units --------------------------------------------------------------------------
def import_units(
    tracking: TrackingService, path: Path, actor: Actor | str = "cli", *, dry_run: bool = False
) -> ImportReport:
    """Units file: code, name, parent code (blank for the top), kind."""
    table = read_table(path, UNIT_COLUMNS, {"code", "name"})
    report = ImportReport(dry_run=dry_run)
    known = {u.code.upper() for u in tracking.units()}
    pending = list(table.rows)
    seen: set[str] = set()
    # Parents may come after children in the file: loop until no progress.
    while pending:
        progress = False
        rest = []
        for row_no, rec in pending:
            code = rec.get("code", "").strip()
            name = rec.get("name", "").strip()
            if not code:
                report.errors.append(RowError(row_no, "", "thiếu mã đơn vị"))
                continue
            problem = LIMITS.unit_problem(code, name)
            if problem:
                report.errors.append(RowError(row_no, clip(code, 40), problem))
                continue
            if code.upper() in seen:
                report.errors.append(RowError(row_no, code, "mã đơn vị trùng trong tệp"))
                continue
            parent = rec.get("parent", "").strip() or None
            if parent and parent.upper() not in known:
                rest.append((row_no, rec))
                continue
            kind = _KIND_KEYS.get(normalize_name(rec.get("kind", "")), "other")
            seen.add(code.upper())
            existed = code.upper() in known
            known.add(code.upper())
            progress = True
            if not dry_run:
                tracking.upsert_unit(actor, code, name, kind=kind, parent_code=parent)
            if existed:
                report.updated += 1
            else:
                report.created += 1
        if not progress:
            for row_no, rec in rest:
                report.errors.append(
                    RowError(
                        row_no,
                        rec.get("code", ""),
                        f"không có đơn vị cấp trên “{clip(rec.get('parent', ''), 60)}”",
                    )
                )
            break
        pending = rest
    return report


# -- staff: parse -------------------------------------------------------------------
@dataclass
class StaffRow:
    row: int
    code: str
    full_name: str
    unit_ref: str
    title: str | None
    phone: str | None
    manager: bool


def parse_staff(path: Path) -> tuple[list[StaffRow], list[RowError]]:
    """Every row of the file checked on its own; the good ones and the errors."""
    table = read_table(path, STAFF_COLUMNS, {"code", "full_name", "unit"})
    rows: list[StaffRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for row_no, rec in table.rows:
        code = rec.get("code", "").strip()
        name = " ".join(rec.get("full_name", "").split())
        if not code:
            errors.append(RowError(row_no, "", "thiếu mã nhân viên"))
            continue
        if code.upper() in seen:
            errors.append(
                RowError(
                    row_no, clip(code, 40), f"mã nhân viên trùng với dòng {seen[code.upper()]}"
                )
            )
            continue
        seen[code.upper()] = row_no
        if not name:
            errors.append(RowError(row_no, clip(code, 40), "thiếu họ và tên"))
            continue
        title = rec.get("title", "").strip() or None
        problem = LIMITS.staff_problem(code, name, title)
        if problem:
            errors.append(RowError(row_no, clip(code, 40), problem))
            continue
        unit_ref = rec.get("unit", "").strip()
        if not unit_ref:
            errors.append(RowError(row_no, code, "thiếu đơn vị"))
            continue
        try:
            phone = normalize_phone(rec.get("phone"))
        except ValueError:
            errors.append(
                RowError(
                    row_no, code, f"số điện thoại “{clip(rec.get('phone', ''), 30)}” không hợp lệ"
                )
            )
            continue
        manager = normalize_name(rec.get("role", "")) in _MANAGER_WORDS
        rows.append(StaffRow(row_no, code, name, unit_ref, title, phone, manager))
    return rows, errors


# -- staff: diff --------------------------------------------------------------------
@dataclass
class StaffPlan:
    report: ImportReport
    inserts: list[dict[str, object]] = field(default_factory=list)
    updates: list[dict[str, object]] = field(default_factory=list)
    deactivate: list[int] = field(default_factory=list)
    managers: list[tuple[str, str]] = field(default_factory=list)  # (code upper, unit key)
    new_units: dict[str, tuple[str, str]] = field(default_factory=dict)  # ref -> (code, name)


def unit_code_for(ref: str, taken: set[str]) -> str:
    """A unit code for a unit known only by name in a roster ("Khoa Nội" -> "KHOA-NOI")."""
    if valid_code(ref) and ref.upper() not in taken:
        return ref
    base = re.sub(r"[^A-Z0-9]+", "-", fold(ref).upper()).strip("-")[:34] or "DV"
    code, n = base, 2
    while code.upper() in taken:
        code, n = f"{base}-{n}", n + 1
    return code


def diff_staff(
    session: Session,
    parsed: list[StaffRow],
    report: ImportReport,
    *,
    partial: bool,
    create_units: bool,
) -> StaffPlan:
    plan = StaffPlan(report)
    units = session.execute(select(Unit.id, Unit.code, Unit.name_key)).all()
    by_code = {u.code.upper(): u.id for u in units}
    by_name: dict[str, int | None] = {}
    for u in units:
        by_name[u.name_key] = None if u.name_key in by_name else u.id  # None: ambiguous
    existing = {
        s.code.upper(): s
        for s in session.execute(
            select(
                Staff.id,
                Staff.code,
                Staff.full_name,
                Staff.unit_id,
                Staff.title,
                Staff.job_group,
                Staff.phone,
                Staff.active,
            )
        ).all()
    }
    taken = set(by_code)
    covered_units: set[int] = set()
    seen: set[str] = set()
    for row in parsed:
        seen.add(row.code.upper())
        key = normalize_name(row.unit_ref)
        unit_id = by_code.get(row.unit_ref.upper()) or by_name.get(key)
        unit_key: str
        if unit_id is None:
            if key in by_name:
                report.errors.append(
                    RowError(
                        row.row,
                        row.code,
                        f"tên đơn vị “{clip(row.unit_ref, 60)}” trùng nhau, hãy dùng mã",
                    )
                )
                continue
            problem = LIMITS.unit_problem(row.unit_ref, row.unit_ref)
            if not create_units or problem:
                if row.unit_ref not in report.unknown_units:
                    report.unknown_units.append(clip(row.unit_ref, 60))
                report.errors.append(
                    RowError(
                        row.row,
                        row.code,
                        f"đơn vị “{clip(row.unit_ref, 60)}” không có trong danh mục"
                        + (f" ({problem})" if problem else ""),
                    )
                )
                continue
            if key not in plan.new_units:
                code = unit_code_for(row.unit_ref, taken)
                taken.add(code.upper())
                plan.new_units[key] = (code, row.unit_ref)
                report.new_units.append((code, row.unit_ref))
            unit_key = "new:" + key
        else:
            covered_units.add(unit_id)
            unit_key = f"id:{unit_id}"
        values: dict[str, object] = {
            "code": row.code,
            "full_name": row.full_name,
            "unit_id": unit_key,
            "title": row.title,
            "job_group": job_group(row.title),
            "phone": row.phone,
            "active": True,
        }
        if row.manager:
            plan.managers.append((row.code.upper(), unit_key))
        old = existing.get(row.code.upper())
        if old is None:
            report.created += 1
            plan.inserts.append(values)
            continue
        current = {
            "code": old.code,
            "full_name": old.full_name,
            "unit_id": f"id:{old.unit_id}",
            "title": old.title,
            "job_group": old.job_group,
            "phone": old.phone,
            "active": old.active,
        }
        if current == values:
            report.unchanged += 1
        else:
            report.updated += 1
            if not old.active:
                report.reactivated += 1
            plan.updates.append({"id": old.id, **values})
    if not partial:
        gone = [
            s
            for key, s in existing.items()
            if s.active and s.unit_id in covered_units and key not in seen
        ]
        plan.deactivate = [s.id for s in gone]
        report.deactivated = len(gone)
        report.deactivated_people = sorted((s.code, s.full_name) for s in gone)
    return plan


# -- staff: apply -------------------------------------------------------------------
def apply_staff(session: Session, plan: StaffPlan, actor: Actor | str, source: str) -> None:
    now = utcnow()
    unit_ids: dict[str, int] = {}
    for key, (code, name) in plan.new_units.items():
        unit = Unit(code=code, name=name, name_key=key, kind="other", path="/", depth=0)
        session.add(unit)
        session.flush()
        unit.path = f"/{unit.id}/"
        unit_ids["new:" + key] = unit.id
        audit(session, actor, "create", "unit", code, name=name, source=source)

    def resolve(values: dict[str, object]) -> dict[str, object]:
        ref = str(values["unit_id"])
        unit_id = unit_ids[ref] if ref.startswith("new:") else int(ref[3:])
        return dict(values, unit_id=unit_id)

    inserts = [dict(resolve(v), created_at=now, updated_at=now) for v in plan.inserts]
    for start in range(0, len(inserts), 5000):
        session.execute(insert(Staff), inserts[start : start + 5000])
    updates = [dict(resolve(v), updated_at=now) for v in plan.updates]
    for start in range(0, len(updates), 5000):
        session.execute(update(Staff), updates[start : start + 5000])
    for start in range(0, len(plan.deactivate), 5000):
        session.execute(
            update(Staff)
            .where(Staff.id.in_(plan.deactivate[start : start + 5000]))
            .values(active=False, updated_at=now)
        )
    if plan.managers:
        ids: dict[str, int] = dict(
            session.execute(
                select(func.upper(Staff.code), Staff.id).where(
                    func.upper(Staff.code).in_([c for c, _ in plan.managers])
                )
            ).all()
        )
        for code, ref in plan.managers:
            unit_id = int(resolve({"unit_id": ref})["unit_id"])  # type: ignore[call-overload]
            if session.get(UnitManager, (ids[code], unit_id)) is None:
                session.add(UnitManager(staff_id=ids[code], unit_id=unit_id))
    report = plan.report
    audit(
        session,
        actor,
        "import",
        "roster",
        source,
        created=report.created,
        updated=report.updated,
        deactivated=report.deactivated,
        deactivated_codes=[code for code, _ in report.deactivated_people[:500]],
        new_units=[code for code, _ in report.new_units],
        errors=len(report.errors),
    )


def import_staff(
    tracking: TrackingService,
    path: Path,
    actor: Actor | str = "cli",
    *,
    dry_run: bool = False,
    partial: bool = False,
    create_units: bool = False,
) -> ImportReport:
    """Upsert the roster by staff code; see the module docstring for the rules."""
    parsed, errors = parse_staff(path)
    report = ImportReport(dry_run=dry_run, errors=errors)
    db = tracking.db
    with db.session() as session:
        plan = diff_staff(session, parsed, report, partial=partial, create_units=create_units)
        report.errors.sort(key=lambda e: e.row)
        if dry_run:
            session.rollback()
            return report
        apply_staff(session, plan, actor, path.name)
    if report.stored >= BULK_ROWS:
        db.analyze("staff", "units")
    return report
