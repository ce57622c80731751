"""The knowledge base: ingest files, keep indexes in step, answer questions.

This is the only object the CLI and the conversation core talk to for
knowledge. Models and indexes load lazily and once; the in-memory lexical
index reloads when another process (an admin upload on another worker)
changed the chunk store.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.answering import decision as decide_mod
from bot.answering.decision import CorpusFacts, DocFacts, doc_years
from bot.answering.generative import GenerativeAnswerer, make_chat_model
from bot.answering.normalize import expand_abbreviations
from bot.answering.render import body
from bot.answering.selection import (
    AnswerType,
    Quote,
    answer_types,
    asked_numbers,
    asks_day,
    choose,
    complement,
    kind_hits,
    question_parts,
    rank_sentences,
    title_only,
    trailing_intro,
    within_topic,
)
from bot.answering.types import Answer, Source
from bot.db import Database
from bot.retrieval.embeddings import Embedder, make_embedder
from bot.retrieval.hybrid import (
    CorpusIndex,
    Hit,
    HybridRetriever,
    IndexedChunk,
    Retrieval,
    expansion_terms,
    query_terms,
)
from bot.retrieval.models import Chunk, Document
from bot.retrieval.vectors import VectorStore
from bot.settings import Settings
from bot.text import fold, tokens, years_in
from ingest import uploads
from ingest.loaders import IngestLimits
from ingest.names import safe_name
from ingest.pipeline import FileResult, Ingestor, IngestReport
from ingest.provenance import TRANSCRIBED_NOTE, is_transcribed

log = logging.getLogger(__name__)

# e5 costs ~1,350 tokens/s on 2 cores; dense similarity only re-orders lexical
# peers, so the section plus the passage's opening is enough to embed.
MAX_EMBED_CHARS = 480
STALE_CHECK_S = 5.0


@dataclass
class DocumentInfo:
    """A document as listed; ``path`` is its file (absolute), ``key`` its stored identity."""

    doc_id: str
    title: str
    path: str
    kind: str
    number: str | None
    issuer: str | None
    issued_date: str | None
    chunks: int
    key: str = ""

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


class KnowledgeBase:
    def __init__(self, settings: Settings, db: Database, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.db = db
        self._embedder = embedder
        self._vectors: VectorStore | None = None
        self._index: CorpusIndex | None = None
        self._docs: dict[str, Document] = {}
        self._stamp: tuple[Any, ...] | None = None
        self._checked_at = 0.0
        self._lock = threading.RLock()
        self._generative: GenerativeAnswerer | None = None
        self._facts: CorpusFacts | None = None
        self._hidden_view: tuple[CorpusIndex, frozenset[str], CorpusIndex, CorpusFacts] | None = (
            None
        )
        # Today's date for "this deadline has passed" notes (tests inject a fixed day).
        self.clock: Callable[[], date] = date.today
        # Documents hidden from retrieval (``eval --near-miss`` sets it per question).
        self.exclude_docs: frozenset[str] = frozenset()

    # -- lazy components --------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = make_embedder(self.settings)
        return self._embedder

    @property
    def vectors(self) -> VectorStore:
        if self._vectors is None:
            self._vectors = VectorStore(self.settings, self.embedder.name)
        return self._vectors

    def set_generative_model(self, model: Any) -> None:
        """Use this chat model for answers (tests pass a fake one)."""
        self._generative = GenerativeAnswerer(model)

    def _generator(self) -> GenerativeAnswerer | None:
        if self.settings.answer_mode != "generative":
            return None
        if self._generative is None and self.settings.llm_base_url:
            self._generative = GenerativeAnswerer(make_chat_model(self.settings))
        return self._generative

    # -- corpus snapshot -----------------------------------------------------------
    def _current_stamp(self) -> tuple[Any, ...]:
        with self.db.session() as s:
            return (
                s.scalar(select(func.count()).select_from(Document)),
                s.scalar(select(func.max(Document.ingested_at))),
                s.scalar(select(func.count()).select_from(Chunk)),
            )

    def _load_index(self) -> CorpusIndex:
        with self._lock:
            now = time.monotonic()
            if self._index is not None and now - self._checked_at < STALE_CHECK_S:
                return self._index
            stamp = self._current_stamp()
            self._checked_at = now
            if self._index is not None and stamp == self._stamp:
                return self._index
            with self.db.session() as s:
                docs = {d.id: d for d in s.scalars(select(Document)).all()}
                rows = s.execute(
                    select(Chunk.id, Chunk.doc_id, Chunk.section, Chunk.text).order_by(
                        Chunk.doc_id, Chunk.ord
                    )
                ).all()
            chunks = [
                IndexedChunk(
                    id=r[0],
                    doc_id=r[1],
                    section=r[2],
                    text=r[3],
                    ocr_like=docs[r[1]].ocr_like,
                    context=docs[r[1]].title if docs[r[1]].kind == "guide" else "",
                )
                for r in rows
            ]
            profiles = {d.id: str(d.meta.get("profile") or d.title) for d in docs.values()}
            self._index = CorpusIndex(
                chunks,
                profiles,
                {d.id: d.kind for d in docs.values()},
                {d.id: d.title for d in docs.values()},
            )
            self._docs = docs
            self._facts = None
            self._stamp = stamp
            return self._index

    def invalidate(self) -> None:
        with self._lock:
            self._index, self._stamp, self._checked_at = None, None, 0.0
            self._facts = None

    def _corpus_facts(self) -> CorpusFacts:
        """What the answer/refuse decision knows of each document (built once per snapshot)."""
        index = self._load_index()
        with self._lock:
            if self._facts is not None:
                return self._facts
            texts: dict[str, list[str]] = {}
            for chunk, folded in zip(index.chunks, index.folded_text, strict=True):
                texts.setdefault(chunk.doc_id, []).append(folded)
            docs: dict[str, DocFacts] = {}
            for doc_id, doc in self._docs.items():
                profile = index.doc_profiles.get(doc_id, "")
                plain = " ".join(
                    fold(" ".join(t for t in [profile, *texts.get(doc_id, [])])).split()
                )
                docs[doc_id] = DocFacts(
                    doc_id=doc_id,
                    kind=doc.kind,
                    label=self._label(doc_id, long=True),
                    profile=" ".join(_words(profile)),
                    text=" ".join(_words(plain)),
                    dated=doc_years(profile, doc.issued_date),
                )
            self._facts = CorpusFacts(docs, index.lexical, index.position, index.doc_terms)
            return self._facts

    # -- ingest -------------------------------------------------------------------------
    def ingestor(self) -> Ingestor:
        """An ingestor keyed on the knowledge folder, with the INGEST_* limits."""
        s = self.settings
        limits = IngestLimits(
            max_file_mb=s.ingest_max_file_mb,
            max_unzipped_mb=s.ingest_max_unzipped_mb,
            max_chars=s.ingest_max_chars,
            max_pages=s.ingest_max_pages,
            max_image_pixels=s.ingest_max_image_pixels,
        )
        return Ingestor(self.db, root=s.knowledge_dir, limits=limits)

    def ingest(
        self,
        paths: list[Path] | None = None,
        *,
        progress: bool = False,
        remove_missing: bool = True,
    ) -> IngestReport:
        """Sync files into the chunk store, then embed only chunks Chroma lacks.

        Vectors are synced even when the run is interrupted, so no stored
        chunk is left without its vector.
        """
        paths = paths or [self.settings.knowledge_dir]
        try:
            return self.ingestor().sync(paths, remove_missing=remove_missing, progress=progress)
        finally:
            self.sync_vectors(progress=progress)
            self.invalidate()

    def ensure_ingested(self) -> IngestReport:
        """Called at start-up: index the shipped knowledge folder if it changed."""
        return self.ingest([self.settings.knowledge_dir], progress=False)

    def sync_vectors(self, *, progress: bool = False) -> int:
        """Add vectors for new chunks and drop vectors of deleted chunks."""
        with self.db.session() as s:
            rows = s.execute(select(Chunk.id, Chunk.doc_id, Chunk.section, Chunk.text)).all()
        wanted = {r[0]: r for r in rows}
        have = self.vectors.ids()
        stale = sorted(have - wanted.keys())
        if stale:
            self.vectors.delete(stale)
        missing = [wanted[i] for i in wanted.keys() - have]
        if not missing:
            return 0
        batch = 64
        bar = None
        if progress and len(missing) > batch:
            from tqdm import tqdm

            bar = tqdm(total=len(missing), desc="Tạo vector", unit="đoạn")
        for start in range(0, len(missing), batch):
            part = missing[start : start + batch]
            vectors = self.embedder.embed_passages(
                [f"{r[2]}\n{r[3]}"[:MAX_EMBED_CHARS] for r in part]
            )
            self.vectors.add([r[0] for r in part], vectors, [r[1] for r in part])
            if bar is not None:
                bar.update(len(part))
        if bar is not None:
            bar.close()
        return len(missing)

    def _uploaded_as(self, ingestor: Ingestor, file: Path) -> str | None:
        """Original name the upload at ``file`` was sent under (None: no document holds it)."""
        with self.db.session() as s:
            doc = s.scalar(select(Document).where(Document.path == ingestor.identity(file)))
            if doc is None:
                return None
            return str((doc.meta or {}).get("upload_name") or file.name)

    def add_upload(self, path: Path, filename: str, *, replace: bool = False) -> FileResult:
        """Keep an uploaded file in the data dir and index it (admins only).

        A different file whose name collides gets a new name; the same name
        with new content is an update only with ``replace`` (the admin
        confirmed), else the result's status is ``conflict``. A file that
        cannot be read leaves nothing behind in ``uploads/`` and the previous
        version, if any, untouched.
        """
        folder = self.settings.uploads_dir
        folder.mkdir(parents=True, exist_ok=True)
        ingestor = self.ingestor()
        shown = safe_name(filename)
        try:
            slot = uploads.choose_slot(
                folder, filename, path, lambda f: self._uploaded_as(ingestor, f)
            )
        except OSError as exc:
            log.warning("upload %s: %s", shown, exc)
            return FileResult(shown, "failed", reason=str(exc), reason_vi="Không lưu được tệp.")
        target = slot.target
        if slot.verdict == "update" and not replace:
            with self.db.session() as s:
                doc = s.scalar(select(Document).where(Document.path == ingestor.identity(target)))
                doc_id = doc.id if doc else None
            return FileResult(
                shown,
                "conflict",
                reason="a document was uploaded under this name with other content",
                reason_vi="Đã có tài liệu tải lên cùng tên nhưng nội dung khác.",
                doc_id=doc_id,
            )
        backup = target.with_name(f".{target.name}.previous")
        had_previous = slot.verdict == "update"
        try:
            if had_previous:
                os.replace(target, backup)
            if slot.verdict != "same":
                shutil.copyfile(path, target)
            result = ingestor.ingest_file(target, meta={"upload_name": filename})
        except BaseException:
            self._undo_upload(target, backup, had_previous, ingestor)
            raise
        if result.status == "failed":
            self._undo_upload(target, backup, had_previous, ingestor)
        else:
            backup.unlink(missing_ok=True)
            self.sync_vectors()
            self.invalidate()
        result.path = shown
        return result

    def _undo_upload(
        self, target: Path, backup: Path, had_previous: bool, ingestor: Ingestor
    ) -> None:
        """Put back the previous file of an update, or remove a copy nothing indexes."""
        if had_previous and backup.exists():
            os.replace(backup, target)
            return
        with self.db.session() as s:
            known = s.scalar(select(Document).where(Document.path == ingestor.identity(target)))
        if known is None:
            target.unlink(missing_ok=True)

    def hold_upload(self, path: Path, filename: str) -> str:
        """Keep an upload that needs the admin's confirmation; returns its token."""
        return uploads.hold(self.settings.uploads_dir, path, filename)

    def confirm_upload(self, token: str, accept: bool) -> FileResult | None:
        """Apply (``accept``) or drop a held upload; None when the token is unknown."""
        found = uploads.held(self.settings.uploads_dir, token)
        if found is None:
            return None
        file, filename = found
        try:
            if not accept:
                return FileResult(safe_name(filename), "unchanged")
            return self.add_upload(file, filename, replace=True)
        finally:
            uploads.release(self.settings.uploads_dir, token)

    def documents(self) -> list[DocumentInfo]:
        ingestor = self.ingestor()
        with self.db.session() as s:
            counts = dict(
                s.execute(select(Chunk.doc_id, func.count()).group_by(Chunk.doc_id)).all()
            )
            return [
                DocumentInfo(
                    d.id,
                    d.title,
                    str(ingestor.locate(d.path)),
                    d.kind,
                    d.number,
                    d.issuer,
                    d.issued_date,
                    counts.get(d.id, 0),
                    d.path,
                )
                for d in s.scalars(select(Document).order_by(Document.kind, Document.path)).all()
            ]

    def remove(self, key: str) -> DocumentInfo | None:
        """Remove a document by id, stored key or file path (from any working directory).

        Uploaded files are deleted too.
        """
        ingestor = self.ingestor()
        with self.db.session() as s:
            doc = s.get(Document, key) or s.scalar(select(Document).where(Document.path == key))
            if doc is None and key.strip():
                by_file = ingestor.identity(Path(key))
                doc = s.scalar(select(Document).where(Document.path == by_file))
            if doc is None:
                return None
            info = DocumentInfo(
                doc.id,
                doc.title,
                str(ingestor.locate(doc.path)),
                doc.kind,
                doc.number,
                doc.issuer,
                doc.issued_date,
                len(doc.chunks),
                doc.path,
            )
            ids = [c.id for c in doc.chunks]
            s.delete(doc)
        if ids:
            self.vectors.delete(ids)
        file = Path(info.path)
        if file.exists() and self.settings.uploads_dir.resolve() in file.resolve().parents:
            file.unlink()
        self.invalidate()
        return info

    # -- answering ----------------------------------------------------------------------
    def _visible(self) -> tuple[CorpusIndex, CorpusFacts]:
        """The index and the decision's facts, without the documents ``exclude_docs`` hides."""
        index, facts = self._load_index(), self._corpus_facts()
        hidden = self.exclude_docs
        if not hidden:
            return index, facts
        with self._lock:
            cached = self._hidden_view
            if cached is not None and cached[0] is index and cached[1] == hidden:
                return cached[2], cached[3]
            view = index.without(hidden)
            docs = {d: f for d, f in facts.docs.items() if d not in hidden}
            view_facts = CorpusFacts(docs, view.lexical, view.position, view.doc_terms)
            self._hidden_view = (index, hidden, view, view_facts)
            return view, view_facts

    def retrieve(self, question: str, k: int | None = None) -> Retrieval:
        index, _ = self._visible()
        retriever = HybridRetriever(index, self.embedder, self.vectors if index.chunks else None)
        found = retriever.search(question, k or self.settings.top_k, exclude_docs=self.exclude_docs)
        found.hits = self._headed(found.hits, index)
        return found

    @staticmethod
    def _headed(hits: list[Hit], index: CorpusIndex) -> list[Hit]:
        """A passage that is only its document's title stands for the passage it heads.

        "Phòng vệ chính đáng" alone matches the question best and says nothing;
        the clause under it is what an answer can quote.
        """
        out: list[Hit] = []
        seen: set[str] = set()
        for hit in hits:
            if title_only(hit.chunk.section, hit.chunk.text):
                pos = index.position.get(hit.chunk.id, -1)
                nxt = index.chunks[pos + 1] if 0 <= pos < len(index.chunks) - 1 else None
                if nxt is not None and nxt.doc_id == hit.chunk.doc_id:
                    hit = replace(hit, chunk=nxt)
            if hit.chunk.id not in seen:
                seen.add(hit.chunk.id)
                out.append(hit)
        return out

    def _label(self, doc_id: str, *, long: bool = False) -> str:
        """How answers name a document: "Kế hoạch 2948/KH-SYT" (of "Sở Y tế Bắc Ninh")."""
        doc = self._docs.get(doc_id)
        if doc is None:
            return doc_id
        if doc.kind == "guide":
            return f"hướng dẫn “{doc.title}”"
        label = doc.title
        if doc.number and any(ch.isdigit() for ch in doc.number):
            label = f"Kế hoạch {doc.number}"
        elif long and doc.issued_date and doc.issued_date[:4] not in doc.title:
            label = f"{doc.title} ({doc.issued_date[:4]})"
        if long and doc.issuer and doc.issuer not in label:
            label += f" của {doc.issuer}"
        return label

    def _source(self, hit: Any) -> Source:
        doc = self._docs.get(hit.chunk.doc_id)
        meta: dict[str, Any] = dict(doc.meta) if doc else {}
        meta.setdefault("number", doc.number if doc else None)
        return Source(
            doc_id=hit.chunk.doc_id,
            title=doc.title if doc else hit.chunk.doc_id,
            path=doc.path if doc else "",
            section=hit.chunk.section,
            text=hit.chunk.text,
            score=hit.score,
            kind=doc.kind if doc else "plan",
            meta=meta,
        )

    def _kind_hits(
        self, question: str, retrieval: Retrieval, allowed: frozenset[str] | None
    ) -> list[Hit]:
        """The passages ``selection.kind_hits`` adds to what selection reads."""
        skip = set(retrieval.other_units_plans)
        if allowed is not None:
            skip |= {h.chunk.doc_id for h in retrieval.hits} - allowed
        index = self._load_index()
        return kind_hits(question, retrieval.hits, frozenset(skip), index.doc_chunks)

    def _quotes(
        self,
        question: str,
        retrieval: Retrieval,
        allowed: frozenset[str] | None,
        verdict: decide_mod.Decision | None = None,
        appended: int = 0,
    ) -> tuple[list[Quote], list[Quote]]:
        """The ranked sentences and the ones to quote, one per part of the question.

        The last ``appended`` hits are the passages ``_kind_hits`` added.
        """
        index = self._load_index()
        naming = {
            h.chunk.doc_id: index.naming_terms & index.doc_terms.get(h.chunk.doc_id, set())
            for h in retrieval.hits
        }
        topics = {
            h.chunk.doc_id: index.topic_terms.get(h.chunk.doc_id, set()) for h in retrieval.hits
        }
        skip = set(retrieval.other_units_plans)
        lead_ins: dict[str, str] = {}
        for hit in retrieval.hits:
            pos = index.position.get(hit.chunk.id, 0)
            before = index.chunks[pos - 1] if pos > 0 else None
            if before is not None and before.doc_id == hit.chunk.doc_id:
                intro = trailing_intro(before.text)
                if intro is not None:
                    lead_ins[hit.chunk.id] = intro
        if allowed is not None:
            skip |= {h.chunk.doc_id for h in retrieval.hits} - allowed
        by_part: list[list[Quote]] = []
        ranked: list[Quote] = []
        for n, part in enumerate(question_parts(question)):
            weights = retrieval.query_terms
            if n or part != question:
                # the part's own words, plus the expansions of its phrasings
                uni, bi = query_terms(part)
                own = {t: retrieval.query_terms.get(t, 1.0) for t in uni + bi}
                own |= {t: w for t, w in expansion_terms(part).items()}
                weights = own or weights
            rank = partial(
                rank_sentences,
                retrieval.hits,
                weights,
                index.lexical,
                part,
                skip_docs=frozenset(skip),
                titles={d: doc.title for d, doc in self._docs.items()},
                lead_ins=lead_ins,
                depth=min(len(retrieval.hits) - appended, 5) + appended,
                kind_from=len(retrieval.hits) - appended if appended else None,
            )
            part_ranked = rank(naming=naming)
            if any(topics.values()):
                topical = {d: naming[d] | topics.get(d, set()) for d in naming}
                part_ranked = within_topic(part_ranked, rank(naming=topical))
            if verdict is not None and verdict.mention:
                part_ranked = [q for q in part_ranked if decide_mod.names_pinned(verdict, q)]
            ranked = ranked or part_ranked
            by_part.append(part_ranked)
        chosen = choose(by_part)
        if len(chosen) == 1:
            extra = complement(
                ranked,
                chosen[0],
                retrieval.query_terms,
                index.lexical,
                frozenset(answer_types(question)),
                asks_day(question),
                frozenset(years_in(self._docs[chosen[0].doc_id].title))
                if chosen[0].doc_id in self._docs
                else frozenset(),
                asked_numbers(question),
            )
            if extra is not None:
                chosen = sorted([chosen[0], extra], key=lambda q: (q.hit_rank, q.order))
        return ranked, chosen

    def ask(self, question: str) -> Answer:
        """Answer from the documents, or refuse with the reason the decision gives."""
        started = time.perf_counter()
        question = " ".join(question.split())

        def done(
            text: str,
            abstained: bool,
            sources: list[Source],
            reason: str | None,
            mode: str = "extractive",
            cited: int | None = None,
            origins: list[list[str]] | None = None,
        ) -> Answer:
            elapsed = (time.perf_counter() - started) * 1000
            return Answer(
                question, text, abstained, sources, elapsed, mode, reason, cited, origins or []
            )

        asked = expand_abbreviations(question)
        early = decide_mod.screen(asked)
        if early is not None:
            return done(early.message, True, [], early.reason)
        retrieval = self.retrieve(asked)
        sources = [self._source(h) for h in retrieval.hits]
        _, facts = self._visible()
        verdict = decide_mod.decide(asked, retrieval, facts)
        if not verdict.answer and verdict.neighbour is None:
            return done(verdict.message, True, sources, verdict.reason)
        allowed = verdict.allowed_docs
        if verdict.neighbour is not None:
            allowed = frozenset({verdict.neighbour})
        extra = self._kind_hits(asked, retrieval, allowed)
        if extra:
            retrieval.hits = [*retrieval.hits, *extra]
            sources = [*sources, *(self._source(h) for h in extra)]
        ranked, quotes = self._quotes(asked, retrieval, allowed, verdict, len(extra))
        if not verdict.answer:
            # A neighbour: say what the documents do cover, quoted, and refuse.
            if not quotes:
                return done(decide_mod.NOT_COVERED, True, sources, verdict.reason)
            text, ordered, origins = self._render(asked, quotes, retrieval, sources)
            return done(
                f"{verdict.message}\n{text}",
                True,
                ordered,
                verdict.reason,
                cited=len({q.hit_rank for q in quotes}),
                origins=origins,
            )
        index = self._load_index()
        final = decide_mod.after_selection(
            asked, ranked, quotes, retrieval, index.lexical, index.doc_terms
        )
        if not final.answer and final.reason != "unconfirmed":
            return done(final.message, True, sources, final.reason)
        generator = self._generator() if final.answer else None
        if generator is not None:
            labels = {h.chunk.doc_id: self._label(h.chunk.doc_id) for h in retrieval.hits}
            generated = generator.answer(question, retrieval.hits, labels)
            if generated is not None:
                return done(generated, False, sources, None, mode="generative")
        text, ordered, origins = self._render(asked, quotes, retrieval, sources)
        cited = len({q.hit_rank for q in quotes})
        if not final.answer:
            # The guide itself says the detail is not confirmed: say so and
            # point to the unit's office instead of presenting it as an answer.
            return done(
                f"{final.message}\n{text}",
                True,
                ordered,
                final.reason,
                cited=cited,
                origins=origins,
            )
        return done(text, False, ordered, None, cited=cited, origins=origins)

    def _render(
        self, question: str, quotes: list[Quote], retrieval: Retrieval, sources: list[Source]
    ) -> tuple[str, list[Source], list[list[str]]]:
        """Answer text, sources with the quoted ones first, and each quote's inline sources."""
        ranks = list(dict.fromkeys(q.hit_rank for q in quotes))
        ocr = any(self._docs[retrieval.hits[r].chunk.doc_id].ocr_like for r in ranks)
        deadline = AnswerType.DATE in answer_types(question) and bool(
            _DEADLINE.search(fold(question))
        )
        text, per_quote = body(quotes, ocr, self.clock(), deadline)
        if any(is_transcribed(sources[r].meta) for r in ranks):
            text = f"{text}\n{TRANSCRIBED_NOTE}"  # provenance: once, not per block
        origins: list[list[str]] = []
        for rank in ranks:
            origins.append(
                [
                    o
                    for q, found in zip(quotes, per_quote, strict=True)
                    if q.hit_rank == rank
                    for o in found
                ]
            )
        ordered = [sources[i] for i in ranks] + [s for i, s in enumerate(sources) if i not in ranks]
        return text, ordered, origins


# A question about a deadline (not a start date): a passed date is worth saying.
_DEADLINE = re.compile(r"\b(han|truoc ngay|hoan thanh|thoi han|cham nhat|bat buoc|phai|khi nao)\b")


def _words(text: str) -> list[str]:
    return tokens(text)
