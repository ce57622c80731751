"""The one exception every reader raises for a file it cannot read.

Its own module so that the loaders and the OCR they call both raise it
without importing each other.
"""

from __future__ import annotations


def one_line(text: str, limit: int = 200) -> str:
    """``text`` on one line (whitespace collapsed), at most ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class IngestError(Exception):
    """Why a file could not be read: ``reason`` (English, one line) and ``reason_vi``."""

    def __init__(self, reason: str, reason_vi: str) -> None:
        super().__init__(one_line(reason))
        self.reason = one_line(reason)
        self.reason_vi = reason_vi
