"""Warm retrieval latency with 10,000+ chunks on this machine.

    python benchmarks/bench_retrieval_latency.py --chunks 10000

Builds a corpus of at least ``--chunks`` chunks in a temp dir from the
external sets' documents (legal articles, university regulations) plus the
shipped knowledge, repeated with perturbations (numbers shifted, paragraphs
reordered) so every copy is a distinct document, ingests it into a
throw-away data dir, then times ``KnowledgeBase.retrieve`` and
``KnowledgeBase.ask`` on questions typed with and without diacritics.

Passage vectors of the perturbed copies are deterministic random unit
vectors (``--real-vectors`` embeds them with e5 instead, ~1 h on two busy
cores): dense scoring is one mat-vec whose cost does not depend on the
values, while the question is embedded with the real e5 model every time.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from retrieval_common import CACHE, SHARED

from bot.db import Database
from bot.evaluation import load_questions, strip_marks
from bot.knowledge import KnowledgeBase
from bot.retrieval.embeddings import Embedder, make_embedder
from bot.settings import Settings
from ingest.chunker import chunk_document

REPO = Path(__file__).resolve().parents[1]


class SyntheticPassages:
    """Real e5 for questions; cached or random unit vectors for passages."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for i, t in enumerate(texts):
            seed = int(hashlib.sha1(t.encode()).hexdigest()[:8], 16)
            v = np.random.default_rng(seed).standard_normal(384).astype(np.float32)
            out[i] = v / np.linalg.norm(v)
        return out


def perturb(text: str, copy: int, rng: random.Random) -> str:
    """A distinct but similar document: numbers shifted, middle paragraphs reordered."""
    shifted = re.sub(r"\b(\d{1,3})\b", lambda m: str(int(m.group(1)) + 100 * copy), text)
    paras = shifted.split("\n\n")
    if len(paras) > 3:
        middle = paras[1:-1]
        rng.shuffle(middle)
        paras = [paras[0], *middle, paras[-1]]
    return "\n\n".join(paras)


def build_corpus(folder: Path, target: int) -> int:
    sources = sorted((SHARED / "eval" / "external").glob("*/docs/*.txt"))
    sources += sorted((REPO / "knowledge" / "plans").glob("*.txt"))
    texts = [(p.stem, p.read_text(encoding="utf-8")) for p in sources]
    per_copy = sum(len(chunk_document(t)) for _, t in texts)
    # Ingest keeps ~83% of chunk_document's raw count (merged/deduplicated passages).
    copies = max(1, -(-int(target * 1.25) // max(per_copy, 1)))
    rng = random.Random(7)
    for c in range(copies):
        for stem, text in texts:
            body = text if c == 0 else perturb(text, c, rng)
            (folder / f"{stem}-c{c}.txt").write_text(body, encoding="utf-8")
    return per_copy * copies


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=10000)
    parser.add_argument("--questions", type=int, default=100, help="per set, each typed two ways")
    parser.add_argument("--real-vectors", action="store_true")
    parser.add_argument("--no-ask", action="store_true", help="time retrieval only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hocvuso-lat-") as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        expected = build_corpus(corpus, args.chunks)
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            HOCVUSO_DATA_DIR=Path(tmp) / "data",
            HOCVUSO_KNOWLEDGE_DIR=corpus,
            DATABASE_URL=None,
            CHROMA_URL=None,
        )
        settings.ensure_dirs()
        db = Database(settings.sqlalchemy_url)
        real = make_embedder(settings)
        embedder: Embedder = real
        if args.real_vectors:
            from bot.retrieval.cache import CachedEmbedder, EmbeddingCache

            embedder = CachedEmbedder(real, EmbeddingCache(CACHE))
        else:
            embedder = SyntheticPassages(real)
        kb = KnowledgeBase(settings, db, embedder=embedder)
        started = time.perf_counter()
        kb.ingest([corpus], progress=True)
        ingest_s = time.perf_counter() - started
        started = time.perf_counter()
        index = kb._load_index()
        kb.retrieve("khởi động hệ thống")
        kb.retrieve("khoi dong he thong")
        load_s = time.perf_counter() - started
        questions: list[str] = []
        for name in ("alqac", "virhe4qa"):
            items = load_questions(SHARED / "eval" / "external" / name / "questions.jsonl")
            for item in items[: args.questions]:
                questions += [item["question"], strip_marks(item["question"])]
        retrieve_ms: list[float] = []
        ask_ms: list[float] = []
        for q in questions:
            t = time.perf_counter()
            kb.retrieve(q)
            retrieve_ms.append((time.perf_counter() - t) * 1000)
            if not args.no_ask:
                t = time.perf_counter()
                kb.ask(q)
                ask_ms.append((time.perf_counter() - t) * 1000)
        print(
            f"corpus: {len(index.chunks)} chunks (planned ~{expected}), ingest {ingest_s:.0f}s, "
            f"index load + first queries {load_s:.1f}s"
        )
        print(
            f"retrieve ({len(retrieve_ms)} questions, half without diacritics): "
            f"p50 {statistics.median(retrieve_ms):.1f} ms, p95 {pct(retrieve_ms, 95):.1f} ms"
        )
        if ask_ms:
            print(
                f"ask (retrieve + answer): p50 {statistics.median(ask_ms):.1f} ms, "
                f"p95 {pct(ask_ms, 95):.1f} ms"
            )
        db.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
