"""When two questions are the same question: the one judge for curated answers.

Used twice: to give a curated answer to the ways of asking it, and to group the
questions the assistant abstained on so that fifty phrasings are one line.

Two signals, both from retrieval's own tools:
- lexical: the content words and word pairs of each question (retrieval's
  ``query_terms``: folded, so typing without diacritics changes nothing, with
  function words dropped), compared as sets weighted by how rare each term is
  in the documents (IDF): two questions about "Bình dân học vụ số" share that
  phrase with every other question and must differ in what they ask about;
- dense: the e5 query embeddings, only when both questions carry diacritics
  (e5 is useless on folded text, see DESIGN.md).

Politeness around a question ("cho em hỏi", "ạ", "vậy") is not content and is
stripped before comparing. What is asked (who, when, how much, where, how,
why, which) is: retrieval drops those words as stopwords, but "Khung kỹ năng
số do ai hướng dẫn?" and "... do văn bản nào ban hành?" are two questions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from bot.retrieval.hybrid import query_terms
from bot.text import fold, has_diacritics, terms

# Lexical Jaccard at or above which two questions are the same whatever e5 says.
LEX_SAME = 0.6
# Below LEX_SAME, the same only when e5 agrees strongly and they share this much.
# e5 compresses: different questions of the eval sets reach 0.925, paraphrases
# 0.92-0.96; so dense alone decides only above 0.95 (measured in docs/web.md).
LEX_NEAR = 0.2
DENSE_SAME = 0.95

_LEAD = re.compile(
    r"^(?:(?:xin|vui long|lam on)\s+)?"
    r"(?:(?:cho|giup)\s+(?:em|toi|minh|chau|con|tui)\s+)?"
    r"(?:(?:hoi|xin hoi|duoc hoi)\s+)?(?:(?:ve|la)\s+)?"
)
_TAIL = re.compile(r"(?:\s+(?:a|vay|nhi|nhe|oi|ha|khong|chua|the))+$")
_PUNCT = re.compile(r"[^\w\s]+")
# Interrogatives on folded text, by what they ask for.
_ASKS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        ("when", r"\b(?:khi nao|bao gio|(?:ngay|luc|thang|nam|tuan|hom) nao|han chot|thoi han)\b"),
        ("amount", r"\b(?:bao nhieu|may (?:nguoi|ngay|khoa|lan|gio|thang|nam|buoc|%))\b"),
        ("who", r"\b(?:ai|nguoi nao|don vi nao|co quan nao)\b"),
        ("where", r"\b(?:o dau|noi nao|cho nao)\b|\bdau$"),
        ("how", r"\b(?:nhu the nao|the nao|cach nao|lam sao|ra sao)\b"),
        ("why", r"\b(?:tai sao|vi sao|vi ly do gi)\b"),
        ("which", r"\b(?:van ban|khoa|kenh|loai|nen tang|ung dung|thong tu|quyet dinh) nao\b"),
    )
)


def question_key(text: str) -> str:
    """Folded question without punctuation or politeness: equal keys, same question."""
    folded = " ".join(_PUNCT.sub(" ", fold(text)).split())
    core = _TAIL.sub("", _LEAD.sub("", folded)).strip()
    return core or folded


def asks(text: str) -> frozenset[str]:
    """What the question asks for ("who", "when", ...), from its interrogatives."""
    key = question_key(text)
    return frozenset(name for name, pattern in _ASKS if pattern.search(key))


def content_terms(text: str) -> frozenset[str]:
    """Content unigrams and bigrams of the question's core."""
    uni, bi = query_terms(question_key(text))
    return frozenset(uni) | frozenset(bi)


@dataclass
class Phrasing:
    """A question prepared for comparison (its terms computed once)."""

    text: str
    key: str = ""
    terms: frozenset[str] = field(default_factory=frozenset)
    vector: np.ndarray | None = None
    accented: bool = False
    asks: frozenset[str] = frozenset()

    @classmethod
    def of(cls, text: str, vector: np.ndarray | None = None) -> Phrasing:
        return cls(
            text,
            question_key(text),
            content_terms(text),
            vector,
            has_diacritics(text),
            asks(text),
        )


class TermWeights:
    """IDF of terms over a set of texts (the chunk store); unseen terms weigh most."""

    def __init__(self, texts: Sequence[str] = ()) -> None:
        df: dict[str, int] = {}
        for text in texts:
            for term in set(terms(text)):
                df[term] = df.get(term, 0) + 1
        n = len(texts)
        self._idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self._max = math.log(1 + (n + 0.5) / 0.5)

    def __call__(self, term: str) -> float:
        return self._idf.get(term, self._max)


UNIFORM = TermWeights()


def lexical_similarity(a: Phrasing, b: Phrasing, weight: TermWeights = UNIFORM) -> float:
    """IDF-weighted Jaccard of the two questions' content terms."""
    if not a.terms or not b.terms:
        return 0.0
    union = sum(weight(t) for t in a.terms | b.terms)
    return sum(weight(t) for t in a.terms & b.terms) / union if union else 0.0


def distinct_subject(a: Phrasing, b: Phrasing, weight: TermWeights) -> bool:
    """True when a word only one question has is as specific as the words they share.

    "Nhà xe ... mở cửa lúc mấy giờ?" and "Nhà ăn ... mở cửa lúc mấy giờ?" share
    almost every word; what they ask about is the word they do not share, and
    it is rarer in the documents than the typical shared word. Words one side
    adds in passing ("thì", "nữa") are common and do not count.
    """
    ua = {t for t in a.terms if "_" not in t}
    ub = {t for t in b.terms if "_" not in t}
    shared = sorted(weight(t) for t in ua & ub)
    if not shared:
        return True
    typical = shared[len(shared) // 2]
    return any(weight(t) >= typical for t in ua ^ ub)


def dense_usable(a: Phrasing, b: Phrasing) -> bool:
    return a.accented and b.accented


def similarity(a: Phrasing, b: Phrasing, weight: TermWeights = UNIFORM) -> float:
    """A score in [0, 1]; :func:`same` is the decision."""
    if a.key == b.key:
        return 1.0
    if a.asks and b.asks and not a.asks & b.asks:
        return 0.0
    if distinct_subject(a, b, weight):
        return 0.0
    lexical = lexical_similarity(a, b, weight)
    if lexical >= LEX_SAME:
        return lexical
    if lexical >= LEX_NEAR and dense_usable(a, b) and a.vector is not None and b.vector is not None:
        dense = float(np.dot(a.vector, b.vector))
        if dense >= DENSE_SAME:
            return max(lexical, LEX_SAME + (dense - DENSE_SAME))
    return lexical


def same(a: Phrasing, b: Phrasing, weight: TermWeights = UNIFORM) -> bool:
    return similarity(a, b, weight) >= LEX_SAME


def needs_vector(a: Phrasing, b: Phrasing, weight: TermWeights = UNIFORM) -> bool:
    """True when only e5 can decide (the lexical signal is in the grey band)."""
    if a.key == b.key or not dense_usable(a, b):
        return False
    return LEX_NEAR <= lexical_similarity(a, b, weight) < LEX_SAME


def best_match(
    question: Phrasing,
    candidates: Sequence[Phrasing],
    embed: Callable[[str], np.ndarray] | None = None,
    weight: TermWeights = UNIFORM,
) -> tuple[int, float] | None:
    """Index and score of the candidate most like ``question``, if any is the same.

    ``embed`` is called at most once, and only when a candidate sits in the
    lexical grey band, so most questions cost no embedding at all.
    """
    grey = any(needs_vector(question, c, weight) and c.vector is not None for c in candidates)
    if embed is not None and question.vector is None and grey:
        question.vector = embed(question.text)
    best: tuple[int, float] | None = None
    for i, candidate in enumerate(candidates):
        score = similarity(question, candidate, weight)
        if score >= LEX_SAME and (best is None or score > best[1]):
            best = (i, score)
    return best


def group(questions: Sequence[str], weight: TermWeights = UNIFORM) -> list[list[int]]:
    """Indexes of ``questions`` grouped by :func:`same` (lexical only, greedy,
    in input order: each group is led by its first member)."""
    prepared = [Phrasing.of(q) for q in questions]
    groups: list[list[int]] = []
    leaders: list[list[Phrasing]] = []
    by_key: dict[str, int] = {}
    for i, phrasing in enumerate(prepared):
        found = by_key.get(phrasing.key)
        if found is None:
            for g, members in enumerate(leaders):
                if any(same(phrasing, m, weight) for m in members[:5]):
                    found = g
                    break
        if found is None:
            found = len(groups)
            groups.append([])
            leaders.append([])
        groups[found].append(i)
        if len(leaders[found]) < 5 and phrasing.key not in by_key:
            leaders[found].append(phrasing)
        by_key.setdefault(phrasing.key, found)
    return groups
