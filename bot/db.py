"""Database engine, sessions and schema migrations (SQLAlchemy 2 + Alembic).

One database holds the chunk store, conversation state and completion
tracking: SQLite inside the data directory by default, PostgreSQL when
``DATABASE_URL`` is set. The schema is owned by Alembic; ``open_database``
upgrades it to head so a fresh data directory just works.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

log = logging.getLogger(__name__)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every table of the product."""

    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    """Timezone-aware now, stored as UTC."""
    return datetime.now(UTC)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def private_sqlite_file(path: Path) -> None:
    """Create the SQLite file readable by its owner only (0600), or tighten it.

    The database holds names, phone numbers and link codes of a whole roster.
    SQLite creates its -wal and -shm files with the main file's permissions.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = candidate.stat().st_mode & 0o777
        except FileNotFoundError:
            continue
        if mode & 0o077:
            log.warning("restricting %s to its owner (was %o)", candidate, mode)
            candidate.chmod(0o600)


def make_engine(url: str) -> Engine:
    """Create an engine with sane pragmas for SQLite (FKs on, WAL)."""
    if url.startswith("sqlite"):
        path = url.split("sqlite:///", 1)[-1]
        if path and path != ":memory:" and not path.startswith("file:"):
            private_sqlite_file(Path(path))
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # No server-side prepared statements: after five runs psycopg would switch
    # the statistics query to a generic plan that cannot see the unit-path
    # prefix and joins unit by unit (300 ms instead of 70 ms for 100,000
    # staff). It also keeps the engine usable behind PgBouncer.
    return create_engine(url, pool_pre_ping=True, connect_args={"prepare_threshold": None})


MIGRATIONS = Path(__file__).parent / "migrations"
_REVISION = re.compile(r"^(down_revision|revision)\s*=\s*[\"']([^\"']+)[\"']", re.MULTILINE)


def schema_head() -> str | None:
    """The newest migration, read from the migration files' text.

    Importing Alembic and building its script directory costs more than a
    whole tracking command; this reads ``revision``/``down_revision`` from the
    few files in ``migrations/versions`` and returns the one revision nothing
    builds on (None when that is not exactly one: then Alembic decides).
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for file in (MIGRATIONS / "versions").glob("*.py"):
        found = dict((key, value) for key, value in _REVISION.findall(file.read_text("utf-8")))
        if "revision" in found:
            revisions.add(found["revision"])
        if "down_revision" in found:
            parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def stored_revision(engine: Engine) -> str | None:
    """The revision the database says it is at (None if it has no schema yet)."""
    from sqlalchemy import inspect, text

    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return rows[0] if len(rows) == 1 else None


def ensure_schema(engine: Engine) -> None:
    """Migrate only when the stored revision is not the head (the cheap check first)."""
    head = schema_head()
    if head is not None and stored_revision(engine) == head:
        return
    migrate(engine)


MIGRATION_LOCK = "hocvuso:migrations"


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for PostgreSQL's advisory locks."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big", signed=True)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision.

    On PostgreSQL the upgrade runs under a transaction-level advisory lock:
    two workers started together would otherwise both see an empty database
    and both try to create the tables. The second one waits, then finds the
    schema at head and has nothing left to do.
    """
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.attributes["connection"] = None
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(
                "SELECT pg_advisory_xact_lock(%(key)s)", {"key": lock_key(MIGRATION_LOCK)}
            )
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Database:
    """Engine plus session factory for one database URL."""

    def __init__(self, url: str, *, run_migrations: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        if run_migrations:
            ensure_schema(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._thread_locks: dict[str, tuple[threading.Lock, int]] = {}
        self._guard = threading.Lock()

    @property
    def shared(self) -> bool:
        """True when several processes may use this database (PostgreSQL)."""
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Hold the named lock for the duration of the block.

        On PostgreSQL it is a session advisory lock, so it holds across every
        worker process sharing the database (one user's messages handled one at
        a time wherever they arrive; one start-up ingest at a time). On SQLite,
        which only one process serves, a thread lock per name is enough.
        """
        if self.shared:
            key = lock_key(name)
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("SELECT pg_advisory_lock(%(key)s)", {"key": key})
                try:
                    yield
                finally:
                    conn.exec_driver_sql("SELECT pg_advisory_unlock(%(key)s)", {"key": key})
            return
        with self._guard:
            lock, users = self._thread_locks.get(name, (threading.Lock(), 0))
            self._thread_locks[name] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._thread_locks[name]
                if users <= 1:
                    del self._thread_locks[name]
                else:
                    self._thread_locks[name] = (lock, users - 1)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any error."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def analyze(self, *tables: str) -> None:
        """Settle PostgreSQL after a bulk change: VACUUM ANALYZE the tables.

        Right after a 100,000-row roster import the planner still believes the
        tables are empty and picks nested loops, and autovacuum arrives later to
        clear the old row versions while managers are reading statistics.
        SQLite plans these queries well without statistics, so it is left alone.
        """
        if self.engine.dialect.name != "postgresql":
            return
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in tables:
                conn.exec_driver_sql(f'VACUUM ANALYZE "{table}"')

    def dispose(self) -> None:
        self.engine.dispose()
