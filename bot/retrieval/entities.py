"""Ministries named in a question, and whether a passage speaks of the same one.

The corpus holds provincial plans (Sở Y tế, TTYT, bệnh viện) and guides that
cite national documents. A question about a ministry's document ("Bộ Y tế ban
hành kế hoạch số mấy?") must not be answered with a provincial plan that only
shares the rest of the words. Ministries are a closed set, so a small
gazetteer is reliable where capitalisation is not (staff type in lower case,
and "cán bộ y tế" folds to the same letters as "Bộ Y tế").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.text import fold


@dataclass(frozen=True)
class Ministry:
    key: str  # folded name without "bo", e.g. "y te"
    abbreviation: str | None  # as in document numbers: "TT-BYT" -> "byt"


MINISTRIES = (
    Ministry("y te", "byt"),
    Ministry("cong an", "bca"),
    Ministry("thong tin va truyen thong", "btttt"),
    Ministry("khoa hoc va cong nghe", "bkhcn"),
    Ministry("noi vu", "bnv"),
    Ministry("tai chinh", "btc"),
    Ministry("giao duc va dao tao", "bgddt"),
    Ministry("lao dong thuong binh va xa hoi", "bldtbxh"),
    Ministry("tu phap", "btp"),
    Ministry("quoc phong", "bqp"),
    Ministry("ke hoach va dau tu", "bkhdt"),
    Ministry("cong thuong", "bct"),
    Ministry("chinh tri", None),  # the Politburo: resolutions are numbered "-NQ/TW"
)

# "cán bộ y tế" (health worker) is not "Bộ Y tế" (the ministry).
_NOT_MINISTRY_BEFORE = r"(?<!can )(?<!cac )"


def _pattern(ministry: Ministry) -> re.Pattern[str]:
    words = ministry.key.split()
    # Long names are often shortened: "Bộ Thông tin" / "Bộ Khoa học".
    head = r"\s+".join(words[:2])
    return re.compile(rf"{_NOT_MINISTRY_BEFORE}\bbo\s+{head}\b")


_PATTERNS = {m.key: _pattern(m) for m in MINISTRIES}
_ABBREVIATIONS = {
    m.key: re.compile(rf"(?<![a-z0-9]){m.abbreviation}(?![a-z0-9])")
    for m in MINISTRIES
    if m.abbreviation
}


def ministries_named(text: str) -> list[Ministry]:
    """Ministries the text names ("Bộ Y tế", "bo cong an"), in gazetteer order."""
    folded = fold(text)
    return [m for m in MINISTRIES if _PATTERNS[m.key].search(folded)]


def mentions(ministry: Ministry, folded_text: str) -> bool:
    """True when already-folded text names the ministry or carries its abbreviation."""
    if _PATTERNS[ministry.key].search(folded_text):
        return True
    abbreviation = _ABBREVIATIONS.get(ministry.key)
    return abbreviation is not None and abbreviation.search(folded_text) is not None


# A unit of the health sector followed by its name: "TTYT Ngọc Lặc", "Sở Y tế
# Bắc Ninh", "Bệnh viện Tâm thần", "Trung tâm Y tế huyện Vĩnh Thạnh".
_UNIT = re.compile(
    r"\b(?:ttyt|trung tam y te|so y te|benh vien|bv|tram y te)\s+"
    r"(?:(?:huyen|tinh|thanh pho|tp|thi xa|quan|xa|phuong)\s+)?([a-z]+\s+[a-z]+)"
)


def unit_names(text: str) -> list[str]:
    """Folded two-syllable names that follow a unit word ("ngoc lac", "bac ninh").

    Whatever follows the unit word is returned ("bệnh viện phải kê" gives
    "phai ke"); callers only act on names that some document's metadata has.
    """
    return [m.group(1) for m in _UNIT.finditer(fold(text))]
