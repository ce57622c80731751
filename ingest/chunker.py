"""Structure-aware chunking of Vietnamese administrative documents.

Plans are built from headings ``I.``, ``1.``, ``1.1.``, ``a)`` with list items
``-`` and ``+``. A chunk never spans two top-level sections, keeps the path of
headings it sits under (shown in citations), and prefers to break between list
items so a quoted passage reads as a whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.text import OPENING_SECTION, fold

MAX_CHARS = 1100
TARGET_CHARS = 700
MIN_CHARS = 220

_ROMAN = re.compile(r"^([IVX][IVXl1]{0,4}|[1l][IVX][IVXl1]{0,3})\s?\.\s*(\S.*)$")
_SUB = re.compile(r"^(\d{1,2}\.\d{1,2}(?:\.\d{1,2})?)\.?\s+(\S.*)$")
_NUM = re.compile(r"^(\d{1,2})\.\s+(\S.*)$")
_MD_HEADING = re.compile(r"^(#{1,6})\s+(\S.*)$")
_LETTER = re.compile(r"^([a-zđ])\)\s+(\S.*)$")
# Decisions and regulations: "Chương II. ...", "Phần I", "Điều 3. ..." (matched folded).
_CHAPTER = re.compile(r"^(chuong|phan)\s+([ivxlc]+|\d{1,2})(\s*[.:\-–]|\s*$|\s+\S)")
_BARE_CHAPTER = re.compile(r"^(chuong|phan)\s+([ivxlc]+|\d{1,2})\s*$")
_ARTICLE = re.compile(r"^dieu\s+\d{1,3}\s*([.:]|$)")
_ITEM = re.compile(r"^([-+•*–]|\d{1,2}[.)]|[a-zđ]\))\s")
_RULE = re.compile(r"[-–—_=*.\s]{3,}|\d{1,3}")


_SIGNATURE = re.compile(r"^n[o0]i nh\w{0,3}n\s*:")
SIGNATURE_SECTION = "Nơi nhận và người ký"


@dataclass
class ChunkDraft:
    section: str
    text: str


def _is_upper(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(c.isupper() for c in letters) / len(letters) > 0.7


def is_article_heading(line: str) -> bool:
    """A decision's or regulation's "Điều 3. …", "Chương II. …" or "Phần I" line."""
    folded = fold(line[:40]).lower()
    return bool(_ARTICLE.match(folded) or (len(line) < 150 and _CHAPTER.match(folded)))


def heading_level(line: str, markdown: bool = False) -> tuple[int, str] | None:
    """Heading level and its label: 1 roman numeral or chapter, 2 article
    ("Điều 3."), 3 number, 4 sub-number, 5 letter. Only the order matters.

    In Markdown only ``#`` lines are headings; numbered lines are steps.
    """
    md = _MD_HEADING.match(line)
    if md:
        return len(md.group(1)), md.group(2).strip()
    if markdown:
        return None
    m = _ROMAN.match(line)
    if m and _is_upper(m.group(2)[:20]):
        return 1, line
    folded = fold(line[:40]).lower()
    if len(line) < 150 and _CHAPTER.match(folded):
        return 1, line
    if _ARTICLE.match(folded):
        return 2, line
    if _SUB.match(line):
        return 4, line
    if _NUM.match(line):
        return 3, line
    if _LETTER.match(line):
        return 5, line
    return None


_SENT_END_CHARS = frozenset('.;:!?…”"')
# Only short paragraphs can be headings, bare chapter labels or upper-case titles,
# so the tests below never look at more than this many characters of a paragraph.
_SHORT = 150


class _Paragraph:
    """A paragraph being built from wrapped lines, with what ``reflow`` asks of it.

    Joining strings line by line and re-testing the growing paragraph made
    reflow quadratic (200 KB without punctuation took two minutes); here the
    lines are kept in a list and each test looks at a bounded part only.
    """

    def __init__(self, first: str, markdown: bool) -> None:
        self.lines: list[str] = []
        self.size = -1
        self.last = first
        self.letters = self.uppers = 0
        self.markdown = markdown
        # A Markdown heading is decided by its first line, whatever joins it.
        self.md_heading = markdown and heading_level(first, markdown) is not None
        self.add(first)

    def add(self, line: str) -> None:
        self.lines.append(line)
        self.size += len(line) + 1
        self.last = line
        letters = [c for c in line if c.isalpha()]
        self.letters += len(letters)
        self.uppers += sum(c.isupper() for c in letters)

    def is_upper(self) -> bool:
        """Same as ``_is_upper(self.text())``, counted as lines are added."""
        return bool(self.letters) and self.uppers / self.letters > 0.7

    def text(self) -> str:
        return " ".join(self.lines)

    def head(self) -> str | None:
        """The whole paragraph when it is short enough to be a heading or title."""
        return self.text() if self.size <= _SHORT else None

    def is_heading(self) -> bool:
        if self.markdown:
            return self.md_heading
        head = self.head()
        return head is not None and heading_level(head, False) is not None


_TABLE_CELL = " | "
# The preamble of an administrative document opens each basis on a new line
# ("Căn cứ Luật …", "Thực hiện Kế hoạch số …"), right after the title, which
# ends without punctuation: it is the title's end, not a wrapped line of it.
_PREAMBLE = re.compile(r"^(Căn cứ|Thực hiện|Xét đề nghị|Theo đề nghị)\s")


def reflow(text: str, markdown: bool = False) -> list[str]:
    """Join hard-wrapped lines into paragraphs, one paragraph or item per line.

    Extracted text wraps mid-sentence and sometimes puts a blank line between
    every wrapped line, so blank lines alone are not paragraph breaks. Linear
    in the size of the text.
    """
    paragraphs: list[_Paragraph] = []
    for raw_line in text.replace("\f", "\n").splitlines():
        line = " ".join(raw_line.split())
        if not line or _RULE.fullmatch(line):
            continue
        if not paragraphs:
            paragraphs.append(_Paragraph(line, markdown))
            continue
        prev = paragraphs[-1]
        head = prev.head()
        if (
            head is not None
            and len(head) < 30
            and _BARE_CHAPTER.match(fold(head).lower())
            and len(line) < 90
            and _is_upper(line)
        ):
            paragraphs[-1] = _Paragraph(f"{head}. {line}", markdown)  # "Chương I" + "QUY ĐỊNH"
            continue
        starts_new = bool(
            _ITEM.match(line)
            or heading_level(line, markdown)
            or prev.last[-1] in _SENT_END_CHARS
            or ((markdown or prev.size < 45) and prev.is_heading())
            or (prev.size < 90 and prev.is_upper())
            or (len(line) < 90 and _is_upper(line) and not prev.is_upper())
            # A table row written as cells ("4.5 | task | unit") is a record of
            # its own: joining rows would quote two tasks as one.
            or _TABLE_CELL in line
            or _TABLE_CELL in prev.last
            or (prev.size < _SHORT and _PREAMBLE.match(line) is not None)
        )
        if starts_new:
            paragraphs.append(_Paragraph(line, markdown))
        else:
            prev.add(line)
    return [p.text() for p in paragraphs]


def _drop_repeated(paragraphs: list[str]) -> list[str]:
    """Drop paragraphs already seen in the document (a plan pasted twice).

    Short lines such as headings are kept so the second copy's changed
    paragraphs still sit under their section.
    """
    seen: set[str] = set()
    out: list[str] = []
    for para in paragraphs:
        key = fold(para)
        if len(key) >= 30:
            if key in seen:
                continue
            seen.add(key)
        out.append(para)
    return out


def _clip(label: str, limit: int = 200) -> str:
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def _short(label: str, limit: int = 70) -> str:
    marker, _, rest = label.strip().partition(" ")
    rest = re.split(r"(?<=\w)[.:;](?=\s)", rest, maxsplit=1)[0]
    label = f"{marker} {rest}".strip().rstrip(":")
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


_SENTENCE_BREAK = re.compile(r"(?<=[.;])\s+")


def _words_window(text: str, size: int) -> list[str]:
    """Cut a passage with no sentence punctuation at spaces into parts ≤ ``size``.

    A word longer than ``size`` (a pasted hash, a URL) is cut where it must.
    """
    parts: list[str] = []
    current: list[str] = []
    length = 0
    for word in text.split():
        while len(word) > size:
            if current:
                parts.append(" ".join(current))
                current, length = [], 0
            parts.append(word[:size])
            word = word[size:]
        if current and length + 1 + len(word) > size:
            parts.append(" ".join(current))
            current, length = [], 0
        current.append(word)
        length += len(word) + (1 if length else 0)
    if current:
        parts.append(" ".join(current))
    return parts


def _bounded_parts(line: str) -> list[str]:
    """``line`` cut at sentence ends, then at spaces, so no part exceeds MAX_CHARS."""
    if len(line) <= MAX_CHARS:
        return [line]
    parts: list[str] = []
    for sentence in _SENTENCE_BREAK.split(line):
        if len(sentence) <= MAX_CHARS:
            if sentence:
                parts.append(sentence)
        else:
            parts.extend(_words_window(sentence, TARGET_CHARS))
    return parts


def _split_long(lines: list[str]) -> list[list[str]]:
    """Split a block at item boundaries, sentences, then spaces into pieces ≤ MAX_CHARS."""
    pieces: list[list[str]] = [[]]
    size = 0
    for line in lines:
        for part in _bounded_parts(line):
            if size and size + len(part) > TARGET_CHARS:
                pieces.append([])
                size = 0
            pieces[-1].append(part)
            size += len(part) + 1
    return [p for p in pieces if p]


def chunk_document(text: str, markdown: bool = False) -> list[ChunkDraft]:
    """Turn a document into section-aware chunks (duplicates removed later)."""
    paragraphs = _drop_repeated(reflow(text, markdown))
    blocks: list[tuple[list[tuple[int, str]], list[str]]] = []
    path: list[tuple[int, str]] = []
    current: list[str] = []
    for para in paragraphs:
        if _SIGNATURE.match(fold(para[:40])):
            # "Nơi nhận" starts the distribution list and signature block.
            if current:
                blocks.append((list(path), current))
            path, current = [(1, SIGNATURE_SECTION)], [para]
            continue
        level = heading_level(para, markdown)
        if markdown and level is not None and level[0] == 1:
            continue  # a guide's "# Title" is the document title, not a section
        if path[:1] == [(1, SIGNATURE_SECTION)] and (level is None or level[0] != 1):
            # Inside the signature block only a new top-level heading (a second
            # copy of the plan, an annex) ends it.
            level = None
            if len(current) >= 12:
                blocks.append((list(path), current))
                path, current = [(1, "Phụ lục")], []
        if level is not None:
            if current:
                blocks.append((list(path), current))
            current = []
            lvl, label = level
            while path and path[-1][0] >= lvl:
                path.pop()
            path.append((lvl, _clip(label) if markdown else _short(label)))
            if markdown:
                para = label  # show "Tiêu đề", not "## Tiêu đề"
        current.append(para)
    if current:
        blocks.append((list(path), current))

    drafts: list[ChunkDraft] = []
    pending: tuple[list[tuple[int, str]], list[str]] | None = None

    def section_of(p: list[tuple[int, str]]) -> str:
        return " > ".join(label for _, label in p) if p else OPENING_SECTION

    def emit(p: list[tuple[int, str]], lines: list[str]) -> None:
        for piece in _split_long(lines):
            drafts.append(ChunkDraft(section=section_of(p), text="\n".join(piece)))

    for block_path, lines in blocks:
        if pending is not None:
            same_top = pending[0][:1] == block_path[:1]
            size = sum(len(x) for x in pending[1])
            if same_top and size < MIN_CHARS and size + sum(len(x) for x in lines) <= MAX_CHARS:
                # A merged chunk is cited by the sections both parts share.
                shared = 0
                while (
                    shared < min(len(pending[0]), len(block_path))
                    and pending[0][shared] == block_path[shared]
                ):
                    shared += 1
                pending = (pending[0][:shared], pending[1] + lines)
                continue
            emit(*pending)
        pending = (block_path, lines)
    if pending is not None:
        emit(*pending)
    return [d for d in drafts if fold(d.text).strip()]
