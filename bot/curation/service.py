"""Curated answers: write, edit, retire, and give them when a question matches.

An admin writes the answer once, citing a document and section. From then on
the question, and the ways of asking it that :mod:`bot.curation.matching`
judges the same, are answered with it, its citation, and a line saying it was
reviewed. A curated answer whose document was removed is not given (the
assistant never answers without a source) and is flagged to admins.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from bot.answering.policy import is_clinical
from bot.answering.types import Answer, Source
from bot.core.actor import Actor
from bot.curation.matching import Phrasing, TermWeights, best_match, question_key
from bot.curation.models import ACTIVE, RETIRED, CuratedAnswer, CuratedVariant
from bot.db import Database, utcnow
from bot.errors import UserError
from bot.retrieval.models import Chunk, Document
from bot.tracking.service import audit

if TYPE_CHECKING:
    from bot.core.services import Services
    from bot.knowledge import KnowledgeBase

MAX_QUESTION = 1000
MAX_ANSWER = 4000
MAX_VARIANTS = 200
WEIGHTS_CHECK_S = 5.0


@dataclass
class Citation:
    """A document and one of its sections, as an admin picks it."""

    doc_id: str
    title: str
    sections: list[str] = field(default_factory=list)


@dataclass
class CuratedView:
    id: int
    question: str
    answer: str
    doc_id: str
    section: str
    status: str
    reviewed_by: str
    updated_at: datetime
    variants: list[str]
    doc_title: str | None  # None: the cited document was removed

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


def reviewed_line(reviewed_by: str, day: datetime) -> str:
    return f"✅ Câu trả lời đã được {reviewed_by} rà soát (cập nhật {day:%d/%m/%Y})."


class _WeightsCache:
    """IDF over the chunk store, rebuilt only when the documents change."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stamp: tuple[Any, ...] | None = None
        self.checked = 0.0
        self.weights = TermWeights()


_CACHES: weakref.WeakKeyDictionary[Database, _WeightsCache] = weakref.WeakKeyDictionary()


def term_weights(db: Database) -> TermWeights:
    cache = _CACHES.setdefault(db, _WeightsCache())
    with cache.lock:
        now = time.monotonic()
        if cache.stamp is not None and now - cache.checked < WEIGHTS_CHECK_S:
            return cache.weights
        cache.checked = now
        with db.session() as s:
            stamp = (
                s.scalar(select(func.count()).select_from(Chunk)),
                s.scalar(select(func.max(Document.ingested_at))),
            )
            if stamp != cache.stamp:
                cache.weights = TermWeights(list(s.scalars(select(Chunk.text))))
                cache.stamp = stamp
        return cache.weights


def _clean(text: str, limit: int, what: str) -> str:
    text = "\n".join(" ".join(line.split()) for line in text.strip().splitlines()).strip()
    if not text:
        raise UserError(f"Hãy nhập {what}.")
    if len(text) > limit:
        raise UserError(f"{what.capitalize()} quá dài (tối đa {limit} ký tự).")
    return text


class CurationService:
    """Curated answers on one database; the knowledge base only for embeddings."""

    def __init__(self, db: Database, kb: Callable[[], KnowledgeBase]) -> None:
        self.db = db
        self._kb = kb

    # -- what admins cite --------------------------------------------------------------
    def citations(self) -> list[Citation]:
        """Every document with its sections, in reading order."""
        with self.db.session() as s:
            docs = s.execute(select(Document.id, Document.title).order_by(Document.title)).all()
            rows = s.execute(select(Chunk.doc_id, Chunk.section).order_by(Chunk.doc_id, Chunk.ord))
            sections: dict[str, list[str]] = {}
            for doc_id, section in rows:
                seen = sections.setdefault(doc_id, [])
                if section and section not in seen:
                    seen.append(section)
        return [Citation(d, t or d, sections.get(d, [])) for d, t in docs]

    def source(self, doc_id: str, section: str) -> Source | None:
        """The passage a curated answer cites: the first chunk of that section."""
        with self.db.session() as s:
            doc = s.get(Document, doc_id)
            if doc is None:
                return None
            query = select(Chunk).where(Chunk.doc_id == doc_id).order_by(Chunk.ord).limit(1)
            chunk = s.scalar(query.where(Chunk.section == section)) if section else None
            chunk = chunk or s.scalar(query)
            if chunk is None:
                return None
            meta: dict[str, Any] = dict(doc.meta or {})
            meta.setdefault("number", doc.number)
            return Source(
                doc_id=doc.id,
                title=doc.title or doc.id,
                path=doc.path,
                section=section or chunk.section,
                text=chunk.text,
                score=1.0,
                kind=doc.kind,
                meta=meta,
            )

    # -- writing -----------------------------------------------------------------------------
    def _vector(self, text: str) -> tuple[list[float] | None, str | None]:
        kb = self._kb()
        embedder = kb.embedder
        return [float(x) for x in embedder.embed_query(text)], embedder.name

    def _set_variants(self, row: CuratedAnswer, phrasings: list[str]) -> None:
        keep: dict[str, str] = {}
        for text in [row.question, *phrasings]:
            text = " ".join(text.split())[:MAX_QUESTION]
            key = question_key(text)[:500]
            if text and key and key not in keep:
                keep[key] = text
        if len(keep) > MAX_VARIANTS:
            raise UserError(f"Tối đa {MAX_VARIANTS} cách hỏi cho một câu trả lời.")
        existing = {v.question_key: v for v in row.variants}
        row.variants = [
            existing.get(key) or CuratedVariant(question=text, question_key=key)
            for key, text in keep.items()
        ]
        for variant in row.variants:
            if variant.vector is None:
                variant.vector, variant.vector_model = self._vector(variant.question)

    def _check_citation(self, doc_id: str, section: str) -> None:
        if self.source(doc_id, section) is None:
            raise UserError("Hãy chọn tài liệu và mục được trích dẫn (tài liệu phải có trong kho).")

    def create(
        self,
        actor: Actor | str,
        *,
        question: str,
        answer: str,
        doc_id: str,
        section: str,
        reviewed_by: str,
        phrasings: list[str] | None = None,
    ) -> int:
        question = _clean(question, MAX_QUESTION, "câu hỏi")
        answer = _clean(answer, MAX_ANSWER, "câu trả lời")
        self._check_citation(doc_id, section)
        with self.db.session() as s:
            row = CuratedAnswer(
                question=question,
                answer=answer,
                doc_id=doc_id,
                section=section,
                status=ACTIVE,
                reviewed_by=reviewed_by[:200],
                created_by=_label(actor),
            )
            row.variants = []
            self._set_variants(row, phrasings or [])
            s.add(row)
            s.flush()
            audit(s, actor, "create", "curated_answer", row.id, question=question, doc=doc_id)
            return row.id

    def update(
        self,
        actor: Actor | str,
        curated_id: int,
        *,
        question: str,
        answer: str,
        doc_id: str,
        section: str,
        reviewed_by: str,
        phrasings: list[str],
    ) -> None:
        question = _clean(question, MAX_QUESTION, "câu hỏi")
        answer = _clean(answer, MAX_ANSWER, "câu trả lời")
        self._check_citation(doc_id, section)
        with self.db.session() as s:
            row = s.get(CuratedAnswer, curated_id, options=[selectinload(CuratedAnswer.variants)])
            if row is None:
                raise UserError("Không tìm thấy câu trả lời biên soạn này.")
            row.question, row.answer, row.doc_id, row.section = question, answer, doc_id, section
            row.reviewed_by = reviewed_by[:200]
            row.status, row.retired_at = ACTIVE, None
            row.updated_at = utcnow()
            self._set_variants(row, phrasings)
            audit(s, actor, "update", "curated_answer", row.id, question=question, doc=doc_id)

    def retire(self, actor: Actor | str, curated_id: int) -> None:
        with self.db.session() as s:
            row = s.get(CuratedAnswer, curated_id)
            if row is None:
                raise UserError("Không tìm thấy câu trả lời biên soạn này.")
            row.status, row.retired_at = RETIRED, utcnow()
            audit(s, actor, "retire", "curated_answer", row.id)

    # -- reading ------------------------------------------------------------------------------
    def list(self, *, include_retired: bool = True) -> list[CuratedView]:
        with self.db.session() as s:
            query = select(CuratedAnswer).options(selectinload(CuratedAnswer.variants))
            if not include_retired:
                query = query.where(CuratedAnswer.status == ACTIVE)
            rows = s.scalars(query.order_by(CuratedAnswer.status, CuratedAnswer.id.desc())).all()
            titles = dict(s.execute(select(Document.id, Document.title)).all())
            return [
                CuratedView(
                    r.id,
                    r.question,
                    r.answer,
                    r.doc_id,
                    r.section,
                    r.status,
                    r.reviewed_by,
                    r.updated_at,
                    [v.question for v in r.variants],
                    (titles.get(r.doc_id) or r.doc_id) if r.doc_id in titles else None,
                )
                for r in rows
            ]

    def get(self, curated_id: int) -> CuratedView:
        for view in self.list():
            if view.id == curated_id:
                return view
        raise UserError("Không tìm thấy câu trả lời biên soạn này.")

    def covered_keys(self) -> dict[str, int]:
        """Question keys of active curated answers -> their id (to mark lists)."""
        with self.db.session() as s:
            rows = s.execute(
                select(CuratedVariant.question_key, CuratedVariant.curated_id)
                .join(CuratedAnswer, CuratedAnswer.id == CuratedVariant.curated_id)
                .where(CuratedAnswer.status == ACTIVE)
            ).all()
        return {k: i for k, i in rows}

    # -- answering -------------------------------------------------------------------------------
    def match(self, question: str) -> Answer | None:
        """The curated answer for ``question``, or None to let retrieval answer."""
        started = time.perf_counter()
        question = " ".join(question.split())
        if not question or is_clinical(question):
            return None
        with self.db.session() as s:
            rows = s.execute(
                select(
                    CuratedVariant.question,
                    CuratedVariant.vector,
                    CuratedVariant.vector_model,
                    CuratedAnswer.id,
                )
                .join(CuratedAnswer, CuratedAnswer.id == CuratedVariant.curated_id)
                .where(CuratedAnswer.status == ACTIVE)
            ).all()
        if not rows:
            return None
        # Vectors made by another embedding model (the backend was changed) are ignored.
        model = self._kb().embedder.name if any(r[1] is not None for r in rows) else None
        candidates = [
            Phrasing.of(
                text,
                np.asarray(vector, dtype=np.float32)
                if vector is not None and made_by == model
                else None,
            )
            for text, vector, made_by, _ in rows
        ]
        asked = Phrasing.of(question)
        exact = [i for i, c in enumerate(candidates) if c.key == asked.key]
        found = (exact[0], 1.0) if exact else None
        if found is None:
            found = best_match(asked, candidates, self._embed_query, weight=term_weights(self.db))
        if found is None:
            return None
        curated_id = rows[found[0]][3]
        with self.db.session() as s:
            row = s.get(CuratedAnswer, curated_id)
            assert row is not None
            answer_text, doc_id, section = row.answer, row.doc_id, row.section
            line = reviewed_line(row.reviewed_by, row.updated_at)
        source = self.source(doc_id, section)
        if source is None:
            return None
        elapsed = (time.perf_counter() - started) * 1000
        return Answer(
            question,
            f"{answer_text}\n\n{line}",
            False,
            [source],
            elapsed,
            mode="curated",
            reason=f"curated #{curated_id} ({found[1]:.2f})",
            cited=1,
        )

    def _embed_query(self, text: str) -> np.ndarray:
        return self._kb().embedder.embed_query(text)


def _label(actor: Actor | str) -> str:
    if isinstance(actor, str):
        return actor
    label = f"{actor.channel}:{actor.user_id}"
    return f"{label} ({actor.staff_code})" if actor.staff_code else label


def curation_for(services: Services) -> CurationService:
    return CurationService(services.db, lambda: services.kb)


def curated_answer(services: Services, question: str) -> Answer | None:
    """The hook where a question is answered: a curated match first, else None."""
    return curation_for(services).match(question)


class CuratedAsker:
    """What ``hocvuso eval --curated`` scores: curated answers first, then retrieval."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def ask(self, question: str) -> Answer:
        return curated_answer(self.services, question) or self.services.kb.ask(question)
