"""Text that leaves for a spreadsheet: never a formula (OWASP CSV injection).

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return can be taken by Excel or LibreOffice as a formula (``=HYPERLINK(...)``
in a manager's report). Such text gets a leading apostrophe, as OWASP
advises, and is written as a string. Everything a person typed or a roster
contained goes through :func:`cell_text` before it reaches a workbook or a
tab-separated export.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell_text(value: str | None) -> str:
    if not value:
        return ""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def tsv_field(value: str | None) -> str:
    """One field of a tab-separated line: neutralised, without tabs or line breaks."""
    return cell_text(" ".join(str(value or "").split()) if value else "")
