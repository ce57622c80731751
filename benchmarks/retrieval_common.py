"""Shared by bench_retrieval.py and fit_params.py: question sets, their corpora, features.

Each set is scored against a throw-away index of its own corpus (the same
``ThrowawayCorpus`` as ``hocvuso eval --corpus``), with passage embeddings
cached on disk so reruns skip e5. For every question (as written and with
its diacritics stripped) this collects the anchors' rankings and hocvuso's
candidate features with a hit label per candidate, so fitting fusion weights
is a few numpy operations per trial.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bot.answering.types import Source  # noqa: E402
from bot.evaluation import ThrowawayCorpus, is_hit, load_questions, strip_marks  # noqa: E402
from bot.retrieval.hybrid import HybridRetriever  # noqa: E402
from bot.retrieval.lexical import LexicalIndex, marked_tokens  # noqa: E402
from bot.retrieval.params import FEATURES, FusionParams, load_params  # noqa: E402
from bot.text import tokens  # noqa: E402

SHARED = Path(os.environ.get("HOCVUSO_SHARED", REPO.parent / "shared"))
if not (SHARED / "eval").exists():
    SHARED = Path("/work/shared")
CACHE = Path(os.environ.get("HOCVUSO_BENCH_CACHE", Path.home() / ".cache" / "hocvuso-bench"))


@dataclass(frozen=True)
class QuestionSet:
    name: str
    questions: Path
    corpus: Path


def all_sets() -> list[QuestionSet]:
    ext = SHARED / "eval" / "external"
    return [
        QuestionSet("alqac", ext / "alqac" / "questions.jsonl", ext / "alqac" / "docs"),
        QuestionSet("virhe4qa", ext / "virhe4qa" / "questions.jsonl", ext / "virhe4qa" / "docs"),
        QuestionSet("dev", SHARED / "eval" / "dev.jsonl", REPO / "knowledge"),
        QuestionSet("guides", REPO / "eval" / "guides.jsonl", REPO / "knowledge"),
        QuestionSet("heldout", REPO / "eval" / "heldout.jsonl", REPO / "knowledge"),
    ]


def fold_of(item_id: str, salt: str = "r1") -> str:
    """Deterministic 70/30 split by question id: "train" or "heldout"."""
    h = int(hashlib.sha1(f"{salt}:{item_id}".encode()).hexdigest()[:8], 16)
    return "heldout" if h % 10 < 3 else "train"


@dataclass
class QuestionData:
    set_name: str
    item_id: str
    fold: str
    stripped: bool
    marked: bool  # the question as asked carries marks
    # hocvuso candidates: feature matrix [C, F] (FEATURES order) and hit labels [C]
    features: np.ndarray
    labels: np.ndarray
    # anchors and hocvuso: rank of the first hit (1-based) or 0 when not in the top 5
    ranks: dict[str, int] = field(default_factory=dict)
    latency_ms: float = 0.0


def _rank(labels_in_order: list[bool], k: int = 5) -> int:
    for i, ok in enumerate(labels_in_order[:k], 1):
        if ok:
            return i
    return 0


def _minmax(v: np.ndarray) -> np.ndarray:
    lo, hi = float(v.min(initial=0.0)), float(v.max(initial=0.0))
    return (v - lo) / (hi - lo) if hi - lo > 1e-9 else np.zeros_like(v)


class SetRunner:
    """One set's throw-away index, anchors and hocvuso retriever."""

    def __init__(self, corpus: ThrowawayCorpus, params: FusionParams) -> None:
        self.kb = corpus.kb
        self.index = self.kb._load_index()
        self.retriever = HybridRetriever(self.index, self.kb.embedder, self.kb.vectors, params)
        self.fit_retriever = HybridRetriever(
            self.index, self.kb.embedder, self.kb.vectors, fitting_params(params)
        )
        texts = [c.indexed_text for c in self.index.chunks]
        self.bm25_raw = LexicalIndex(texts, analyzer=marked_tokens)
        self.bm25_folded = LexicalIndex(texts, analyzer=tokens)
        self.dense = self.index.dense_matrix(self.kb.vectors)
        self.docs = self.kb._docs
        self.sources = [self._source(i) for i in range(len(self.index.chunks))]

    def _source(self, pos: int) -> Source:
        c = self.index.chunks[pos]
        doc = self.docs.get(c.doc_id)
        return Source(
            c.doc_id, doc.title if doc else "", doc.path if doc else "", c.section, c.text, 0.0
        )

    def _top(self, scores: np.ndarray, item: dict[str, Any]) -> int:
        order = np.argsort(-scores, kind="stable")[:5]
        return _rank([is_hit(item, self.sources[int(i)]) for i in order])

    def question(self, set_name: str, item: dict[str, Any], stripped: bool) -> QuestionData:
        q = strip_marks(item["question"]) if stripped else item["question"]
        ranks: dict[str, int] = {}
        raw_q: dict[str, float] = {}
        for t in marked_tokens(q):
            raw_q[t] = raw_q.get(t, 0.0) + 1.0
        fold_q: dict[str, float] = {}
        for t in tokens(q):
            fold_q[t] = fold_q.get(t, 0.0) + 1.0
        raw = self.bm25_raw.scores(raw_q)
        folded = self.bm25_folded.scores(fold_q)
        qv = self.kb.embedder.embed_query(q)
        e5 = self.dense @ qv
        ranks["bm25_raw"] = self._top(raw, item)
        ranks["bm25_folded"] = self._top(folded, item)
        ranks["e5"] = self._top(e5, item)
        ranks["alpha"] = self._top(0.5 * _minmax(folded) + 0.5 * _minmax(e5), item)
        restored = self.index.restorer.restore(q)
        if restored != q:
            ranks["e5_restored"] = self._top(
                self.dense @ self.kb.embedder.embed_query(restored), item
            )
        else:
            ranks["e5_restored"] = ranks["e5"]
        started = time.perf_counter()
        retrieval = self.retriever.search(q, 5)
        latency = (time.perf_counter() - started) * 1000
        ranks["hocvuso"] = _rank(
            [is_hit(item, self.sources[self.index.position[h.chunk.id]]) for h in retrieval.hits]
        )
        cands = self.fit_retriever.candidates(q)
        if cands is None:
            feats = np.zeros((0, len(FEATURES)), dtype=np.float32)
            labels = np.zeros(0, dtype=bool)
        else:
            feats = np.stack([cands.features[f] for f in FEATURES], axis=1)
            labels = np.asarray([is_hit(item, self.sources[int(p)]) for p in cands.positions])
        return QuestionData(
            set_name,
            str(item.get("id")),
            fold_of(str(item.get("id"))),
            stripped,
            q != strip_marks(q),
            feats,
            labels,
            ranks,
            latency,
        )


def fitting_params(params: FusionParams) -> FusionParams:
    """Same params with every feature switched on, so candidates carry every pool."""
    out = FusionParams.from_json(params.to_json())
    for mode in ("marked", "plain"):
        for f in FEATURES:
            if not out.weights.setdefault(mode, {}).get(f):
                out.weights[mode][f] = 1e-6
    return out


def collect(
    sets: list[QuestionSet],
    *,
    params: FusionParams | None = None,
    limit: int | None = None,
    progress: bool = True,
) -> Iterator[QuestionData]:
    """Every answerable question of every set, as written and stripped."""
    params = params or load_params()
    by_corpus: dict[Path, list[QuestionSet]] = {}
    for s in sets:
        if s.questions.exists():
            by_corpus.setdefault(s.corpus, []).append(s)
    for corpus_dir, group in by_corpus.items():
        with ExitStack() as stack:
            started = time.perf_counter()
            corpus = stack.enter_context(ThrowawayCorpus(corpus_dir, CACHE, progress=progress))
            runner = SetRunner(corpus, params)
            if progress:
                print(
                    f"# {corpus_dir}: {len(runner.index.chunks)} chunks indexed in "
                    f"{time.perf_counter() - started:.0f}s",
                    file=sys.stderr,
                )
            for s in group:
                items = [i for i in load_questions(s.questions) if not i.get("unanswerable")]
                for item in items[:limit] if limit else items:
                    for stripped in (False, True):
                        yield runner.question(s.name, item, stripped)
