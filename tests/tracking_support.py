"""Fixtures and helpers shared by the completion-tracking tests.

Tracking never needs the knowledge base, so these services open an empty data
directory (no embedding of the shipped documents): each database costs only
its migrations. Every fixture runs on SQLite and on PostgreSQL (a throw-away
database on the server named by ``HOCVUSO_TEST_PG_URL``; skipped without it).

Import the fixtures into a test module with
``from tests.tracking_support import *  # noqa: F403``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_services
from bot.core.messages import Incoming, Reply
from bot.core.services import Services
from tests.conftest import Province, make_settings

PG_URL = os.environ.get("HOCVUSO_TEST_PG_URL")

__all__ = [
    "PG_URL",
    "Chat",
    "db_services",
    "make_db_services",
    "pg_database",
    "prov",
    "staff_chat",
]


@pytest.fixture
def pg_database() -> Iterator[Callable[[], str]]:
    """Factory of throw-away PostgreSQL databases (URLs); dropped after the test."""
    if not PG_URL:
        pytest.skip("HOCVUSO_TEST_PG_URL not set")
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(PG_URL)
    admin = dict(host=url.host, port=url.port or 5432, user=url.username, dbname=url.database)
    names: list[str] = []

    def create() -> str:
        name = f"hocvuso_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(**admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        names.append(name)
        return url.set(database=name).render_as_string(False)

    yield create
    with psycopg.connect(**admin, autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def make_db_services(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., Services]]:
    """Factory of services on an empty data dir, on SQLite or PostgreSQL."""
    created: list[Services] = []
    pg: Callable[[], str] | None = None
    if request.param == "postgres":
        pg = request.getfixturevalue("pg_database")

    def factory(**overrides: Any) -> Services:
        data = tmp_path / f"data-{uuid.uuid4().hex[:6]}"
        if pg is not None:
            overrides.setdefault("DATABASE_URL", pg())
        services = build_services(make_settings(data, **overrides))
        created.append(services)
        return services

    yield factory
    for services in created:
        services.db.dispose()


@pytest.fixture
def db_services(make_db_services: Callable[..., Services]) -> Services:
    return make_db_services()


@pytest.fixture
def prov(db_services: Services, make_province: Callable[[Services], Province]) -> Province:
    return make_province(db_services)


class Chat:
    """One user talking to the engine, as any channel would."""

    def __init__(self, prov: Province, user: str, channel: str = "console") -> None:
        self.engine, self.user, self.channel = prov.engine, user, channel

    def say(self, text: str = "", *, payload: str | None = None, **kw: Any) -> list[Reply]:
        msg = Incoming(self.channel, self.user, chat_id=self.user, text=text, payload=payload, **kw)
        return self.engine.handle(msg)

    def text(self, *args: Any, **kw: Any) -> str:
        return "\n".join(r.text for r in self.say(*args, **kw))


def staff_chat(prov: Province, code: str, user: str) -> Chat:
    prov.link(code, "console", user)
    return Chat(prov, user)
