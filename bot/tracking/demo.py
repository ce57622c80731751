"""A realistic synthetic province for demos and benchmarks.

Units: the department, provincial hospitals with wards and offices, district
health centres with commune stations. Staff get Vietnamese names, job titles
in the proportions of a health workforce, phones, and a spread of completions
(some units far ahead, some behind) dated across the campaign.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import func, insert, select

from bot.db import utcnow
from bot.text import normalize_name
from bot.tracking.models import REPORTED, VERIFIED, Completion, Course, Staff, Unit, UnitManager
from bot.tracking.normalize import job_group
from bot.tracking.progress import refresh as refresh_progress
from bot.tracking.service import TrackingService, audit

SURNAMES = [
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
    "Mai",
    "Trịnh",
    "Đinh",
    "Lương",
]
MIDDLE_F = ["Thị", "Thị Thu", "Thị Minh", "Ngọc", "Thị Hồng", "Thanh", "Thị Kim", "Thùy"]
MIDDLE_M = ["Văn", "Đức", "Minh", "Quốc", "Hữu", "Công", "Thành", "Xuân", "Đình"]
GIVEN_F = [
    "Lan",
    "Hương",
    "Mai",
    "Hạnh",
    "Trang",
    "Linh",
    "Hoa",
    "Thảo",
    "Nga",
    "Yến",
    "Phương",
    "Hà",
    "Thủy",
    "Dung",
    "Huyền",
    "Ngân",
    "Vân",
    "Loan",
]
GIVEN_M = [
    "Hùng",
    "Nam",
    "Minh",
    "Tuấn",
    "Dũng",
    "Cường",
    "Long",
    "Sơn",
    "Hải",
    "Phong",
    "Thắng",
    "Tú",
    "Quang",
    "Khánh",
    "Bình",
    "Trung",
    "Hiếu",
    "Đạt",
]
TITLES = [
    ("Điều dưỡng", 34),
    ("Bác sĩ", 22),
    ("Hộ sinh", 6),
    ("Kỹ thuật viên xét nghiệm", 8),
    ("Dược sĩ", 7),
    ("Y sĩ", 5),
    ("Chuyên viên", 6),
    ("Kế toán", 3),
    ("Nhân viên", 4),
    ("Nhân viên y tế thôn bản", 5),
]
WARDS = [
    "Khoa Nội",
    "Khoa Ngoại",
    "Khoa Sản",
    "Khoa Nhi",
    "Khoa Cấp cứu",
    "Khoa Xét nghiệm",
    "Khoa Dược",
    "Phòng Kế hoạch tổng hợp",
    "Phòng Điều dưỡng",
    "Phòng Tổ chức cán bộ",
]
DISTRICTS = [
    "Ngọc Lặc",
    "Như Thanh",
    "Thọ Xuân",
    "Hoằng Hóa",
    "Quảng Xương",
    "Tĩnh Gia",
    "Hậu Lộc",
    "Nga Sơn",
    "Vĩnh Lộc",
    "Thạch Thành",
    "Cẩm Thủy",
    "Bá Thước",
    "Lang Chánh",
    "Thường Xuân",
    "Quan Hóa",
    "Mường Lát",
    "Yên Định",
    "Thiệu Hóa",
    "Đông Sơn",
    "Nông Cống",
    "Triệu Sơn",
    "Như Xuân",
    "Quan Sơn",
    "Hà Trung",
]
COMMUNES = [
    "Minh Sơn",
    "Cao Thịnh",
    "Lam Sơn",
    "Quang Trung",
    "Kiên Thọ",
    "Phùng Giáo",
    "Thúy Sơn",
    "Đồng Thịnh",
    "Nguyệt Ấn",
    "Phúc Thịnh",
    "Vân Am",
    "Mỹ Tân",
]


def _name(rng: random.Random) -> str:
    if rng.random() < 0.62:
        return f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE_F)} {rng.choice(GIVEN_F)}"
    return f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE_M)} {rng.choice(GIVEN_M)}"


def generate(
    tracking: TrackingService,
    *,
    staff: int = 2000,
    units: int | None = None,
    completions: int | None = None,
    seed: int = 2026,
    today: date | None = None,
) -> dict[str, int]:
    """Create units, ``staff`` people and completions (about 1.5 per person by default)."""
    rng = random.Random(seed)
    today = today or date.today()
    units = units or max(6, min(500, staff // 200))
    completions = completions if completions is not None else int(staff * 1.5)
    db = tracking.db
    with db.session() as session:
        if session.scalar(select(func.count()).select_from(Staff)):
            raise ValueError("demo data needs an empty roster (use a fresh data directory)")
    root = tracking.upsert_unit("demo", "SYT", "Sở Y tế tỉnh (dữ liệu mẫu)", kind="department")
    plan: list[tuple[str, str, str, str]] = []  # code, name, parent, kind
    hospitals = max(1, units // 40)
    for h in range(hospitals):
        code = f"BV{h + 1:02d}"
        plan.append((code, f"Bệnh viện Đa khoa số {h + 1}", root.code, "hospital"))
        for w, ward in enumerate(WARDS):
            plan.append((f"{code}-K{w + 1:02d}", f"{ward} — BV số {h + 1}", code, "ward"))
    d = 0
    while len(plan) < units - 1:
        district = DISTRICTS[d % len(DISTRICTS)] + (
            "" if d < len(DISTRICTS) else f" {d // len(DISTRICTS) + 1}"
        )
        code = f"TTYT{d + 1:02d}"
        plan.append((code, f"Trung tâm Y tế huyện {district}", root.code, "health_centre"))
        for c in range(min(len(COMMUNES), units - 1 - len(plan))):
            plan.append(
                (
                    f"{code}-X{c + 1:02d}",
                    f"Trạm Y tế xã {COMMUNES[c]} ({district})",
                    code,
                    "commune_station",
                )
            )
        d += 1
    with db.session() as session:
        ids = {root.code: (root.id, root.path)}
        for code, name, parent, kind in plan[: units - 1]:
            parent_id, parent_path = ids[parent]
            unit = Unit(
                code=code,
                name=name,
                name_key=normalize_name(name),
                kind=kind,
                parent_id=parent_id,
                path="/",
            )
            session.add(unit)
            session.flush()
            unit.path = f"{parent_path}{unit.id}/"
            unit.depth = unit.path.count("/") - 2
            ids[code] = (unit.id, unit.path)
        leaf_ids = [uid for code, (uid, _p) in ids.items() if code != root.code]
        # Some units are far ahead, some behind: each gets its own completion rate.
        unit_rate = {uid: rng.betavariate(2.2, 1.6) for uid in leaf_ids}
        titles, weights = zip(*TITLES, strict=True)
        now = utcnow()
        rows = []
        for i in range(staff):
            title = rng.choices(titles, weights)[0]
            rows.append(
                {
                    "code": f"NV{i + 1:06d}",
                    "full_name": _name(rng),
                    "unit_id": rng.choice(leaf_ids),
                    "title": title,
                    "job_group": job_group(title),
                    "phone": f"09{rng.randrange(10**8):08d}",
                    "active": rng.random() > 0.02,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        for start in range(0, len(rows), 5000):
            session.execute(insert(Staff), rows[start : start + 5000])
        staff_rows = session.execute(
            select(Staff.id, Staff.unit_id).where(Staff.active.is_(True))
        ).all()
        course_ids = list(session.scalars(select(Course.id).where(Course.active.is_(True))))
        # Enough courses that people can finish several.
        while len(course_ids) < 6:
            n = len(course_ids) + 1
            course = Course(
                code=f"DEMO-{n}",
                name=f"Kỹ năng số y tế — chuyên đề {n} (mẫu)",
                name_key=normalize_name(f"Kỹ năng số y tế chuyên đề {n} mau"),
                provider="demo",
            )
            session.add(course)
            session.flush()
            course_ids.append(course.id)
        start_day = date(2025, 6, 1)
        span = max((today - start_day).days, 1)
        done_rows: list[dict[str, object]] = []
        seen: set[tuple[int, int]] = set()
        candidates = [s for s in staff_rows if rng.random() < unit_rate[s.unit_id]]
        rng.shuffle(candidates)
        attempts = 0
        while len(done_rows) < completions and candidates and attempts < completions * 4:
            attempts += 1
            person = candidates[attempts % len(candidates)]
            course_id = rng.choice(course_ids)
            if (person.id, course_id) in seen:
                continue
            seen.add((person.id, course_id))
            verified = rng.random() < 0.6
            done_rows.append(
                {
                    "staff_id": person.id,
                    "course_id": course_id,
                    "completed_on": start_day + timedelta(days=int(span * rng.random() ** 0.7)),
                    "certificate_code": f"BDHVS-{rng.randrange(10**7):07d}",
                    "vneid_confirmed": rng.random() < 0.8,
                    "status": VERIFIED if verified else REPORTED,
                    "verified_by": "demo" if verified else None,
                    "reported_by": "demo",
                    "created_at": now,
                    "updated_at": now,
                }
            )
        for start in range(0, len(done_rows), 5000):
            session.execute(insert(Completion), done_rows[start : start + 5000])
        refresh_progress(session)
        # One manager per hospital and health centre: the first person there.
        for code, (uid, _path) in ids.items():
            if code.count("-") == 0 and code != root.code:
                first = session.scalar(
                    select(Staff.id)
                    .join(Unit, Unit.id == Staff.unit_id)
                    .where(Unit.path.like(f"{ids[code][1]}%"))
                    .order_by(Staff.id)
                    .limit(1)
                )
                if first is not None:
                    session.add(UnitManager(staff_id=first, unit_id=uid))
        audit(session, "demo", "generate", "demo", None, staff=staff, completions=len(done_rows))
    tracking.db.analyze("units", "staff", "completions")
    return {"units": len(ids), "staff": staff, "completions": len(done_rows)}
