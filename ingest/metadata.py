"""Document metadata from the header of a Vietnamese administrative document.

Plans start with a letterhead (issuing body), ``Số: 789/KH-TTYT``, a place
and date line, then ``KẾ HOẠCH`` and the subject. OCR damage ("S6:2948
|KH-SYT", "ngay05 thing 6 nam 2026") is tolerated by matching folded text.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

from bot.text import fold

_NUMBER = re.compile(r"\bs[o6ô]\s*:\s*(\d{1,6})?\s*[/|]\s*([a-z0-9đ]+(?:\s*-\s*[a-z0-9đ]+)*)", re.I)
_DATE = re.compile(r"ngay\s*(\d{1,2})?\s*th\w{0,3}ng\s*(\d{1,2})?\s*n\w{0,2}m\s*(\d{4})")
_DOC_TYPES = ("ke hoach", "quyet dinh", "cong van", "thong bao", "huong dan", "bao cao", "chi thi")
_ISSUER_HINT = re.compile(
    r"^(uy ban|ubnd|so y te|soy te|trung tam|benh vien|ttyt|bo y te|phong|tinh uy|dang uy)", re.I
)
_BODY_ISSUER = re.compile(
    r"((?:Bệnh viện|Trung tâm Y tế|Sở Y tế|TTYT)(?:[ \t]+\S+){1,5}?)[ \t]+(?:ban hành|tổ chức|xây dựng)"
)
_STOP_TITLE = re.compile(r"^(can cu|cin cu|cian ctr|thuc hien|thyc hign|nham|-{3,}|i\.)", re.I)


@dataclass
class DocMeta:
    """Parsed header fields; any may be missing on informal documents."""

    title: str = ""
    number: str | None = None
    issuer: str | None = None
    issued_date: str | None = None
    profile: str = ""  # words that name the document (issuer, place, number, title)
    extra: dict[str, object] = field(default_factory=dict)


def _title_case_heading(line: str) -> str:
    words = line.strip().split()
    if not words:
        return ""
    if line.upper() == line:
        text = line.strip().lower()
        return text[:1].upper() + text[1:]
    return line.strip()


def _heading_title(lines: list[str]) -> str:
    """The first heading-like line of an informal document (a regulation, a memo).

    Uploaded files are often not plans ("QUY ĐỊNH TRỰC ĐÊM ..."), and a title
    read from the text names them far better than the file name does.
    Letterhead and motto lines are skipped.
    """
    for line in lines:
        text = re.sub(r"^#{1,6}\s+", "", line).strip()
        folded = fold(text)
        if not text or _ISSUER_HINT.match(folded) or folded.startswith(("cong hoa", "doc lap")):
            continue
        if _NUMBER.search(folded) or _DATE.search(folded):
            continue
        heading = line.startswith("#") or (text.upper() == text and any(c.isalpha() for c in text))
        if heading and 4 <= len(text) <= 150:
            return _title_case_heading(text)
        break
    return ""


_PLAIN_TITLE_START = re.compile(r"^([-+•*–]|\d|[a-zđ]\)|[IVX]+\.)", re.I)


def _plain_title(text: str) -> str:
    """A first line set apart by a blank line, as a statute's article title is.

    "Tội trồng cây thuốc phiện …" above the clauses of its article names the
    document far better than the file name, and its words are then known to
    name the document rather than to answer in one of its clauses.
    """
    head = text.lstrip("\ufeff").lstrip("\n").split("\n", 2)
    if len(head) < 3 or head[1].strip() or not head[2].strip():
        return ""
    line = head[0].strip()
    if not 4 <= len(line) <= 150 or line.endswith((".", ";", ":", ",")):
        return ""
    if _PLAIN_TITLE_START.match(line) or not any(c.isalpha() for c in line):
        return ""
    return line


def _letterhead_line(line: str, *, numbered: bool) -> bool:
    """Whether a line naming a body ("Phòng …", "Trung tâm …") is a letterhead.

    A letterhead names the issuer in a short line, in capitals or above the
    ``Số:`` line. A statute's article title ("Phòng vệ chính đáng") or a
    regulation's sentence ("Phòng Đào tạo … thông báo …") starts with the
    same words and is not the issuer: taken as one, its words were treated as
    naming the document and left out of the ranking of its sentences.
    """
    text = line.strip()
    if len(text) > 80 or text.endswith((".", ":", ";")):
        return False
    letters = [c for c in text if c.isalpha()]
    capitals = sum(c.isupper() for c in letters) / max(1, len(letters))
    return numbered or capitals >= 0.8


def parse_header(text: str, path: Path) -> DocMeta:
    """Extract number, issuer, date and title from the first lines."""
    # The header is in the first lines; long lines are cut so a file of one
    # huge line cannot make a huge title.
    lines = list(itertools.islice((ln.strip()[:300] for ln in text.splitlines() if ln.strip()), 40))
    meta = DocMeta()
    head = "\n".join(lines[:15])
    folded_head = fold(head)

    m = _NUMBER.search(folded_head)
    if m:
        kind = re.sub(r"\s+", "", m.group(2)).upper()
        kind = kind.replace("TTVT", "TTYT")  # frequent OCR confusion of Y/V
        meta.number = f"{m.group(1)}/{kind}" if m.group(1) else f"/{kind}"

    d = _DATE.search(folded_head)
    if d:
        day, month, year = d.groups()
        if day and month:
            meta.issued_date = f"{int(year):04d}-{int(month):02d}-{int(day):02d}"
        else:
            meta.issued_date = year

    issuer_lines: list[str] = []
    for ln in lines[:8]:
        f = fold(ln)
        if _NUMBER.search(f):
            break
        if f.startswith(("cong hoa", "doc lap")):
            continue
        if _ISSUER_HINT.match(f) and _letterhead_line(ln, numbered=m is not None):
            part = re.split(r"\s{2,}|CỘNG|CONG HOA|[DPĐ][oộ]c [1l][aậ]p", ln)[0].strip()
            if part:
                issuer_lines.append(part)
    if issuer_lines:
        meta.issuer = " – ".join(issuer_lines[-2:]) if len(issuer_lines) > 1 else issuer_lines[0]
    else:
        body = _BODY_ISSUER.search(text[:3000])
        if body:
            meta.issuer = body.group(1).strip()

    for i, ln in enumerate(lines):
        f = fold(ln)
        if any(f.startswith(t) for t in _DOC_TYPES) and len(f) < 60:
            parts = [_title_case_heading(ln)]
            for nxt in lines[i + 1 : i + 4]:
                fn = fold(nxt)
                if _STOP_TITLE.match(fn) or fn.startswith("-"):
                    break
                parts.append(nxt.strip())
            meta.title = re.sub(r"\s+", " ", " ".join(parts)).strip(" -")
            break
    if not meta.title:
        meta.title = _heading_title(lines[:6])
    if not meta.title:
        # An article's title names its topic, not the document: it is not part of the
        # profile that matches a document by its name (issuer, number, place).
        topic = _plain_title(text)
        meta.title = topic or path.stem.replace("-", " ").replace("_", " ")
        if topic:
            meta.extra["topic_title"] = True

    stem_words = re.sub(r"[-_]+", " ", path.stem)
    meta.profile = " ".join(
        x
        for x in (
            stem_words,
            meta.issuer or "",
            meta.number or "",
            "" if meta.extra.get("topic_title") else meta.title,
        )
        if x
    )
    return meta
