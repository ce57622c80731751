"""Details a question pins down — a year, a document number, a unit, ministry or place.

A passage that shares every other word but speaks of another year, another
plan or another province does not answer ("Sở Y tế Hà Nội" asked, Bắc Ninh's
plan found). Each pinned detail must be in the document the answer comes
from. A detail the whole corpus never mentions is only held against a
document that pins the same kind of detail differently (a plan dated 2026
does not answer "năm 2027"); a legal article with no date does not fail
"theo Bộ luật năm 2017".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from bot.text import YEAR, fold, tokens

# Provinces and centrally-run cities, before and after the 2025 merger (folded).
PROVINCES = frozenset(
    """an giang;ba ria vung tau;bac giang;bac kan;bac lieu;bac ninh;ben tre;binh dinh;binh duong;
    binh phuoc;binh thuan;ca mau;can tho;cao bang;da nang;dak lak;dak nong;dien bien;dong nai;
    dong thap;gia lai;ha giang;ha nam;ha noi;ha tinh;hai duong;hai phong;hau giang;hoa binh;
    hung yen;khanh hoa;kien giang;kon tum;lai chau;lam dong;lang son;lao cai;long an;nam dinh;
    nghe an;ninh binh;ninh thuan;phu tho;phu yen;quang binh;quang nam;quang ngai;quang ninh;
    quang tri;soc trang;son la;tay ninh;thai binh;thai nguyen;thanh hoa;thua thien hue;hue;
    tien giang;tra vinh;tuyen quang;vinh long;vinh phuc;yen bai;ho chi minh;tphcm;hcm;sai gon""".replace(
        "\n", ""
    )
    .replace("    ", "")
    .split(";")
)

# Other names staff type for one place: "TP HCM", "tphcm", "Sài Gòn" are Hồ Chí Minh City.
PLACE_NAMES = {"tphcm": "ho chi minh", "hcm": "ho chi minh", "sai gon": "ho chi minh"}
_PLACE_ALSO = {"ho chi minh": ("tphcm", "hcm", "sai gon")}
# Words before a place that are not part of a unit's name ("bệnh viện ở Sài Gòn").
_BEFORE_PLACE = frozenset({"o", "tai", "thuoc", "cua"})

_CODE = re.compile(r"\b(\d{1,5})\s*/\s*(?:(?:19|20)\d\d\s*/\s*)?[a-z]{1,6}(?:-[a-z0-9]{1,8})+\b")
_NAMED_DOC = re.compile(
    r"\b(?:thong tu|quyet dinh|nghi dinh|ke hoach|cong van|chi thi|nghi quyet|tt|qd|nd|kh|cv)\s*"
    r"(?:so\s+)?(\d{1,5})(?![\d/])"
)
_UNIT = re.compile(
    r"\b(?:ttyt|trung tam y te|so y te|benh vien|bv|tram y te|ubnd|uy ban nhan dan)\s+"
    r"(?:(?:huyen|tinh|thanh pho|tp|thi xa|quan|xa|phuong)\s+)?([a-z]+(?:\s+[a-z]+){1,2})"
)
# A ministry named as who issued or did something ("Bộ Y tế ban hành…"); not "cán bộ y tế".
_MINISTRY = re.compile(
    r"(?<!can )\bbo (y te|cong an|quoc phong|giao duc va dao tao|tai chinh|noi vu|tu phap|"
    r"khoa hoc va cong nghe|thong tin va truyen thong|chinh tri|ngoai giao|xay dung|cong thuong|"
    r"lao dong thuong binh va xa hoi|nong nghiep va moi truong|dan toc va ton giao)\b"
)
_PLACE = re.compile(r"\b(?:tinh|thanh pho|tp)\s+([a-z]+(?:\s+[a-z]+){1,2})")
NOT_NAME = frozenset(
    {"phai", "co", "la", "duoc", "da", "se", "dang", "can", "nen", "thi", "va", "voi", "cua"}
    | {"cho", "ve", "khi", "nao", "gi", "the", "bao", "nhieu", "may", "tuyen", "huyen", "xa"}
    | {"tinh", "trung", "uong", "yeu", "cau", "bao", "cao", "thuc", "hien", "ke", "hoach"}
)


# The code a ministry signs its documents with ("TT-BYT", "QĐ-BKHCN") names it too.
MINISTRY_CODES = {
    "bo y te": "byt",
    "bo cong an": "bca",
    "bo quoc phong": "bqp",
    "bo giao duc va dao tao": "bgddt",
    "bo tai chinh": "btc",
    "bo noi vu": "bnv",
    "bo tu phap": "btp",
    "bo khoa hoc va cong nghe": "bkhcn",
    "bo thong tin va truyen thong": "btttt",
    "bo ngoai giao": "bng",
    "bo xay dung": "bxd",
    "bo cong thuong": "bct",
    "bo lao dong thuong binh va xa hoi": "bldtbxh",
    "bo nong nghiep va moi truong": "bnnmt",
}


@dataclass(frozen=True)
class Pin:
    kind: str  # "year" | "code" | "unit"
    value: str  # folded: "2024", "2948", "ha noi"
    shown: str  # as the question wrote it
    also: tuple[str, ...] = ()  # other names of the same detail ("byt" for "bo y te")
    # A unit name with a common word in it, read from the question without marks
    # ("bv cho ray": Chợ Rẫy, or "bệnh viện cho …"): a name only if the documents
    # do not know its other words (the decision checks against the corpus).
    ambiguous: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        return (self.value, *self.also)


def _shown(question: str, folded: str, start: int, end: int) -> str:
    return question[start:end] if len(question) == len(folded) else folded[start:end]


def _place_name(words: str) -> str | None:
    """The province or place at the start of ``words`` ("ha noi yeu cau" -> "ha noi").

    "ở Sài Gòn", "tại Hà Nội": a preposition before the place is skipped.
    """
    parts = words.split()
    if parts and parts[0] in _BEFORE_PLACE:
        parts = parts[1:]
    for n in (3, 2, 1):
        head = " ".join(parts[:n])
        if len(parts) >= n and head in PROVINCES:
            return head
    return None


def _place_pin(name: str, shown: str) -> Pin:
    value = PLACE_NAMES.get(name, name)
    return Pin("unit", value, shown, _PLACE_ALSO.get(value, ()))


def pins(question: str) -> list[Pin]:
    """Years, document numbers and unit/place names the question pins down."""
    folded = fold(question)
    out: list[Pin] = []
    code_spans: list[tuple[int, int]] = []
    for m in _CODE.finditer(folded):
        out.append(Pin("code", m.group(1), _shown(question, folded, m.start(), m.end())))
        code_spans.append(m.span())
    for m in _NAMED_DOC.finditer(folded):
        if not any(a <= m.start(1) < b for a, b in code_spans):
            out.append(Pin("code", m.group(1), _shown(question, folded, m.start(), m.end())))
    for m in YEAR.finditer(folded):
        if not any(a <= m.start() < b for a, b in code_spans):
            out.append(Pin("year", m.group(1), m.group(1)))
    for m in _UNIT.finditer(folded):
        if any(a <= m.start() < b for a, b in code_spans):
            continue  # "19/KH-TTYT gửi đến …": the code's suffix, not a unit named
        words = m.group(1)
        place = _place_name(words)
        name = place or " ".join(words.split()[:2])
        common = set(name.split()) & NOT_NAME
        if not place and set(name.split()) <= NOT_NAME:
            continue
        end = m.start(1) + (words.index(place) + len(place) if place else len(name))
        shown = _shown(question, folded, m.start(), end)
        if place:
            out.append(_place_pin(place, shown))
        else:
            out.append(Pin("unit", name, shown, ambiguous=bool(common)))
    for m in _MINISTRY.finditer(folded):
        name = f"bo {m.group(1)}"
        code = MINISTRY_CODES.get(name)
        shown = _shown(question, folded, m.start(), m.end())
        out.append(Pin("unit", name, shown, (code,) if code else ()))
    for m in _PLACE.finditer(folded):
        place = _place_name(m.group(1))
        if place and not any(place in p.names for p in out):
            end = m.start(1) + m.group(1).index(place) + len(place)
            out.append(_place_pin(place, _shown(question, folded, m.start(), end)))
    # unit names are compared with passages read as tokens ("Kì Sơn" is "ky son" there)
    out = [replace(p, value=" ".join(tokens(p.value))) if p.kind == "unit" else p for p in out]
    seen: set[tuple[str, str]] = set()
    unique = []
    for p in out:
        if (p.kind, p.value) not in seen:
            seen.add((p.kind, p.value))
            unique.append(p)
    return unique


_COUNTED = re.compile(r"\bbao nhieu\s+([a-z]+)")
# Words that follow "bao nhiêu" without naming what is counted ("bao nhiêu thì…").
_NOT_COUNTED = frozenset(
    {"den", "thi", "la", "va", "hoac", "con", "nua", "the", "vay", "a", "ha", "nhi", "roi"}
)


def counted(question: str) -> str | None:
    """What "bao nhiêu …" asks to count ("bao nhiêu giường" -> "giuong"), if it names it."""
    m = _COUNTED.search(fold(question))
    if m is None or m.group(1) in _NOT_COUNTED:
        return None
    return m.group(1)
