"""BM25 over diacritic-folded syllables and syllable bigrams.

Folding makes "han chot" match "hạn chót" and OCR text that lost its marks;
bigrams stand in for Vietnamese two-syllable words (+9 points top-1 on the
seed plans). The index is a sparse matrix of precomputed BM25 term weights,
rebuilt from the chunk store in about a second per 10,000 chunks.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
from scipy import sparse

from bot.text import terms

_MARKED_TOKEN = re.compile(r"[^\W_]+")


def marked_tokens(text: str) -> list[str]:
    """Lower-cased syllables with their marks kept (NFC): "bạn", "bán", "bản" stay apart."""
    return _MARKED_TOKEN.findall(unicodedata.normalize("NFC", text).lower())


def marked_terms(text: str) -> list[str]:
    """Marked syllables plus marked syllable bigrams.

    Folding merges distinct syllables; when a question is typed with marks,
    BM25 over the marked text is measured better than over folded text
    (ALQAC hit@1 0.898 against 0.864). Both are used.
    """
    toks = marked_tokens(text)
    return toks + [f"{a}_{b}" for a, b in itertools.pairwise(toks)]


def _within_one_edit(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) <= 1
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


class LexicalIndex:
    """Okapi BM25 (k1, b) with scores computed as one sparse mat-vec."""

    def __init__(
        self,
        texts: Sequence[str],
        k1: float = 1.2,
        b: float = 0.75,
        ocr_rows: Sequence[bool] | None = None,
        analyzer: Callable[[str], list[str]] = terms,
    ) -> None:
        self.vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        tfs: list[float] = []
        lengths = np.zeros(len(texts), dtype=np.float32)
        for row, text in enumerate(texts):
            counts = Counter(analyzer(text))
            lengths[row] = sum(counts.values())
            for term, tf in counts.items():
                col = self.vocab.setdefault(term, len(self.vocab))
                rows.append(row)
                cols.append(col)
                tfs.append(tf)
        self.size = len(texts)
        n_terms = len(self.vocab)
        tf_arr = np.asarray(tfs, dtype=np.float32)
        row_arr = np.asarray(rows, dtype=np.int64)
        col_arr = np.asarray(cols, dtype=np.int64)
        df = np.bincount(col_arr, minlength=n_terms).astype(np.float32) if n_terms else np.zeros(0)
        self.df = df
        self.idf_values = np.log1p((self.size - df + 0.5) / (df + 0.5)).astype(np.float32)
        self.max_idf = float(math.log1p((self.size + 0.5) / 0.5)) if self.size else 1.0
        avg = float(lengths.mean()) if self.size else 1.0
        norm = k1 * (1 - b + b * lengths[row_arr] / max(avg, 1e-9)) if self.size else tf_arr
        weights = tf_arr * (k1 + 1) / (tf_arr + norm) * (self.idf_values[col_arr] if n_terms else 1)
        self.matrix = sparse.csc_matrix(
            (weights, (row_arr, col_arr)), shape=(self.size, n_terms), dtype=np.float32
        )
        self._rows = self.matrix.tocsr()
        # Terms seen only in OCR-damaged chunks: the only legitimate fuzzy targets.
        self.ocr_only: set[str] = set()
        if ocr_rows is not None and n_terms:
            ocr_mask = np.asarray(ocr_rows, dtype=bool)[row_arr]
            in_ocr = np.bincount(col_arr[ocr_mask], minlength=n_terms)
            in_clean = np.bincount(col_arr[~ocr_mask], minlength=n_terms)
            names = list(self.vocab)
            self.ocr_only = {names[c] for c in np.nonzero((in_ocr > 0) & (in_clean == 0))[0]}
        self._deletes: dict[str, set[str]] | None = None

    def _delete_index(self) -> dict[str, set[str]]:
        """SymSpell-style index: every syllable under each one-character deletion."""
        if self._deletes is None:
            index: dict[str, set[str]] = {}
            for term in self.vocab:
                if "_" in term or not (2 <= len(term) <= 9) or term.isdigit():
                    continue
                index.setdefault(term, set()).add(term)
                for i in range(len(term)):
                    index.setdefault(term[:i] + term[i + 1 :], set()).add(term)
            self._deletes = index
        return self._deletes

    def neighbours(self, syllable: str) -> set[str]:
        """Indexed syllables within one edit (OCR: "trg" for "trợ", "tudi" for "tuổi")."""
        if not (2 <= len(syllable) <= 9) or syllable.isdigit():
            return set()
        index = self._delete_index()
        keys = {syllable} | {syllable[:i] + syllable[i + 1 :] for i in range(len(syllable))}
        found: set[str] = set()
        for key in keys:
            found |= index.get(key, set())
        return {t for t in found if t != syllable and _within_one_edit(t, syllable)}

    def fuzzy_bigrams(self, bigram: str) -> list[str]:
        """OCR spellings of a bigram: one syllable exact, the other within one edit.

        Only bigrams that occur solely in OCR-damaged chunks qualify, and the
        changed syllable must have at least three letters: allowing both to
        change lets "mai có" match "tai bo".
        """
        a, _, b = bigram.partition("_")
        pairs = [(x, b) for x in self.neighbours(a)] if len(a) >= 3 else []
        pairs += [(a, y) for y in self.neighbours(b)] if len(b) >= 3 else []
        return [f"{x}_{y}" for x, y in pairs if f"{x}_{y}" in self.ocr_only]

    def idf(self, term: str) -> float:
        """IDF of a term; unseen terms get the maximum (they are maximally specific)."""
        col = self.vocab.get(term)
        return float(self.idf_values[col]) if col is not None else self.max_idf

    def known(self, term: str) -> bool:
        col = self.vocab.get(term)
        return col is not None and bool(self.df[col] > 0)

    def without(self, hidden_rows: np.ndarray) -> LexicalIndex:
        """The statistics as if ``hidden_rows`` had never been indexed.

        A near-miss is a question asked of the corpus without its gold
        document: the words only that document had are unknown words then,
        and every IDF is counted without it. Scores keep the indexed weights;
        callers leave the hidden rows out of the candidates themselves.
        """
        if not hidden_rows.any():
            return self
        view = copy.copy(self)
        hidden_df = np.asarray((self._rows[hidden_rows] > 0).sum(axis=0)).ravel()
        view.size = self.size - int(hidden_rows.sum())
        view.df = (self.df - hidden_df).astype(np.float32)
        view.idf_values = np.log1p((view.size - view.df + 0.5) / (view.df + 0.5)).astype(np.float32)
        view.max_idf = float(math.log1p((view.size + 0.5) / 0.5)) if view.size else 1.0
        return view

    def scores(self, weighted_terms: dict[str, float]) -> np.ndarray:
        """BM25 score of every chunk for the weighted query terms."""
        cols = [self.vocab[t] for t in weighted_terms if t in self.vocab]
        if not cols or not self.size:
            return np.zeros(self.size, dtype=np.float32)
        w = np.asarray(
            [weighted_terms[t] for t in weighted_terms if t in self.vocab], dtype=np.float32
        )
        return np.asarray(self.matrix[:, cols] @ w).ravel()

    def row_terms(self, row: int) -> set[int]:
        """Column ids present in one chunk (for query-coverage evidence)."""
        start, end = self._rows.indptr[row], self._rows.indptr[row + 1]
        return set(self._rows.indices[start:end].tolist())
