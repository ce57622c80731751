"""Everyday abbreviations staff type, read as the words they stand for.

"bv" is "bệnh viện", "tt26" is "Thông tư 26", "ko"/"k" is "không": the
documents spell these out, so a question typed with them must not look like
one about something the documents never mention. The expansion keeps the
question's register: without diacritics when it was typed without them, so
retrieval still treats it as a diacritic-less question.
"""

from __future__ import annotations

import re

from bot.text import has_diacritics

# abbreviation (folded, whole word) -> (with marks, without marks)
ABBREVIATIONS: dict[str, tuple[str, str]] = {
    "bv": ("bệnh viện", "benh vien"),
    "bn": ("bệnh nhân", "benh nhan"),
    "ko": ("không", "khong"),
    "k": ("không", "khong"),
    "kh": ("không", "khong"),
    "hok": ("không", "khong"),
    "dc": ("được", "duoc"),
    "đc": ("được", "duoc"),
    "e": ("em", "em"),
    "vs": ("với", "voi"),
    "j": ("gì", "gi"),
    "ntn": ("như thế nào", "nhu the nao"),
    "bhxh": ("bảo hiểm xã hội", "bao hiem xa hoi"),
    "cskcb": ("cơ sở khám chữa bệnh", "co so kham chua benh"),
    "ksk": ("khám sức khỏe", "kham suc khoe"),
}
# "tt26", "tt 26", "qđ2733", "nđ 69": a document type and its number.
DOC_TYPES: dict[str, tuple[str, str]] = {
    "tt": ("Thông tư", "Thong tu"),
    "qđ": ("Quyết định", "Quyet dinh"),
    "qd": ("Quyết định", "Quyet dinh"),
    "nđ": ("Nghị định", "Nghi dinh"),
    "nd": ("Nghị định", "Nghi dinh"),
    "kh": ("Kế hoạch", "Ke hoach"),
    "cv": ("Công văn", "Cong van"),
}

_WORD = re.compile(r"(?<![\w/.-])([A-Za-zĐđ]{1,5})(?![\w/-])")
_DOC = re.compile(r"(?<![\w/-])(tt|qđ|qd|nđ|nd|kh|cv)\s?(\d{1,5})(?=\b)(?!/)", re.IGNORECASE)


def expand_abbreviations(question: str) -> str:
    """The question with everyday abbreviations spelled out (nothing else changes)."""
    marked = has_diacritics(question)
    pick = 0 if marked else 1

    def doc(m: re.Match[str]) -> str:
        kind = DOC_TYPES[m.group(1).lower()][pick]
        return f"{kind} {m.group(2)}"

    text = _DOC.sub(doc, question)

    def word(m: re.Match[str]) -> str:
        raw = m.group(1)
        found = ABBREVIATIONS.get(raw.lower())
        if found is None or (raw.isupper() and len(raw) > 1 and raw.lower() in {"bn", "kh"}):
            return raw
        return found[pick]

    return _WORD.sub(word, text)
