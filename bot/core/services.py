"""The long-lived objects a running assistant shares across messages.

Assembled once in :func:`bot.app.build_services`. Every field is typed, so a
handler that needs completion tracking writes ``ctx.services.tracking``. The
knowledge base (embedding model, vector store) is built on first use: the
tracking commands of the CLI never pay for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.db import Database
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.knowledge import KnowledgeBase
    from bot.tracking.service import TrackingService
    from bot.tracking.stats import StatsService


class Services:
    """Settings, database, knowledge base and the tracking services."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        tracking: TrackingService,
        stats: StatsService,
        knowledge: Callable[[], KnowledgeBase],
    ) -> None:
        self.settings = settings
        self.db = db
        self.tracking = tracking
        self.stats = stats
        self._make_kb = knowledge
        self._kb: KnowledgeBase | None = None
        self._kb_lock = threading.Lock()

    @property
    def kb(self) -> KnowledgeBase:
        """The knowledge base, built on first use (loads nothing until asked).

        The engine answers from several threads: the lock makes sure the first
        questions arriving together build one knowledge base, not one each.
        """
        kb = self._kb
        if kb is None:
            with self._kb_lock:
                if self._kb is None:
                    self._kb = self._make_kb()
                kb = self._kb
        return kb

    def close(self) -> None:
        """Release database connections."""
        self.db.dispose()
