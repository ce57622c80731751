"""Turning core :class:`Reply` objects into Telegram send calls (pure functions).

Text is sent with ``parse_mode=HTML``, so every piece is HTML-escaped; long
answers are split under Telegram's limits (counted in UTF-16 code units, as
Telegram counts them); buttons become inline keyboards and
``request_contact`` becomes Telegram's "share my phone number" keyboard.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from typing import Literal

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.constants import InlineKeyboardButtonLimit, MessageLimit

from bot.channels.common import split_text
from bot.core.messages import Button, OutFile, Reply

log = logging.getLogger(__name__)

TEXT_LIMIT = MessageLimit.MAX_TEXT_LENGTH  # 4096
CAPTION_LIMIT = MessageLimit.CAPTION_LENGTH  # 1024
CALLBACK_DATA_LIMIT = InlineKeyboardButtonLimit.MAX_CALLBACK_DATA  # 64 bytes
CONTACT_BUTTON = "📱 Chia sẻ số điện thoại"
CONTACT_HINT = "Hoặc bấm nút “📱 Chia sẻ số điện thoại” bên dưới để liên kết tài khoản."
CHOOSE_HINT = "Mời bạn chọn:"

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


@dataclass(frozen=True)
class Outgoing:
    """One Telegram send call: ``text`` is already HTML-escaped (text or caption)."""

    kind: Literal["text", "photo", "document"]
    text: str = ""
    file: OutFile | None = None
    markup: Markup | None = None


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: an emoji counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def escape(text: str) -> str:
    """Escape text for ``parse_mode=HTML`` (only ``&``, ``<`` and ``>`` are special)."""
    return html.escape(text, quote=False)


def split_message(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split raw text into pieces of at most ``limit`` UTF-16 units, at clean boundaries."""
    pieces: list[str] = []
    for piece in split_text(text, limit):
        if utf16_len(piece) <= limit:
            pieces.append(piece)
            continue
        # Many astral characters (emoji): shrink the window until every part fits.
        size = limit
        parts = [piece]
        while any(utf16_len(p) > limit for p in parts):
            size = max(1, size * 3 // 4)
            parts = split_text(piece, size)
        pieces.extend(parts)
    return pieces


def inline_keyboard(rows: list[list[Button]]) -> InlineKeyboardMarkup | None:
    """Core buttons -> inline keyboard; the payload travels as callback data."""
    keyboard = []
    for row in rows:
        out = []
        for button in row:
            if len(button.payload.encode("utf-8")) > CALLBACK_DATA_LIMIT:
                log.error("button payload over 64 bytes, Telegram would refuse it: %r", button)
                continue
            out.append(InlineKeyboardButton(button.label, callback_data=button.payload))
        if out:
            keyboard.append(out)
    return InlineKeyboardMarkup(keyboard) if keyboard else None


def contact_keyboard() -> ReplyKeyboardMarkup:
    """Telegram's own "share my phone number" button (private chats only)."""
    return ReplyKeyboardMarkup(
        [[KeyboardButton(CONTACT_BUTTON, request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


def render_reply(reply: Reply, *, private: bool = True) -> list[Outgoing]:
    """The send calls for one reply, in order.

    Buttons go on the last message of the reply. A photo or document carries
    the text as its caption when it fits, else the text is sent first. The
    contact keyboard is only offered in private chats (Telegram allows it
    nowhere else).
    """
    inline = inline_keyboard(reply.buttons)
    contact = contact_keyboard() if reply.request_contact and private else None
    markup: Markup | None = contact or inline
    text = reply.text.strip()
    out: list[Outgoing] = []
    files: list[tuple[Literal["photo", "document"], OutFile]] = []
    if reply.photo is not None:
        files.append(("photo", reply.photo))
    if reply.document is not None:
        files.append(("document", reply.document))

    if not text and not files and markup is not None:
        text = CHOOSE_HINT
    if files:
        caption = ""
        if text and utf16_len(text) <= CAPTION_LIMIT and len(files) == 1:
            caption = text
        else:
            out += [Outgoing("text", escape(p)) for p in split_message(text)]
        for i, (kind, item) in enumerate(files):
            last = i == len(files) - 1
            out.append(
                Outgoing(kind, escape(caption) if i == 0 else "", item, markup if last else None)
            )
    else:
        pieces = split_message(text)
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            out.append(Outgoing("text", escape(piece), markup=markup if last else None))

    if contact is not None and inline is not None and out:
        # One message holds one keyboard: keep the inline buttons on the text and
        # offer the contact button on a short message of its own.
        final = out[-1]
        out[-1] = Outgoing(final.kind, final.text, final.file, inline)
        out.append(Outgoing("text", escape(CONTACT_HINT), markup=contact))
    return out
