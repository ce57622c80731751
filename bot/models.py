"""Imports every table module so ``Base.metadata`` is complete (for Alembic)."""

from bot.core.models import AnswerLog, ConversationState
from bot.retrieval.models import Chunk, Document

__all__ = ["AnswerLog", "Chunk", "ConversationState", "Document"]
