"""Keeps the chunk store in step with files: add, update, skip, remove.

A file is identified by its path and versioned by the SHA-256 of its bytes,
so an unchanged file costs one hash and no parsing or embedding. A file that
fails to load keeps its previous version in the index (nothing stored is
lost); its reason is reported in one line.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from bot.db import Database, utcnow
from bot.retrieval.models import Chunk, Document
from bot.text import diacritic_ratio, fold
from ingest.chunker import chunk_document
from ingest.loaders import SUPPORTED_SUFFIXES, IngestError, load_text
from ingest.metadata import parse_header
from ingest.provenance import catalogue_meta, is_scan_copy

log = logging.getLogger(__name__)

SKIP_IN_FOLDERS = {".yaml", ".yml", ".json", ".csv", ".xlsx"}
SKIP_NAMES = {"readme.md", "license", "license.md", "catalog.yaml"}
OCR_LIKE_RATIO = 0.2


@dataclass
class FileResult:
    path: str
    status: str  # added | updated | unchanged | removed | failed
    chunks: int = 0
    reason: str | None = None
    reason_vi: str | None = None
    doc_id: str | None = None


@dataclass
class IngestReport:
    results: list[FileResult] = field(default_factory=list)

    @property
    def counts(self) -> Counter[str]:
        return Counter(r.status for r in self.results)

    @property
    def ok_count(self) -> int:
        return sum(1 for r in self.results if r.status != "failed")

    @property
    def changed(self) -> bool:
        return any(r.status in {"added", "updated", "removed"} for r in self.results)

    def summary(self) -> str:
        c = self.counts
        return (
            f"added {c['added']}, updated {c['updated']}, unchanged {c['unchanged']}, "
            f"removed {c['removed']}, failed {c['failed']}"
        )


def display_path(path: Path) -> str:
    """Path relative to the working directory when inside it, else absolute."""
    resolved = path.resolve()
    try:
        return str(resolved.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(resolved)


def slugify(text: str, limit: int = 60) -> str:
    return re.sub(r"[^a-z0-9]+", "-", fold(text)).strip("-")[:limit] or "tai-lieu"


def iter_files(paths: Iterable[Path]) -> Iterator[tuple[Path, bool]]:
    """Files to ingest, with ``True`` when named explicitly (errors reported)."""
    for path in paths:
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    file = Path(root) / name
                    if name.startswith(".") or name.lower() in SKIP_NAMES:
                        continue
                    if is_scan_copy(file):  # provenance: OCR text of a transcribed plan
                        continue
                    if file.suffix.lower() in SKIP_IN_FOLDERS:
                        continue
                    yield file, False
        else:
            yield path, True


def _catalogue_entry(file: Path) -> dict[str, Any]:
    """Curated metadata for a file from ``catalog.yaml`` beside it, if any."""
    catalogue = file.parent / "catalog.yaml"
    if not catalogue.exists():
        return {}
    try:
        data = yaml.safe_load(catalogue.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        log.warning("ignoring malformed %s", catalogue)
        return {}
    entry = data.get(file.name) if isinstance(data, dict) else None
    return entry if isinstance(entry, dict) else {}


def _guide_meta(front: dict[str, Any], path: Path) -> dict[str, Any]:
    """Front-matter fields kept with every chunk, plus the cited sources' names.

    Source ids resolve against ``sources.yaml`` beside the guide, so answers
    can name the original sources (title and publisher), not just the guide.
    """
    meta: dict[str, Any] = {k: v for k, v in front.items() if k != "title"}
    checked = front.get("checked_on")
    if isinstance(checked, date):
        meta["checked_on"] = checked.isoformat()
        meta["checked_on_vi"] = checked.strftime("%d/%m/%Y")
    elif isinstance(checked, str):
        meta["checked_on_vi"] = checked
    details: list[dict[str, str]] = []
    catalogue = path.parent / "sources.yaml"
    if catalogue.exists() and front.get("sources"):
        try:
            data = yaml.safe_load(catalogue.read_text(encoding="utf-8")) or []
        except yaml.YAMLError:
            log.warning("ignoring malformed %s", catalogue)
            data = []
        entries = data.get("sources", []) if isinstance(data, dict) else data
        by_id = {str(e.get("id")): e for e in entries if isinstance(e, dict)}
        for sid in front["sources"]:
            entry = by_id.get(str(sid))
            if entry:
                details.append(
                    {
                        "id": str(sid),
                        "title": str(entry.get("title", sid)),
                        "publisher": str(entry.get("publisher") or ""),
                    }
                )
    meta["source_details"] = details
    return meta


class Ingestor:
    """Synchronises files into the ``documents``/``chunks`` tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def sync(
        self, paths: list[Path], *, remove_missing: bool = True, progress: bool = False
    ) -> IngestReport:
        report = IngestReport()
        files = list(iter_files(paths))
        iterator: Iterable[tuple[Path, bool]] = files
        if progress and len(files) > 3:
            from tqdm import tqdm

            iterator = tqdm(files, desc="Đọc tài liệu", unit="tệp")
        for file, explicit in iterator:
            report.results.append(self.ingest_file(file, explicit=explicit))
        if remove_missing:
            report.results.extend(self._remove_missing([p for p in paths if p.is_dir()]))
        return report

    def ingest_file(self, file: Path, *, explicit: bool = True) -> FileResult:
        shown = display_path(file)
        try:
            if not file.exists():
                raise IngestError("file not found", "Không tìm thấy tệp.")
            if file.suffix.lower() not in SUPPORTED_SUFFIXES:
                raise IngestError(
                    f"unsupported file type '{file.suffix or '(none)'}'",
                    f"Định dạng “{file.suffix or 'không rõ'}” chưa được hỗ trợ "
                    "(hỗ trợ PDF, DOCX, TXT, MD, HTML và ảnh chụp).",
                )
            raw = file.read_bytes()
            # Curated metadata is part of the version: editing it re-indexes.
            curated = repr(sorted(_catalogue_entry(file).items())).encode()
            sha = hashlib.sha256(raw + curated).hexdigest()
            with self.db.session() as session:
                existing = session.scalar(select(Document).where(Document.path == shown))
                if existing is not None and existing.sha256 == sha:
                    return FileResult(shown, "unchanged", len(existing.chunks), doc_id=existing.id)
            loaded = load_text(file)
            return self._store(file, shown, sha, loaded.text, loaded.method)
        except IngestError as exc:
            log.warning("ingest failed for %s: %s", shown, exc.reason)
            return FileResult(shown, "failed", reason=exc.reason, reason_vi=exc.reason_vi)
        except OSError as exc:
            return FileResult(
                shown,
                "failed",
                reason=f"cannot read file: {exc.strerror}",
                reason_vi="Không đọc được tệp.",
            )

    def _store(self, file: Path, shown: str, sha: str, text: str, method: str) -> FileResult:
        front: dict[str, Any] = {}
        body = text
        if file.suffix.lower() in {".md", ".markdown"}:
            from ingest.frontmatter import split_front_matter

            front, body = split_front_matter(text)
        meta = parse_header(body, file)
        curated = _catalogue_entry(file)
        for key in ("title", "issuer", "number", "issued_date"):
            if curated.get(key):
                setattr(meta, key, str(curated[key]))
        if curated:
            meta.profile = f"{meta.profile} {meta.issuer or ''} {meta.title}"
        kind = "guide" if front else "plan"
        title = str(front.get("title") or meta.title)
        drafts = chunk_document(body, markdown=file.suffix.lower() in {".md", ".markdown"})
        if not drafts:
            raise IngestError(
                "no text chunks after parsing", "Không tìm thấy nội dung văn bản trong tệp."
            )
        doc_meta: dict[str, Any] = {
            "method": method,
            "number": meta.number,
            "profile": meta.profile,
        }
        doc_meta.update(catalogue_meta(curated))  # provenance: transcribed from a scan
        if front:
            doc_meta.update(_guide_meta(front, file))
            doc_meta["profile"] = f"{meta.profile} {front.get('topic', '')}"
        with self.db.session() as session:
            doc = session.scalar(select(Document).where(Document.path == shown))
            status = "updated" if doc is not None else "added"
            if doc is None:
                doc_id = slugify(file.stem)
                base, n = doc_id, 2
                while session.get(Document, doc_id) is not None:
                    doc_id, n = f"{base}-{n}", n + 1
                doc = Document(id=doc_id, path=shown)
                session.add(doc)
            else:
                doc.chunks.clear()
                session.flush()
            doc.sha256 = sha
            doc.kind = kind
            doc.title = title
            doc.number = meta.number
            doc.issuer = str(front.get("issuer") or meta.issuer or "") or None
            doc.issued_date = meta.issued_date
            doc.ocr_like = diacritic_ratio(body) < OCR_LIKE_RATIO
            doc.meta = doc_meta
            doc.chars = len(body)
            doc.ingested_at = utcnow()
            seen: set[str] = set()
            for draft in drafts:
                content_hash = hashlib.sha1(fold(draft.text).encode()).hexdigest()
                if content_hash in seen:
                    continue  # the same passage twice (e.g. a plan pasted twice)
                seen.add(content_hash)
                chunk_id = hashlib.sha1(f"{doc.id}|{content_hash}".encode()).hexdigest()[:24]
                doc.chunks.append(
                    Chunk(
                        id=chunk_id,
                        ord=len(seen) - 1,
                        section=draft.section,
                        text=draft.text,
                        content_hash=content_hash,
                    )
                )
            count, doc_id = len(seen), doc.id
        return FileResult(shown, status, count, doc_id=doc_id)

    def _remove_missing(self, folders: list[Path]) -> list[FileResult]:
        if not folders:
            return []
        prefixes = [display_path(f).rstrip("/") + "/" for f in folders]
        out: list[FileResult] = []
        with self.db.session() as session:
            for doc in session.scalars(select(Document)).all():
                if any(doc.path.startswith(p) for p in prefixes) and not Path(doc.path).exists():
                    out.append(FileResult(doc.path, "removed", len(doc.chunks), doc_id=doc.id))
                    session.delete(doc)
        return out
