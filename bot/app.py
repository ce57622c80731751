"""Builds the running assistant: settings -> database -> knowledge base -> engine.

Feature modules register their commands here, in one place, so a new
engineer can see every capability the engine has.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from bot.core.engine import Engine
from bot.core.registry import Registry
from bot.core.services import Services
from bot.db import Database
from bot.settings import Settings

log = logging.getLogger(__name__)

# Each module exposes ``register(registry, services)``; order matters for hooks
# (the first attachment hook that claims a file wins).
FEATURES = (
    "bot.tracking.commands",
    "bot.core.knowledge_commands",
)


def build_services(settings: Settings) -> Services:
    """Open the database (migrating it) and the knowledge base (lazy models)."""
    from bot.knowledge import KnowledgeBase

    settings.ensure_dirs()
    db = Database(settings.sqlalchemy_url)
    services = Services(settings=settings, db=db, kb=KnowledgeBase(settings, db))
    return services


def build_engine(services: Services) -> Engine:
    """Register every feature with a fresh registry and return the engine."""
    registry = Registry()
    for name in FEATURES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            log.debug("feature %s not installed", name)
            continue
        module.register(registry, services)
    return Engine(services, registry)


@contextmanager
def serving(settings: Settings) -> Iterator[tuple[Services, Engine]]:
    """What every messenger runner starts with: services, the shipped knowledge
    indexed (incrementally), and the engine; the database is closed on exit."""
    services = build_services(settings)
    try:
        log.info("checking the knowledge folder %s", settings.knowledge_dir)
        services.kb.ensure_ingested()
        yield services, build_engine(services)
    finally:
        services.db.dispose()
