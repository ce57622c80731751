"""Provenance of typed transcriptions: the scan copy and where a quote came from.

Some plans exist only as scans whose OCR text lost its diacritics. The project
ships a typed transcription of such a plan under the plan's own file name (so
its document id and citations stay), and keeps the OCR text beside it in
``scans/<stem>.ocr.txt``. The scan copy is never indexed: it is there so an
admin can check a quoted passage against what the scan actually says.

``catalog.yaml`` marks such a plan with ``transcribed: true`` and
``scan: scans/<stem>.ocr.txt``; ingest copies both into the document's
metadata, and answers quoting it say once that the quote is from the typed
transcription of a scan.

Mapping a typed passage back to the scan cannot rely on exact text: the scan
has no marks and its syllables are damaged ("ctia" for "của", "s6" for "số",
"ngudi" for "người"). Both sides are folded (lower case, no marks), the scan's
typical OCR confusions are mapped (digits standing for vowels or ``l``, stray
symbols for ``e``), and the passage is aligned to the scan by syllable
sequence with a local alignment whose syllable match is graded by edit
distance. The scan lines under the best alignment are the passage's origin.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bot.text import fold

SCAN_DIR = "scans"
SCAN_SUFFIX = ".ocr.txt"
# Shown once under an answer that quotes a transcribed document.
TRANSCRIBED_NOTE = (
    "(Trích từ bản đánh máy lại của văn bản quét; bản gốc được lưu kèm để đối chiếu.)"
)

# Symbols OCR puts for an accented vowel ("S¢' Y té", "y t€", "S& Y té", "k¥ năng").
_SYMBOL_MAP = str.maketrans({"¢": "e", "€": "e", "&": "e", "¥": "y", "ﬁ": "fi", "ﬂ": "fl"})
# Digits inside a syllable stand for a letter ("s6" số, "1a" là, "c4c" các, "S0" Sở).
_DIGIT_IN_WORD = str.maketrans({"0": "o", "6": "o", "1": "l", "4": "a", "8": "b"})
_TOKEN = re.compile(r"[a-z0-9]+")

MATCH_FLOOR = 0.5  # syllables less similar than this count as different
_GAP = -0.6
_MISMATCH = -0.6


def is_scan_copy(path: Path) -> bool:
    """True for an OCR text kept for provenance: ingest must not index it."""
    return path.name.lower().endswith(SCAN_SUFFIX)


def catalogue_meta(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The provenance fields of a ``catalog.yaml`` entry, for the document's metadata."""
    if not entry.get("transcribed"):
        return {}
    meta: dict[str, Any] = {"transcribed": True}
    if entry.get("scan"):
        meta["scan"] = str(entry["scan"])
    return meta


def is_transcribed(meta: Mapping[str, Any] | None) -> bool:
    """True when a document's metadata says it is a typed transcription of a scan."""
    return bool(meta and meta.get("transcribed"))


def _catalogue_entry(path: Path) -> Mapping[str, Any]:
    catalogue = path.parent / "catalog.yaml"
    try:
        data = yaml.safe_load(catalogue.read_text(encoding="utf-8")) if catalogue.is_file() else {}
    except (OSError, yaml.YAMLError):
        return {}
    entry = data.get(path.name) if isinstance(data, dict) else None
    return entry if isinstance(entry, dict) else {}


def scan_copy(path: Path, entry: Mapping[str, Any] | None = None) -> Path | None:
    """The scan copy of the document at ``path``, if one exists.

    The catalogue's ``scan`` entry (relative to the document's folder; read
    from ``catalog.yaml`` beside it when ``entry`` is not given) wins;
    otherwise ``scans/<stem>.ocr.txt`` beside the document is used.
    """
    if entry is None:
        entry = _catalogue_entry(path)
    candidates = []
    if entry.get("scan"):
        candidates.append(path.parent / str(entry["scan"]))
    candidates.append(path.parent / SCAN_DIR / f"{path.stem}{SCAN_SUFFIX}")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def syllables(text: str, *, ocr: bool = False) -> list[str]:
    """Folded syllables; with ``ocr`` the scan's symbol and digit confusions are mapped.

    Pure numbers stay numbers on both sides (they are the facts to keep).
    """
    folded = fold(text.translate(_SYMBOL_MAP) if ocr else text)
    out = []
    for tok in _TOKEN.findall(folded):
        if ocr and not tok.isdigit() and not tok.isalpha():
            tok = tok.translate(_DIGIT_IN_WORD)
        out.append(tok)
    return out


@lru_cache(maxsize=65536)
def syllable_similarity(a: str, b: str) -> float:
    """1.0 for the same syllable, else 1 - edit distance / longer length (numbers: exact)."""
    if a == b:
        return 1.0
    if a.isdigit() or b.isdigit():
        return 0.0
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return 1.0 - prev[-1] / max(len(a), len(b))


def _similarity_row(query: str, vocab: list[str], codes: np.ndarray) -> np.ndarray:
    """``syllable_similarity(query, v)`` for every ``v`` in ``vocab`` at once.

    Levenshtein over the padded code matrix of the vocabulary, one query
    character per step, so a passage aligns in a fraction of a second.
    """
    lens = (codes >= 0).sum(axis=1)
    width = codes.shape[1]
    prev = np.tile(np.arange(width + 1), (len(vocab), 1))
    for i, ch in enumerate(query, 1):
        cur = np.empty_like(prev)
        cur[:, 0] = i
        differs = codes != ord(ch)
        for j in range(1, width + 1):
            cur[:, j] = np.minimum(
                np.minimum(prev[:, j] + 1, cur[:, j - 1] + 1), prev[:, j - 1] + differs[:, j - 1]
            )
        prev = cur
    dist = prev[np.arange(len(vocab)), lens]
    sim = 1.0 - dist / np.maximum(lens, len(query))
    numeric = np.fromiter((v.isdigit() for v in vocab), dtype=bool, count=len(vocab))
    if query.isdigit() or numeric.any():
        exact = np.fromiter((v == query for v in vocab), dtype=bool, count=len(vocab))
        mask = numeric | query.isdigit()
        sim = np.where(mask, exact.astype(np.float64), sim)
    return np.where(sim >= MATCH_FLOOR, sim, _MISMATCH)


def _codes(vocab: list[str]) -> np.ndarray:
    width = max(len(v) for v in vocab)
    codes = np.full((len(vocab), width), -1, dtype=np.int64)
    for i, v in enumerate(vocab):
        codes[i, : len(v)] = [ord(c) for c in v]
    return codes


@dataclass(frozen=True)
class ScanSpan:
    """Where a passage sits in a scan: 1-based inclusive line numbers and the lines."""

    first_line: int
    last_line: int
    text: str
    score: float  # aligned similarity per passage syllable, 0..1


def _scan_syllables(scan_text: str) -> tuple[list[str], list[int]]:
    toks: list[str] = []
    line_of: list[int] = []
    for number, line in enumerate(scan_text.splitlines(), 1):
        for tok in syllables(line, ocr=True):
            toks.append(tok)
            line_of.append(number)
    return toks, line_of


def locate(passage: str, scan_text: str) -> ScanSpan | None:
    """The scan lines a typed ``passage`` was transcribed from (None if nothing aligns).

    Local alignment (Smith-Waterman) of the passage's syllables against the
    whole scan; a syllable pair scores its similarity when it reaches
    ``MATCH_FLOOR`` and a penalty otherwise, so OCR damage inside a syllable
    costs little while a missing or added word costs a gap. Each passage
    syllable is one vectorised row over the scan (the horizontal gap is a
    running maximum), so a chunk-sized passage aligns in well under a second.
    """
    query = syllables(passage)
    toks, line_of = _scan_syllables(scan_text)
    if not query or not toks:
        return None
    vocab = sorted(set(toks))
    codes = _codes(vocab)
    position = {tok: i for i, tok in enumerate(vocab)}
    rows: dict[str, np.ndarray] = {}
    tok_ids = np.fromiter((position[t] for t in toks), dtype=np.int64, count=len(toks))
    m = len(toks)
    steps = np.arange(m + 1, dtype=np.float64) * _GAP
    columns = np.arange(m + 1)
    prev_row = np.zeros(m + 1)
    prev_start = columns.copy()
    best, best_end, best_start = 0.0, 0, 0
    for q in query:
        if q not in rows:
            rows[q] = _similarity_row(q, vocab, codes)
        pair = rows[q][tok_ids]
        diag = np.concatenate(([0.0], prev_row[:-1] + pair))
        diag_start = np.concatenate(([0], prev_start[:-1]))
        up = prev_row + _GAP  # a passage syllable the scan lacks
        base = np.maximum(diag, up)
        base_start = np.where(diag >= up, diag_start, prev_start)
        fresh = base <= 0.0
        base = np.where(fresh, 0.0, base)
        base_start = np.where(fresh, columns, base_start)
        # row[j] = max_k<=j base[k] + GAP * (j - k): a scan syllable the passage lacks.
        shifted = base - steps
        running = np.maximum.accumulate(shifted)
        argmax = np.maximum.accumulate(np.where(shifted >= running, columns, 0))
        row = running + steps
        start = base_start[argmax]
        j = int(np.argmax(row))
        if row[j] > best:
            best, best_end, best_start = float(row[j]), j, int(start[j])
        prev_row, prev_start = row, start
    if best <= 0.0:
        return None
    first, last = line_of[best_start], line_of[best_end - 1]
    lines = scan_text.splitlines()[first - 1 : last]
    return ScanSpan(first, last, "\n".join(lines), min(1.0, best / len(query)))


def similarity(typed_text: str, scan_text: str) -> float:
    """Share of syllables the typed text and the scan have in common, in order.

    Identical syllables align first; inside each differing stretch, syllables
    similar enough (OCR damage) count as kept. 1.0 means nothing was added,
    removed or reworded at the syllable level.
    """
    a = syllables(typed_text)
    b = syllables(scan_text, ocr=True)
    if not a and not b:
        return 1.0
    kept = 0.0
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            kept += i2 - i1
        elif op == "replace":
            kept += _fuzzy_kept(a[i1:i2], b[j1:j2])
    return kept / max(len(a), len(b))


def _fuzzy_kept(a: list[str], b: list[str]) -> float:
    """Syllables of ``a`` that align, in order, with similar syllables of ``b``."""
    rows = [[0.0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            hit = 1.0 if syllable_similarity(a[i - 1], b[j - 1]) >= MATCH_FLOOR else 0.0
            rows[i][j] = max(rows[i - 1][j], rows[i][j - 1], rows[i - 1][j - 1] + hit)
    return rows[-1][-1]


def document_file(stored_path: str, knowledge_dir: Path) -> Path:
    """The file behind a stored document path (relative to the cwd or the knowledge root)."""
    path = Path(stored_path)
    if path.is_absolute() or path.exists():
        return path
    for base in (knowledge_dir, knowledge_dir.parent):
        if (base / path).exists():
            return base / path
    return path
