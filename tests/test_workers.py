"""Several stateless workers, one state (issue 12 item 18).

Two real ``hocvuso serve telegram`` processes in webhook mode, on different
ports, share one PostgreSQL database and one Chroma server (``chroma run``,
as ``docs/deploy.md`` describes), each with its own empty data directory. They
start together on a fresh database (the migrations run under an advisory lock,
the shipped knowledge is indexed once). The test then plays one user's
completion form, alternating workers at every step, and replays an update to
both: every step continues where the other worker left it, and nothing is
handled twice.

Skipped without ``HOCVUSO_TEST_PG_URL``. Waits are on events (the fake Bot API
recording a reply, a line in a worker's log), never on timing.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from bot.app import build_services
from bot.db import Database, lock_key
from tests.conftest import REPO, ROSTER_CSV, UNITS_CSV, make_settings
from tests.fake_telegram import TOKEN, FakeTelegram, Sent
from tests.tracking_support import pg_database  # noqa: F401  (fixture)

SECRET = "hai-worker_0123456789"
CHROMA_LISTEN = ("--host", "127.0.0.1", "--port")
LAN = 1001
SETTING_NAMES = {
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_WEBHOOK_URL",
    "TELEGRAM_WEBHOOK_SECRET",
    "TELEGRAM_LISTEN_PORT",
    "TELEGRAM_API_BASE_URL",
    "DATABASE_URL",
    "CHROMA_URL",
    "HOCVUSO_DATA_DIR",
    "HOCVUSO_KNOWLEDGE_DIR",
}
KNOWLEDGE_TXT = """QUY ĐỊNH TRỰC ĐÊM KHOA HỒI SỨC TÍCH CỰC

Điều 1. Số đêm trực
Mỗi điều dưỡng khoa Hồi sức tích cực trực tối đa 6 đêm mỗi tháng.
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    """A local Chroma server (the ``chroma`` CLI ships with chromadb)."""
    exe = Path(sys.executable).with_name("chroma")
    if not exe.exists():
        pytest.skip("the chroma CLI is not installed")
    port = free_port()
    log = (tmp_path / "chroma.log").open("wb")
    proc = subprocess.Popen(
        [str(exe), "run", "--path", str(tmp_path / "chroma"), *CHROMA_LISTEN, str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: listening(port) or proc.poll() is not None, "chroma", 60)
        assert proc.poll() is None, (tmp_path / "chroma.log").read_text(errors="replace")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


class Worker:
    """One ``hocvuso serve telegram`` process in webhook mode."""

    def __init__(self, name: str, env: dict[str, str], tmp: Path) -> None:
        self.name, self.port = name, free_port()
        self.log_path = tmp / f"{name}.log"
        env = dict(env, TELEGRAM_LISTEN_PORT=str(self.port), HOCVUSO_DATA_DIR=str(tmp / name))
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "telegram"],
            cwd=tmp,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/tg"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def ready(self) -> bool:
        assert self.proc.poll() is None, self.log()
        return listening(self.port)

    def post(self, update: dict[str, Any]) -> None:
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        response = httpx.post(self.url, json=update, headers=headers, timeout=60)
        assert response.status_code == 200, response.text

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.log()


def seed(url: str, chroma: str, tmp: Path) -> None:
    """Units and roster (what an admin imports), Lan linked on Telegram."""
    from bot.tracking.roster import import_staff, import_units

    extra = {"CHROMA_URL": chroma} if chroma else {}
    services = build_services(make_settings(tmp / "seed", DATABASE_URL=url, **extra))
    try:
        units, roster = tmp / "units.csv", tmp / "roster.csv"
        units.write_text(UNITS_CSV, encoding="utf-8")
        roster.write_text(ROSTER_CSV, encoding="utf-8")
        assert not import_units(services.tracking, units).errors
        assert not import_staff(services.tracking, roster).errors
        services.tracking.link_identity("NV001", "telegram", str(LAN), str(LAN))
    finally:
        services.close()


def test_two_workers_share_one_conversation_and_drop_replays(
    tmp_path: Path,
    pg_database: Callable[[], str],  # noqa: F811
    chroma_server: str,
) -> None:
    url = pg_database()
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    (knowledge / "truc-dem.txt").write_text(KNOWLEDGE_TXT, encoding="utf-8")
    with FakeTelegram() as fake:
        env = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
        env.update(
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE_URL=fake.root_url,
            TELEGRAM_WEBHOOK_URL="https://bot.syt.example.vn/tg",
            TELEGRAM_WEBHOOK_SECRET=SECRET,
            DATABASE_URL=url,
            CHROMA_URL=chroma_server,
            HOCVUSO_KNOWLEDGE_DIR=str(knowledge),
            HOCVUSO_LOG_LEVEL="INFO",
            QUIET_HOURS="off",
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        )
        # Both start at once on an empty database: one migrates, the other waits.
        workers = [Worker("a", env, tmp_path), Worker("b", env, tmp_path)]
        try:
            for worker in workers:
                wait_until(worker.ready, f"worker {worker.name}")
            seed(url, chroma_server, tmp_path)
            a, b = workers
            step = Conversation(fake)

            # The completion form, one step per worker in turn.
            first = step.send(a, fake.text(LAN, "/ghinhan"), "Bước 1/5")
            step.send(b, fake.callback(LAN, first.button("Chuyển đổi số"), first), "Bước 2/5")
            third = step.send(a, fake.text(LAN, "05/03/2026"), "Bước 3/5")
            assert "05/03/2026" in third.text
            fourth = step.send(b, fake.text(LAN, "CDS-2026-001"), "Bước 4/5")
            fifth = step.send(a, fake.callback(LAN, fourth.button("Có"), fourth), "Bước 5/5")
            last_update = fake.new_update(fake.callback(LAN, fifth.button("Bỏ qua và lưu"), fifth))
            step.send(b, last_update, "✅ Đã ghi nhận")
            # A question goes to whichever worker; both answer from the shared vectors.
            step.send(a, fake.text(LAN, "Điều dưỡng trực tối đa bao nhiêu đêm?"), "6 đêm")

            # The last update replayed to both workers: neither handles it again.
            sent_before = len(fake.sent_since(0))
            for worker in workers:
                worker.post(last_update)
            for worker in workers:
                wait_until(lambda w=worker: "duplicate update" in w.log(), "the replay dropped")
            assert len(fake.sent_since(0)) == sent_before
            # Lan's /tiendo (on worker b) lists exactly one new completion.
            progress = step.send(b, fake.text(LAN, "/tiendo"), "Tiến độ")
            assert progress.text.count("Chuyển đổi số") == 1, progress.text
        finally:
            logs = {w.name: w.stop() for w in workers}
    for name, log in logs.items():
        assert "Traceback" not in log, (name, log)
        assert TOKEN not in log
    # The migrations ran once (one alembic_version row at head) and the knowledge
    # was indexed once, whichever worker did it.
    db = Database(url, run_migrations=False)
    try:
        with db.engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
            assert len(versions) == 1
            from bot.retrieval.models import Document

            docs = conn.execute(select(Document.id)).all()
            assert len(docs) == 1
    finally:
        db.dispose()


class Conversation:
    """Posts one update to a worker and waits for the bot's reply on the fake API."""

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake

    def send(self, worker: Worker, update: dict[str, Any], expect: str) -> Sent:
        """Post ``update`` (given a fresh id unless it has one) and return the reply
        message containing ``expect`` once the fake Bot API has recorded it."""
        if "update_id" not in update:
            update = self.fake.new_update(update)
        mark = self.fake.mark()
        worker.post(update)

        def found() -> list[Sent]:
            return [s for s in self.fake.sent_since(mark, LAN) if expect in s.text]

        self.fake.wait_for(lambda: bool(found()), 120)
        return found()[-1]


def test_migrations_wait_for_the_advisory_lock(pg_database: Callable[[], str]) -> None:  # noqa: F811
    """A worker starting while another migrates waits for it instead of racing it."""
    url = pg_database()
    holder = Database(url, run_migrations=False)
    failures: list[BaseException] = []
    try:
        with holder.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key("hocvuso:migrations")})

            def start() -> None:
                try:
                    Database(url).dispose()
                except BaseException as exc:  # pragma: no cover - reported below
                    failures.append(exc)

            starting = threading.Thread(target=start)
            starting.start()

            def waiting() -> bool:
                with holder.engine.connect() as probe:
                    return bool(
                        probe.execute(
                            text(
                                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                "AND NOT granted"
                            )
                        ).scalar()
                    )

            wait_until(waiting, "the migration to wait for the lock", 60)
            conn.execute(
                text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key("hocvuso:migrations")}
            )
            conn.commit()
        starting.join(120)
        assert not starting.is_alive() and not failures, failures
        with holder.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        holder.dispose()


def test_database_backup_restores_into_a_working_database(
    tmp_path: Path,
    pg_database: Callable[[], str],  # noqa: F811
) -> None:
    """docs/deploy.md's backup: ``pg_dump -Fc`` then ``pg_restore`` into an empty
    database gives a database the workers open at the schema head, data intact."""
    import shutil

    from sqlalchemy.engine import make_url

    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump/pg_restore not installed")
    source, target = pg_database(), pg_database()
    seed(source, "", tmp_path)
    dump = tmp_path / "hocvuso.dump"

    def args(url: str) -> list[str]:
        parsed = make_url(url)
        return ["-h", str(parsed.host), "-p", str(parsed.port or 5432), "-U", str(parsed.username)]

    subprocess.run(
        ["pg_dump", "-Fc", "-f", str(dump), *args(source), str(make_url(source).database)],
        check=True,
    )
    subprocess.run(
        [
            "pg_restore",
            "--no-owner",
            "-d",
            str(make_url(target).database),
            *args(target),
            str(dump),
        ],
        check=True,
    )
    services = build_services(make_settings(tmp_path / "restored", DATABASE_URL=target))
    try:
        actor = services.tracking.resolve("telegram", str(LAN), is_admin=False)
        assert actor.staff_code == "NV001"  # the link survived the round trip
    finally:
        services.close()
