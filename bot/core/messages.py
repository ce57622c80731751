"""What adapters hand the core and what the core hands back.

Adapters translate messenger updates into :class:`Incoming` and render
:class:`Reply` objects (buttons become inline keyboards on Telegram and
numbered choices on Zalo and the console). Nothing here knows a messenger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Button:
    """A choice; ``payload`` comes back in :attr:`Incoming.payload` when pressed."""

    label: str
    payload: str


@dataclass(frozen=True)
class Attachment:
    """A file the user sent, already downloaded by the adapter to ``path``."""

    filename: str
    path: Path
    size: int
    mime_type: str | None = None


@dataclass(frozen=True)
class OutFile:
    """A file to send back (chart, XLSX report)."""

    filename: str
    data: bytes
    mime_type: str = "application/octet-stream"


@dataclass(frozen=True)
class Capabilities:
    """What the chat the message came from can show, so prompts are written for it.

    ``buttons``: choices are pressed (otherwise answered with a number);
    ``share_contact``: a button can share the sender's own phone number
    (Telegram private chats), so a linking prompt may offer it. A prompt never
    mentions a control the chat does not have.
    """

    buttons: bool = False
    share_contact: bool = False


PLAIN_TEXT = Capabilities()


@dataclass
class Incoming:
    """One user action on any channel.

    ``contact_phone`` is set only when the adapter has verified that the shared
    contact belongs to the sender (Telegram's contact button). ``capabilities``
    says what the chat can show (plain numbered text when not given).
    """

    channel: str
    user_id: str
    text: str = ""
    chat_id: str | None = None
    payload: str | None = None
    contact_phone: str | None = None
    attachment: Attachment | None = None
    display_name: str | None = None
    capabilities: Capabilities = PLAIN_TEXT


@dataclass
class Reply:
    """One outgoing message: text, optional buttons, optional photo/document."""

    text: str = ""
    buttons: list[list[Button]] = field(default_factory=list)
    photo: OutFile | None = None
    document: OutFile | None = None
    request_contact: bool = False

    def choices(self) -> list[Button]:
        """Buttons in reading order (what a numbered list shows)."""
        return [b for row in self.buttons for b in row]
