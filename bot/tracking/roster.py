"""Roster and unit imports from CSV/XLSX, idempotent and forgiving per row.

A row that cannot be used (no staff code, unknown unit, bad phone, a code
repeated in the file) is reported with its row number; the other rows are
imported. Staff of the units a file covers who are missing from it become
inactive: kept with their history, out of the denominator. ``partial=True``
only adds and updates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, insert, select, update

from bot.core.actor import Actor
from bot.db import Database, utcnow
from bot.text import normalize_name
from bot.tracking.models import UNIT_KINDS, Staff, Unit, UnitManager
from bot.tracking.normalize import job_group, normalize_phone
from bot.tracking.service import TrackingService, audit
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

    def summary_vi(self, max_errors: int = 20) -> str:
        head = "Kiểm tra thử (chưa lưu)" if self.dry_run else "Đã nhập danh sách"
        lines = [
            f"{head}: thêm mới {self.created}, cập nhật {self.updated}, không đổi {self.unchanged}, "
            f"chuyển ngừng hoạt động {self.deactivated}, lỗi {len(self.errors)} dòng."
        ]
        for err in self.errors[:max_errors]:
            code = f" ({err.code})" if err.code else ""
            lines.append(f"• Dòng {err.row}{code}: {err.message}")
        if len(self.errors) > max_errors:
            lines.append(f"… và {len(self.errors) - max_errors} dòng lỗi khác.")
        return "\n".join(lines)


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
            if not code:
                report.errors.append(RowError(row_no, "", "thiếu mã đơn vị"))
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
                tracking.upsert_unit(actor, code, rec["name"], kind=kind, parent_code=parent)
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
                        f"không có đơn vị cấp trên “{rec.get('parent')}”",
                    )
                )
            break
        pending = rest
    return report


def import_staff(
    tracking: TrackingService,
    path: Path,
    actor: Actor | str = "cli",
    *,
    dry_run: bool = False,
    partial: bool = False,
) -> ImportReport:
    """Upsert the roster by staff code; see the module docstring for the rules."""
    table = read_table(path, STAFF_COLUMNS, {"code", "full_name", "unit"})
    db: Database = tracking.db
    report = ImportReport(dry_run=dry_run)
    with db.session() as session:
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
        seen: dict[str, int] = {}
        inserts: list[dict[str, object]] = []
        updates: list[dict[str, object]] = []
        managers: list[tuple[str, int]] = []
        covered_units: set[int] = set()
        for row_no, rec in table.rows:
            code = rec.get("code", "").strip()
            name = " ".join(rec.get("full_name", "").split())
            if not code:
                report.errors.append(RowError(row_no, "", "thiếu mã nhân viên"))
                continue
            if code.upper() in seen:
                report.errors.append(
                    RowError(row_no, code, f"mã nhân viên trùng với dòng {seen[code.upper()]}")
                )
                continue
            seen[code.upper()] = row_no
            if not name:
                report.errors.append(RowError(row_no, code, "thiếu họ và tên"))
                continue
            unit_ref = rec.get("unit", "").strip()
            unit_id = by_code.get(unit_ref.upper()) or by_name.get(normalize_name(unit_ref))
            if unit_id is None:
                why = (
                    "tên đơn vị trùng nhau, hãy dùng mã"
                    if normalize_name(unit_ref) in by_name
                    else "không có trong danh mục"
                )
                report.errors.append(RowError(row_no, code, f"đơn vị “{unit_ref}” {why}"))
                continue
            try:
                phone = normalize_phone(rec.get("phone"))
            except ValueError:
                report.errors.append(
                    RowError(row_no, code, f"số điện thoại “{rec.get('phone')}” không hợp lệ")
                )
                continue
            covered_units.add(unit_id)
            title = rec.get("title", "").strip() or None
            values = {
                "code": code,
                "full_name": name,
                "unit_id": unit_id,
                "title": title,
                "job_group": job_group(title),
                "phone": phone,
                "active": True,
            }
            if normalize_name(rec.get("role", "")) in _MANAGER_WORDS:
                managers.append((code.upper(), unit_id))
            old = existing.get(code.upper())
            if old is None:
                report.created += 1
                inserts.append(values)
            else:
                current = {
                    "code": old.code,
                    "full_name": old.full_name,
                    "unit_id": old.unit_id,
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
                    updates.append({"id": old.id, **values, "updated_at": utcnow()})
        to_deactivate: list[int] = []
        if not partial:
            to_deactivate = [
                s.id
                for key, s in existing.items()
                if s.active and s.unit_id in covered_units and key not in seen
            ]
            report.deactivated = len(to_deactivate)
        if dry_run:
            session.rollback()
            return report
        now = utcnow()
        for start in range(0, len(inserts), 5000):
            batch = [dict(v, created_at=now, updated_at=now) for v in inserts[start : start + 5000]]
            session.execute(insert(Staff), batch)
        for start in range(0, len(updates), 5000):
            session.execute(update(Staff), updates[start : start + 5000])
        for start in range(0, len(to_deactivate), 5000):
            session.execute(
                update(Staff)
                .where(Staff.id.in_(to_deactivate[start : start + 5000]))
                .values(active=False, updated_at=now)
            )
        if managers:
            ids: dict[str, int] = dict(
                session.execute(
                    select(func.upper(Staff.code), Staff.id).where(
                        func.upper(Staff.code).in_([c for c, _ in managers])
                    )
                ).all()
            )
            for code, unit_id in managers:
                if session.get(UnitManager, (ids[code], unit_id)) is None:
                    session.add(UnitManager(staff_id=ids[code], unit_id=unit_id))
        audit(
            session,
            actor,
            "import",
            "roster",
            path.name,
            created=report.created,
            updated=report.updated,
            deactivated=report.deactivated,
            errors=len(report.errors),
        )
    if report.created + report.updated + report.deactivated >= BULK_ROWS:
        db.analyze("staff", "units")
    return report
