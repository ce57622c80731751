"""File kinds the assistant accepts, declared once by the feature that reads them.

Channels refuse any other file before downloading it, and say what is accepted,
by asking the registry; nothing else keeps a list of suffixes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.core.messages import Reply
    from bot.core.registry import Context

UploadHandler = Callable[["Context"], "list[Reply] | None"]


@dataclass(frozen=True)
class UploadKind:
    """One kind of file a feature reads.

    ``handler`` receives such a file when it arrives outside a form (an admin
    sending a roster); kinds read only inside a form step (a certificate photo
    in the completion form) have none. ``label`` is the Vietnamese name shown
    when a file is refused ("tài liệu", "danh sách nhân viên").

    ``heavy`` handlers (indexing a document) run off the conversation path
    for the people in ``roles`` (empty: everyone): the engine answers at once
    that the file is being processed, other users' questions go on being
    answered, and the handler's replies are delivered when it is done. A heavy
    handler must take every file of its kind (never return None). For anyone
    else the handler runs inline, so its own refusal comes at once.
    """

    name: str
    label: str
    suffixes: frozenset[str]
    handler: UploadHandler | None = None
    heavy: bool = False
    roles: frozenset[str] = frozenset()

    def accepts(self, filename: str) -> bool:
        return suffix_of(filename) in self.suffixes


def suffix_of(filename: str) -> str:
    """Lower-case extension with its dot ("" when the name has none)."""
    name = filename.rsplit("/", 1)[-1]
    return "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""


def describe(suffixes: Iterable[str]) -> str:
    """ "PDF, DOCX, JPG…" for a refusal message, in a stable order."""
    return ", ".join(sorted({s.lstrip(".").upper() for s in suffixes}))
