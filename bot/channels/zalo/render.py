"""Engine replies -> what a Zalo chat can show.

Zalo has no inline buttons, so choices become a numbered list the user
answers with a number; the engine keeps the offered choices in the
conversation state and maps the number back to the button's payload
(``Engine._resolve_numbered_choice``). Numbering therefore runs across all
replies of one engine turn, in the same order the engine stored them.

Long texts are split below Zalo's 2000-character limit (Bot Platform
``sendMessage`` and OA text messages alike). Zalo does not document how it
counts characters, so pieces are measured in UTF-16 code units — the stricter
count, where an emoji such as 📊 counts twice — and every piece fits either
way. The contact-sharing button has no
Zalo equivalent; prompts are written for the chat's capabilities (Zalo
messages say "plain text"), so a linking prompt here gives the /lienket
syntax and never mentions a button.
Photos and documents are passed through as :class:`OutMedia`; each runner
decides how to deliver them.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.channels.common import split_text
from bot.core.messages import OutFile, Reply

TEXT_LIMIT = 2000
CHOICES_HEADER = "Trả lời bằng số:"
PHOTO_FALLBACK = "📊 Biểu đồ chưa gửi được dưới dạng ảnh trên kênh Zalo này; số liệu đầy đủ có trong tin nhắn trên."
DOCUMENT_FALLBACK = (
    "📎 Tệp “{name}” chưa gửi được qua kênh Zalo này. Bạn có thể nhận tệp qua Telegram "
    "hoặc nhờ quản trị viên xuất bằng lệnh hocvuso trên máy chủ."
)
DOCUMENT_LINK = "📎 Tải tệp “{name}”: {url}\n(Liên kết dùng được trong {minutes} phút.)"


@dataclass(frozen=True)
class OutText:
    text: str


@dataclass(frozen=True)
class OutMedia:
    """A photo (chart) or document (report) to deliver, with an optional caption."""

    kind: str  # "photo" | "document"
    file: OutFile
    caption: str = ""


Outgoing = OutText | OutMedia


def reply_text(reply: Reply, first_number: int = 1) -> str:
    """The reply's text with its choices as a numbered list and any contact hint."""
    parts: list[str] = []
    if reply.text.strip():
        parts.append(reply.text.strip())
    choices = reply.choices()
    if choices:
        lines = [CHOICES_HEADER]
        lines += [f"{first_number + i}. {b.label}" for i, b in enumerate(choices)]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def zalo_length(text: str) -> int:
    """Length in UTF-16 code units (characters outside the BMP count twice)."""
    return len(text.encode("utf-16-le")) // 2


def split_for_zalo(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters *and* UTF-16 units."""
    out: list[str] = []
    for piece in split_text(text, limit):
        out.extend(_fit(piece, limit))
    return out


def _fit(piece: str, limit: int) -> list[str]:
    size = zalo_length(piece)
    if size <= limit:
        return [piece]
    # Characters outside the BMP: split again with a proportionally smaller budget
    # (always shorter than the piece, so this ends).
    budget = max(1, len(piece) * limit // size)
    out: list[str] = []
    for part in split_text(piece, budget):
        out.extend(_fit(part, limit))
    return out


def render_replies(replies: list[Reply], limit: int = TEXT_LIMIT) -> list[Outgoing]:
    """All messages to send for one engine turn, in order."""
    out: list[Outgoing] = []
    number = 1
    for reply in replies:
        text = reply_text(reply, number)
        number += len(reply.choices())
        out.extend(OutText(piece) for piece in split_for_zalo(text, limit))
        if reply.photo is not None:
            out.append(OutMedia("photo", reply.photo))
        if reply.document is not None:
            out.append(OutMedia("document", reply.document))
    return out


def document_fallback(file: OutFile) -> str:
    return DOCUMENT_FALLBACK.format(name=file.filename)


def document_link(file: OutFile, url: str, ttl_s: float) -> str:
    return DOCUMENT_LINK.format(name=file.filename, url=url, minutes=max(1, int(ttl_s // 60)))
