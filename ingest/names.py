"""File names printed safely in one-line reports and logs.

A name may hold a newline, a carriage return, an ANSI escape or a
right-to-left override; printed raw it breaks the one-line report (or forges
a line of it). Such characters are shown escaped, as Python would write them.
"""

from __future__ import annotations

import unicodedata

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}
# Control, format (bidi overrides, zero-width), line/paragraph separators, surrogates.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def safe_name(name: str, limit: int = 300) -> str:
    """``name`` with every invisible or line-breaking character escaped."""
    out: list[str] = []
    for ch in name:
        if ch in _NAMED:
            out.append(_NAMED[ch])
        elif unicodedata.category(ch) in _UNSAFE_CATEGORIES:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    text = "".join(out)
    return text if len(text) <= limit else text[: limit - 1] + "…"
