"""Warn when a text looks like Vietnamese that lost its diacritics (bad OCR).

Typed Vietnamese carries a mark (or ``đ``) on most syllables: 82-90% on the
shipped plans and guides. The two shipped plans that came from an OCR without
the Vietnamese model have 20-21%, and their quotes read "C4c co quan, don vi
truc thude S¢' Y té". Such a file is still indexed (its facts are findable by
folded search) but the admin is told to upload the original scan, which the
``vie`` OCR reads with diacritics, or a typed file.

A text is judged only when it reads as Vietnamese once folded (most words are
well-formed Vietnamese syllables), so an English memo draws no warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.text import fold
from ingest.textdecode import VIETNAMESE_LETTERS

# Measured on knowledge/: typed 0.82-0.90, the two OCR plans 0.20-0.21.
MIN_MARKED_SHARE = 0.4
# Share of words that are Vietnamese syllables once folded: plans 0.83-0.99,
# English text (README) 0.23.
MIN_SYLLABLE_SHARE = 0.6
MIN_SYLLABLES = 50
_SAMPLE = 200_000

_WORD = re.compile(r"[^\W\d_]+")
_SYLLABLE = re.compile(
    r"^(ngh|ng|gh|gi|kh|nh|ph|qu|th|tr|ch|[bcdghklmnprstvx])?[aeiouy]{1,3}(ch|ng|nh|[cmnpt])?$"
)
_MARKED = frozenset(c for c in VIETNAMESE_LETTERS if not c.isascii())


@dataclass(frozen=True)
class DiacriticCheck:
    syllables: int
    marked_share: float
    syllable_share: float

    @property
    def lost_diacritics(self) -> bool:
        """Vietnamese text with implausibly few marks: OCR (or typing) without accents."""
        return (
            self.syllables >= MIN_SYLLABLES
            and self.syllable_share >= MIN_SYLLABLE_SHARE
            and self.marked_share < MIN_MARKED_SHARE
        )


def check_diacritics(text: str) -> DiacriticCheck:
    """Share of Vietnamese syllables that carry a mark, on the first 200 KB."""
    words = _WORD.findall(text[:_SAMPLE])
    syllables = [w for w in words if _SYLLABLE.match(fold(w))]
    marked = sum(1 for w in syllables if any(c in _MARKED for c in w))
    return DiacriticCheck(
        syllables=len(syllables),
        marked_share=marked / len(syllables) if syllables else 0.0,
        syllable_share=len(syllables) / len(words) if words else 0.0,
    )


def diacritics_warning(text: str) -> tuple[str, str] | None:
    """(English log line, Vietnamese message for the admin) when marks were lost."""
    check = check_diacritics(text)
    if not check.lost_diacritics:
        return None
    share = round(check.marked_share * 100)
    return (
        f"looks like OCR that lost its Vietnamese diacritics ({share}% of syllables "
        "marked; typed Vietnamese has over 80%): upload the original scan or a typed file",
        f"Lưu ý: văn bản này có vẻ là bản nhận dạng chữ (OCR) đã mất dấu tiếng Việt "
        f"(chỉ {share}% âm tiết có dấu, văn bản đánh máy thường trên 80%). Tệp vẫn được "
        "đưa vào kho, nhưng câu trích dẫn sẽ khó đọc. Nên tải lên bản quét gốc (PDF "
        "hoặc ảnh — hệ thống đọc được tiếng Việt có dấu) hoặc bản đánh máy.",
    )
