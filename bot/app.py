"""Assembles the running assistant: settings -> database -> services -> features -> engine.

This is the one place that knows every feature. Adding a capability means
writing a :class:`~bot.core.features.Feature` and listing it in ``FEATURES``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from bot.core.basics import BasicsFeature
from bot.core.engine import Engine
from bot.core.features import Feature
from bot.core.knowledge_commands import KnowledgeFeature
from bot.core.registry import Registry
from bot.core.services import Services
from bot.db import Database
from bot.settings import Settings
from bot.tracking.feature import TrackingFeature
from bot.web.feature import WebFeature

if TYPE_CHECKING:
    from bot.knowledge import KnowledgeBase

log = logging.getLogger(__name__)

# Registration order matters where two features could claim the same thing:
# the first upload handler that accepts a file wins (rosters before documents
# would matter for .csv, which only tracking reads).
FEATURES: tuple[Feature, ...] = (
    BasicsFeature(),
    TrackingFeature(),
    KnowledgeFeature(),
    WebFeature(),
)


def build_services(settings: Settings) -> Services:
    """Open the database (migrating it) and assemble the shared services.

    The knowledge base is created on first use, so commands that only track
    completions never load the embedding model or the vector store.
    """
    from bot.tracking.service import TrackingService
    from bot.tracking.stats import StatsService

    settings.ensure_dirs()
    db = Database(settings.sqlalchemy_url)
    tracking = TrackingService(db)

    def knowledge() -> KnowledgeBase:
        from bot.knowledge import KnowledgeBase as Knowledge

        return Knowledge(settings, db)

    return Services(settings, db, tracking, StatsService(tracking), knowledge)


def build_registry(services: Services) -> Registry:
    """Every feature's contribution, in ``FEATURES`` order."""
    registry = Registry()
    for feature in FEATURES:
        feature.register(registry, services)
    return registry


def build_engine(services: Services) -> Engine:
    return Engine(services, build_registry(services))


@contextmanager
def serving(settings: Settings) -> Iterator[tuple[Services, Engine]]:
    """What every messenger runner starts with: services, the shipped knowledge
    indexed (incrementally), and the engine; the database is closed on exit."""
    services = build_services(settings)
    try:
        log.info("checking the knowledge folder %s", settings.knowledge_dir)
        # Workers started together index the shared knowledge one after the other.
        with services.db.lock("hocvuso:ingest"):
            services.kb.ensure_ingested()
        yield services, build_engine(services)
    finally:
        services.close()
