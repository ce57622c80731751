"""Scores a question set the way ``shared/eval/README.md`` defines it.

Each question is asked as written and again with its diacritics stripped
(staff often type that way); both passes report hit@1, hit@5, MRR,
answer-contains rate, abstention accuracy and latency percentiles.

A source is a hit when its text holds every phrase of one ``any`` group, or
when its file stem is the question's ``gold`` (the external sets name the
document that answers). The seed phrases are written against the documents'
text "OCR damage included"; where the knowledge base holds a typed
transcription of a scan, the scan lines the passage was transcribed from
count as the passage's text too (:class:`ScanLines`). ``--retrieval-only`` scores the ranking without
composing answers (fast, for fitting); ``--near-miss`` asks each answerable
question with its gold document hidden, so the right behaviour is to refuse.
"""

from __future__ import annotations

import json
import statistics
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, Protocol

from bot.answering.types import Answer, Source
from bot.text import fold


class Asker(Protocol):
    def ask(self, question: str) -> Answer: ...


def strip_marks(text: str) -> str:
    """Remove diacritics but keep case, as a phone user would type."""
    decomposed = unicodedata.normalize("NFD", text)
    out = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", out.replace("đ", "d").replace("Đ", "D"))


def load_questions(path: Path) -> list[dict[str, Any]]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: invalid JSON ({exc.msg})") from exc
    return rows


def stem_of(path: str) -> str:
    """File stem of a source path ("docs/alqac-0001.txt" -> "alqac-0001")."""
    return PurePath(path.replace("\\", "/")).stem


AltText = Callable[[Source], str]
"""Another rendering of a source's passage the judge accepts (its scan lines)."""


def is_hit(item: dict[str, Any], source: Source, alt_text: AltText | None = None) -> bool:
    """The README's judge: gold file stem, or every phrase of one ``any`` group."""
    gold = item.get("gold")
    if gold and stem_of(source.path) == gold:
        return True
    groups = [[fold(p) for p in group] for group in item.get("any", [])]
    if not groups:
        return False
    texts = [fold(source.text)]
    if alt_text is not None:
        texts.append(fold(alt_text(source)))
    return any(all(p in text for p in group) for group in groups for text in texts)


def hit_rank(
    item: dict[str, Any], sources: list[Source], alt_text: AltText | None = None
) -> int | None:
    for rank, source in enumerate(sources, 1):
        if is_hit(item, source, alt_text):
            return rank
    return None


class ScanLines:
    """The scan lines a typed passage was transcribed from (empty for other documents).

    Cached per passage: aligning a passage against its scan takes a fraction
    of a second and the same passages come back question after question.
    """

    def __init__(self, knowledge_dir: Path) -> None:
        self.knowledge_dir = knowledge_dir
        self._scans: dict[str, str] = {}
        self._lines: dict[tuple[str, str], str] = {}

    def _scan(self, stored_path: str) -> str:
        if stored_path not in self._scans:
            from ingest.provenance import document_file, scan_copy

            copy = scan_copy(document_file(stored_path, self.knowledge_dir))
            self._scans[stored_path] = copy.read_text("utf-8") if copy else ""
        return self._scans[stored_path]

    def __call__(self, source: Source) -> str:
        scan = self._scan(source.path)
        if not scan:
            return ""
        key = (source.path, source.text)
        if key not in self._lines:
            from ingest.provenance import locate

            span = locate(source.text, scan)
            self._lines[key] = span.text if span else ""
        return self._lines[key]


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


class RetrievalAsker:
    """Ranking only: the retrieved passages as sources, never an abstention.

    Used by ``eval --retrieval-only`` and the fitting scripts: scoring 1,500
    questions this way takes seconds where composing answers takes minutes.
    """

    def __init__(self, kb: Any) -> None:
        self.kb = kb

    def ask(self, question: str) -> Answer:
        started = time.perf_counter()
        retrieval = self.kb.retrieve(question)
        sources = [self.kb._source(h) for h in retrieval.hits]
        elapsed = (time.perf_counter() - started) * 1000
        return Answer(question, "", False, sources, elapsed, "retrieval", None, None)


def score(
    kb: Asker, items: list[dict[str, Any]], *, strip: bool = False, alt_text: AltText | None = None
) -> dict[str, Any]:
    answerable = [i for i in items if not i.get("unanswerable")]
    unanswerable = [i for i in items if i.get("unanswerable")]
    retrieval_only = isinstance(kb, RetrievalAsker)
    hit1 = hit5 = rr = contains = contains_n = false_abstain = 0.0
    abstain_ok = 0
    latencies: list[float] = []
    misses: list[dict[str, Any]] = []
    for item in items:
        question = strip_marks(item["question"]) if strip else item["question"]
        answer = kb.ask(question)
        latencies.append(answer.elapsed_ms)
        if item.get("unanswerable"):
            if answer.abstained:
                abstain_ok += 1
            elif not retrieval_only:
                misses.append({"id": item.get("id"), "question": question, "problem": "answered"})
            continue
        rank = None if answer.abstained else hit_rank(item, answer.sources, alt_text)
        if answer.abstained:
            false_abstain += 1
        if rank == 1:
            hit1 += 1
        if rank is not None and rank <= 5:
            hit5 += 1
            rr += 1 / rank
        if item.get("answer_any") and not retrieval_only:
            contains_n += 1
            folded = fold(answer.text)
            if not answer.abstained and any(fold(p) in folded for p in item["answer_any"]):
                contains += 1
        if rank != 1:
            misses.append(
                {
                    "id": item.get("id"),
                    "question": question,
                    "rank": rank,
                    "abstained": answer.abstained,
                }
            )
    n = max(len(answerable), 1)
    return {
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "hit@1": round(hit1 / n, 3),
        "hit@5": round(hit5 / n, 3),
        "mrr": round(rr / n, 3),
        "answer_contains": round(contains / contains_n, 3) if contains_n else None,
        "abstention_accuracy": (
            round(abstain_ok / len(unanswerable), 3)
            if unanswerable and not retrieval_only
            else None
        ),
        "false_abstention_rate": round(false_abstain / n, 3),
        "latency_p50_ms": round(statistics.median(latencies), 1) if latencies else 0.0,
        "latency_p95_ms": round(_percentile(latencies, 95), 1),
        "misses": misses,
    }


@dataclass
class NearMissAsker:
    """Asks each question with some documents hidden from retrieval.

    ``kb.exclude_docs`` is honoured by ``KnowledgeBase.retrieve``; the answer
    must then be a refusal unless another document truly answers.
    """

    kb: Any
    stems: dict[str, set[str]] = field(default_factory=dict)  # file stem -> doc ids

    def __post_init__(self) -> None:
        for doc in self.kb.documents():
            self.stems.setdefault(stem_of(doc.path), set()).add(doc.doc_id)

    def ask_without(self, question: str, gold: str) -> Answer:
        self.kb.exclude_docs = frozenset(self.stems.get(gold, set()))
        try:
            answer: Answer = self.kb.ask(question)
            return answer
        finally:
            self.kb.exclude_docs = frozenset()


def score_near_miss(
    asker: NearMissAsker, items: list[dict[str, Any]], *, strip: bool = False
) -> dict[str, Any]:
    """Refusal rate on answerable questions asked with their gold document hidden."""
    usable = [i for i in items if i.get("gold") and not i.get("unanswerable")]
    refused = 0
    latencies: list[float] = []
    answered: list[dict[str, Any]] = []
    for item in usable:
        question = strip_marks(item["question"]) if strip else item["question"]
        answer = asker.ask_without(question, item["gold"])
        latencies.append(answer.elapsed_ms)
        if answer.abstained:
            refused += 1
        else:
            answered.append(
                {
                    "id": item.get("id"),
                    "question": question,
                    "answer": answer.text[:300],
                    "source": stem_of(answer.sources[0].path) if answer.sources else None,
                }
            )
    n = max(len(usable), 1)
    return {
        "near_misses": len(usable),
        "refused": round(refused / n, 3),
        "latency_p50_ms": round(statistics.median(latencies), 1) if latencies else 0.0,
        "latency_p95_ms": round(_percentile(latencies, 95), 1),
        "answered": answered,
    }


def passes(strip: bool | None) -> list[tuple[str, bool]]:
    """Which passes to run: both (None), only stripped (True), only as written (False)."""
    if strip is None:
        return [("original", False), ("no_diacritics", True)]
    return [("no_diacritics", True)] if strip else [("original", False)]


def evaluate_file(
    kb: Asker,
    path: Path,
    *,
    strip: bool | None = None,
    limit: int | None = None,
    near_miss: NearMissAsker | None = None,
    alt_text: AltText | None = None,
) -> dict[str, Any]:
    items = load_questions(path)[:limit] if limit else load_questions(path)
    kb.ask("khởi động")  # warm-up: load models once, not counted
    report: dict[str, Any] = {"file": str(path)}
    for name, stripped in passes(strip):
        if near_miss is not None:
            report[name] = score_near_miss(near_miss, items, strip=stripped)
        else:
            report[name] = score(kb, items, strip=stripped, alt_text=alt_text)
    return report


REPORT_KEYS = [
    "hit@1",
    "hit@5",
    "mrr",
    "answer_contains",
    "abstention_accuracy",
    "false_abstention_rate",
    "latency_p50_ms",
    "latency_p95_ms",
]
NEAR_MISS_KEYS = ["near_misses", "refused", "latency_p50_ms", "latency_p95_ms"]


def format_report(report: dict[str, Any], *, show_misses: bool = True) -> str:
    parts = [(name, report[name]) for name in ("original", "no_diacritics") if name in report]
    first = parts[0][1]
    near = "near_misses" in first
    if near:
        head = f"{report['file']}: {first['near_misses']} near-misses (gold document hidden)"
    else:
        head = (
            f"{report['file']}: {first['answerable']} answerable, "
            f"{first['unanswerable']} unanswerable"
        )
    labels = {"original": "original", "no_diacritics": "no diacritics"}
    lines = [head, f"{'metric':24}" + "".join(f"{labels[n]:>16}" for n, _ in parts)]
    for key in NEAR_MISS_KEYS if near else REPORT_KEYS:
        lines.append(f"{key:24}" + "".join(f"{part[key]!s:>16}" for _, part in parts))
    if show_misses:
        for name, part in parts:
            for miss in part.get("answered" if near else "misses", []):
                kind = "answered" if near else "miss"
                lines.append(f"  {kind} ({labels[name]}): {miss}")
    return "\n".join(lines)


class ThrowawayCorpus:
    """A knowledge base over one folder, in a temporary data directory.

    ``hocvuso eval QUESTIONS --corpus DIR`` scores a set against its own
    documents without touching the operator's data: SQLite and Chroma live in
    a temp dir removed on close. With ``cache`` the passage embeddings come
    from an on-disk cache keyed by model and text, so a rerun skips e5.
    """

    def __init__(self, corpus: Path, cache: Path | None = None, *, progress: bool = True) -> None:
        import tempfile

        from bot.db import Database
        from bot.knowledge import KnowledgeBase
        from bot.retrieval.embeddings import make_embedder
        from bot.settings import Settings

        if not corpus.is_dir():
            raise ValueError(f"corpus folder not found: {corpus}")
        self._tmp = tempfile.TemporaryDirectory(prefix="hocvuso-eval-")
        data = Path(self._tmp.name) / "data"
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            HOCVUSO_DATA_DIR=data,
            HOCVUSO_KNOWLEDGE_DIR=corpus,
            DATABASE_URL=None,
            CHROMA_URL=None,
        )
        settings.ensure_dirs()
        self.db = Database(settings.sqlalchemy_url)
        embedder: Any = make_embedder(settings)
        self.cache = None
        if cache is not None:
            from bot.retrieval.cache import CachedEmbedder, EmbeddingCache

            self.cache = EmbeddingCache(cache)
            embedder = CachedEmbedder(embedder, self.cache)
        self.kb = KnowledgeBase(settings, self.db, embedder=embedder)
        self.report = self.kb.ingest([corpus], progress=progress)

    def close(self) -> None:
        self.db.engine.dispose()
        if self.cache is not None:
            self.cache.close()
        self._tmp.cleanup()

    def __enter__(self) -> ThrowawayCorpus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
