"""Hybrid retrieval tuned for Vietnamese typed with or without diacritics.

Measured on the seed plans (DESIGN.md): folded BM25 beats dense e5 by a wide
margin, dense collapses on queries typed without marks, and a plain
reciprocal-rank fusion lands between the two. So the lexical score leads and
dense similarity only re-orders among lexical peers, with less say when the
query has no marks or the chunk is OCR text that lost them. Words that name a
document (issuer, place, number) are matched against document metadata to
boost that document, instead of letting its letterhead win the passage race.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from bot.retrieval.embeddings import Embedder
from bot.retrieval.entities import Ministry, mentions, ministries_named, unit_names
from bot.retrieval.lexical import LexicalIndex
from bot.retrieval.vectors import VectorStore
from bot.text import fold, has_diacritics, terms, tokens

# Function and question words: they carry no topic, and rare ones ("mấy",
# "đâu") would otherwise get a high IDF and pull in random passages.
# Ambiguous syllables ("can" = cần/cán, "co" = có/cơ, "hoi" = hỏi/hội) are kept.
STOPWORDS = frozenset(
    [
        "a",
        "ai",
        "ay",
        "bao",
        "boi",
        "cac",
        "cua",
        "cung",
        "dang",
        "dau",
        "de",
        "deu",
        "duoc",
        "gi",
        "ha",
        "hay",
        "hoac",
        "khi",
        "khong",
        "la",
        "lam",
        "ma",
        "minh",
        "mot",
        "muon",
        "nao",
        "nay",
        "neu",
        "nhe",
        "nhieu",
        "nhu",
        "nhung",
        "no",
        "phai",
        "rang",
        "rat",
        "roi",
        "sao",
        "se",
        "thi",
        "thoi",
        "trong",
        "van",
        "vay",
        "vi",
        "voi",
        "xin",
        "giup",
        "oi",
        "nhi",
        "ko",
        "k",
        "dc",
        "j",
        "z",
        "the",
    ]
)

# Question phrasings whose answer sits under a fixed structural label, and
# colloquial words the documents phrase differently ("hạn chót" is written
# "thời hạn ... trước ngày"). The colloquial word itself is then not counted
# as a word the corpus lacks.
EXPANSIONS: tuple[tuple[re.Pattern[str], str, float], ...] = (
    (
        re.compile(r"\b(ai|nguoi nao) (da )?ky\b|\bky (ban hanh|ten)\b|\bnguoi ky\b"),
        "người ký nơi nhận",
        3.0,
    ),
    (re.compile(r"\bhan (chot|cuoi)\b"), "thời hạn trước ngày", 0.5),
    # Targets are written "phấn đấu tỷ lệ ... đạt 90%", asked as "chỉ tiêu".
    (re.compile(r"\bchi tieu\b|\bbao nhieu phan tram\b"), "tỷ lệ đạt phấn đấu", 0.5),
)
COLLOQUIAL = frozenset({"chot"})
# Evidence left when a passage does not speak of the ministry or the unit a
# question names.
NAMED_MISSING_FACTOR = 0.6


@dataclass
class IndexedChunk:
    id: str
    doc_id: str
    section: str
    text: str
    ocr_like: bool
    # Words that frame the passage without being in it: a guide's title
    # ("Nền tảng Bình dân học vụ số") for a section that says only "nền tảng".
    context: str = ""

    @property
    def indexed_text(self) -> str:
        return (
            f"{self.context}\n{self.section}\n{self.text}"
            if self.context
            else (f"{self.section}\n{self.text}")
        )


@dataclass
class Hit:
    chunk: IndexedChunk
    score: float
    lexical: float
    dense: float


@dataclass
class Retrieval:
    """Ranked hits plus the evidence used to decide whether to answer."""

    hits: list[Hit]
    coverage: float
    top_dense: float
    query_terms: dict[str, float] = field(default_factory=dict)
    # Plans of other units than the one the question names ("ở TTYT Ngọc Lặc"),
    # when that unit's plan is among the top passages: not to be quoted.
    other_units_plans: frozenset[str] = frozenset()


@dataclass
class FusionParams:
    dense_weight_marked: float = 0.45
    dense_weight_plain: float = 0.12
    ocr_dense_factor: float = 0.3
    doc_term_weight: float = 0.3
    doc_boost: float = 0.2
    candidates: int = 60
    fuzzy_weight: float = 0.6


def _content_terms(text: str) -> tuple[list[str], list[str]]:
    toks = tokens(text)
    uni = [t for t in toks if t not in STOPWORDS]
    bi = [
        f"{a}_{b}" for a, b in itertools.pairwise(toks) if a not in STOPWORDS and b not in STOPWORDS
    ]
    return list(dict.fromkeys(uni)), list(dict.fromkeys(bi))


def expansion_terms(question: str) -> dict[str, float]:
    """Extra weighted terms for phrasings the documents word differently."""
    folded = fold(question)
    out: dict[str, float] = {}
    for pattern, extra, weight in EXPANSIONS:
        if pattern.search(folded):
            uni, bi = _content_terms(extra)
            for term in uni + bi:
                out[term] = out.get(term, 0.0) + weight
    return out


def name_bigrams(question: str) -> list[str]:
    """Folded pairs of capitalised words after the first word (proper names)."""
    words = re.findall(r"[^\W\d_]+", question)
    out = []
    for a, b in pairwise(words[1:]):
        if a[:1].isupper() and b[:1].isupper() and not (a.isupper() and b.isupper()):
            ta, tb = tokens(a), tokens(b)
            if len(ta) == 1 and len(tb) == 1:
                out.append(f"{ta[0]}_{tb[0]}")
    return out


def query_terms(question: str) -> tuple[list[str], list[str]]:
    """Content unigrams and bigrams of a question (pairs with a stopword dropped)."""
    return _content_terms(question)


class CorpusIndex:
    """In-memory snapshot of the chunk store: lexical index + document profiles."""

    def __init__(
        self,
        chunks: list[IndexedChunk],
        doc_profiles: dict[str, str],
        doc_kinds: dict[str, str] | None = None,
    ) -> None:
        self.chunks = chunks
        self.doc_kinds = doc_kinds or {}
        self.position = {c.id: i for i, c in enumerate(chunks)}
        self.lexical = LexicalIndex(
            [c.indexed_text for c in chunks], ocr_rows=[c.ocr_like for c in chunks]
        )
        self.doc_terms = {d: set(terms(p)) for d, p in doc_profiles.items()}
        self.doc_profiles = {d: fold(p) for d, p in doc_profiles.items()}
        self.folded_text = [fold(c.indexed_text) for c in chunks]
        self.doc_ids = np.asarray([c.doc_id for c in chunks])
        counts: dict[str, int] = {}
        for ts in self.doc_terms.values():
            for t in ts:
                counts[t] = counts.get(t, 0) + 1
        n_docs = max(len(self.doc_terms), 1)
        # A profile term is "naming" when it singles out a minority of documents.
        self.naming_terms = {t for t, c in counts.items() if c <= max(1, n_docs // 3)}


class HybridRetriever:
    def __init__(
        self,
        index: CorpusIndex,
        embedder: Embedder | None,
        vectors: VectorStore | None,
        params: FusionParams | None = None,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.vectors = vectors
        self.params = params or FusionParams()

    def _doc_match(self, uni: list[str], bi: list[str]) -> tuple[dict[str, float], set[str]]:
        naming = [t for t in uni + bi if t in self.index.naming_terms]
        scores: dict[str, float] = {}
        for doc_id, doc_terms in self.index.doc_terms.items():
            s = sum(self.index.lexical.idf(t) for t in naming if t in doc_terms)
            if s > 0:
                scores[doc_id] = s
        top = max(scores.values(), default=0.0)
        return ({d: s / top for d, s in scores.items()} if top else {}), set(naming)

    def search(self, question: str, k: int = 5) -> Retrieval:
        p, idx = self.params, self.index
        uni, bi = query_terms(question)
        if not idx.chunks or not (uni or bi):
            return Retrieval(hits=[], coverage=0.0, top_dense=0.0)
        doc_match, naming = self._doc_match(uni, bi)
        weights = {t: (p.doc_term_weight if t in naming else 1.0) for t in uni + bi}
        variants = self._variants(bi)
        scoring = dict(weights)
        for term, weight in expansion_terms(question).items():
            scoring[term] = scoring.get(term, 0.0) + weight
        for origin, alts in variants.items():
            for alt in alts:
                scoring[alt] = max(scoring.get(alt, 0.0), p.fuzzy_weight * weights[origin])
        lex = idx.lexical.scores(scoring)
        lex_max = float(lex.max()) if lex.size else 0.0
        lex_norm = lex / lex_max if lex_max > 0 else lex

        candidates = set(np.argsort(-lex)[: p.candidates].tolist()) if lex_max > 0 else set()
        dense: dict[int, float] = {}
        if self.embedder is not None and self.vectors is not None:
            qv = self.embedder.embed_query(question)
            for chunk_id, sim in self.vectors.query(qv, p.candidates):
                pos = idx.position.get(chunk_id)
                if pos is not None:
                    dense[pos] = sim
                    candidates.add(pos)
        top_dense = max(dense.values(), default=0.0)
        lo = min(dense.values(), default=0.0)
        span = max(top_dense - lo, 1e-6)
        w_dense = p.dense_weight_marked if has_diacritics(question) else p.dense_weight_plain

        # e5 reads OCR text badly and rarely ranks it among its candidates. An
        # OCR passage's dense value is therefore mostly a neutral one (the
        # median of the candidates) and only partly its own: dense may reorder
        # OCR passages a little but not sink them below clean text they beat
        # lexically.
        neutral = float(np.median([(v - lo) / span for v in dense.values()])) if dense else 0.0
        hits: list[Hit] = []
        for pos in candidates:
            chunk = idx.chunks[pos]
            d = (dense[pos] - lo) / span if pos in dense else 0.0
            if chunk.ocr_like:
                d = p.ocr_dense_factor * d + (1.0 - p.ocr_dense_factor) * neutral
            score = (
                float(lex_norm[pos]) + w_dense * d + p.doc_boost * doc_match.get(chunk.doc_id, 0.0)
            )
            hits.append(
                Hit(chunk=chunk, score=score, lexical=float(lex[pos]), dense=dense.get(pos, 0.0))
            )
        hits.sort(key=lambda h: h.score, reverse=True)
        hits = self._diversify(hits, k)
        named_plans = self._named_plans(question)
        coverage = self._coverage(
            uni,
            bi,
            variants,
            hits[:3],
            name_bigrams(question),
            ministries_named(question),
            named_plans,
        )
        named: set[str] = set().union(*named_plans)
        other_units: frozenset[str] = frozenset()
        if named & {h.chunk.doc_id for h in hits[:3]}:
            other_units = frozenset(
                h.chunk.doc_id
                for h in hits
                if idx.doc_kinds.get(h.chunk.doc_id) == "plan" and h.chunk.doc_id not in named
            )
        return Retrieval(
            hits=hits,
            coverage=coverage,
            top_dense=top_dense,
            query_terms=scoring,
            other_units_plans=other_units,
        )

    def _diversify(self, hits: list[Hit], k: int) -> list[Hit]:
        """Keep the best passage of each document kind (plan, guide) in the top k.

        A question may need a plan (the deadline) and a guide (how to study);
        five guide passages must not crowd out a strong plan passage.
        """
        top = hits[:k]
        if not top:
            return top
        kinds = {self.index.doc_kinds.get(h.chunk.doc_id) for h in top}
        for hit in hits[k:]:
            kind = self.index.doc_kinds.get(hit.chunk.doc_id)
            if kind not in kinds and hit.score >= 0.5 * top[0].score:
                top = [*top[: k - 1], hit]
                kinds.add(kind)
        return top

    def _variants(self, bi: list[str]) -> dict[str, list[str]]:
        """OCR-tolerant spellings of the question's bigrams found in the corpus."""
        return {b: alts for b in bi if (alts := self.index.lexical.fuzzy_bigrams(b))}

    def _coverage(
        self,
        uni: list[str],
        bi: list[str],
        variants: dict[str, list[str]],
        hits: list[Hit],
        names: list[str],
        ministries: list[Ministry],
        named_plans: list[set[str]],
    ) -> float:
        """Share of the question's specific content found in one retrieved passage.

        IDF-weighted, unseen words count at maximum IDF: a question about
        "giá xăng" is not covered by a passage that only shares "hôm nay".
        Words found in the passage's document metadata count as covered.
        """
        lexical = self.index.lexical
        # Unknown words and unknown pairs of known words ("Bạch Mai") count at
        # maximum IDF: they are what the documents do not talk about.
        # A word the corpus has never seen ("xăng", "giường") is the clearest
        # sign of a question about something else: it weighs triple.
        wanted = [
            (t, lexical.idf(t) * (1.0 if lexical.known(t) or t.isdigit() else 3.0))
            for t in uni
            if t not in COLLOQUIAL
        ]
        wanted += [(t, 0.5 * lexical.idf(t)) for t in bi]
        # A proper name the corpus never mentions ("Bệnh viện Chợ Rẫy") is
        # the strongest sign the question is about something else.
        profile_terms = (
            set().union(*self.index.doc_terms.values()) if self.index.doc_terms else set()
        )
        wanted += [
            (t, 2.0 * lexical.max_idf)
            for t in names
            if not lexical.known(t) and t not in variants and t not in profile_terms
        ]
        total = sum(w for _, w in wanted)
        if not hits or total <= 0:
            return 0.0
        fuzzy_uni: dict[str, set[str]] = {}
        for origin, alts in variants.items():
            a, _, b = origin.partition("_")
            for alt in alts:
                x, _, y = alt.partition("_")
                fuzzy_uni.setdefault(a, set()).add(x)
                fuzzy_uni.setdefault(b, set()).add(y)
        best = 0.0
        for hit in hits:
            pos = self.index.position[hit.chunk.id]
            present = lexical.row_terms(pos)
            doc_terms = self.index.doc_terms.get(hit.chunk.doc_id, set())

            def has(
                term: str, present: set[int] = present, doc_terms: set[str] = doc_terms
            ) -> bool:
                return lexical.vocab.get(term, -1) in present or term in doc_terms

            got = 0.0
            for t, w in wanted:
                alts = variants.get(t, []) + sorted(fuzzy_uni.get(t, set()))
                if has(t) or any(has(a) for a in alts):
                    got += w
            # A ministry the question names must be the one the passage (or its
            # document's issuer or number, "TT-BYT") speaks of: a provincial
            # plan does not answer a question about the Ministry of Health's.
            folded = self.index.folded_text[pos]
            profile = self.index.doc_profiles.get(hit.chunk.doc_id, "")
            missing = sum(not (mentions(m, folded) or mentions(m, profile)) for m in ministries)
            # A plan of another unit than the one the question names
            # ("... ở TTYT Ngọc Lặc") does not answer it; guides may.
            if self.index.doc_kinds.get(hit.chunk.doc_id) == "plan":
                missing += sum(hit.chunk.doc_id not in plans for plans in named_plans)
            best = max(best, got / total * NAMED_MISSING_FACTOR**missing)
        return best

    def _named_plans(self, question: str) -> list[set[str]]:
        """For each unit the question names, the plans whose metadata names it."""
        out = []
        for name in unit_names(question):
            plans = {
                doc_id
                for doc_id, profile in self.index.doc_profiles.items()
                if self.index.doc_kinds.get(doc_id) == "plan"
                and re.search(rf"\b{re.escape(name)}\b", profile)
            }
            if plans:
                out.append(plans)
        return out
