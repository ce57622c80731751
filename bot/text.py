"""Vietnamese text normalisation shared by ingest, retrieval and the forms.

Staff type without diacritics and two of the seed plans are OCR text that lost
them, so every comparison happens on *folded* text (no marks, ``đ`` -> ``d``,
lower case) while the original text is kept for display.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable

_TOKEN_RE = re.compile(r"[0-9a-z]+")
_SPACE_RE = re.compile(r"\s+")
# OCR damage seen in the seeds: a digit standing for an accented vowel at the end
# of a short syllable ("s6" = "số", "d6" = "đó"), "1" standing for "l" ("1a" = "là").
_OCR_TRAILING_DIGIT = re.compile(r"^([a-z]{1,3})[60]$")
_OCR_LEADING_ONE = re.compile(r"^1([a-z]{1,3})$")
_LETTER_DIGIT_SPLIT = re.compile(r"[a-z]+|[0-9]+")
_OCR_CHAR_MAP = str.maketrans(
    # "90%" is read "90 phần trăm": questions ask "bao nhiêu phần trăm".
    {"¢": "c", "€": "e", "©": "c", "ﬁ": "fi", "ﬂ": "fl", "%": " phan tram "}
)


# The section a chunker gives the part of a document before its first heading.
OPENING_SECTION = "Phần mở đầu"


def fold(text: str) -> str:
    """Return ``text`` without diacritics, lower-cased, whitespace collapsed.

    This is exactly the folding the evaluation README prescribes (NFD, drop
    combining marks, ``đ`` -> ``d``, lower case, collapse whitespace).
    """
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    stripped = stripped.replace("đ", "d").replace("Đ", "D")
    return _SPACE_RE.sub(" ", stripped.lower()).strip()


YEAR = re.compile(r"\b(19[5-9]\d|20[0-4]\d)\b")


def years_in(text: str) -> set[str]:
    """The years a text names ("năm 2026" -> {"2026"})."""
    return set(YEAR.findall(fold(text)))


# Tone marks (the others, â ă ê ô ơ ư, make vowels): grave, acute, tilde, hook, dot below.
_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")
_STOP_TONES = frozenset("\u0301\u0323")  # sắc, nặng


def plausible_syllable(word: str) -> bool:
    """False for a marked syllable Vietnamese spelling rules out: a typing slip.

    One tone at most, and a syllable ending in p, t, c or ch takes only sắc or
    nặng ("quyết", "học"; "quyêt" and "hòc" are slips for them).
    """
    tones = [ch for ch in unicodedata.normalize("NFD", word.lower()) if ch in _TONE_MARKS]
    if len(tones) > 1:
        return False
    if fold(word).endswith(("p", "t", "c", "ch")):
        return bool(tones) and tones[0] in _STOP_TONES
    return True


def has_diacritics(text: str) -> bool:
    """True when the text carries Vietnamese marks (so it was typed with them)."""
    return fold(text) != _SPACE_RE.sub(" ", text.lower()).strip()


def diacritic_ratio(text: str) -> float:
    """Share of alphabetic syllables that carry a mark or ``đ``.

    Used to tell OCR text that lost its accents (ratio near 0) from normal text
    (typically above 0.5).
    """
    words = [w for w in re.findall(r"\w+", text) if not w.isdigit()]
    if not words:
        return 0.0
    marked = sum(1 for w in words if fold(w) != w.lower())
    return marked / len(words)


# Product names OCR misreads ("VNelD": l for I); folded spellings only.
_OCR_WORDS = {"vneld": "vneid", "vnel": "vnei", "vnid": "vneid", "moocs": "mooc"}


def _repair_ocr_token(token: str) -> list[str]:
    if token in _OCR_WORDS:
        return [_OCR_WORDS[token]]
    m = _OCR_TRAILING_DIGIT.match(token)
    if m:
        return [m.group(1) + "o"]
    m = _OCR_LEADING_ONE.match(token)
    if m:
        return ["l" + m.group(1)]
    if token.isalnum() and not token.isalpha() and not token.isdigit():
        return _LETTER_DIGIT_SPLIT.findall(token)
    return [token]


# Both spellings are correct Vietnamese ("lí do" / "lý do", "kĩ năng" / "kỹ năng",
# "tử sĩ" / "tử sỹ", "quí" / "quý"): folded, they are read as one syllable.
_I_Y = {"hi": "hy", "ki": "ky", "li": "ly", "mi": "my", "si": "sy", "ti": "ty", "qui": "quy"}


def tokens(text: str) -> list[str]:
    """Folded syllable tokens, with common OCR damage repaired.

    Pure numbers are kept ("2948", "30"), so document numbers and dates match.
    """
    folded = fold(text.translate(_OCR_CHAR_MAP))
    out: list[str] = []
    for raw in _TOKEN_RE.findall(folded):
        out.extend(_I_Y.get(t, t) for t in _repair_ocr_token(raw))
    return out


def bigrams(toks: list[str]) -> list[str]:
    """Adjacent syllable pairs: Vietnamese words are mostly two syllables."""
    return [f"{a}_{b}" for a, b in itertools.pairwise(toks)]


def terms(text: str) -> list[str]:
    """Index terms: folded unigrams plus folded syllable bigrams."""
    toks = tokens(text)
    return toks + bigrams(toks)


_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+(?=[\"“(]?[A-ZÀ-Ỹ0-9ĐÂĂÊÔƠƯ\-+•])")
# "P. ĐTĐH", "TP. Hồ Chí Minh", "ThS. Nguyễn Văn A": an initial or a title before a name
# ends no sentence, nor does an article's number before its title ("Điều 18. Quy trình…").
_ABBREVIATION_END = re.compile(
    r"(?:(?:^|[\s(])(?:[A-ZĐ]|TP|Tp|TX|ThS|Ths|TS|BS|GS|PGS|KS|CN)"
    r"|^\s*(?:Điều|Chương|Phần|Mục)\s+[\dIVXLC]+[a-zđ]?)\.$"
)


def split_sentences(text: str) -> list[str]:
    """Split stored passage text into sentences for extractive answers.

    Stored chunks hold one reflowed paragraph, heading or list item per line,
    so every line is a block; inside a block, split after ``.!?;:`` followed
    by a capital, but never inside parentheses ("(Nguồn: Báo Đồng Nai)").
    """
    sentences: list[str] = []
    for line in text.splitlines():
        block = _SPACE_RE.sub(" ", line).strip()
        if not block:
            continue
        start = 0
        for m in _SENTENCE_END.finditer(block):
            head = block[: m.start()]
            if head.count("(") > head.count(")") or _ABBREVIATION_END.search(head):
                continue
            part = block[start : m.start()].strip()
            if part:
                sentences.append(part)
            start = m.end()
        tail = block[start:].strip()
        if tail:
            sentences.append(tail)
    return sentences


def contains_phrase(haystack: str, phrase: str) -> bool:
    """Folded substring test, as the evaluation defines a match."""
    return fold(phrase) in fold(haystack)


def normalize_name(text: str) -> str:
    """Key for matching headers and names typed in any case/diacritics/spacing."""
    return " ".join(_TOKEN_RE.findall(fold(text)))


def unique(items: Iterable[str]) -> list[str]:
    """Order-preserving de-duplication."""
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out
