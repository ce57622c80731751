"""Chunk store tables: the source of truth the indexes are rebuilt from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db import Base, utcnow


class Document(Base):
    """One ingested file and the metadata parsed from its header/front-matter."""

    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    path: Mapped[str] = mapped_column(String(1000), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20), default="plan")
    title: Mapped[str] = mapped_column(Text, default="")
    number: Mapped[str | None] = mapped_column(String(80))
    issuer: Mapped[str | None] = mapped_column(Text)
    issued_date: Mapped[str | None] = mapped_column(String(10))
    ocr_like: Mapped[bool] = mapped_column(Boolean, default=False)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    chars: Mapped[int] = mapped_column(Integer, default=0)
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    chunks: Mapped[list[Chunk]] = relationship(
        back_populates="document", cascade="all, delete-orphan", passive_deletes=True
    )


class Chunk(Base):
    """A section-aware passage; ``text`` is exactly what answers quote."""

    __tablename__ = "chunks"
    __table_args__ = (UniqueConstraint("doc_id", "content_hash"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    doc_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    ord: Mapped[int] = mapped_column(Integer)
    section: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(40))
    document: Mapped[Document] = relationship(back_populates="chunks")
