"""One place decides whether to answer, from the retrieval evidence.

Everything that can make the assistant refuse lives here: an empty or
clinical question (policy), evidence too thin to answer (a logistic model on
retrieval features, fitted on answerable questions and near-misses by
``benchmarks/fit_abstention.py`` and shipped in ``abstention.json``), a
count of something no document names ("bao nhiêu giường"), a detail the
question pins down that the best documents do not have (year, document
number, unit, ministry or place: "Tài liệu chỉ có kế hoạch của Sở Y tế Bắc
Ninh"; a document whose metadata lacks the pinned name is quoted only from a
sentence that names it), a guide saying the detail asked is unconfirmed, and
no sentence to quote. ``KnowledgeBase`` only gathers the evidence and acts on the decision.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from bot.answering.pins import NOT_NAME, Pin, counted, pins
from bot.answering.policy import CLINICAL_REFUSAL, is_clinical, is_unconfirmed, unconfirmed_subject
from bot.answering.selection import Quote, content_of
from bot.retrieval.hybrid import COLLOQUIAL, Retrieval, query_terms, shares_word
from bot.retrieval.lexical import LexicalIndex
from bot.text import has_diacritics, terms, tokens, years_in

PARAMS_PATH = Path(__file__).with_name("abstention.json")

NOT_COVERED = (
    "Tài liệu hiện có không đề cập đến nội dung này, nên tôi không trả lời để tránh thông tin sai. "
    "Bạn có thể hỏi cụ thể hơn (nêu tên kế hoạch, đơn vị, nền tảng), "
    "hoặc liên hệ phòng Kế hoạch/CNTT của đơn vị."
)
UNCONFIRMED_PREFIX = (
    "Tài liệu chưa có thông tin được xác nhận chính thức về nội dung này, "
    "nên tôi không đưa ra con số hay ngày tháng. Hướng dẫn hiện có ghi:"
)
EMPTY = "Bạn hãy nhập câu hỏi."


@dataclass(frozen=True)
class DocFacts:
    """What the decision needs to know about one document."""

    doc_id: str
    kind: str
    label: str
    profile: str  # folded metadata: issuer, place, number, title
    text: str  # folded text of the whole document (profile included)
    dated: frozenset[str]  # years its metadata carries ("2023")


@dataclass
class CorpusFacts:
    """The corpus as the decision sees it: documents and the lexical statistics."""

    docs: dict[str, DocFacts]
    lexical: LexicalIndex
    # chunk id -> row of the lexical index; document -> its metadata terms
    position: dict[str, int] = field(default_factory=dict)
    doc_terms: dict[str, set[str]] = field(default_factory=dict)

    def has(self, doc_id: str, value: str) -> bool:
        doc = self.docs.get(doc_id)
        return doc is not None and f" {value} " in f" {doc.text} "

    def anywhere(self, value: str) -> bool:
        return any(f" {value} " in f" {d.profile} " for d in self.docs.values())


@dataclass(frozen=True)
class Params:
    """A logistic model P(answerable | evidence) and the threshold chosen on data."""

    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float
    mean: tuple[float, ...] = ()
    scale: tuple[float, ...] = ()
    note: str = ""
    # Second gate: retrieval's coverage (unknown words weigh triple, a named unit or
    # ministry must match) below this is refused; fitted for the same false-abstention cap.
    coverage_floor: float = 0.0

    def probability(self, values: dict[str, float]) -> float:
        z = self.bias
        for i, (name, w) in enumerate(zip(self.features, self.weights, strict=True)):
            x = values.get(name, 0.0)
            if self.mean:
                x = (x - self.mean[i]) / (self.scale[i] or 1.0)
            z += w * x
        return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Params:
        return cls(
            features=tuple(data["features"]),
            weights=tuple(float(w) for w in data["weights"]),
            bias=float(data["bias"]),
            threshold=float(data["threshold"]),
            mean=tuple(float(x) for x in data.get("mean", ())),
            scale=tuple(float(x) for x in data.get("scale", ())),
            note=str(data.get("note", "")),
            coverage_floor=float(data.get("coverage_floor", 0.0)),
        )


@lru_cache(maxsize=4)
def load_params(path: Path = PARAMS_PATH) -> Params:
    return Params.from_json(json.loads(path.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Decision:
    answer: bool
    reason: str
    message: str = ""
    probability: float = 1.0
    # Documents the answer may quote (those that have every pinned detail); None: any.
    allowed_docs: frozenset[str] | None = None
    # Per allowed document, the pinned names its metadata lacks: a quote from it must name them.
    mention: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    # When refusing for a pinned detail: the document that covers a neighbour.
    neighbour: str | None = None
    missing: tuple[Pin, ...] = ()
    evidence: dict[str, float] = field(default_factory=dict)


def screen(question: str) -> Decision | None:
    """Refusals decided from the question alone (before any retrieval)."""
    if not question.strip():
        return Decision(False, "empty", EMPTY)
    if is_clinical(question):
        return Decision(False, "clinical", CLINICAL_REFUSAL)
    return None


def _shares(
    uni: list[str], bi: list[str], hit: Any, corpus: CorpusFacts, friends: frozenset[str]
) -> tuple[float, float]:
    """IDF-weighted shares of the question's words and word pairs found in one passage.

    The passage counts with its section and its document's metadata (issuer,
    number, title), as retrieval indexes it. A false friend (a word typed with
    marks the documents only have with other marks) is never found.
    """
    lexical = corpus.lexical
    pos = corpus.position.get(hit.chunk.id)
    row = lexical.row_terms(pos) if pos is not None else set()
    meta = corpus.doc_terms.get(hit.chunk.doc_id, set())

    def found(t: str) -> bool:
        if shares_word(t, friends):
            return False
        return lexical.vocab.get(t, -1) in row or t in meta

    def share(items: list[str]) -> float:
        total = sum(_idf(t, lexical, friends) for t in items)
        if total <= 0:
            return 1.0
        got = sum(_idf(t, lexical, friends) for t in items if found(t))
        return got / total

    return share(uni), share(bi)


def _idf(term: str, lexical: LexicalIndex, friends: frozenset[str]) -> float:
    return lexical.max_idf if term in friends else lexical.idf(term)


def evidence(question: str, retrieval: Retrieval, corpus: CorpusFacts) -> dict[str, float]:
    """Numbers that say how well the retrieved passages cover the question.

    Features, not decisions: the shipped model weighs them. Word pairs
    matter as much as words in Vietnamese ("lương cơ sở" shares "cơ sở" with
    every plan; "thời tiết" shares "thời" and "tiết").
    """
    lexical = corpus.lexical
    hits = retrieval.hits
    uni, bi = query_terms(question)
    cited = retrieval.aside  # "Theo Bộ luật …, …" and the year asked: not content
    uni = [t for t in uni if t not in COLLOQUIAL and t not in cited]
    bi = [t for t in bi if t not in cited]
    friends = retrieval.false_friends

    def unknown(t: str) -> bool:
        return shares_word(t, friends) or not lexical.known(t)

    total_uni = sum(_idf(t, lexical, friends) for t in uni) or 1.0
    total_bi = sum(lexical.idf(t) for t in bi) or 1.0
    unknown_uni = sum(_idf(t, lexical, friends) for t in uni if unknown(t) and not t.isdigit())
    unknown_bi = sum(lexical.idf(t) for t in bi if unknown(t))
    shares = [_shares(uni, bi, h, corpus, friends) for h in hits[:3]]
    scores = [h.score for h in hits]
    margin = (scores[0] - scores[1]) / scores[0] if len(scores) > 1 and scores[0] > 0 else 0.0
    marked = has_diacritics(question)
    first = hits[0] if hits else None
    best = max(shares, key=lambda x: x[0] + x[1], default=(0.0, 0.0))
    return {
        "coverage": float(retrieval.coverage),
        "uni_best": best[0],
        "bi_best": best[1] if bi else best[0],
        "uni_hit1": shares[0][0] if shares else 0.0,
        "bi_hit1": (shares[0][1] if bi else shares[0][0]) if shares else 0.0,
        "unknown_uni": unknown_uni / total_uni,
        "unknown_bi": unknown_bi / total_bi if bi else 0.0,
        "lexical_norm": min((first.lexical / total_uni) if first else 0.0, 3.0),
        "dense_marked": max((h.dense for h in hits[:3]), default=0.0) if marked else 0.0,
        "marked": 1.0 if marked else 0.0,
        "margin": margin,
        "n_terms": math.log1p(len(uni) + len(bi)),
    }


def _satisfied(pin: Pin, doc_id: str, passage: str, corpus: CorpusFacts) -> bool:
    doc = corpus.docs.get(doc_id)
    if doc is None:
        return True
    if pin.kind == "year":
        # Only a document that carries years in its metadata pins one down; a plan dated
        # 2024 that mentions 2025 in passing is not the 2025 plan, unless the passage says so.
        return not doc.dated or pin.value in doc.dated or f" {pin.value} " in f" {passage} "
    if pin.kind == "code":
        return corpus.has(doc_id, pin.value) or f" {pin.value} " in f" {passage} "
    # a unit or place: in the document's metadata, or in the passage itself
    return any(f" {n} " in f" {doc.profile} " or f" {n} " in f" {passage} " for n in pin.names)


def _relevant(pin: Pin, corpus: CorpusFacts) -> bool:
    """Whether a missing detail matters: a legal article without dates ignores a year."""
    if pin.ambiguous:
        # "bv cho ray" names a hospital when "ray" is a word no document has;
        # "bệnh viện cho phép", "sở y tế có trách nhiệm" are sentences, not names.
        lexical = corpus.lexical
        return not lexical.known(pin.value.replace(" ", "_")) and any(
            len(w) >= 3 and not lexical.known(w) for w in pin.value.split() if w not in NOT_NAME
        )
    if pin.kind == "unit":
        from bot.answering.pins import PROVINCES

        return (
            pin.value in PROVINCES
            or corpus.anywhere(pin.value)
            or not corpus.lexical.known(pin.value.replace(" ", "_"))
        )
    return True


def _no_phrase_known(question: str, values: dict[str, float]) -> bool:
    """Every word of the question is in the documents, but none of its word pairs is.

    "thời tiết Hà Nội ngày mai": each syllable occurs ("thời gian", "chi tiết",
    "Bạch Mai"), no pair does. Measured on the fitting rows: this refuses 2 of 3,158
    answerable questions (ViRHE), none of ALQAC's or the seeds'.
    """
    _, bi = query_terms(question)
    return len(bi) >= 2 and values["unknown_bi"] >= 0.999 and values["bi_best"] <= 0.0


def decide(
    question: str,
    retrieval: Retrieval,
    corpus: CorpusFacts,
    params: Params | None = None,
    depth: int = 5,  # the passages selection may quote from
) -> Decision:
    """Answer or refuse, with the reason, from what retrieval found."""
    params = params or load_params()
    if not retrieval.hits:
        return Decision(False, "no passage", NOT_COVERED, 0.0)
    values = evidence(question, retrieval, corpus)
    p = params.probability(values)
    if p < params.threshold or values["coverage"] < params.coverage_floor:
        return Decision(False, f"not covered (p={p:.2f})", NOT_COVERED, p, evidence=values)
    if _no_phrase_known(question, values):
        return Decision(False, "no word pair known", NOT_COVERED, p, evidence=values)
    thing = counted(question)
    if thing is not None and not corpus.lexical.known(thing):
        # "bao nhiêu giường": what is to be counted is in no document, so no passage has the number
        return Decision(False, f"counted word unknown: {thing}", NOT_COVERED, p, evidence=values)
    wanted = [pin for pin in pins(question) if _relevant(pin, corpus)]
    if not wanted:
        return Decision(True, "covered", probability=p, evidence=values)
    allowed: set[str] = set()
    mention: dict[str, tuple[tuple[str, ...], ...]] = {}
    for hit in retrieval.hits[:depth]:
        passage = " ".join(tokens(f"{hit.chunk.section}\n{hit.chunk.text}"))
        if all(_satisfied(pin, hit.chunk.doc_id, passage, corpus) for pin in wanted):
            allowed.add(hit.chunk.doc_id)
            doc = corpus.docs.get(hit.chunk.doc_id)
            profile = f" {doc.profile} " if doc else ""
            mention[hit.chunk.doc_id] = tuple(
                pin.names
                for pin in wanted
                if pin.kind == "unit" and not any(f" {n} " in profile for n in pin.names)
            )
    if allowed:
        return Decision(
            True,
            "covered",
            probability=p,
            allowed_docs=frozenset(allowed),
            mention={d: m for d, m in mention.items() if m},
            evidence=values,
        )
    top = retrieval.hits[0]
    passage = " ".join(tokens(f"{top.chunk.section}\n{top.chunk.text}"))
    missing = tuple(pin for pin in wanted if not _satisfied(pin, top.chunk.doc_id, passage, corpus))
    return Decision(
        False,
        "pinned: " + ", ".join(f"{m.kind} {m.value}" for m in missing),
        neighbour_message(missing, corpus.docs.get(top.chunk.doc_id)),
        p,
        neighbour=top.chunk.doc_id,
        missing=missing,
        evidence=values,
    )


def neighbour_message(missing: Sequence[Pin], doc: DocFacts | None) -> str:
    """ "Tài liệu không có … — chỉ có …:" (the quote of the neighbour follows)."""
    asked = ", ".join(f"“{m.shown}”" for m in missing)
    head = f"Tài liệu hiện có không có thông tin về {asked}."
    if doc is None:
        return head
    years = [y for y in sorted(doc.dated) if y not in doc.label]  # once: "… năm 2023", no "(2023)"
    what = doc.label + (
        f" (năm {', '.join(years)})" if years and any(m.kind == "year" for m in missing) else ""
    )
    return f"{head} Tài liệu chỉ có {what}:"


# -- after selection -----------------------------------------------------------------


def covers(
    question: str, text: str, doc_terms: set[str], lexical: LexicalIndex, share: float = 0.5
) -> bool:
    """True when ``text`` (with its document's metadata) has most of the question's words."""
    uni, _ = query_terms(question)
    present = set(terms(text)) | doc_terms
    total = sum(lexical.idf(t) for t in uni)
    got = sum(lexical.idf(t) for t in uni if t in present)
    return total > 0 and got / total >= share


def unconfirmed_wins(
    question: str,
    ranked: list[Quote],
    retrieval: Retrieval,
    lexical: LexicalIndex,
    doc_terms: dict[str, set[str]],
) -> bool:
    """True when a sentence saying "X is not confirmed" is about what is asked.

    A guide may say the effective date of a circular is unconfirmed right
    next to a confirmed fact about the same circular ("tối đa 90 ngày").
    The unconfirmed sentence decides the answer unless a confirmed sentence
    dominates it: matches every question word it matches and more. A
    confirmed fact is read with its heading; what is unconfirmed is only the
    sentence's own subject. When each lacks something the other has, the
    assistant does not guess which was asked.
    """
    uni, bi = query_terms(question)
    wanted = set(uni) | set(bi)

    def matched(quote: Quote) -> set[str]:
        present = set(terms(content_of(quote.text)))
        if not is_unconfirmed(quote.text):
            present |= set(terms(retrieval.hits[quote.hit_rank].chunk.section))
        return wanted & present

    def weight(found: set[str]) -> float:
        return sum(lexical.idf(t) for t in found)

    unconfirmed = []
    for q in ranked:
        if not is_unconfirmed(q.text):
            continue
        hit = retrieval.hits[q.hit_rank]
        text = f"{hit.chunk.section} {unconfirmed_subject(q.text)}"
        if covers(question, text, doc_terms.get(hit.chunk.doc_id, set()), lexical):
            unconfirmed.append(matched(q))
    confirmed = [matched(q) for q in ranked if not is_unconfirmed(q.text)]
    for found in unconfirmed:
        dominated = any(
            weight(found - other) <= 0.05 * weight(found) and weight(other - found) > 0
            for other in confirmed
        )
        if not dominated:
            return True
    return False


def names_pinned(decision: Decision, quote: Quote) -> bool:
    """True when a quote names every pinned unit its document's metadata lacks.

    A guide that mentions "Bộ Y tế" in one line answers a question about the
    ministry only from that line, not from its other lines about provinces.
    """
    needed = decision.mention.get(quote.doc_id, ())
    said = f" {' '.join(tokens(quote.full))} "
    return all(any(f" {n} " in said for n in names) for names in needed)


def after_selection(
    question: str,
    ranked: list[Quote],
    chosen: list[Quote],
    retrieval: Retrieval,
    lexical: LexicalIndex,
    doc_terms: dict[str, set[str]],
) -> Decision:
    """The last word: nothing to quote, or a guide that says the detail is unconfirmed
    (the best sentence itself, or one about what is asked that no confirmed one outweighs)."""
    if not chosen:
        return Decision(False, "no sentence", NOT_COVERED)
    if is_unconfirmed(chosen[0].text) or unconfirmed_wins(
        question, ranked[:6], retrieval, lexical, doc_terms
    ):
        return Decision(False, "unconfirmed", UNCONFIRMED_PREFIX)
    return Decision(True, "covered")


def doc_years(profile: str, issued: str | None) -> frozenset[str]:
    return frozenset(years_in(profile) | (years_in(issued) if issued else set()))
