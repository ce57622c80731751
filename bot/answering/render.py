"""Answers a phone screen can hold: the fact, the quote, one citation line per source.

Staff read answers on a phone. The quoted fact comes first; then, once, a
note when a quoted deadline has passed (relative to today's date, injected
for tests) and the scan disclaimer; then "Nguồn" once, with one short line
per source: the plan's number (or the guide's title) and the section, and a
guide's web sources by publisher. Inline "(Nguồn: …)" attributions of guide
sentences move into that line, so the quote is the fact alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING

from bot.answering.types import Answer, Source

if TYPE_CHECKING:  # the selection module pulls in retrieval: not for every CLI start
    from bot.answering.selection import Quote

SCAN_NOTE = "(Trích từ bản quét nên có thể thiếu dấu hoặc sai chính tả.)"
MAX_SECTION = 60
MAX_TITLE = 60

_INLINE_SOURCE = re.compile(r"\s*\((?:Nguồn|Nguon|Theo)\s*:\s*([^()]*(?:\([^()]*\)[^()]*)*)\)")
_DATE = re.compile(
    r"\b(\d{1,2})/(\d{1,2})/((?:19|20)\d\d)\b|"
    r"\bngày\s+(\d{1,2})\s+tháng\s+(\d{1,2})\s+năm\s+((?:19|20)\d\d)\b",
    re.IGNORECASE,
)


def split_inline_sources(text: str) -> tuple[str, list[str]]:
    """A guide sentence without its "(Nguồn: …)" parentheses, and what they named."""
    found = [m.group(1).strip() for m in _INLINE_SOURCE.finditer(text)]
    cleaned = _INLINE_SOURCE.sub("", text).strip()
    if cleaned.endswith(".") is False and text.rstrip().endswith(")."):
        cleaned += "."
    return cleaned, found


def dates_in(text: str) -> list[tuple[str, date]]:
    """Full dates written in a quote ("1/10/2025", "ngày 01 tháng 10 năm 2024")."""
    out: list[tuple[str, date]] = []
    for m in _DATE.finditer(text):
        day, month, year = (m.group(1), m.group(2), m.group(3)) if m.group(1) else m.group(4, 5, 6)
        try:
            out.append((m.group(0), date(int(year), int(month), int(day))))
        except ValueError:
            continue
    return out


def passed_note(quoted: str, today: date) -> str | None:
    """ "Mốc … đã qua" when every date quoted is before today; which ones when only some are."""
    found = dates_in(quoted)
    if not found:
        return None
    passed = [d for d in found if d[1] < today]
    today_vi = f"{today.day}/{today.month}/{today.year}"
    if not passed:
        return None
    if len(passed) == len(found):
        if len(found) == 1:
            return f"(Mốc này đã qua — hôm nay là {today_vi}.)"
        return f"(Các mốc này đã qua — hôm nay là {today_vi}.)"
    names = ", ".join(dict.fromkeys(f"{d.day}/{d.month}/{d.year}" for _, d in passed))
    return f"(Đã qua: {names} — hôm nay là {today_vi}.)"


def short_section(section: str) -> str:
    """The last heading of a section path, without a trailing "?"/":" and cut to fit a phone."""
    last = section.split(" > ")[-1].strip().rstrip(":").strip()
    if len(last) > MAX_SECTION:
        last = last[: MAX_SECTION - 1].rsplit(" ", 1)[0] + "…"
    return last


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def citation(source: Source, origins: Iterable[str] = ()) -> str:
    """One compact line: "Kế hoạch 2948/KH-SYT, mục …" or "Hướng dẫn “…”, mục … (theo kenh14.vn)"."""
    number = str(source.meta.get("number") or "")
    if source.kind == "guide":
        line = f"Hướng dẫn “{_short(source.title, MAX_TITLE)}”"
    elif any(ch.isdigit() for ch in number):
        line = f"Kế hoạch {number}" if "KH" in number.upper() else f"Văn bản {number}"
    else:
        line = _short(source.title, MAX_TITLE) or source.doc_id
    if source.section:
        line += f", mục “{short_section(source.section)}”"
    extras = list(dict.fromkeys(o for o in origins if o))
    if source.kind == "guide":
        if not extras:
            details = source.meta.get("source_details") or []
            extras = [str(d.get("publisher") or d.get("title")) for d in details[:2]]
        checked = source.meta.get("checked_on_vi")
        tail = "; ".join(_short(e, 40) for e in extras[:2])
        if checked:
            tail = f"{tail}; kiểm tra {checked}" if tail else f"kiểm tra {checked}"
        if tail:
            line += f" ({tail})"
    return line


def body(
    quotes: list[Quote], ocr: bool, today: date | None, deadline: bool
) -> tuple[str, list[list[str]]]:
    """The quoted fact(s), each once, and the inline sources of each quote."""
    blocks: list[str] = []
    origins: list[list[str]] = []
    for q in quotes:
        lines = []
        found: list[str] = []
        for raw in [q.text, *q.extra]:
            cleaned, named = split_inline_sources(raw)
            lines.append(cleaned)
            found += named
        blocks.append("“" + "\n".join(lines) + "”")
        origins.append(found)
    text = "\n".join(blocks)
    notes = []
    if deadline and today is not None:
        note = passed_note(text, today)
        if note:
            notes.append(note)
    if ocr:
        notes.append(SCAN_NOTE)
    return "\n".join([text, *notes]), origins


def format_answer(answer: Answer) -> str:
    """What a user sees: the answer text, then "Nguồn" once with one line per source cited."""
    if answer.abstained or not answer.sources:
        return answer.text
    cited = answer.sources[: answer.cited or None]
    lines: list[str] = []
    seen: set[tuple[str, str]] = set()
    for i, source in enumerate(cited):
        key = (source.doc_id, source.section)
        if key in seen or len(seen) >= 3:
            continue
        seen.add(key)
        origins = answer.origins[i] if i < len(answer.origins) else []
        lines.append(citation(source, origins))
    if not lines:
        return answer.text
    if len(lines) == 1:
        return f"{answer.text}\nNguồn: {lines[0]}"
    return "\n".join([answer.text, "Nguồn:", *(f"{n}. {line}" for n, line in enumerate(lines, 1))])
