"""Knowledge benchmark: ingest throughput and query latency on a large corpus.

Builds a synthetic corpus of Vietnamese plans (sections and sentences drawn
from the seed plans, with varied issuers and numbers) large enough for at
least ``--chunks`` chunks, ingests it from scratch, then times questions.

    python benchmarks/bench_knowledge.py --chunks 10000 --out /tmp/hv-bench
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import time
from pathlib import Path

from bot.app import build_services
from bot.evaluation import strip_marks
from bot.settings import Settings
from bot.text import split_sentences
from ingest.chunker import chunk_document

REPO = Path(__file__).resolve().parents[1]
PROVINCES = [
    "Thanh Hóa",
    "Bắc Ninh",
    "Nghệ An",
    "Gia Lai",
    "Cần Thơ",
    "Lào Cai",
    "Huế",
    "Đà Nẵng",
    "Quảng Ninh",
    "Sơn La",
]
UNITS = [
    "Trung tâm Y tế",
    "Bệnh viện Đa khoa",
    "Bệnh viện Nhi",
    "Trạm Y tế xã",
    "Bệnh viện Y học cổ truyền",
]
HEADINGS = [
    "MỤC ĐÍCH, YÊU CẦU",
    "NHIỆM VỤ, GIẢI PHÁP",
    "TỔ CHỨC THỰC HIỆN",
    "KINH PHÍ",
    "CHẾ ĐỘ BÁO CÁO",
]


def seed_sentences() -> list[str]:
    out: list[str] = []
    for path in sorted((REPO / "knowledge" / "plans").glob("*.txt")):
        for chunk in chunk_document(path.read_text(encoding="utf-8")):
            out += [s for s in split_sentences(chunk.text) if len(s) > 40]
    return out


def write_corpus(folder: Path, chunks: int, rng: random.Random) -> int:
    sentences = seed_sentences()
    folder.mkdir(parents=True, exist_ok=True)
    per_doc = 40  # about 40 chunks per synthetic plan
    docs = chunks // per_doc + 1
    for n in range(docs):
        unit = f"{rng.choice(UNITS)} {rng.choice(PROVINCES)} số {n}"
        lines = [
            f"SỞ Y TẾ {rng.choice(PROVINCES).upper()}",
            unit.upper(),
            f"Số: {1000 + n}/KH-TTYT",
            "KẾ HOẠCH",
            f"Chuyển đổi số năm 2026 của {unit}",
        ]
        for r, heading in enumerate(HEADINGS * 2, 1):
            lines.append(f"{'I' * (r % 3 + 1)}. {heading}")
            for k in range(1, 5):
                lines.append(f"{k}. {rng.choice(sentences)[:60]}")
                lines += [f"- {rng.choice(sentences)}" for _ in range(3)]
        (folder / f"ke-hoach-{n:05d}.txt").write_text("\n".join(lines), encoding="utf-8")
    return docs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=10000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/hocvuso-bench"))
    parser.add_argument(
        "--questions", type=Path, default=REPO.parent / "shared" / "eval" / "dev.jsonl"
    )
    args = parser.parse_args()
    rng = random.Random(7)
    shutil.rmtree(args.out, ignore_errors=True)
    corpus = args.out / "corpus"
    docs = write_corpus(corpus, args.chunks, rng)
    shutil.copytree(REPO / "knowledge" / "plans", corpus / "plans")

    services = build_services(Settings(_env_file=None, HOCVUSO_DATA_DIR=args.out / "data"))  # type: ignore[call-arg]
    kb = services.kb
    started = time.perf_counter()
    report = kb.ingest([corpus], progress=True)
    ingest_s = time.perf_counter() - started
    total_chunks = sum(d.chunks for d in kb.documents())

    started = time.perf_counter()
    kb.ingest([corpus])
    rerun_s = time.perf_counter() - started

    questions = []
    if args.questions.exists():
        questions = [
            json.loads(x)["question"]
            for x in args.questions.read_text(encoding="utf-8").splitlines()
            if x.strip()
        ]
    questions += [strip_marks(q) for q in questions]
    kb.ask("khởi động")
    latencies = []
    for q in questions * 3:
        t = time.perf_counter()
        kb.ask(q)
        latencies.append((time.perf_counter() - t) * 1000)
    latencies.sort()
    result = {
        "documents": docs + 5,
        "chunks": total_chunks,
        "ingest_s": round(ingest_s, 1),
        "ingest_chunks_per_s": round(total_chunks / ingest_s, 1),
        "unchanged_rerun_s": round(rerun_s, 2),
        "queries": len(latencies),
        "query_p50_ms": round(statistics.median(latencies), 1),
        "query_p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "summary": report.summary(),
    }
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
