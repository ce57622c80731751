"""Imports every table module so ``Base.metadata`` is complete (for Alembic)."""

from bot.core.models import (
    AnswerLog,
    ConversationState,
    ProcessedEvent,
    RateCounter,
    SharedFile,
)
from bot.curation.models import CuratedAnswer, CuratedVariant
from bot.retrieval.models import Chunk, Document
from bot.tracking.models import (
    AuditLog,
    Completion,
    Course,
    Identity,
    LinkCode,
    LinkGuard,
    Outbox,
    Staff,
    Target,
    Unit,
    UnitManager,
)
from bot.web.models import WebJob, WebLoginLink, WebSession

__all__ = [
    "AnswerLog",
    "AuditLog",
    "Chunk",
    "Completion",
    "ConversationState",
    "Course",
    "CuratedAnswer",
    "CuratedVariant",
    "Document",
    "Identity",
    "LinkCode",
    "LinkGuard",
    "Outbox",
    "ProcessedEvent",
    "RateCounter",
    "SharedFile",
    "Staff",
    "Target",
    "Unit",
    "UnitManager",
    "WebJob",
    "WebLoginLink",
    "WebSession",
]
