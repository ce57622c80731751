"""Decide whether the bytes of a ``.txt``/``.md`` file are text, and decode them.

A renamed executable or random bytes decoded as latin-1 become hundreds of
junk passages that then show up as answer sources, so the decoder is strict:
UTF-8 (with or without BOM) and UTF-16 (BOM, or the unmistakable pattern of
zero bytes) are accepted; Windows-1258 (old Vietnamese Windows files) only
when the result reads as Vietnamese or plain Latin text. Latin-1 is never
used: it accepts every byte and so proves nothing.
"""

from __future__ import annotations

import codecs
import unicodedata

# Share of characters that text may hold which no editor would type.
MAX_JUNK_SHARE = 0.02
# In a cp1258 guess, share of letters outside the Vietnamese/English alphabet.
MAX_FOREIGN_LETTER_SHARE = 0.02
_SAMPLE = 200_000  # characters inspected (enough to judge, cheap on big files)
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")

_VOWELS = "aăâeêioôơuưy"
_TONES = ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")


def _vietnamese_letters() -> frozenset[str]:
    letters = set("abcdefghijklmnopqrstuvwxyzđ")
    for vowel in _VOWELS:
        for tone in _TONES:
            letters.add(unicodedata.normalize("NFC", vowel + tone))
    return frozenset(letters | {c.upper() for c in letters})


VIETNAMESE_LETTERS = _vietnamese_letters()


class NotText(ValueError):
    """The bytes are not a text file; ``reason`` is one line for the operator."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def junk_share(text: str) -> float:
    """Share of control, replacement, private-use and unassigned characters."""
    sample = text[:_SAMPLE]
    if not sample:
        return 0.0
    junk = 0
    for ch in sample:
        if ch in _ALLOWED_CONTROLS:
            continue
        if ch == "\ufffd" or unicodedata.category(ch) in {"Cc", "Co", "Cn", "Cs"}:
            junk += 1
    return junk / len(sample)


def _foreign_letter_share(text: str) -> float:
    sample = unicodedata.normalize("NFC", text[:_SAMPLE])
    letters = [ch for ch in sample if ch.isalpha()]
    if not letters:
        return 1.0
    return sum(1 for ch in letters if ch not in VIETNAMESE_LETTERS) / len(letters)


def _bom_less_utf16(raw: bytes) -> str | None:
    """``utf-16-le``/``-be`` when most odd (even) bytes are zero, as in ASCII-heavy UTF-16."""
    sample = raw[:4096]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


def _check(text: str, encoding: str) -> str:
    share = junk_share(text)
    if share > MAX_JUNK_SHARE:
        raise NotText(f"not a text file ({share:.0%} control or invalid characters as {encoding})")
    return text


def decode_text(raw: bytes) -> tuple[str, str]:
    """Text and the encoding it was read with, or :class:`NotText`."""
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return _check(raw.decode("utf-8-sig"), "UTF-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise NotText("invalid UTF-8 after a UTF-8 byte order mark") from exc
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return _check(raw.decode("utf-16"), "UTF-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise NotText("invalid UTF-16 after a UTF-16 byte order mark") from exc
    utf16 = _bom_less_utf16(raw)
    if utf16 is not None:
        try:
            return _check(raw.decode(utf16), "UTF-16"), utf16
        except UnicodeDecodeError:
            pass  # judged below like any other bytes
    if b"\x00" in raw:
        raise NotText("not a text file (contains NUL bytes)")
    try:
        return _check(raw.decode("utf-8"), "UTF-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("cp1258")
    except UnicodeDecodeError as exc:
        raise NotText("not a text file (neither UTF-8 nor Windows-1258)") from exc
    _check(text, "Windows-1258")
    foreign = _foreign_letter_share(text)
    if foreign > MAX_FOREIGN_LETTER_SHARE:
        raise NotText(
            f"not a text file (not UTF-8; as Windows-1258 {foreign:.0%} of letters "
            "are not Vietnamese)"
        )
    return text, "cp1258"
