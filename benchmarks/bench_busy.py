"""How long a question waits while an admin's upload is being indexed (one process).

Issue 12 item 17: with the engine on one thread for everybody, a 60 KB admin
upload raised a question's answer time from 1.7 s to 8 s for everyone. This
benchmark indexes the shipped ``knowledge/`` into a temporary data directory,
then, for each mode, sends an admin's upload (``--kb`` KB of generated
Vietnamese regulations, a different file each time) and right behind it
``--questions`` questions from other users, and reports each question's
answer time (from submission to reply) next to the idle answer time.

* ``before``: the behaviour of the old ``EngineRunner`` — one worker thread,
  the upload indexed inside the admin's turn; questions queue behind it.
* ``after``: the current ``EngineRunner`` — ``ENGINE_THREADS`` threads for
  conversations, the upload indexed on the background thread, the admin told
  when it is done.

    .venv/bin/python benchmarks/bench_busy.py
    .venv/bin/python benchmarks/bench_busy.py --kb 120 --questions 6

Figures depend on the machine (2 cores here, shared); compare the two modes
of the same run. Both modes run in the same process, one after the other.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bot.app import build_engine, build_services  # noqa: E402
from bot.channels.common import EngineRunner  # noqa: E402
from bot.core.engine import Engine  # noqa: E402
from bot.core.messages import Attachment, Incoming, Reply  # noqa: E402
from bot.settings import Settings  # noqa: E402

QUESTIONS = [
    "Hạn chót hoàn thành khóa học MOOC là ngày nào?",
    "VNeID giúp gì cho việc định danh người học?",
    "Khung kỹ năng số do ai hướng dẫn?",
    "Kế hoạch Bình dân học vụ số của Ngọc Lặc ban hành ngày nào?",
    "chi tieu 5 noi ve gi",
    "Đề án 06 là gì?",
]
WORDS = [
    "điều",
    "dưỡng",
    "bác",
    "sĩ",
    "khoa",
    "phòng",
    "trực",
    "ca",
    "bàn",
    "giao",
    "hồ",
    "sơ",
    "bệnh",
    "án",
    "thuốc",
    "vật",
    "tư",
    "kiểm",
    "tra",
    "báo",
    "cáo",
    "tháng",
    "quý",
    "năm",
    "đơn",
    "vị",
    "trạm",
    "y",
    "tế",
    "xã",
    "huyện",
    "tỉnh",
    "sở",
    "hướng",
    "dẫn",
    "quy",
    "định",
    "thực",
    "hiện",
    "đào",
    "tạo",
    "kỹ",
    "năng",
    "số",
    "chuyển",
    "đổi",
    "nền",
    "tảng",
    "tài",
    "khoản",
    "định",
    "danh",
    "điện",
    "tử",
    "chứng",
    "chỉ",
]


def regulation(size_kb: int, seed: int) -> str:
    """A plausible internal regulation of about ``size_kb`` KB (articles, sentences)."""
    rng = random.Random(seed)
    parts = [f"QUY ĐỊNH NỘI BỘ SỐ {seed}/QĐ-BV VỀ CÔNG TÁC CHUYÊN MÔN\n"]
    article = 1
    while sum(len(p.encode("utf-8")) for p in parts) < size_kb * 1024:
        sentences = [
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 18))).capitalize() + "."
            for _ in range(rng.randint(3, 7))
        ]
        parts.append(f"\nĐiều {article}. Quy định về {rng.choice(WORDS)} {rng.choice(WORDS)}\n")
        parts.append(" ".join(sentences) + "\n")
        article += 1
    return "".join(parts)


Ask = Callable[[Incoming], Awaitable[list[Reply]]]


async def timed(ask: Ask, msg: Incoming) -> float:
    started = time.perf_counter()
    await ask(msg)
    return time.perf_counter() - started


async def scenario(
    engine: Engine, ask: Ask, upload: Ask, folder: Path, size_kb: int, seed: int, questions: int
) -> tuple[list[float], float]:
    """Upload, then questions right behind it; (question times, upload time)."""
    path = folder / f"upload-{seed}.txt"
    path.write_text(regulation(size_kb, seed), encoding="utf-8")
    attachment = Attachment(f"quy-dinh-{seed}.txt", path, path.stat().st_size, "text/plain")
    admin = Incoming("bench", "admin", attachment=attachment)
    started = time.perf_counter()
    upload_task = asyncio.create_task(upload(admin))
    await asyncio.sleep(0.2)  # the admin's message is taken first, as in the report
    asked = [
        Incoming("bench", f"staff-{i}", text=QUESTIONS[i % len(QUESTIONS)])
        for i in range(questions)
    ]
    times = await asyncio.gather(*(timed(ask, m) for m in asked))
    await upload_task
    upload_s = time.perf_counter() - started
    engine.services.kb.remove(f"quy-dinh-{seed}")
    return list(times), upload_s


async def main_async(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-busy-"))
    try:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            HOCVUSO_DATA_DIR=tmp / "data",
            HOCVUSO_KNOWLEDGE_DIR=REPO / "knowledge",
            HOCVUSO_ADMIN_IDS="bench:admin",
        )
        services = build_services(settings)
        print("indexing the shipped knowledge…", flush=True)
        services.kb.ensure_ingested()
        engine = build_engine(services)
        folder = settings.uploads_dir / "incoming"
        folder.mkdir(parents=True, exist_ok=True)

        # Idle: one question at a time.
        single = ThreadPoolExecutor(max_workers=1)
        loop = asyncio.get_running_loop()

        async def old_ask(msg: Incoming) -> list[Reply]:
            return await loop.run_in_executor(single, engine.handle, msg)

        for q in QUESTIONS:  # warm-up: model, index, caches
            await old_ask(Incoming("bench", "warm", text=q))
        idle = [await timed(old_ask, Incoming("bench", "idle", text=q)) for q in QUESTIONS]
        print(f"idle question: median {statistics.median(idle):.2f} s, max {max(idle):.2f} s")

        results: dict[str, tuple[list[float], float]] = {}
        # before: one thread for everything, the upload indexed inside the admin's turn.
        results["before"] = await scenario(
            engine, old_ask, old_ask, folder, args.kb, 1, args.questions
        )
        single.shutdown()

        # after: ENGINE_THREADS threads, the upload indexed in the background.
        runner = EngineRunner(engine)
        done = asyncio.Event()

        async def told(replies: list[Reply]) -> None:
            done.set()

        async def new_ask(msg: Incoming) -> list[Reply]:
            return await runner.handle(msg)

        async def new_upload(msg: Incoming) -> list[Reply]:
            done.clear()
            replies = await runner.handle(msg, told)
            await done.wait()  # the upload time includes indexing and the notice
            return replies

        results["after"] = await scenario(
            engine, new_ask, new_upload, folder, args.kb, 2, args.questions
        )
        await runner.drain()
        runner.close()

        print(
            f"\nupload {args.kb} KB, {args.questions} questions right behind it "
            f"(ENGINE_THREADS={settings.engine_threads}):"
        )
        print(f"{'mode':<8}{'median s':>10}{'max s':>8}{'upload done s':>15}")
        for mode, (times, upload_s) in results.items():
            print(f"{mode:<8}{statistics.median(times):>10.2f}{max(times):>8.2f}{upload_s:>15.2f}")
        services.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kb", type=int, default=80, help="size of the upload in KB (80)")
    parser.add_argument("--questions", type=int, default=4, help="questions behind it (4)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
