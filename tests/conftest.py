"""Shared fixtures: real databases, real embeddings, the shipped knowledge.

Indexing the knowledge folder takes a few seconds (embedding ~150 passages),
so it is done once per session into a template data directory; each test
gets its own copy.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
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
