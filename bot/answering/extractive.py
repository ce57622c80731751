"""Extractive answers: the sentences that answer, quoted, with their source.

No small generative model that ships in a package answers Vietnamese
usefully (DESIGN.md), so by default the assistant quotes the documents. A
sentence scores by the IDF-weighted question terms it contains; passages
higher in the ranking get a small prior so the answer and the first citation
agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.answering.policy import is_unconfirmed, unconfirmed_subject
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


def rank_sentences(
    hits: list[Hit], weights: dict[str, float], lexical: LexicalIndex
) -> list[Quote]:
    """Every sentence of the top passages that shares a question term, best first."""
    quotes: list[Quote] = []
    for rank, hit in enumerate(hits[:3]):
        prior = 1.0 - 0.15 * rank
        headings = {h.split(" ", 1)[-1] for h in hit.chunk.section.split(" > ")} | set(
            hit.chunk.section.split(" > ")
        )
        for order, sentence in enumerate(split_sentences(hit.chunk.text)):
            if sentence.endswith("?") or sentence in headings:
                continue  # a heading is not an answer
            # The advice clause of "X is not confirmed: ask office Y" is not content.
            scored = unconfirmed_subject(sentence) if is_unconfirmed(sentence) else sentence
            present = set(terms(scored))
            # Identifiers the question names ("26/2025", "2733") must be in the
            # sentence that answers, not just somewhere in the passage.
            score = sum(
                lexical.idf(t) * w * (2.0 if any(c.isdigit() for c in t) else 1.0)
                for t, w in weights.items()
                if t in present
            )
            if score <= 0:
                continue
            length_penalty = 1.0 + max(len(sentence) - 300, 0) / 600
            quotes.append(Quote(rank, order, sentence, prior * score / length_penalty))
    quotes.sort(key=lambda q: q.score, reverse=True)
    return quotes


def select_quotes(ranked: list[Quote]) -> list[Quote]:
    """The best sentence plus close runners-up or its neighbours, in document order."""
    quotes = ranked
    if not quotes:
        return []
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
