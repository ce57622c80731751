"""Shared fixtures: real databases, real embeddings, the shipped knowledge.

Indexing the knowledge folder takes a few seconds (embedding ~150 passages),
so it is done once per session into a template data directory; each test
gets its own copy.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_engine, build_services
from bot.core.engine import Engine
from bot.core.services import Services
from bot.settings import Settings

REPO = Path(__file__).resolve().parents[1]
KNOWLEDGE = REPO / "knowledge"


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings isolated from any .env on the machine."""
    values: dict[str, Any] = {"HOCVUSO_DATA_DIR": data_dir, "HOCVUSO_KNOWLEDGE_DIR": KNOWLEDGE}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def template_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with the shipped knowledge already indexed (built once)."""
    data = tmp_path_factory.mktemp("template") / "data"
    services = build_services(make_settings(data))
    report = services.kb.ingest([KNOWLEDGE])
    assert report.counts["failed"] == 0, report.results
    services.db.dispose()
    del services
    return data


@pytest.fixture
def make_services(tmp_path: Path, template_data_dir: Path) -> Iterator[Callable[..., Services]]:
    """Factory: services on a private copy of the indexed template data dir."""
    created: list[Services] = []

    def factory(**overrides: Any) -> Services:
        data = tmp_path / f"data-{uuid.uuid4().hex[:6]}"
        shutil.copytree(template_data_dir, data)
        services = build_services(make_settings(data, **overrides))
        created.append(services)
        return services

    yield factory
    for services in created:
        services.db.dispose()


@pytest.fixture
def services(make_services: Callable[..., Services]) -> Services:
    return make_services()


@pytest.fixture
def make_engine() -> Callable[[Services], Engine]:
    return build_engine


@pytest.fixture
def engine(services: Services) -> Engine:
    return build_engine(services)


@pytest.fixture
def empty_services(tmp_path: Path) -> Iterator[Services]:
    """Services on an empty data dir (nothing indexed)."""
    services = build_services(make_settings(tmp_path / "empty-data"))
    yield services
    services.db.dispose()


# -- completion tracking ---------------------------------------------------------
UNITS_CSV = """Mã đơn vị,Tên đơn vị,Đơn vị cấp trên,Loại
SYT,Sở Y tế Thanh Hóa,,Sở Y tế
BVDK,Bệnh viện Đa khoa tỉnh,SYT,Bệnh viện
BVDK-NOI,Khoa Nội,BVDK,Khoa
BVDK-NGOAI,Khoa Ngoại,BVDK,Khoa
TTYT-NL,Trung tâm Y tế huyện Ngọc Lặc,SYT,Trung tâm Y tế
TYT-NL-01,Trạm Y tế xã Minh Sơn,TTYT-NL,Trạm Y tế
"""

ROSTER_CSV = """Mã NV,Họ và tên,Đơn vị,Chức danh,Số điện thoại,Vai trò
NV001,Nguyễn Thị Lan,BVDK-NOI,Điều dưỡng,0912000001,
NV002,Lê Văn Hùng,BVDK-NOI,Bác sĩ,0912000002,
NV003,Phạm Thị Mai,BVDK-NGOAI,Dược sĩ,0912000003,
NV004,Hoàng Văn Nam,TYT-NL-01,Nhân viên y tế thôn bản,0912000004,
NV005,Vũ Thị Hạnh,TYT-NL-01,Hộ sinh,0912000005,
QL001,Trần Văn Minh,BVDK,Trưởng phòng Kế hoạch,0912000100,Quản lý
QL002,Đỗ Thị Hoa,TTYT-NL,Giám đốc,0912000200,Quản lý
"""


@dataclass
class Province:
    """A small province: 6 units, 7 staff, two managers, one pending completion.

    NV002 reported "Chuyển đổi số" on 10/03/2026 (pending verification).
    """

    services: Services
    engine: Engine
    tracking: Any
    stats: Any

    def link(self, staff_code: str, channel: str, user_id: str, chat_id: str | None = None) -> None:
        self.tracking.link_identity(staff_code, channel, user_id, chat_id)


@pytest.fixture
def make_province(tmp_path: Path) -> Callable[[Services], Province]:
    """Seed the small province into any services (SQLite or PostgreSQL)."""
    from datetime import date

    from bot.tracking.roster import import_staff, import_units
    from bot.tracking.service import CompletionInput

    def factory(services: Services) -> Province:
        engine = build_engine(services)
        tracking = services.tracking
        units = tmp_path / f"units-{uuid.uuid4().hex[:6]}.csv"
        units.write_text(UNITS_CSV, encoding="utf-8")
        roster = tmp_path / f"roster-{uuid.uuid4().hex[:6]}.csv"
        roster.write_text(ROSTER_CSV, encoding="utf-8")
        assert not import_units(tracking, units).errors
        assert not import_staff(tracking, roster).errors
        course = tracking.find_course("Chuyển đổi số")
        staff = tracking.staff_by_code("NV002")
        tracking.log_completion(
            "test", staff.id, CompletionInput(course.id, date(2026, 3, 10), "CDS-0002", True)
        )
        return Province(services, engine, tracking, services.stats)

    return factory


@pytest.fixture
def province(services: Services, make_province: Callable[[Services], Province]) -> Province:
    return make_province(services)
