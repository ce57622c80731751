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

import copy
import re
from dataclasses import dataclass, field
from functools import cached_property
from itertools import pairwise

import numpy as np

from bot.retrieval.embeddings import Embedder
from bot.retrieval.entities import Ministry, mentions, ministries_named, unit_names
from bot.retrieval.lexical import LexicalIndex, marked_terms, marked_tokens
from bot.retrieval.params import FusionParams, load_params
from bot.retrieval.restore import DiacriticRestorer
from bot.retrieval.vectors import VectorStore
from bot.text import fold, has_diacritics, plausible_syllable, terms, tokens, years_in

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
    """One retrieved chunk with the evidence behind its rank (numbers, no decisions)."""

    chunk: IndexedChunk
    score: float  # fused ranking score
    lexical: float  # BM25 over folded terms
    dense: float  # e5 cosine of the (restored) question and the chunk
    lexical_marked: float = 0.0  # BM25 over marked syllables (0 without marks)
    doc_score: float = 0.0  # document-level BM25, max-normalised 0..1
    coverage: float = 0.0  # IDF share of the question's content found here
    matched: tuple[str, ...] = ()
    unmatched: tuple[str, ...] = ()
    named_missing: int = 0  # ministries / units named that this document is not


@dataclass
class Retrieval:
    """Ranked hits plus the evidence the answering side decides on."""

    hits: list[Hit]
    coverage: float
    top_dense: float
    query_terms: dict[str, float] = field(default_factory=dict)
    # Plans of other units than the one the question names ("ở TTYT Ngọc Lặc"),
    # when that unit's plan is among the top passages: not to be quoted.
    other_units_plans: frozenset[str] = frozenset()
    has_diacritics: bool = False
    dense_query: str = ""
    term_idf: dict[str, float] = field(default_factory=dict)
    unknown_terms: tuple[str, ...] = ()
    # Folded words typed with marks that the documents only have with other marks.
    false_friends: frozenset[str] = frozenset()
    # Question terms that are not content a passage must have: a leading "Theo …,"
    # citation and the year asked (a pinned detail). Coverage and evidence skip them.
    aside: frozenset[str] = frozenset()
    margin: float = 0.0
    excluded_docs: frozenset[str] = frozenset()


# A stopword's folded syllable is also a content word's: typed with marks, only these
# forms are function words ("báo cáo", "đầu mối", "đơn vị", "văn bản", "mã số" are
# content); typed without, "bao" asks only in "bao nhiêu / giờ / lâu" and "dau" only
# where it asks "where" ("chứng minh", "minh bạch" are content too). "Hà" stays out: a
# place is a pinned detail the decision checks, not a topic word ("thời tiết Hà Nội" is
# not covered by "Đại học Bách khoa Hà Nội").
FUNCTION_FORMS: dict[str, frozenset[str]] = {
    folded: frozenset(forms.split())
    for folded, forms in {
        "bao": "bao",
        "boi": "bởi",
        "cua": "của",
        "cung": "cũng cùng",
        "dang": "đang",
        "dau": "đâu",
        "de": "để",
        "khi": "khi",
        "la": "là",
        "lam": "làm",
        "ma": "mà",
        "minh": "mình",
        "muon": "muốn",
        "nao": "nào",
        "neu": "nếu",
        "nhi": "nhỉ",
        "nhu": "như",
        "no": "nó",
        "roi": "rồi",
        "the": "thế thể",
        "thi": "thì",
        "trong": "trong",
        "van": "vẫn",
        "vay": "vậy",
        "vi": "vì",
    }.items()
}
_ASKING_BAO = frozenset({"nhieu", "gio", "lau"})
# Without marks "dau" asks "where" at the end or after a preposition ("nộp ở đâu");
# elsewhere it is "đầu" ("đầu mối", "bắt đầu").
_BEFORE_WHERE = frozenset({"o", "tu", "di", "ve", "den", "len", "vao", "cho"})


def _stopped(toks: list[str], marked: list[str] | None) -> list[bool]:
    """Which tokens are function words, read with their marks when the text has them."""
    out = []
    for i, t in enumerate(toks):
        stop = t in STOPWORDS
        if stop and marked is not None and t in FUNCTION_FORMS:
            stop = marked[i] in FUNCTION_FORMS[t]
        elif stop and t == "bao":
            stop = i + 1 < len(toks) and toks[i + 1] in _ASKING_BAO
        elif stop and t == "dau":
            stop = i + 1 == len(toks) or (i > 0 and toks[i - 1] in _BEFORE_WHERE)
        out.append(stop)
    return out


def _content_terms(text: str) -> tuple[list[str], list[str]]:
    toks = tokens(text)
    marked = marked_tokens(text) if has_diacritics(text) else None
    if marked is not None and [fold(m) for m in marked] != toks:
        marked = None  # OCR repairs changed the tokens: read them folded
    stop = _stopped(toks, marked)
    uni = [t for t, s in zip(toks, stop, strict=True) if not s]
    bi = [
        f"{toks[i]}_{toks[i + 1]}" for i in range(len(toks) - 1) if not stop[i] and not stop[i + 1]
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


# A comma, colon or bracket ends a phrase: "Theo Bộ luật Dân sự 2015, vật chính …" has no
# word pair "2015 vật".
_PHRASE_BREAK = re.compile(r"[,;:!?()\[\]“”\"]\s*|\.\s+|\s[-–]\s")


def broken_pairs(question: str) -> set[str]:
    """Word pairs of the question that span a phrase break ("2015_vat" in "2015, vật")."""
    _, whole = _content_terms(question)
    inside = {t for phrase in _PHRASE_BREAK.split(question) for t in _content_terms(phrase)[1]}
    return set(whole) - inside


# "Theo Bộ luật Dân sự 2015, vật chính là gì?": the leading clause cites where the answer
# should come from; its words name a document, they are not what the passage must say.
_FRAMING = re.compile(r"^\s*(?:theo|căn cứ|can cu|dựa theo|dua theo)\s+([^,?]{3,80}),\s*\S", re.I)


def shares_word(term: str, words: frozenset[str] | set[str]) -> bool:
    """Whether a term ("luong" or the pair "luong_co") contains one of ``words``."""
    return bool(words) and any(part in words for part in term.split("_"))


def year_terms(question: str) -> set[str]:
    """The question's years, "năm" before one, and the word pairs with them ("nam_2026").

    A year is a detail the question pins down, checked against the answer's
    document on its own (``bot.answering.pins``); counted as content, any
    passage of a plan of that year covered "Lương cơ sở năm 2026" by a third.
    """
    years = years_in(question)
    if not years:
        return set()
    uni, bi = _content_terms(question)
    out = {t for t in uni + bi if shares_word(t, years)}
    toks = tokens(question)
    if any(a == "nam" and b in years for a, b in pairwise(toks)):
        out.add("nam")  # "năm 2026" is the year, not a word of the topic
    return out


def framing_terms(question: str) -> set[str]:
    """Terms only the question's leading "Theo …," clause has (its citation of a source)."""
    m = _FRAMING.match(question)
    if not m:
        return set()
    uni, bi = _content_terms(question[: m.end(1)])
    rest_uni, rest_bi = _content_terms(question[m.end(1) :])
    return (set(uni) | set(bi)) - set(rest_uni) - set(rest_bi)


def query_terms(question: str) -> tuple[list[str], list[str]]:
    """Content unigrams and bigrams of a question (pairs with a stopword dropped)."""
    return _content_terms(question)


class CorpusIndex:
    """In-memory snapshot of the chunk store: lexical indexes + document profiles.

    The folded BM25 is built at once; the marked BM25, the document-level
    BM25, the diacritic restorer and the dense matrix are built on first use
    (a corpus asked only without marks never builds the marked index).
    """

    def __init__(
        self,
        chunks: list[IndexedChunk],
        doc_profiles: dict[str, str],
        doc_kinds: dict[str, str] | None = None,
        doc_titles: dict[str, str] | None = None,
    ) -> None:
        self.chunks = chunks
        self.doc_kinds = doc_kinds or {}
        self.doc_titles = doc_titles or {}
        self.position = {c.id: i for i, c in enumerate(chunks)}
        self.lexical = LexicalIndex(
            [c.indexed_text for c in chunks], ocr_rows=[c.ocr_like for c in chunks]
        )
        self.doc_terms = {d: set(terms(p)) for d, p in doc_profiles.items()}
        self.doc_profiles = {d: fold(p) for d, p in doc_profiles.items()}
        self.raw_profiles = dict(doc_profiles)
        self.folded_text = [fold(c.indexed_text) for c in chunks]
        self.doc_ids = np.asarray([c.doc_id for c in chunks])
        self.ocr_rows = np.asarray([c.ocr_like for c in chunks], dtype=bool)
        # Chunks are stored in document order: a neighbour is the same document's
        # previous or next row.
        same_prev = np.zeros(len(chunks), dtype=bool)
        if len(chunks) > 1:
            same_prev[1:] = self.doc_ids[1:] == self.doc_ids[:-1]
        self.same_prev = same_prev
        counts: dict[str, int] = {}
        for ts in self.doc_terms.values():
            for t in ts:
                counts[t] = counts.get(t, 0) + 1
        n_docs = max(len(self.doc_terms), 1)
        # A profile term is "naming" when it singles out a minority of documents.
        self.naming_terms = {t for t, c in counts.items() if c <= max(1, n_docs // 3)}
        self._dense: np.ndarray | None = None

    def without(self, hidden: frozenset[str]) -> CorpusIndex:
        """This corpus as if the ``hidden`` documents had never been ingested.

        Near-miss evaluation asks a question with its gold document removed;
        the decision must then see the corpus's statistics without it (its
        words unknown, its profile gone), or the simulated near-miss looks
        more answerable than a real one. Retrieval still leaves the hidden
        rows out by ``exclude_docs``.
        """
        if not hidden:
            return self
        for shared in ("restorer", "doc_row", "marked_lexical", "doc_lexical"):
            getattr(self, shared)  # built once on the whole corpus, shared by every view
        view = copy.copy(self)
        rows = np.isin(self.doc_ids, list(hidden))
        view.lexical = self.lexical.without(rows)
        view.marked_lexical = self.marked_lexical.without(rows)
        view.doc_lexical = self.doc_lexical.without(np.isin(self.doc_order, list(hidden)))
        view.doc_terms = {d: t for d, t in self.doc_terms.items() if d not in hidden}
        view.doc_profiles = {d: t for d, t in self.doc_profiles.items() if d not in hidden}
        view.raw_profiles = {d: t for d, t in self.raw_profiles.items() if d not in hidden}
        view.doc_titles = {d: t for d, t in self.doc_titles.items() if d not in hidden}
        for name in ("topic_terms", "profile_terms", "docs_by_term", "profile_syllables"):
            view.__dict__.pop(name, None)
        return view

    def doc_chunks(self, doc_id: str) -> list[IndexedChunk]:
        """One document's passages, in order."""
        return [self.chunks[int(i)] for i in np.flatnonzero(self.doc_ids == doc_id)]

    @cached_property
    def topic_terms(self) -> dict[str, set[str]]:
        """Per document, the words of a title that names its topic and not its issuer.

        A statute article's title ("Tội trồng cây cần sa …") is repeated by its
        first clause, and the later clauses ("2. Phạm tội … có tổ chức") only
        add conditions: the title's words chose the document and say nothing
        about which of its clauses answers. Words shared by a third of the
        titles or more ("tội") are not the topic's.
        """
        titled = {
            d: set(terms(t)) - self.doc_terms.get(d, set())
            for d, t in self.doc_titles.items()
            if t and not set(terms(t)) <= self.doc_terms.get(d, set())
        }
        counts: dict[str, int] = {}
        for ts in titled.values():
            for t in ts:
                counts[t] = counts.get(t, 0) + 1
        limit = max(1, len(self.doc_titles) // 3)
        return {d: {t for t in ts if counts[t] <= limit} for d, ts in titled.items()}

    @cached_property
    def profile_terms(self) -> set[str]:
        """Every term of every document profile (computed once, not per question)."""
        return set().union(*self.doc_terms.values()) if self.doc_terms else set()

    @cached_property
    def docs_by_term(self) -> dict[str, list[str]]:
        """Naming term -> documents whose profile has it (inverted, for _doc_match)."""
        out: dict[str, list[str]] = {}
        for doc_id, ts in self.doc_terms.items():
            for t in ts:
                if t in self.naming_terms:
                    out.setdefault(t, []).append(doc_id)
        return out

    @cached_property
    def marked_lexical(self) -> LexicalIndex:
        return LexicalIndex([c.indexed_text for c in self.chunks], analyzer=marked_terms)

    @cached_property
    def profile_syllables(self) -> set[str]:
        """Marked syllables of the documents' metadata (issuer, title, number)."""
        return {w for p in self.raw_profiles.values() for w in marked_tokens(p)}

    def false_friends(self, question: str) -> frozenset[str]:
        """Folded words of a question typed with marks that the documents have only with other marks.

        Folding reads "lương" as "lượng" and "hôn" as "hơn": "Lương cơ sở năm 2026"
        looked covered by every "chất lượng". A syllable typed with marks that no
        passage has with those marks, nor unmarked (so the text is not a scan
        that lost its marks), is a word the documents do not have. "bao lâu",
        "bao giờ" ask; their second syllable is not content. A syllable no
        Vietnamese word has ("quyêt") is a typing slip, left to folding.
        """
        marked = self.marked_lexical
        out: set[str] = set()
        words = marked_tokens(question)
        for before, word in zip(["", *words], words, strict=False):
            plain = fold(word)
            if (
                plain == word
                or fold(before) == "bao"
                or not plausible_syllable(word)
                or marked.known(word)
                or marked.known(plain)
                or word in self.profile_syllables
            ):
                continue
            folded = tokens(word)
            if len(folded) == 1 and self.lexical.known(folded[0]):
                out.add(folded[0])
        return frozenset(out)

    @cached_property
    def doc_order(self) -> list[str]:
        return list(dict.fromkeys(c.doc_id for c in self.chunks))

    @cached_property
    def doc_row(self) -> np.ndarray:
        rows = {d: i for i, d in enumerate(self.doc_order)}
        return np.asarray([rows[c.doc_id] for c in self.chunks], dtype=np.int64)

    @cached_property
    def doc_lexical(self) -> LexicalIndex:
        """BM25 over whole documents (profile + every chunk): which document speaks of it."""
        texts: dict[str, list[str]] = {d: [self.raw_profiles.get(d, "")] for d in self.doc_order}
        for c in self.chunks:
            texts[c.doc_id].append(c.text)
        return LexicalIndex(["\n".join(texts[d]) for d in self.doc_order])

    @cached_property
    def restorer(self) -> DiacriticRestorer:
        return DiacriticRestorer(c.indexed_text for c in self.chunks if not c.ocr_like)

    def dense_matrix(self, vectors: VectorStore) -> np.ndarray:
        """Every chunk's vector in row order (zeros where missing), loaded once.

        Scoring all chunks exactly is a 10,000 x 384 mat-vec (about a
        millisecond) and gives every lexical candidate its dense value,
        which an approximate top-n query cannot.
        """
        if self._dense is None:
            found = vectors.get_vectors([c.id for c in self.chunks])
            dim = next((len(v) for v in found.values()), 384)
            matrix = np.zeros((len(self.chunks), dim), dtype=np.float32)
            for i, c in enumerate(self.chunks):
                v = found.get(c.id)
                if v is not None:
                    matrix[i] = v
            self._dense = matrix
        return self._dense


@dataclass
class Candidates:
    """A question's candidate chunks and their normalised features (for fusion and fitting)."""

    positions: np.ndarray
    features: dict[str, np.ndarray]
    lexical: np.ndarray  # raw folded BM25 of the candidates
    marked_lexical: np.ndarray
    dense: np.ndarray  # raw cosine of the candidates
    doc: np.ndarray  # max-normalised document BM25 of the candidates
    marked: bool
    dense_query: str
    scoring: dict[str, float]
    uni: list[str]
    bi: list[str]
    variants: dict[str, list[str]]
    top_dense: float


def _top_n(values: np.ndarray, n: int) -> np.ndarray:
    """Positions of the n largest values (unordered; a partial sort)."""
    if values.size <= n:
        return np.arange(values.size)
    return np.argpartition(-values, n)[:n]


def _minmax(values: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return values
    lo, hi = float(values.min()), float(values.max())
    if hi - lo <= 1e-9:
        return np.where(values > 0, 1.0, 0.0).astype(np.float32) if hi > 0 else values * 0
    return ((values - lo) / (hi - lo)).astype(np.float32)


def fuse(c: Candidates, params: FusionParams) -> np.ndarray:
    """Weighted sum of the candidates' features, weights by question mode."""
    mode = "marked" if c.marked else "plain"
    total = np.zeros(len(c.positions), dtype=np.float32)
    for name, values in c.features.items():
        w = params.weight(mode, name)
        if w:
            total += w * values
    return total


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
        self.params = params or load_params()

    def _doc_match(self, uni: list[str], bi: list[str]) -> tuple[dict[str, float], set[str]]:
        naming = [t for t in uni + bi if t in self.index.naming_terms]
        scores: dict[str, float] = {}
        for t in dict.fromkeys(naming):
            idf = self.index.lexical.idf(t)
            for doc_id in self.index.docs_by_term.get(t, ()):
                scores[doc_id] = scores.get(doc_id, 0.0) + idf
        top = max(scores.values(), default=0.0)
        return ({d: s / top for d, s in scores.items()} if top else {}), set(naming)

    def candidates(
        self, question: str, exclude_docs: frozenset[str] = frozenset()
    ) -> Candidates | None:
        """Candidate chunks (best of each signal) with every fusion feature."""
        p, idx = self.params, self.index
        uni, bi = query_terms(question)
        if not idx.chunks or not (uni or bi):
            return None
        marked = has_diacritics(question)
        mode = "marked" if marked else "plain"
        keep = (
            ~np.isin(idx.doc_ids, list(exclude_docs))
            if exclude_docs
            else np.ones(len(idx.chunks), dtype=bool)
        )
        doc_match, naming = self._doc_match(uni, bi)
        weights = {t: (p.doc_term_weight if t in naming else 1.0) for t in uni + bi}
        variants = self._variants(bi)
        scoring = dict(weights)
        for term, weight in expansion_terms(question).items():
            scoring[term] = scoring.get(term, 0.0) + weight
        for origin, alts in variants.items():
            for alt in alts:
                scoring[alt] = max(scoring.get(alt, 0.0), p.fuzzy_weight * weights[origin])
        lex = idx.lexical.scores(scoring) * keep
        pools = [_top_n(lex, p.candidates)] if float(lex.max(initial=0.0)) > 0 else []

        raw = np.zeros(len(idx.chunks), dtype=np.float32)
        if marked and p.weight(mode, "raw"):
            raw_terms = {
                t: 1.0
                for t in dict.fromkeys(marked_terms(question))
                if not all(part in STOPWORDS for part in fold(t).split("_"))
            }
            raw = idx.marked_lexical.scores(raw_terms) * keep
            if float(raw.max(initial=0.0)) > 0:
                pools.append(_top_n(raw, p.candidates))

        dense_all: np.ndarray | None = None
        dense_query = question
        if self.embedder is not None and self.vectors is not None and p.weight(mode, "dense"):
            if not marked:
                dense_query = idx.restorer.restore(question)
            qv = self.embedder.embed_query(dense_query)
            # einsum runs single-threaded in numpy's own loop: BLAS threads spin
            # on a busy two-core machine (a 9,000 x 384 mat-vec took 18 ms
            # with ``@``, 4.5 ms this way).
            dense_all = np.einsum("ij,j->i", idx.dense_matrix(self.vectors), qv)
            dense_all = np.where(keep, dense_all, -1.0)
            pools.append(_top_n(dense_all, p.candidates))
        if not pools:
            return None
        positions = np.unique(np.concatenate(pools))
        positions = positions[keep[positions]]
        if positions.size == 0:
            return None

        dense = (
            dense_all[positions].astype(np.float32)
            if dense_all is not None
            else np.zeros(len(positions), dtype=np.float32)
        )
        doc_all = idx.doc_lexical.scores(scoring) if p.weight(mode, "doc") else None
        if doc_all is not None:
            doc_max = float(doc_all.max(initial=0.0))
            doc = doc_all[idx.doc_row[positions]] / doc_max if doc_max > 0 else doc_all[:0]
            if doc.size == 0:
                doc = np.zeros(len(positions), dtype=np.float32)
        else:
            doc = np.zeros(len(positions), dtype=np.float32)
        prev_ok = idx.same_prev[positions]
        next_pos = np.minimum(positions + 1, len(idx.chunks) - 1)
        next_ok = (positions + 1 < len(idx.chunks)) & idx.same_prev[next_pos]
        neighbour = np.maximum(
            np.where(prev_ok, lex[np.maximum(positions - 1, 0)], 0.0),
            np.where(next_ok, lex[next_pos], 0.0),
        )
        dense_norm = _minmax(dense)
        ocr = idx.ocr_rows[positions]
        if ocr.any() and dense_all is not None:
            # e5 reads OCR text badly: an OCR passage's dense value is mostly a
            # neutral one (the median) and only partly its own.
            neutral = float(np.median(dense_norm))
            f = p.ocr_dense_factor
            dense_norm = np.where(ocr, f * dense_norm + (1 - f) * neutral, dense_norm)
        features = {
            "folded": _minmax(lex[positions]),
            "raw": _minmax(raw[positions]),
            "dense": dense_norm.astype(np.float32),
            "doc": _minmax(doc.astype(np.float32)),
            "meta": np.asarray(
                [doc_match.get(idx.chunks[i].doc_id, 0.0) for i in positions], dtype=np.float32
            ),
            "neighbour": _minmax(neighbour.astype(np.float32)),
        }
        return Candidates(
            positions=positions,
            features=features,
            lexical=lex[positions],
            marked_lexical=raw[positions],
            dense=dense,
            doc=doc.astype(np.float32),
            marked=marked,
            dense_query=dense_query,
            scoring=scoring,
            uni=uni,
            bi=bi,
            variants=variants,
            top_dense=float(dense.max(initial=0.0)),
        )

    def search(
        self, question: str, k: int = 5, *, exclude_docs: frozenset[str] = frozenset()
    ) -> Retrieval:
        idx = self.index
        marked = has_diacritics(question)
        cands = self.candidates(question, exclude_docs)
        if cands is None:
            return Retrieval(
                hits=[],
                coverage=0.0,
                top_dense=0.0,
                has_diacritics=marked,
                dense_query=question,
                excluded_docs=exclude_docs,
            )
        fused = fuse(cands, self.params)
        order = np.argsort(-fused, kind="stable")
        hits = [
            Hit(
                chunk=idx.chunks[int(cands.positions[j])],
                score=float(fused[j]),
                lexical=float(cands.lexical[j]),
                dense=float(cands.dense[j]),
                lexical_marked=float(cands.marked_lexical[j]),
                doc_score=float(cands.doc[j]),
            )
            for j in order
        ]
        hits = self._cap_per_doc(hits)
        hits = self._diversify(hits, k)
        uni, bi, variants = cands.uni, cands.bi, cands.variants
        named_plans = self._named_plans(question)
        cited = frozenset(framing_terms(question) | year_terms(question))
        broken = broken_pairs(question)
        friends = idx.false_friends(question) if marked else frozenset()
        coverage = self._coverage(
            [t for t in uni if t not in cited],
            # a pair across a comma that no document has is no phrase the documents miss
            [t for t in bi if t not in cited and (idx.lexical.known(t) or t not in broken)],
            variants,
            hits,
            name_bigrams(question),
            ministries_named(question),
            named_plans,
            friends,
        )
        named: set[str] = set().union(*named_plans)
        other_units: frozenset[str] = frozenset()
        if named & {h.chunk.doc_id for h in hits[:3]}:
            other_units = frozenset(
                h.chunk.doc_id
                for h in hits
                if idx.doc_kinds.get(h.chunk.doc_id) == "plan" and h.chunk.doc_id not in named
            )
        lexical = idx.lexical
        margin = 0.0
        if len(hits) >= 2 and hits[0].score > 0:
            margin = (hits[0].score - hits[1].score) / hits[0].score
        return Retrieval(
            hits=hits,
            coverage=coverage,
            top_dense=cands.top_dense,
            query_terms=cands.scoring,
            other_units_plans=other_units,
            has_diacritics=marked,
            dense_query=cands.dense_query,
            term_idf={t: lexical.idf(t) for t in uni + bi},
            unknown_terms=tuple(t for t in uni + bi if not lexical.known(t)),
            false_friends=friends,
            aside=cited,
            margin=margin,
            excluded_docs=exclude_docs,
        )

    def _cap_per_doc(self, hits: list[Hit]) -> list[Hit]:
        """Move a document's chunks beyond ``max_per_doc`` after the others."""
        cap = self.params.max_per_doc
        if cap <= 0:
            return hits
        seen: dict[str, int] = {}
        first: list[Hit] = []
        rest: list[Hit] = []
        for hit in hits:
            n = seen.get(hit.chunk.doc_id, 0)
            (first if n < cap else rest).append(hit)
            seen[hit.chunk.doc_id] = n + 1
        return first + rest

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
        if not self.index.lexical.ocr_only:
            return {}  # no OCR text indexed: nothing to match fuzzily (saves ~10 ms)
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
        friends: frozenset[str] = frozenset(),
    ) -> float:
        """Share of the question's specific content found in one retrieved passage.

        Sets each hit's ``coverage``, ``matched``, ``unmatched`` and
        ``named_missing`` evidence; returns the best of the top three with
        the named-unit factor (the figure the answer side used until now).

        IDF-weighted, unseen words count at maximum IDF: a question about
        "giá xăng" is not covered by a passage that only shares "hôm nay".
        Words found in the passage's document metadata count as covered.
        """
        lexical = self.index.lexical
        # Unknown words and unknown pairs of known words ("Bạch Mai") count at
        # maximum IDF: they are what the documents do not talk about.
        # A word the corpus has never seen ("xăng", "giường") is the clearest
        # sign of a question about something else: it weighs triple.
        # A word typed with marks the documents only have with other marks
        # ("lương" against "lượng") is as unknown as a word they never had.
        wanted = [
            (t, 3.0 * lexical.max_idf)
            if t in friends
            else (t, lexical.idf(t) * (1.0 if lexical.known(t) or t.isdigit() else 3.0))
            for t in uni
            if t not in COLLOQUIAL
        ]
        wanted += [(t, 0.5 * lexical.idf(t)) for t in bi]
        # A proper name the corpus never mentions ("Bệnh viện Chợ Rẫy") is
        # the strongest sign the question is about something else.
        profile_terms = self.index.profile_terms
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
        for rank, hit in enumerate(hits):
            pos = self.index.position[hit.chunk.id]
            present = lexical.row_terms(pos)
            doc_terms = self.index.doc_terms.get(hit.chunk.doc_id, set())

            def has(
                term: str, present: set[int] = present, doc_terms: set[str] = doc_terms
            ) -> bool:
                if shares_word(term, friends):
                    return False
                return lexical.vocab.get(term, -1) in present or term in doc_terms

            got = 0.0
            for t, w in wanted:
                alts = variants.get(t, []) + sorted(fuzzy_uni.get(t, set()))
                if has(t) or any(has(a) for a in alts):
                    got += w
            found = [t for t in dict.fromkeys(uni + bi) if has(t)]
            hit.matched = tuple(found)
            hit.unmatched = tuple(t for t in dict.fromkeys(uni + bi) if t not in set(found))
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
            hit.coverage = got / total
            hit.named_missing = missing
            if rank < 3:
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
