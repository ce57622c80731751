"""The long-lived objects a running assistant shares across messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.core.actor import AdminOnlyIdentity, IdentityProvider
from bot.db import Database
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.knowledge import KnowledgeBase


@dataclass
class Services:
    """Settings, database, knowledge base and feature services.

    ``extras`` holds feature services by name (e.g. ``"tracking"``) so the core
    does not import features it does not need.
    """

    settings: Settings
    db: Database
    kb: KnowledgeBase
    identity: IdentityProvider = field(default_factory=AdminOnlyIdentity)
    extras: dict[str, Any] = field(default_factory=dict)
