"""Units, staff look-ups and who may see what.

Visibility is decided here and nowhere else: admins (and the operator's
command line) see every unit; a manager sees the units they manage and
everything under them; staff see only themselves. A manager asking for a unit
or a staff code outside their units gets exactly the answer an unknown code
gets, so codes of other units cannot be discovered by trying them.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select

from bot.core.actor import Actor
from bot.db import Database
from bot.errors import PermissionDenied, UserError
from bot.text import normalize_name
from bot.tracking.audit import audit
from bot.tracking.limits import LIMITS, clip
from bot.tracking.models import Staff, Unit, UnitManager

OUT_OF_SCOPE = "Bạn chỉ xem và duyệt được dữ liệu của đơn vị mình quản lý."


def unit_not_visible(ref: str) -> PermissionDenied:
    """What a manager hears for a unit that is unknown or not theirs (the same)."""
    return PermissionDenied(
        f"Không tìm thấy đơn vị “{clip(ref.strip(), 60)}” trong các đơn vị bạn quản lý."
    )


def staff_not_visible(code: str) -> PermissionDenied:
    """What a manager hears for a staff code that is unknown or not theirs (the same)."""
    return PermissionDenied(
        f"Không tìm thấy nhân viên mã “{clip(code.strip(), 60)}” trong các đơn vị bạn quản lý."
    )


class UnitDirectory:
    """The unit tree, staff look-ups and the visibility rules."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- look-ups ----------------------------------------------------------------
    def staff_by_code(self, code: str) -> Staff:
        with self.db.session() as session:
            staff = session.scalar(
                select(Staff).where(func.upper(Staff.code) == code.strip().upper())
            )
        if staff is None:
            raise UserError(f"Không có nhân viên mã “{clip(code.strip(), 60)}”.")
        return staff

    def visible_staff(self, actor: Actor | str, code: str) -> Staff:
        """A staff member by code, if ``actor`` may see them (operators see all)."""
        if not isinstance(actor, Actor) or actor.is_admin:
            return self.staff_by_code(code)
        try:
            staff = self.staff_by_code(code)
        except UserError:
            raise staff_not_visible(code) from None
        if not self.can_see_unit(actor, staff.unit):
            raise staff_not_visible(code)
        return staff

    def unit_by_ref(self, ref: str, actor: Actor | None = None) -> Unit:
        """A unit by code or by name typed in any case, with or without diacritics.

        With a non-admin ``actor`` only their units are searched, and an unknown
        unit and another's unit get the same answer.
        """
        key = normalize_name(ref)
        paths = None if actor is None else self.visible_paths(actor)
        with self.db.session() as session:
            unit = session.scalar(select(Unit).where(func.upper(Unit.code) == ref.strip().upper()))
            if unit is None:
                units = session.scalars(select(Unit).where(Unit.name_key == key)).all()
                if paths is not None:
                    units = [u for u in units if any(u.path.startswith(p) for p in paths)]
                if len(units) == 1:
                    unit = units[0]
                elif len(units) > 1:
                    raise UserError(f"Có nhiều đơn vị tên “{clip(ref, 60)}”; hãy dùng mã đơn vị.")
        if paths is not None and (unit is None or not any(unit.path.startswith(p) for p in paths)):
            raise unit_not_visible(ref)
        if unit is None:
            raise UserError(f"Không tìm thấy đơn vị “{clip(ref.strip(), 60)}”.")
        return unit

    def units(self) -> list[Unit]:
        with self.db.session() as session:
            return list(session.scalars(select(Unit).order_by(Unit.path)).all())

    def root_units(self) -> list[Unit]:
        with self.db.session() as session:
            return list(session.scalars(select(Unit).where(Unit.parent_id.is_(None))).all())

    # -- changes -----------------------------------------------------------------
    def upsert_unit(
        self,
        actor: Actor | str,
        code: str,
        name: str,
        *,
        kind: str = "other",
        parent_code: str | None = None,
    ) -> Unit:
        code = code.strip()
        name = " ".join(name.split())
        if not code or not name:
            raise UserError("Đơn vị cần có mã và tên.")
        LIMITS.check_unit(code, name)
        with self.db.session() as session:
            parent = None
            if parent_code:
                parent = session.scalar(
                    select(Unit).where(func.upper(Unit.code) == parent_code.strip().upper())
                )
                if parent is None:
                    raise UserError(f"Không có đơn vị cấp trên mã “{clip(parent_code, 60)}”.")
            unit = session.scalar(select(Unit).where(func.upper(Unit.code) == code.upper()))
            created = unit is None
            if unit is None:
                unit = Unit(code=code, path="/")
                session.add(unit)
            if parent is not None and unit.id is not None and f"/{unit.id}/" in parent.path:
                raise UserError("Đơn vị cấp trên không thể là chính nó hoặc đơn vị con của nó.")
            unit.name = name
            unit.name_key = normalize_name(name)
            unit.kind = kind
            unit.parent_id = parent.id if parent else None
            session.flush()
            old_path = unit.path
            unit.path = f"{parent.path if parent else '/'}{unit.id}/"
            unit.depth = unit.path.count("/") - 2
            if not created and old_path != unit.path and old_path != "/":
                for child in session.scalars(
                    select(Unit).where(Unit.path.like(f"{old_path}%"), Unit.id != unit.id)
                ):
                    child.path = unit.path + child.path[len(old_path) :]
                    child.depth = child.path.count("/") - 2
            audit(session, actor, "create" if created else "update", "unit", code, name=name)
            return unit

    def add_manager(self, actor: Actor | str, staff_code: str, unit_ref: str) -> None:
        staff = self.staff_by_code(staff_code)
        unit = self.unit_by_ref(unit_ref)
        with self.db.session() as session:
            if session.get(UnitManager, (staff.id, unit.id)) is None:
                session.add(UnitManager(staff_id=staff.id, unit_id=unit.id))
                audit(session, actor, "add_manager", "unit", unit.code, staff=staff.code)

    def remove_manager(self, actor: Actor | str, staff_code: str, unit_ref: str) -> None:
        staff = self.staff_by_code(staff_code)
        unit = self.unit_by_ref(unit_ref)
        with self.db.session() as session:
            session.execute(
                delete(UnitManager).where(
                    UnitManager.staff_id == staff.id, UnitManager.unit_id == unit.id
                )
            )
            audit(session, actor, "remove_manager", "unit", unit.code, staff=staff.code)

    def managed_units(self, staff_id: int) -> list[Unit]:
        with self.db.session() as session:
            return list(
                session.scalars(
                    select(Unit)
                    .join(UnitManager, UnitManager.unit_id == Unit.id)
                    .where(UnitManager.staff_id == staff_id)
                    .order_by(Unit.path)
                ).all()
            )

    # -- visibility --------------------------------------------------------------
    def visible_paths(self, actor: Actor) -> list[str] | None:
        """Path prefixes of the units ``actor`` may see; None means everything."""
        if actor.is_admin:
            return None
        if not actor.managed_unit_ids:
            return []
        with self.db.session() as session:
            return list(
                session.scalars(select(Unit.path).where(Unit.id.in_(actor.managed_unit_ids)))
            )

    def can_see_unit(self, actor: Actor, unit: Unit) -> bool:
        paths = self.visible_paths(actor)
        return paths is None or any(unit.path.startswith(p) for p in paths)

    def require_unit(self, actor: Actor, unit_id: int) -> Unit:
        with self.db.session() as session:
            unit = session.get(Unit, unit_id)
        if unit is None or not self.can_see_unit(actor, unit):
            raise PermissionDenied(OUT_OF_SCOPE)
        return unit

    def default_units(self, actor: Actor) -> list[Unit]:
        """The units a manager's statistics start from (admins: the top units)."""
        if actor.is_admin:
            return self.root_units()
        with self.db.session() as session:
            units = list(
                session.scalars(select(Unit).where(Unit.id.in_(actor.managed_unit_ids))).all()
            )
        # A manager of a hospital and one of its wards sees the hospital only.
        return [
            u for u in units if not any(o.id != u.id and u.path.startswith(o.path) for o in units)
        ]
