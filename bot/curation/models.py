"""Curated answers and the ways of asking each one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db import Base, utcnow

ACTIVE, RETIRED = "active", "retired"


class CuratedAnswer(Base):
    """An answer an admin wrote once, citing a document and section."""

    __tablename__ = "curated_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    # Not a foreign key: a removed document must not delete the answer, which
    # then stops being given until an admin cites another document.
    doc_id: Mapped[str] = mapped_column(String(80))
    section: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default=ACTIVE, index=True)
    reviewed_by: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    variants: Mapped[list[CuratedVariant]] = relationship(
        back_populates="curated", cascade="all, delete-orphan", order_by="CuratedVariant.id"
    )


class CuratedVariant(Base):
    """One way of asking a curated question, with its query embedding."""

    __tablename__ = "curated_variants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    curated_id: Mapped[int] = mapped_column(
        ForeignKey("curated_answers.id", ondelete="CASCADE"), index=True
    )
    question: Mapped[str] = mapped_column(Text)
    question_key: Mapped[str] = mapped_column(String(500), index=True)
    vector: Mapped[list[Any] | None] = mapped_column(JSON)
    vector_model: Mapped[str | None] = mapped_column(String(120))

    curated: Mapped[CuratedAnswer] = relationship(back_populates="variants")
