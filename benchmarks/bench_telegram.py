"""Telegram load benchmark: simulated users asking questions through the real bot.

Every question goes the whole way a real one does: the fake Bot API server
(``tests/fake_telegram.py``, on 127.0.0.1) hands it to the real
python-telegram-bot ``Application`` through ``getUpdates`` long polling, the
Telegram adapter turns it into an ``Incoming``, the real engine answers it
from the shipped ``knowledge/`` (indexed into a temporary data directory
first, with the real embeddings), and the answer with its citations and
feedback buttons goes back through PTB's HTTP layer to the fake server.

Each simulated user sends their next question when the answer to the
previous one has arrived (a closed loop, as people do), optionally after a
think time (``--think``; the first questions are then spread over one think
time instead of all arriving at once). Latency is measured from the moment an update is queued at the
fake server to the moment the server records the bot's reply; throughput is
questions answered per second of wall time, from the first question to the
last answer. With many users and no think time the bot is saturated, so
latency is mostly queueing: about ``users / throughput``. For comparison the
benchmark first times the engine alone (``Engine.handle`` called directly,
one question after another, ``--baseline`` questions): the difference is
what Telegram, PTB and the adapter add.

    .venv/bin/python benchmarks/bench_telegram.py                  # 200 users x 10 questions
    .venv/bin/python benchmarks/bench_telegram.py --users 50 --questions 4 --think 2
    .venv/bin/python benchmarks/bench_telegram.py --process        # the bot in its own process
    .venv/bin/python benchmarks/bench_telegram.py --no-rate-limit  # without AIORateLimiter
    .venv/bin/python benchmarks/bench_telegram.py --workers 2 --users 60 --questions 5 --think 2

By default the bot's ``Application`` (built by ``build_application`` exactly
as ``hocvuso serve telegram`` builds it, with PTB's ``AIORateLimiter``: at
most 30 messages per second overall, Telegram's own limit for bots) runs in
the benchmark's own event loop, next to the fake server's threads; peak RSS
is then that of the whole process. With ``--process`` the bot is
``python -m bot.cli serve telegram`` in a child process (as in production,
stopped with SIGTERM at the end), the fake server and the simulated users
stay here, and peak RSS is the bot process's own (``VmHWM``).
``--no-rate-limit`` (in-process only) builds the bot without the limiter.

``--workers N`` runs the production layout of ``docs/deploy.md``: N
``hocvuso serve telegram`` processes in webhook mode, each on its own port
and data directory, sharing a throw-away PostgreSQL database (created on the
server of ``--pg-url``, default ``HOCVUSO_TEST_PG_URL``) and a Chroma server
(``chroma run``) started for the run. The simulated users' updates are posted
to the workers in turn, as a reverse proxy would; peak RSS is reported per
worker and summed. Compare 1, 2 and 4 workers with a think time: on a machine
with few cores more workers pay only while the cores are not already busy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bot.app import build_engine, build_services  # noqa: E402
from bot.channels.common import FLOOD_MESSAGE  # noqa: E402
from bot.channels.telegram.runner import ALLOWED_UPDATES, build_application  # noqa: E402
from bot.core.engine import APOLOGY  # noqa: E402
from bot.core.messages import Incoming  # noqa: E402
from bot.settings import Settings  # noqa: E402
from tests.fake_telegram import TOKEN, FakeTelegram, Sent  # noqa: E402

# What health staff ask, as typed: with and without diacritics, some outside the documents.
QUESTIONS = [
    "Hạn chót hoàn thành khóa học MOOC là ngày nào?",
    "Kế hoạch Bình dân học vụ số của Ngọc Lặc ban hành ngày nào?",
    "Ai ký kế hoạch Bình dân học vụ số ngành y tế Bắc Ninh năm 2026?",
    "VNeID giúp gì cho việc định danh người học?",
    "chi tieu 5 noi ve gi",
    "Khung kỹ năng số do ai hướng dẫn?",
    "Đề án 06 là gì?",
    "lam the nao de dang ky tai khoan tren nen tang binh dan hoc vu so",
    "Sổ sức khỏe điện tử dùng để làm gì?",
    "Chữ ký số cho bác sĩ được cấp như thế nào?",
    "ai phu trach thi dua khen thuong trong phong trao o ngoc lac",
    "Đơn thuốc điện tử liên thông với hệ thống nào?",
    "Hệ thống cảnh báo sớm dịch bệnh do đơn vị nào chủ trì?",
    "bệnh án điện tử triển khai đến khi nào",
    "Thanh toán không dùng tiền mặt trong bệnh viện gồm những hình thức nào?",
    "Các bệnh viện treo băng rôn, màn hình LED để làm gì?",
    "Giá xăng hôm nay bao nhiêu?",
    "Nghị quyết 57-NQ/TW của Bộ Chính trị được nhắc đến trong kế hoạch nào?",
    "dung VNeID thay the the BHYT giay duoc khong",
    "Mô hình chính quyền địa phương mấy cấp được tuyên truyền?",
]
FIRST_USER_ID = 500_000


@dataclass
class Load:
    """The simulated users: who asked what when, and when the answers came back."""

    fake: FakeTelegram
    users: int
    questions: int
    think: float
    pushed_at: dict[int, float] = field(default_factory=dict)
    asked: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    replies: list[Sent] = field(default_factory=list)
    unexpected: int = 0
    finished: threading.Event = field(default_factory=threading.Event)
    deliver: Any = None  # posts an update to a worker (webhook mode); None: getUpdates
    last_answer_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _answered: int = 0

    def start(self) -> None:
        """Every user asks a first question: at once, or spread over one think time."""
        rng = random.Random(0)
        for i in range(self.users):
            user = FIRST_USER_ID + i
            if self.think > 0:
                threading.Timer(rng.uniform(0, self.think), self.ask, (user,)).start()
            else:
                self.ask(user)

    def ask(self, user: int) -> None:
        n = self.asked[user]
        question = QUESTIONS[(user * 7 + n) % len(QUESTIONS)]
        self.asked[user] += 1
        with self._lock:
            self.pushed_at[user] = time.monotonic()
        update = self.fake.text(user, question, first_name=f"NV{user}")
        if self.deliver is None:
            self.fake.push(update)
        else:
            self.deliver(self.fake.new_update(update))

    def on_sent(self, sent: Sent) -> None:
        """Called by the fake server (its thread) for every message the bot sends."""
        user = sent.chat_id
        with self._lock:
            started = self.pushed_at.pop(user, None)
            if started is None:  # a second message for one question
                self.unexpected += 1
                return
            self.latencies.append(sent.at - started)
            self.replies.append(sent)
            self._answered += 1
            self.last_answer_at = sent.at
            done = self._answered == self.users * self.questions
        if done:
            self.finished.set()
        elif self.asked[user] < self.questions:
            if self.think > 0:
                threading.Timer(self.think, self.ask, (user,)).start()
            else:
                self.ask(user)


def engine_alone(engine: Any, count: int) -> dict[str, Any]:
    """The same questions through ``Engine.handle`` directly, sequentially."""
    times = []
    for i in range(count):
        msg = Incoming("telegram", str(FIRST_USER_ID - 1 - i), text=QUESTIONS[i % len(QUESTIONS)])
        t0 = time.perf_counter()
        engine.handle(msg)
        times.append(time.perf_counter() - t0)
    if not times:
        return {}
    return {
        "questions": count,
        "qps": round(count / sum(times), 2),
        "p50_ms": round(percentile(times, 50) * 1000),
        "p95_ms": round(percentile(times, 95) * 1000),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def summarize(
    args: argparse.Namespace,
    load: Load,
    fake: FakeTelegram,
    *,
    started: float,
    completed: bool,
    rss_before: float,
    rss_peak: float,
) -> dict[str, Any]:
    wall = (load.last_answer_at or time.monotonic()) - started
    total = args.users * args.questions
    answered = len(load.replies)
    texts = [r.text for r in load.replies]
    errors = sum(1 for t in texts if t in (APOLOGY, FLOOD_MESSAGE)) + (total - answered)
    mode = "process" if args.process else "in-process"
    if args.workers:
        mode = f"{args.workers} webhook worker(s), PostgreSQL + Chroma server"
    return {
        "mode": mode,
        "users": args.users,
        "questions_per_user": args.questions,
        "think_s": args.think,
        "rate_limiter": not args.no_rate_limit,
        "completed": completed,
        "questions": total,
        "answered": answered,
        "errors": errors,
        "unexpected_extra_messages": load.unexpected,
        "cited": sum(1 for t in texts if "Nguồn:" in t),
        "with_feedback_buttons": sum(1 for r in load.replies if len(r.buttons) == 2),
        "wall_s": round(wall, 2),
        "throughput_qps": round(answered / wall, 2) if wall > 0 else None,
        "latency_ms": {
            "p50": round(percentile(load.latencies, 50) * 1000),
            "p95": round(percentile(load.latencies, 95) * 1000),
            "p99": round(percentile(load.latencies, 99) * 1000),
            "max": round(max(load.latencies, default=float("nan")) * 1000),
            "mean": round(statistics.fmean(load.latencies) * 1000) if load.latencies else None,
        },
        "get_updates_calls": len(fake.calls_of("getUpdates")),
        "peak_rss_mb_before_load": round(rss_before),
        "peak_rss_mb": round(rss_peak),
    }


async def run_in_process(
    args: argparse.Namespace, settings: Settings, engine: Any, fake: FakeTelegram
) -> dict[str, Any]:
    """The bot's Application in this process's event loop (the fake server in threads)."""
    app = build_application(
        settings, engine, rate_limit=not args.no_rate_limit, reminder_first=86_400.0
    )
    assert app.updater is not None and app.post_init and app.post_shutdown
    await app.initialize()
    await app.post_init(app)
    await app.updater.start_polling(poll_interval=0, timeout=10, allowed_updates=ALLOWED_UPDATES)
    await app.start()
    load = Load(fake, args.users, args.questions, args.think)
    fake.on_sent = load.on_sent
    rss_before = peak_rss_mb()
    started = time.monotonic()
    try:
        load.start()
        completed = await asyncio.to_thread(load.finished.wait, args.timeout)
    finally:
        fake.on_sent = None
        await app.updater.stop()
        await app.stop()
        await app.post_stop(app)  # type: ignore[misc]
        await app.shutdown()
        await app.post_shutdown(app)
    return summarize(
        args,
        load,
        fake,
        started=started,
        completed=completed,
        rss_before=rss_before,
        rss_peak=peak_rss_mb(),
    )


def process_peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def server_env(settings: Settings, fake: FakeTelegram, **extra: str) -> dict[str, str]:
    """The environment of a ``hocvuso serve telegram`` process talking to the fake API.

    The machine's own hocvuso settings are dropped so that only these apply.
    """
    names = {str(f.alias) for f in Settings.model_fields.values() if f.alias}
    env = {k: v for k, v in os.environ.items() if k not in names}
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=fake.root_url,
        HOCVUSO_KNOWLEDGE_DIR=str(settings.knowledge_dir),
        QUIET_HOURS="off",
        HOCVUSO_LOG_LEVEL="WARNING",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        **extra,
    )
    return env


def run_as_process(
    args: argparse.Namespace, settings: Settings, fake: FakeTelegram
) -> dict[str, Any]:
    """``hocvuso serve telegram`` in its own process, as in production."""
    env = server_env(settings, fake, HOCVUSO_DATA_DIR=str(settings.data_dir))
    cwd = settings.data_dir.parent  # no .env from the repository
    log_path = cwd / "serve.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "telegram"],
            cwd=cwd,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            warm_up = FIRST_USER_ID - 10_000
            fake.push(fake.text(warm_up, QUESTIONS[0]))
            fake.wait_for(lambda: bool(fake.sent_since(0, warm_up)) or proc.poll() is not None, 300)
            if proc.poll() is not None:
                raise SystemExit(f"the bot exited:\n{log_path.read_text(encoding='utf-8')}")
            load = Load(fake, args.users, args.questions, args.think)
            fake.on_sent = load.on_sent
            rss_before = process_peak_rss_mb(proc.pid)
            started = time.monotonic()
            load.start()
            completed = load.finished.wait(args.timeout)
            fake.on_sent = None
            rss_peak = process_peak_rss_mb(proc.pid)
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    result = summarize(
        args,
        load,
        fake,
        started=started,
        completed=completed,
        rss_before=rss_before,
        rss_peak=rss_peak,
    )
    result["exit_code_after_sigterm"] = code
    return result


def pg_database(pg_url: str) -> tuple[str, Any]:
    """A fresh database on the server of ``pg_url``; returns its URL and a dropper."""
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(pg_url)
    admin = dict(host=url.host, port=url.port or 5432, user=url.username, dbname=url.database)
    if url.password:
        admin["password"] = url.password
    name = f"hocvuso_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(**admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url.set(database=name).render_as_string(False), drop


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{what} did not start")
        time.sleep(0.1)


def start_chroma(folder: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    exe = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen(
        [str(exe), "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_listening(port, proc, "chroma run", 60)
    return f"http://127.0.0.1:{port}", proc


WEBHOOK_SECRET = "bench-workers_0123456789"


def run_workers(
    args: argparse.Namespace, settings: Settings, fake: FakeTelegram, root: Path
) -> dict[str, Any]:
    """N ``hocvuso serve telegram`` webhook workers behind a round-robin "proxy"."""
    import httpx

    base = server_env(
        settings,
        fake,
        TELEGRAM_WEBHOOK_URL="https://bot.example.vn/telegram",
        TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
        DATABASE_URL=str(settings.database_url),
        CHROMA_URL=str(settings.chroma_url),
    )
    procs: list[tuple[int, subprocess.Popen[bytes]]] = []
    logs = []
    try:
        for i in range(args.workers):
            port = free_port()
            env = dict(base, TELEGRAM_LISTEN_PORT=str(port), HOCVUSO_DATA_DIR=str(root / f"w{i}"))
            log_file = (root / f"w{i}.log").open("wb")
            logs.append(log_file)
            proc = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "serve", "telegram"],
                cwd=root,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
            procs.append((port, proc))
        for i, (port, proc) in enumerate(procs):
            wait_listening(port, proc, f"worker {i}", 300)
        client = httpx.Client(timeout=120)
        turn = iter(range(10**9))
        headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}

        def deliver(update: dict[str, Any]) -> None:
            port = procs[next(turn) % len(procs)][0]
            client.post(f"http://127.0.0.1:{port}/telegram", json=update, headers=headers)

        for i in range(len(procs)):  # warm each worker's models
            warm = FIRST_USER_ID - 10_000 - i
            deliver(fake.new_update(fake.text(warm, QUESTIONS[0])))
            fake.wait_for(lambda w=warm: bool(fake.sent_since(0, w)), 300)
        load = Load(fake, args.users, args.questions, args.think, deliver=deliver)
        fake.on_sent = load.on_sent
        rss_before = sum(process_peak_rss_mb(p.pid) for _, p in procs)
        started = time.monotonic()
        load.start()
        completed = load.finished.wait(args.timeout)
        fake.on_sent = None
        per_worker = [round(process_peak_rss_mb(p.pid)) for _, p in procs]
    finally:
        for _, proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _, proc in procs:
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log_file in logs:
            log_file.close()
    result = summarize(
        args,
        load,
        fake,
        started=started,
        completed=completed,
        rss_before=rss_before,
        rss_peak=sum(per_worker),
    )
    result["peak_rss_mb_per_worker"] = per_worker
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200, help="simulated users (default 200)")
    parser.add_argument("--questions", type=int, default=10, help="questions per user (default 10)")
    parser.add_argument(
        "--think", type=float, default=0.0, help="seconds a user waits before the next question"
    )
    parser.add_argument(
        "--process",
        action="store_true",
        help="run the bot as `hocvuso serve telegram` in its own process",
    )
    parser.add_argument(
        "--no-rate-limit", action="store_true", help="build the bot without AIORateLimiter"
    )
    parser.add_argument(
        "--baseline", type=int, default=100, help="questions timed on the engine alone first"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="N webhook worker processes on PostgreSQL + a Chroma server (docs/deploy.md)",
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("HOCVUSO_TEST_PG_URL"),
        help="PostgreSQL server for --workers (a throw-away database is created)",
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="give up after (s)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.process and args.no_rate_limit:
        parser.error("--no-rate-limit applies to the in-process bot only")
    if args.workers and not args.pg_url:
        parser.error("--workers needs PostgreSQL: --pg-url or HOCVUSO_TEST_PG_URL")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    with (
        tempfile.TemporaryDirectory(prefix="bench-telegram-") as tmp,
        FakeTelegram(max_poll_wait=10.0) as fake,
    ):
        shared: dict[str, Any] = {}
        drop_database = chroma = None
        if args.workers:
            shared["DATABASE_URL"], drop_database = pg_database(args.pg_url)
            shared["CHROMA_URL"], chroma = start_chroma(Path(tmp) / "chroma")
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            HOCVUSO_DATA_DIR=Path(tmp) / "data",
            HOCVUSO_KNOWLEDGE_DIR=REPO / "knowledge",
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE_URL=fake.root_url,
            QUIET_HOURS="off",
            **shared,
        )
        services = build_services(settings)
        t0 = time.monotonic()
        report = services.kb.ingest([settings.knowledge_dir])
        ingest_s = time.monotonic() - t0
        engine = build_engine(services)
        services.kb.ask(QUESTIONS[0])  # load the models before the clock starts
        baseline = engine_alone(engine, args.baseline)
        try:
            if args.workers:
                services.db.dispose()
                result = run_workers(args, settings, fake, Path(tmp))
            elif args.process:
                services.db.dispose()
                result = run_as_process(args, settings, fake)
            else:
                result = asyncio.run(run_in_process(args, settings, engine, fake))
        finally:
            services.db.dispose()
            if chroma is not None:
                chroma.terminate()
                chroma.wait(30)
            if drop_database is not None:
                drop_database()
        result["ingest"] = {"documents": sum(report.counts.values()), "seconds": round(ingest_s, 1)}
        result["engine_alone"] = baseline

    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        lat, base = result["latency_ms"], result["engine_alone"]
        limiter = "on" if result["rate_limiter"] else "off"
        print(
            f"{result['users']} users x {result['questions_per_user']} questions, bot "
            f"{result['mode']} (think {result['think_s']:g} s, rate limiter {limiter})\n"
            f"answered {result['answered']}/{result['questions']} in {result['wall_s']} s, "
            f"errors {result['errors']}, cited {result['cited']}\n"
            f"throughput {result['throughput_qps']} questions/s\n"
            f"latency p50 {lat['p50']} ms, p95 {lat['p95']} ms, p99 {lat['p99']} ms, "
            f"max {lat['max']} ms\n"
            f"engine alone: {base.get('qps')} questions/s, p50 {base.get('p50_ms')} ms, "
            f"p95 {base.get('p95_ms')} ms\n"
            f"getUpdates calls {result['get_updates_calls']}, peak RSS of the bot "
            f"{result['peak_rss_mb']} MB (before the load {result['peak_rss_mb_before_load']} MB)"
            + (
                f", per worker {result['peak_rss_mb_per_worker']} MB"
                if "peak_rss_mb_per_worker" in result
                else ""
            )
        )
    return 0 if result["completed"] and result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
