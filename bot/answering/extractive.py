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


# A question word found only in the heading a sentence sits under counts for
# this much of a word in the sentence itself ("Đơn thuốc tối đa 90 ngày" under
# "Thông tư 26/2025 thay đổi gì khi kê đơn?" answers a question about TT 26).
HEADING_SHARE = 0.5


def _is_title(sentence: str) -> bool:
    """A short all-capitals line ("KẾ HOẠCH", "CỘNG HÒA XÃ HỘI...") is a heading."""
    letters = [c for c in sentence if c.isalpha()]
    return len(sentence) < 90 and len(letters) >= 3 and all(c.isupper() for c in letters)


def content_of(sentence: str) -> str:
    """What a sentence says: without the advice clause of "X is not confirmed: ask Y"."""
    return unconfirmed_subject(sentence) if is_unconfirmed(sentence) else sentence


def _term_weight(term: str, weight: float, lexical: LexicalIndex) -> float:
    # Identifiers the question names ("26/2025", "2733") must be in the
    # sentence that answers, not just somewhere in the passage.
    return lexical.idf(term) * weight * (2.0 if any(c.isdigit() for c in term) else 1.0)


def sentence_score(
    sentence: str, section: str, weights: dict[str, float], lexical: LexicalIndex
) -> float:
    """IDF-weighted question terms in the sentence, plus a share of those in its heading.

    Zero when the sentence itself shares nothing with the question.
    """
    present = set(terms(content_of(sentence)))
    heading = set(terms(section))
    own = sum(_term_weight(t, w, lexical) for t, w in weights.items() if t in present)
    if own <= 0:
        return 0.0
    context = sum(
        _term_weight(t, w, lexical) for t, w in weights.items() if t in heading and t not in present
    )
    return own + HEADING_SHARE * context


def rank_sentences(
    hits: list[Hit],
    weights: dict[str, float],
    lexical: LexicalIndex,
    naming: dict[str, set[str]] | None = None,
    skip_docs: frozenset[str] = frozenset(),
) -> list[Quote]:
    """Every sentence of the top passages that shares a question term, best first.

    ``naming`` maps a document to the question's words that name it ("19",
    "KH-TTYT", "Ngọc Lặc"): they chose the document already, and inside it
    they would make its letterhead win over the sentence that answers. They
    count only when no sentence of that passage matches anything else (the
    question asks for the letterhead itself: "kế hoạch số mấy?"). Passages of
    ``skip_docs`` are not quoted.
    """
    quotes: list[Quote] = []
    for rank, hit in enumerate(hits[:3]):
        if hit.chunk.doc_id in skip_docs:
            continue
        prior = 1.0 - 0.15 * rank
        headings = {h.split(" ", 1)[-1] for h in hit.chunk.section.split(" > ")} | set(
            hit.chunk.section.split(" > ")
        )
        own = {
            t: w for t, w in weights.items() if t not in (naming or {}).get(hit.chunk.doc_id, ())
        }
        scored: list[Quote] = []
        for use in (own, weights) if len(own) < len(weights) else (weights,):
            for order, sentence in enumerate(split_sentences(hit.chunk.text)):
                if sentence.endswith("?") or sentence in headings or _is_title(sentence):
                    continue  # a heading is not an answer
                score = sentence_score(sentence, hit.chunk.section, use, lexical)
                if score <= 0:
                    continue
                length_penalty = 1.0 + max(len(sentence) - 300, 0) / 600
                scored.append(Quote(rank, order, sentence, prior * score / length_penalty))
            if scored:
                break
        quotes.extend(scored)
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
