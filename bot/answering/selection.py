"""The sentence that answers: what the question asks for, and the line that has it.

A question asks for a kind of answer — a date or deadline, a number or
rate, a unit or person responsible, a list, steps, a definition — and the
sentence to quote is the one that shares the question's words *and* carries
that kind of fact. Stored passages keep one paragraph, heading or list item
per line, so a sentence is read with its place in the passage: a label
ending in ":" ("Thông điệp:", "+ Thời gian thực hiện:") continues on the next
piece or line, a list question gets the whole list, and letterheads, titles
and bare headings are never an answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum

from bot.answering.policy import is_unconfirmed, unconfirmed_subject
from bot.retrieval.hybrid import Hit, IndexedChunk
from bot.retrieval.lexical import LexicalIndex, marked_terms
from bot.text import (
    OPENING_SECTION,
    fold,
    has_diacritics,
    split_sentences,
    terms,
    tokens,
    years_in,
)
from ingest.chunker import SIGNATURE_SECTION, is_article_heading


class AnswerType(Enum):
    DATE = "date"
    NUMBER = "number"
    WHO = "who"
    LIST = "list"
    STEPS = "steps"
    DEFINITION = "definition"


# Folded question phrasings -> the kind of answer wanted (a question may want several).
_TYPE_PATTERNS: tuple[tuple[AnswerType, re.Pattern[str]], ...] = (
    (
        AnswerType.DATE,
        re.compile(
            r"\b(khi nao|bao gio|ngay nao|ngay may|thang nao|thang may|nam nao|luc nao|"
            r"thoi gian|thoi han|thoi diem|han chot|han cuoi|han nop|truoc ngay|tu ngay|"
            r"den ngay|hieu luc|dien ra|bat dau|ket thuc|moc)\b"
        ),
    ),
    (
        AnswerType.NUMBER,
        re.compile(
            # "ngày mấy" asks a date, not a count
            r"\b(bao nhieu|(?<!ngay )(?<!thang )(?<!nam )(?<!gio )may|ty le|chi tieu|phan tram|"
            r"bao lau|so luong|muc nao|toi da|"
            r"toi thieu|it nhat|so tien)\b"
        ),
    ),
    (
        AnswerType.WHO,
        re.compile(
            r"\b(ai|nguoi nao|don vi nao|co quan nao|phong nao|so nao|khoa nao|bo phan nao|"
            r"ben nao|chiu trach nhiem|phu trach|chu tri|dau moi|tham muu|theo doi)\b"
        ),
    ),
    (
        AnswerType.LIST,
        re.compile(
            r"\b(nhung|cac) (\w+ ){1,4}nao\b|\bgom (nhung )?(gi|nao|ai)\b|\bnhung gi\b|"
            r"\bbao gom\b|\bnhung (ai|dau)\b|\bliet ke\b"
        ),
    ),
    (
        AnswerType.STEPS,
        re.compile(
            r"\b(cac buoc|buoc nao|lam sao|lam the nao|the nao de|cach nao|cach de|"
            r"quy trinh|thu tuc|huong dan cach|trinh tu)\b"
        ),
    ),
    (AnswerType.DEFINITION, re.compile(r"\bla gi\b|\bnghia la\b|\bduoc hieu\b|\bkhai niem\b")),
)

# A day ("1/10/2025", "ngày 15", "trước ngày", "hằng tháng") answers "when"; a bare
# year is only a weak sign (plans name their year everywhere).
_DATE_IN_TEXT = re.compile(
    r"\b\d{1,2}/\d{1,2}(/\d{2,4})?\b|\bngay \d|\bthang \d{1,2}\b|\bquy [i1-4v]+\b|"
    r"\b(truoc|tu|den|trong|vao) (ngay|thang)\b|\bthuong xuyen\b|\b(hang|moi) (nam|thang|quy|tuan)\b|"
    r"\bdinh ky\b"
)
_YEAR_IN_TEXT = re.compile(r"\b(truoc|tu|den|nam|giai doan) (19|20)\d\d\b")
# "ngày nào", "hôm nào" ask a day: "… năm 2023" names the year of every line of a 2023 plan.
_ASKS_DAY = re.compile(r"\b(ngay|hom) (nao|may)\b")
# A date right after a document's code ("số 4397/KH-SYT ngày 29/9/2023") is when that
# document was issued, not a date the passage sets: "Tuần lễ … tổ chức ngày nào?" is not
# answered by the plan it carries out.
_CITED_DATE = re.compile(
    r"\b(\d+)(?:/\d+)*/[a-z][a-z0-9-]*(?:/[a-z0-9-]+)?\s*,?\s*ngay\s+\d{1,2}"
    r"(?:\s*/\s*\d{1,2}(?:\s*/\s*\d{2,4})?|\s+thang\s+\d{1,2}(?:\s+nam\s+\d{4})?)"
)
# A heading or a line's label that names the kind of fact asked ("2. Thời gian thực hiện:",
# "II. CHỦ ĐỀ, THỜI GIAN TỔ CHỨC") is where a plan states it.
_KIND_NAMES: dict[AnswerType, re.Pattern[str]] = {
    AnswerType.DATE: re.compile(r"\b(thoi gian|thoi han|tien do|lich trinh|moc thoi gian)\b"),
}
_LINE_LABEL = re.compile(r"^\s*(?:[ivxlc]+\.|\d+(?:\.\d+)*[.)]|[a-zđ]\)|[-+•*])?\s*([^:;.]{2,60}):")
MAX_KIND_PASSAGES = 2
_NUMBER_IN_TEXT = re.compile(r"\d|\b(mot|hai|ba|bon|nam|sau|bay|tam|chin|muoi) (lan|ngay|nam)\b")
_WHO_IN_TEXT = re.compile(
    r"\b(so|phong|khoa|trung tam|ttyt|ubnd|uy ban|bo|ban|don vi|benh vien|chu tri|phu trach|"
    r"giao|trach nhiem|giam doc|truong|co quan|hoi dong)\b"
)
_DEFINITION_IN_TEXT = re.compile(r"\b(la|duoc hieu|gom|bao gom|nghia la)\b")

TYPE_BONUS = 0.6  # a sentence with the kind of fact asked for weighs this much more
TYPE_MISSING = 0.45  # a date/number question answered without any date/number weighs this
HEADING_SHARE = 0.5  # a question word found only in the heading counts this much
# A heading that asks the same kind of question ("… từ khi nào?" over a date) marks its
# sentences as the answer to that kind of question (guides are written as questions).
ASKING_HEADING = 1.3
RANK_PRIOR = 0.1  # each rank down the retrieval list costs this share of a sentence's score
# A sentence from another document than the best passage's must be clearly better to win:
# the question chose that document (its unit, its number) through retrieval. Measured
# 0.6/0.4/0.25/0.1/0: ALQAC and ViRHE hit@1 best from 0.25 to 0.1, seeds unchanged.
OTHER_DOC = 0.25
# An item is read with the line that introduces its list ("…thì bị phạt tù từ 07 năm
# đến 15 năm:" over "a) Làm chết 03 người trở lên"); among items sharing one
# introduction, the question words an item has itself weigh this much more.
ITEM_OWN = 0.5
MAX_LIST_ITEMS = 8
MAX_QUOTE_CHARS = 600

_ITEM = re.compile(r"^\s*([-+•*–]|[a-zđ]\)|\d{1,2}[.)](?!\d))\s*")
_BARE_NUMBER = re.compile(r"^\s*(?:\d{1,2}|[a-zđ])[.)]$")
_NUMBERED_HEADING = re.compile(r"^\s*(?:[IVXLC]+|\d+(?:\.\d+)*|[a-zđ])[.)]\s+\S")
_LETTERHEAD = re.compile(
    r"^(so|s6)\s*[:.]?\s*\d+\s*/|,\s*ngay\s+\d+\s+thang\s+\d+\s+nam\s+\d{4}\.?$|"
    r"\bdoc lap\s*-\s*tu do\b|^kinh gui\b|^noi nhan\b"
)
# The national motto heads a letterhead, alone or beside the issuer on one OCR line; a
# sentence about "nước Cộng hòa xã hội chủ nghĩa Việt Nam" is content.
_MOTTO = re.compile(r"(?<!nuoc )\bcong hoa xa hoi\b")
MOTTO_LINE_CHARS = 110
# "Ngọc Lặc, ngày 20 tháng 6 năm 2025": a letterhead line, yet the answer to "ban hành ngày nào?"
_PLACE_DATE = re.compile(r",\s*ngay\s+\d+\s+thang\s+\d+\s+nam\s+\d{4}\.?$")
_PLACE_DATE_TEXT = re.compile(
    r"(?:[A-ZĐÀ-Ỹ][^\W\d_]*\s+){0,3}[A-ZĐÀ-Ỹ][^\W\d_]*,\s*ngày\s+\d+\s+tháng\s+\d+\s+năm\s+\d{4}"
)
_ISSUED = re.compile(r"\b(ban hanh|ky|ra doi|co hieu luc)\b")


@dataclass
class Unit:
    """A sentence of a passage, with where it sits."""

    line: int
    index: int  # position in the passage
    text: str
    item: bool
    label: bool  # ends with ":" (its content follows)


@dataclass
class Quote:
    """A passage's sentence scored for a question, plus the lines it continues into."""

    hit_rank: int
    order: int
    text: str
    score: float
    doc_id: str = ""
    extra: list[str] = field(default_factory=list)
    # An item read with its list's introduction: its own question words and the sibling
    # share its score got, so that a list split over two passages is compared whole.
    item_own: float | None = None
    share: float = 1.0

    @property
    def full(self) -> str:
        return "\n".join([self.text, *self.extra])


def answer_types(question: str) -> set[AnswerType]:
    folded = fold(question)
    return {t for t, p in _TYPE_PATTERNS if p.search(folded)}


def asked_numbers(question: str) -> frozenset[str]:
    return frozenset(re.findall(r"\d+", fold(question)))


def asks_day(question: str) -> bool:
    return bool(_ASKS_DAY.search(fold(question)))


def has_type(
    text: str,
    kind: AnswerType,
    *,
    day: bool = False,
    named: frozenset[str] = frozenset(),
    asked: frozenset[str] = frozenset(),
) -> bool:
    """Whether ``text`` carries the kind of fact.

    With ``day`` ("ngày nào?") a date needs its day, and the date after a
    cited document's code is when that document was issued, a day only when
    the question names the number (``asked``: "Thông tư 26/2025 ban hành ngày
    nào?"). A year in ``named`` (the document's title has it: "Ngày Chuyển đổi
    số quốc gia năm 2024") names the event, it does not date the sentence.
    (Cited dates kept for "khi nào": dropping them there too moved a guide's
    "chưa được xác nhận" line into the sentences the decision reads, measured.)
    """
    folded = fold(text)
    if kind is AnswerType.DATE and day:
        folded = _CITED_DATE.sub(lambda m: m.group(0) if m.group(1) in asked else " ", folded)
    if kind is AnswerType.DATE:
        if _DATE_IN_TEXT.search(folded):
            return True
        return not day and any(m.group(0)[-4:] not in named for m in _YEAR_IN_TEXT.finditer(folded))
    if kind is AnswerType.NUMBER:
        return bool(_NUMBER_IN_TEXT.search(folded))
    if kind is AnswerType.WHO:
        return bool(_WHO_IN_TEXT.search(folded))
    if kind is AnswerType.DEFINITION:
        return bool(_DEFINITION_IN_TEXT.search(folded))
    return False


def names_kind(heading: str, wanted: set[AnswerType], *, label: bool = False) -> bool:
    """A heading (or, with ``label``, a line's "Label:") that names a kind of fact asked."""
    folded = fold(heading)
    if label:
        found = _LINE_LABEL.match(folded)
        if found is None:
            return False
        folded = found.group(1)
    return any(p.search(folded) for kind, p in _KIND_NAMES.items() if kind in wanted)


def kind_hits(
    question: str,
    hits: list[Hit],
    skip_docs: frozenset[str],
    chunks_of: Callable[[str], list[IndexedChunk]],
) -> list[Hit]:
    """The leading document's passages where it states the kind of fact asked, not yet read.

    Every passage of a plan repeats the event's name, so the one headed
    "2. Thời gian thực hiện" can rank far below the five selection reads;
    a date question reads it too (the sentence ranking still decides).
    ``chunks_of`` gives a document's passages in order.
    """
    wanted = answer_types(question)
    if not wanted & _KIND_NAMES.keys():
        return []
    lead = next((h.chunk.doc_id for h in hits if h.chunk.doc_id not in skip_docs), None)
    if lead is None:
        return []
    read = {h.chunk.id for h in hits}
    found = [
        c
        for c in chunks_of(lead)
        if c.id not in read
        and (
            names_kind(c.section.split(" > ")[-1], wanted)
            or any(names_kind(line, wanted, label=True) for line in c.text.splitlines())
        )
    ]
    return [Hit(chunk=c, score=0.0, lexical=0.0, dense=0.0) for c in found[:MAX_KIND_PASSAGES]]


def units(text: str) -> list[Unit]:
    """The sentences of a stored passage, a label ending in ":" kept with what follows on its line."""
    out: list[Unit] = []
    for line_no, line in enumerate(ln for ln in text.splitlines() if ln.strip()):
        pieces = split_sentences(line)
        merged: list[str] = []
        for piece in pieces:
            if merged and _BARE_NUMBER.match(merged[-1]):
                merged[-1] = f"{merged[-1]} {piece}"  # "1." + "Căn cước…" is one item
            elif merged and merged[-1].endswith(":") and len(merged[-1]) < 60:
                merged[-1] = f"{merged[-1]} {piece}"
            else:
                merged.append(piece)
        for i, piece in enumerate(merged):
            out.append(
                Unit(
                    line=line_no,
                    index=len(out),
                    text=piece,
                    item=i == 0 and bool(_ITEM.match(piece)),
                    # an article's title introduces the article's content, as a label does
                    label=piece.rstrip().endswith(":") or _article_title(piece),
                )
            )
    return out


def _article_title(text: str) -> bool:
    """ "Điều 18. Quy trình chấm thi": an article's number and title, no content."""
    text = text.strip()
    return is_article_heading(text) and len(text) < 150 and not text.endswith((".", ";"))


def opening_title(section: str, line: int, text: str) -> bool:
    """A document's first line that is not a sentence ("Tội báo cáo sai") is its title."""
    return (
        section == OPENING_SECTION
        and line == 0
        and len(text) < 150
        and not text.rstrip().endswith((".", ";", ":", "?", "!", "…"))
    )


def _named_by_type(section: str, all_units: list[Unit], at: int) -> bool:
    """The line under "KẾ HOẠCH" ("Tuyên truyền công tác cải cách hành chính …") is the title."""
    text = all_units[at].text.rstrip()
    return (
        section == OPENING_SECTION
        and at > 0
        and is_title(all_units[at - 1].text)
        and len(text) < 200
        and not text.endswith((".", ";", ":", "?", "!", "…"))
    )


def title_only(section: str, text: str) -> bool:
    """A passage that is nothing but its document's title: it stands for what follows it."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return len(lines) == 1 and opening_title(section, 0, lines[0].strip())


def is_title(sentence: str) -> bool:
    """A short all-capitals line ("KẾ HOẠCH", "CỘNG HÒA XÃ HỘI...") is a title."""
    letters = [c for c in sentence if c.isalpha()]
    return len(sentence) < 120 and len(letters) >= 3 and all(c.isupper() for c in letters)


def is_heading_like(sentence: str, headings: set[str], issue_date: bool = False) -> bool:
    """Letterheads, titles and bare headings: never an answer on their own.

    A bare heading is a short numbered line that states nothing ("3. Nội dung
    định hướng"); a numbered line with content after a colon is content.
    """
    text = sentence.strip()
    # A short clause the chunker took for its passage's heading ("1. Luật này có hiệu lực
    # thi hành từ ngày 01 tháng 01 năm 2019.") is still a sentence that states something.
    stated = text.endswith((".", ";")) and len(text.split()) >= 5
    if not text or text.endswith("?") or (text in headings and not stated) or is_title(text):
        return True
    folded = fold(text)
    if _LETTERHEAD.search(folded) or (len(folded) <= MOTTO_LINE_CHARS and _MOTTO.search(folded)):
        return not (issue_date and _PLACE_DATE.search(folded))
    if _article_title(text):
        return True
    return bool(
        _NUMBERED_HEADING.match(text) and len(text) < 70 and not re.search(r"[.;:,]", text[3:])
    )


def content_of(sentence: str) -> str:
    """What a sentence says: without the advice clause of "X is not confirmed: ask Y"."""
    return unconfirmed_subject(sentence) if is_unconfirmed(sentence) else sentence


def _term_weight(term: str, weight: float, lexical: LexicalIndex) -> float:
    # Identifiers the question names ("26/2025", "2733") must be in the
    # sentence that answers, not just somewhere in the passage.
    return lexical.idf(term) * weight * (2.0 if any(c.isdigit() for c in term) else 1.0)


# The word an asking phrase counts in ("ngày" of "ngày nào", "năm" of "năm mấy"): every
# dated sentence has it, so on its own it says nothing about what is asked.
_CUE = re.compile(r"\b(ngay|thang|nam|tuan|gio|luc|hom) (nao|may)\b")


def cue_terms(question: str) -> frozenset[str]:
    """The unit words of the question's asking phrases ("ngày mấy" -> {"ngay"})."""
    return frozenset(m.group(1) for m in _CUE.finditer(fold(question)))


def sentence_score(
    sentence: str,
    section: str,
    weights: dict[str, float],
    lexical: LexicalIndex,
    cues: frozenset[str] = frozenset(),
) -> float:
    """IDF-weighted question terms in the sentence, plus a share of those in its heading.

    Zero when the sentence itself shares nothing with the question but the
    words of its asking phrase: "Nghị định 69 … ngày 25/6/2024" shares only
    "ngày" with "Ngày Chuyển đổi số quốc gia là ngày mấy?".
    """
    present = set(terms(content_of(sentence)))
    heading = set(terms(section))
    own = sum(_term_weight(t, w, lexical) for t, w in weights.items() if t in present)
    if own <= 0 or not any(t in present and t not in cues for t in weights):
        return 0.0
    context = sum(
        _term_weight(t, w, lexical) for t, w in weights.items() if t in heading and t not in present
    )
    return own + HEADING_SHARE * context


def _type_factor(
    text: str,
    wanted: set[AnswerType],
    day: bool = False,
    named: frozenset[str] = frozenset(),
    asked: frozenset[str] = frozenset(),
) -> float:
    factor = 1.0
    for kind in wanted & {AnswerType.DATE, AnswerType.NUMBER, AnswerType.WHO}:
        if has_type(text, kind, day=day, named=named, asked=asked):
            factor *= 1.0 + TYPE_BONUS
        elif kind is not AnswerType.WHO:
            factor *= TYPE_MISSING
    return factor


def _headings(section: str) -> set[str]:
    parts = [p.strip() for p in section.split(" > ") if p.strip()]
    return set(parts) | {p.split(" ", 1)[-1] for p in parts}


def _continuation(all_units: list[Unit], at: int, wanted: set[AnswerType]) -> list[str]:
    """The lines a chosen sentence needs: a label's content, a list's items."""
    unit = all_units[at]
    # a label followed by items introduces a list: the list is its content
    nxt_item = at + 1 < len(all_units) and all_units[at + 1].item
    listy = bool(wanted & {AnswerType.LIST, AnswerType.STEPS}) or (unit.label and nxt_item)
    out: list[str] = []
    size = len(unit.text)
    if unit.label:
        for nxt in all_units[at + 1 :]:
            if size + len(nxt.text) > MAX_QUOTE_CHARS:
                break
            if out and (not listy or not nxt.item):
                break
            out.append(nxt.text)
            size += len(nxt.text)
            if len(out) >= (MAX_LIST_ITEMS if listy else 1):
                break
    elif listy and unit.item:
        # the rest of the list this item belongs to
        for nxt in all_units[at + 1 :]:
            if not nxt.item or size + len(nxt.text) > MAX_QUOTE_CHARS:
                break
            out.append(nxt.text)
            size += len(nxt.text)
            if len(out) >= MAX_LIST_ITEMS - 1:
                break
    return out


def _list_intro(all_units: list[Unit], at: int) -> int:
    """For an item of a list, the index of the line that introduces the list (or the item)."""
    i = at
    while i > 0 and all_units[i - 1].item:
        i -= 1
    if i > 0 and all_units[i - 1].label:
        return i - 1
    return i


def _introduction(all_units: list[Unit], at: int) -> int | None:
    """The label ("…sau đây:") whose list the item at ``at`` belongs to, if any.

    Walks back over the items before it; a numbered clause that is itself a
    label ("2. Phạm tội … thì bị phạt tù từ 07 năm đến 15 năm:") stops the walk.
    """
    unit = all_units[at]
    if not unit.item or unit.label:
        return None
    i = at - 1
    while i >= 0 and all_units[i].item and not all_units[i].label:
        i -= 1
    return i if i >= 0 and all_units[i].label else None


_BULLET = re.compile(r"^\s*[-+•*–]\s*")


def _subject(all_units: list[Unit], at: int) -> int | None:
    """The unit a bullet's duty belongs to: "1. Phòng Hành chính tổng hợp" over "- Là đầu mối …".

    Plans list each unit's duties under a numbered line naming it; asked "who",
    the duty alone ("Là đầu mối tổng hợp, báo cáo …") names nobody.
    """
    unit = all_units[at]
    if not _BULLET.match(unit.text) or has_type(unit.text, AnswerType.WHO):
        return None
    i = at - 1
    while i >= 0 and _BULLET.match(all_units[i].text):
        i -= 1
    if i < 0:
        return None
    head = all_units[i].text.strip()
    if (
        _NUMBERED_HEADING.match(head)
        and len(head) <= 80
        and not head.endswith((".", ";", ":"))
        and has_type(head, AnswerType.WHO)
    ):
        return i
    return None


def trailing_intro(text: str) -> str | None:
    """The label introducing the list a passage ends with, if it ends in one."""
    all_units = units(text)
    i = len(all_units) - 1
    while i >= 0 and all_units[i].item and not all_units[i].label:
        i -= 1
    return all_units[i].text if i >= 0 and all_units[i].label else None


def _carried_intro(all_units: list[Unit], at: int, lead_in: str | None) -> str | None:
    """The previous passage's introduction for an item of a list this passage opens with."""
    unit = all_units[at]
    if lead_in is None or not unit.item or unit.label:
        return None
    if any(not u.item or u.label for u in all_units[:at]):
        return None
    return lead_in


def _sibling_share(own: float, best_own: float) -> float:
    """1.0 for the item of a list that has the most question words itself, less for the others.

    The best item read with its introduction competes with any other sentence
    at its full score; its siblings share the same introduction, so only
    their own words tell them apart.
    """
    if best_own <= 0:
        return 1.0
    return (1.0 + ITEM_OWN * min(own / best_own, 1.0)) / (1.0 + ITEM_OWN)


def _list_items(all_units: list[Unit], intro: int) -> list[int]:
    """The items of the list the label at ``intro`` introduces."""
    out = []
    for i in range(intro + 1, len(all_units)):
        if not all_units[i].item or all_units[i].label:
            break
        out.append(i)
    return out


_SIGNER = re.compile(r"\b(ai|nguoi nao) (da )?ky\b|\bky (ban hanh|ten)\b|\bnguoi ky\b")
# A plan, or a document named by its number: "ký quyết định tốt nghiệp" asks a rule.
_DOCUMENT = re.compile(
    r"\b(ke hoach|kh)\b|"
    r"\b(quyet dinh|van ban|cong van|thong tu|nghi dinh|chi thi|thong bao|qd)\s*(so\s*)?\d"
)
_RECIPIENTS = re.compile(r"^n[o0]i nh\w{0,3}n\s*:")


def asks_signer(question: str) -> bool:
    """ "Ai ký kế hoạch …?" asks a document's signature block ("ai ký quyết định tốt
    nghiệp?" asks a rule)."""
    folded = fold(question)
    return bool(_SIGNER.search(folded) and _DOCUMENT.search(folded))


def _person_name(text: str) -> bool:
    """ "Nguyễn Thanh Bình": two to five capitalised words, nothing else."""
    words = text.split()
    return 2 <= len(words) <= 5 and all(w[:1].isupper() and w.isalpha() for w in words)


def _recipient(all_units: list[Unit], at: int) -> bool:
    """The unit is (part of) an item listed under "Nơi nhận:" ("- Chi ủy; Ban Giám đốc;").

    The signer's name the scan put at the end of the last item's line
    ("- Lưu: VT, VP, KHTH. Nguyễn Thanh Bình") is not.
    """
    first = at
    while first > 0 and all_units[first - 1].line == all_units[at].line:
        first -= 1
    if first < at and _person_name(all_units[at].text):
        return False
    intro = _introduction(all_units, first)
    return intro is not None and bool(_RECIPIENTS.match(fold(all_units[intro].text)))


def asks_issue_date(question: str) -> bool:
    """ "Ban hành ngày nào?": the document's own place-and-date line is then the answer."""
    return AnswerType.DATE in answer_types(question) and bool(_ISSUED.search(fold(question)))


def rank_sentences(
    hits: list[Hit],
    weights: dict[str, float],
    lexical: LexicalIndex,
    question: str = "",
    naming: dict[str, set[str]] | None = None,
    skip_docs: frozenset[str] = frozenset(),
    depth: int = 5,
    titles: dict[str, str] | None = None,
    lead_ins: dict[str, str] | None = None,
    kind_from: int | None = None,
) -> list[Quote]:
    """Every sentence of the top passages that shares a question term, best first.

    ``naming`` maps a document to the question's words that name it ("19",
    "KH-TTYT", "Ngọc Lặc"): they chose the document already, and inside it
    they would make its letterhead win over the sentence that answers. They
    count only when no sentence of that passage matches anything else.
    Passages of ``skip_docs`` (another unit's plan when the question names a
    unit) are not quoted, nor a line of its document's title
    (``titles``: an uploaded guide's first heading is its title, not an answer).
    ``lead_ins`` maps a passage that opens in the middle of a list to the line
    that introduced the list in the passage before it. Hits from ``kind_from``
    on are the leading document's passages headed by the kind of fact asked
    (``kind_passages``): read with the others, they weigh as the last of them.
    """
    wanted = answer_types(question)
    # Siblings of a list share their introduction and often all but one word: "một tháng"
    # and "nửa tháng" differ by a word retrieval ignores, so the question's own word pairs
    # tell them apart.
    phrasing = {t: 1.0 for t in terms(question) if "_" in t and t not in weights}
    asked_marked = set(marked_terms(question)) if has_diacritics(question) else None
    issue_date = asks_issue_date(question)
    day = asks_day(question)
    numbers = asked_numbers(question)
    cues = cue_terms(question)
    signer = asks_signer(question)
    quotes: list[Quote] = []
    lead = next((h.chunk.doc_id for h in hits[:depth] if h.chunk.doc_id not in skip_docs), None)
    for rank, hit in enumerate(hits[:depth]):
        if hit.chunk.doc_id in skip_docs:
            continue
        prior = 1.0 - RANK_PRIOR * (rank if kind_from is None else min(rank, kind_from - 1))
        if hit.chunk.doc_id != lead:
            prior *= OTHER_DOC
        last_heading = hit.chunk.section.split(" > ")[-1]
        asking = last_heading.rstrip().endswith("?") and wanted & answer_types(last_heading)
        if asking or names_kind(last_heading, wanted):
            prior *= ASKING_HEADING
        headings = _headings(hit.chunk.section)
        signing = hit.chunk.section.endswith(SIGNATURE_SECTION)
        title = " ".join(tokens((titles or {}).get(hit.chunk.doc_id, "")))
        title_years = frozenset(years_in(title))
        own = {
            t: w for t, w in weights.items() if t not in (naming or {}).get(hit.chunk.doc_id, ())
        }
        all_units = units(hit.chunk.text)
        scored: list[Quote] = []
        for use in (own, weights) if len(own) < len(weights) else (weights,):
            for unit in all_units:
                titled = (
                    unit.label and _article_title(unit.text) and unit.index + 1 < len(all_units)
                )
                if is_heading_like(unit.text, headings, issue_date) and not titled:
                    continue  # an article's title is quoted only with what it introduces
                if opening_title(hit.chunk.section, unit.line, unit.text) or _named_by_type(
                    hit.chunk.section, all_units, unit.index
                ):
                    continue
                # The document's own title line ("Hướng dẫn nhận thẻ xanh", or "Triển khai
                # Phong trào …" under "KẾ HOẠCH" when the title says "Kế hoạch triển khai …")
                # is no answer.
                line = fold(unit.text).strip()
                if (
                    title
                    and len(line) >= 12
                    and not line.endswith((".", ";", ":"))
                    and f" {' '.join(tokens(line))} " in f" {title} "
                ):
                    continue
                extra = _continuation(all_units, unit.index, wanted)
                text = unit.text
                listy = bool(wanted & {AnswerType.LIST, AnswerType.STEPS})
                if wanted & {AnswerType.LIST, AnswerType.STEPS} and unit.item and not unit.label:
                    start = _list_intro(all_units, unit.index)
                    if start < unit.index:
                        # quote the list from its introduction
                        text = all_units[start].text
                        extra = [u.text for u in all_units[start + 1 : unit.index]] + [
                            unit.text,
                            *extra,
                        ]
                        extra = _trim(text, extra)
                intro = None if listy else _introduction(all_units, unit.index)
                if signer and (not signing or _recipient(all_units, unit.index)):
                    continue  # who signed is in the signature block; a recipient did not sign
                if intro is not None and is_heading_like(all_units[intro].text, headings):
                    intro = None  # "Nơi nhận:" introduces a distribution list, not a fact
                if intro is None and not listy and AnswerType.WHO in wanted:
                    intro = _subject(all_units, unit.index)
                carried = (
                    None
                    if listy or intro is not None
                    else _carried_intro(all_units, unit.index, (lead_ins or {}).get(hit.chunk.id))
                )
                if intro is not None:
                    # the item with its introduction, the items between left out
                    text = all_units[intro].text
                    extra = (["…"] if unit.index > intro + 1 else []) + [unit.text]
                elif carried is not None:
                    # the list began in the passage before this one
                    text, extra = carried, ["…", unit.text]
                body = " ".join([text, *extra])
                dated_line = issue_date and bool(_PLACE_DATE.search(fold(unit.text)))
                score = sentence_score(
                    body if unit.label or intro is not None or carried is not None else unit.text,
                    hit.chunk.section,
                    weights if dated_line else use,
                    lexical,
                    cues,
                )
                if signer and signing and _person_name(unit.text):
                    # the signer's name shares no word with "Ai ký kế hoạch 2948?": the
                    # signature block's heading speaks for it
                    score = sentence_score(
                        f"{hit.chunk.section}: {unit.text}", "", use, lexical, cues
                    )
                if (intro is not None or carried is not None) and score > 0:
                    members = (
                        _list_items(all_units, intro)
                        if intro is not None
                        else _list_items(all_units, -1)
                    )
                    by_item = {
                        i: _item_score(all_units[i].text, use | phrasing, lexical, asked_marked)
                        for i in members
                    }
                    item_own = by_item.get(unit.index, 0.0)
                    share = _sibling_share(item_own, max(by_item.values(), default=0.0))
                    score *= share
                elif unit.label and extra and _ITEM.match(extra[0]) and not listy:
                    # a list's introduction read with its first item is that item's quote
                    item_own = _item_score(extra[0], use | phrasing, lexical, asked_marked)
                    share = 1.0
                else:
                    item_own, share = None, 1.0
                if dated_line:
                    score *= 2.0  # the document's own date line answers "ban hành ngày nào?"
                    found = _PLACE_DATE_TEXT.search(unit.text)
                    text = found.group(0) if found else text
                if score <= 0:
                    continue
                score *= _type_factor(body, wanted, day, title_years, numbers)
                if names_kind(unit.text, wanted, label=True) and not names_kind(
                    last_heading, wanted
                ):
                    score *= ASKING_HEADING  # "2. Thời gian thực hiện: Từ ngày …"
                length_penalty = 1.0 + max(len(body) - 300, 0) / 600
                if wanted & {AnswerType.LIST, AnswerType.STEPS}:
                    length_penalty = 1.0 + max(len(body) - MAX_QUOTE_CHARS, 0) / 600
                scored.append(
                    Quote(
                        rank,
                        unit.index,
                        text,
                        prior * score / length_penalty,
                        hit.chunk.doc_id,
                        extra,
                        item_own,
                        share,
                    )
                )
            if scored:
                break
        quotes.extend(scored)
    _share_across_passages(quotes)
    quotes.sort(key=lambda q: q.score, reverse=True)
    return quotes


def _item_score(
    text: str, weights: dict[str, float], lexical: LexicalIndex, asked_marked: set[str] | None
) -> float:
    """An item's own question words; with the marks the question was typed with, if any.

    Siblings differ by a word or two, and folding merges words ("cố ý" and "có",
    "đâu" and "đấu"): typed marks tell them apart.
    """
    if asked_marked is None:
        present = set(terms(content_of(text)))
    else:
        present = {fold(t) for t in marked_terms(content_of(text)) if t in asked_marked}
    return sum(_term_weight(t, w, lexical) for t, w in weights.items() if t in present)


def _share_across_passages(quotes: list[Quote]) -> None:
    """Items of one list, in two passages, are told apart by their own words.

    "1. … một năm, nửa năm, một giờ … được tính như sau: a) Một năm là …" and the
    next passage's "e) Một giờ là sáu mươi phút" share the introduction; the
    sibling share computed inside each passage made both their list's best.
    """
    best: dict[tuple[str, str], float] = {}
    for q in quotes:
        if q.item_own is not None:
            key = (q.doc_id, q.text)
            best[key] = max(best.get(key, 0.0), q.item_own)
    for q in quotes:
        if q.item_own is None or q.share <= 0:
            continue
        top = best.get((q.doc_id, q.text), 0.0)
        if top > 0:
            q.score = q.score / q.share * _sibling_share(q.item_own, top)


def within_topic(full: list[Quote], topical: list[Quote]) -> list[Quote]:
    """Documents compete on every word; inside one, sentences on the words that are not its topic.

    ``topical`` ranks the same sentences with the words of each document's
    topic title left out. A document keeps the score its best sentence has
    in ``full`` (leaving its topic out would make the document that the
    question is about lose to the others); its sentences are ordered by
    ``topical``, where the clause that names the asked condition beats the
    first clause that only repeats the topic.
    """
    best_full: dict[str, float] = {}
    for q in full:
        best_full[q.doc_id] = max(best_full.get(q.doc_id, 0.0), q.score)
    best_topical: dict[str, float] = {}
    for q in topical:
        best_topical[q.doc_id] = max(best_topical.get(q.doc_id, 0.0), q.score)
    out = [
        replace(q, score=best_full[q.doc_id] * q.score / best_topical[q.doc_id])
        for q in topical
        if best_full.get(q.doc_id) and best_topical[q.doc_id] > 0
    ]
    out += [q for q in full if q.doc_id not in best_topical]
    out.sort(key=lambda q: q.score, reverse=True)
    return out


def _trim(first: str, extra: list[str]) -> list[str]:
    size = len(first)
    out: list[str] = []
    for line in extra:
        if size + len(line) > MAX_QUOTE_CHARS or len(out) >= MAX_LIST_ITEMS:
            break
        out.append(line)
        size += len(line)
    return out


_ASKS = re.compile(r"\b(gi|nao|ai|may|bao|sao|dau|khong)\b")
_SPLIT = re.compile(r"\?\s+(?=\S)|\s(?:va|con)\s")


def _asks(folded: str) -> bool:
    return bool(_ASKS.search(folded) or answer_types(folded))


def question_parts(question: str) -> list[str]:
    """A question with two asks ("… ngày nào và đăng nhập bằng gì?") split in two; else itself."""
    folded = fold(question)
    if len(folded) != len(question):
        return [question]  # offsets would not line up (not NFC): keep it whole
    for m in _SPLIT.finditer(folded):
        left, right = folded[: m.start()], folded[m.end() :]
        if len(left) > 8 and len(right) > 8 and _asks(left) and _asks(right):
            return [question[: m.start()].strip(" ,?"), question[m.end() :].strip()]
    return [question]


def choose(
    ranked_by_part: list[list[Quote]],
) -> list[Quote]:
    """One quote per part of the question: the best; a second only for a second part.

    Two parts answered by the same sentence are quoted once. Quotes keep the
    order of the question's parts, so another document never comes first.
    """
    chosen: list[Quote] = []
    for ranked in ranked_by_part:
        for q in ranked:
            if any(c.hit_rank == q.hit_rank and c.order == q.order for c in chosen):
                break
            chosen.append(q)
            break
    return chosen


COMPLEMENT_MISSING = 0.1  # share of the weight the document could bring that the first quote lacks
COMPLEMENT_FOUND = 0.5  # share of that missing weight a second sentence must bring


def complement(
    ranked: list[Quote],
    first: Quote,
    weights: dict[str, float],
    lexical: LexicalIndex,
    wanted: frozenset[AnswerType] = frozenset(),
    day: bool = False,
    named: frozenset[str] = frozenset(),
    asked: frozenset[str] = frozenset(),
) -> Quote | None:
    """A sentence of the same document that has what the first quote lacks, if one does.

    "Cố ý báo cáo sai … trong trường hợp chiến đấu thì bị phạt tù bao nhiêu năm?":
    the article's first clause repeats the description, the clause that
    names the condition ("a) Trong chiến đấu;" under "2. … từ 02 năm đến 07
    năm:") has the answer, often in the article's next passage. Both are quoted,
    first the passage retrieval ranked higher.
    """
    same_doc = [q for q in ranked if q.doc_id == first.doc_id]
    # A question word no sentence of the document has (a word pair across a phrase
    # boundary, "bao lâu") can be brought by no second sentence: it does not count.
    in_doc = set().union(*(terms(content_of(q.full)) for q in same_doc)) if same_doc else set()
    weights = {t: w for t, w in weights.items() if t in in_doc}
    total = sum(_term_weight(t, w, lexical) for t, w in weights.items())
    have = set(terms(content_of(first.full)))
    missing = {t: w for t, w in weights.items() if t not in have}
    missing_weight = sum(_term_weight(t, w, lexical) for t, w in missing.items())
    if total <= 0 or missing_weight < COMPLEMENT_MISSING * total:
        return None
    best, best_found = None, 0.0
    for quote in same_doc:
        if (quote.hit_rank, quote.order) == (first.hit_rank, first.order):
            continue
        if quote.text == first.text and quote.extra == first.extra:
            continue
        if any(
            not has_type(quote.full, k, day=day, named=named, asked=asked)
            for k in wanted & {AnswerType.DATE, AnswerType.NUMBER}
        ):
            continue  # the second block answers what is asked too, or it is not quoted
        present = set(terms(content_of(quote.full)))
        found = sum(_term_weight(t, w, lexical) for t, w in missing.items() if t in present)
        if found >= COMPLEMENT_FOUND * missing_weight and found > best_found:
            best, best_found = quote, found
    return best
