"""Scores a question set the way ``shared/eval/README.md`` defines it.

Each question is asked as written and again with its diacritics stripped
(staff often type that way); both passes report hit@1, hit@5, MRR,
answer-contains rate, abstention accuracy and latency percentiles.
"""

from __future__ import annotations

import json
import statistics
import unicodedata
from pathlib import Path
from typing import Any, Protocol

from bot.answering.types import Answer
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


def _hit_rank(item: dict[str, Any], answer: Answer) -> int | None:
    groups = [[fold(p) for p in group] for group in item.get("any", [])]
    for rank, source in enumerate(answer.sources, 1):
        text = fold(source.text)
        if any(all(p in text for p in group) for group in groups):
            return rank
    return None


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def score(kb: Asker, items: list[dict[str, Any]], *, strip: bool = False) -> dict[str, Any]:
    answerable = [i for i in items if not i.get("unanswerable")]
    unanswerable = [i for i in items if i.get("unanswerable")]
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
            else:
                misses.append({"id": item.get("id"), "question": question, "problem": "answered"})
            continue
        rank = None if answer.abstained else _hit_rank(item, answer)
        if answer.abstained:
            false_abstain += 1
        if rank == 1:
            hit1 += 1
        if rank is not None and rank <= 5:
            hit5 += 1
            rr += 1 / rank
        if item.get("answer_any"):
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
        "abstention_accuracy": round(abstain_ok / len(unanswerable), 3) if unanswerable else None,
        "false_abstention_rate": round(false_abstain / n, 3),
        "latency_p50_ms": round(statistics.median(latencies), 1) if latencies else 0.0,
        "latency_p95_ms": round(_percentile(latencies, 95), 1),
        "misses": misses,
    }


def evaluate_file(kb: Asker, path: Path) -> dict[str, Any]:
    items = load_questions(path)
    kb.ask("khởi động")  # warm-up: load models once, not counted
    return {
        "file": str(path),
        "original": score(kb, items),
        "no_diacritics": score(kb, items, strip=True),
    }


def format_report(report: dict[str, Any]) -> str:
    keys = [
        "hit@1",
        "hit@5",
        "mrr",
        "answer_contains",
        "abstention_accuracy",
        "false_abstention_rate",
        "latency_p50_ms",
        "latency_p95_ms",
    ]
    orig, plain = report["original"], report["no_diacritics"]
    lines = [
        f"{report['file']}: {orig['answerable']} answerable, {orig['unanswerable']} unanswerable",
        f"{'metric':24}{'original':>12}{'no diacritics':>16}",
    ]
    for key in keys:
        lines.append(f"{key:24}{orig[key]!s:>12}{plain[key]!s:>16}")
    for label, part in (("original", orig), ("no diacritics", plain)):
        for miss in part["misses"]:
            lines.append(f"  miss ({label}): {miss}")
    return "\n".join(lines)
