"""Extractive answers: the sentences that answer, quoted, with their source.

No small generative model that ships in a package answers Vietnamese
usefully (DESIGN.md), so by default the assistant quotes the documents. A
sentence scores by the IDF-weighted question terms it contains; passages
higher in the ranking get a small prior so the answer and the first citation
agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.retrieval.hybrid import Hit
from bot.retrieval.lexical import LexicalIndex
from bot.text import split_sentences, terms

MAX_SENTENCES = 3
MAX_CHARS = 700


@dataclass
class Quote:
    hit_rank: int
    order: int
    text: str
    score: float


def select_quotes(hits: list[Hit], weights: dict[str, float], lexical: LexicalIndex) -> list[Quote]:
    """Best sentences from the top passages, in document order within a passage."""
    quotes: list[Quote] = []
    for rank, hit in enumerate(hits[:3]):
        prior = 1.0 - 0.15 * rank
        for order, sentence in enumerate(split_sentences(hit.chunk.text)):
            present = set(terms(sentence))
            score = sum(lexical.idf(t) * w for t, w in weights.items() if t in present)
            if score <= 0:
                continue
            length_penalty = 1.0 + max(len(sentence) - 300, 0) / 600
            quotes.append(Quote(rank, order, sentence, prior * score / length_penalty))
    if not quotes:
        return []
    quotes.sort(key=lambda q: q.score, reverse=True)
    best = quotes[0]
    chosen = [best]
    size = len(best.text)
    for q in quotes[1:]:
        if len(chosen) >= MAX_SENTENCES or size + len(q.text) > MAX_CHARS:
            break
        close_enough = q.score >= 0.6 * best.score
        neighbour = (
            q.hit_rank == best.hit_rank
            and abs(q.order - best.order) == 1
            and q.score >= 0.35 * best.score
        )
        if (
            close_enough
            or neighbour
            or (len(best.text) < 60 and q.hit_rank == best.hit_rank and q.order == best.order + 1)
        ):
            chosen.append(q)
            size += len(q.text)
    chosen.sort(key=lambda q: (q.hit_rank, q.order))
    return chosen


def compose(
    quotes: list[Quote], hits: list[Hit], labels: dict[str, str], ocr_docs: set[str]
) -> str:
    """Vietnamese answer text: one quoted block per source passage."""
    parts: list[str] = []
    for rank in dict.fromkeys(q.hit_rank for q in quotes):
        hit = hits[rank]
        label = labels.get(hit.chunk.doc_id, hit.chunk.doc_id)
        lines = [
            f"Theo {label}" + (f", mục {hit.chunk.section}" if hit.chunk.section else "") + ":"
        ]
        lines += [f"“{q.text}”" for q in quotes if q.hit_rank == rank]
        if hit.chunk.doc_id in ocr_docs:
            lines.append("(Trích nguyên văn bản quét nên có thể thiếu dấu hoặc sai chính tả.)")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)
