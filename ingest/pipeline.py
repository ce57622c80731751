"""Keeps the chunk store in step with files: add, update, skip, remove.

A file is identified by its resolved path relative to the knowledge root
(absolute when outside it), so the same file is the same document whatever
the working directory or the link it was reached by, and it is versioned by
the SHA-256 of its bytes, so an unchanged file costs one hash and no parsing
or embedding. A file that fails to load keeps its previous version in the
index (nothing stored is lost); its reason is reported in one line, and the
run goes on. Links that leave the folder being ingested are not followed.
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
from sqlalchemy.exc import SQLAlchemyError

from bot.db import Database, utcnow
from bot.retrieval.models import Chunk, Document
from bot.text import diacritic_ratio, fold
from ingest.chunker import chunk_document
from ingest.errors import IngestError, one_line
from ingest.loaders import (
    SUPPORTED_SUFFIXES,
    IngestLimits,
    check_size,
    load_text,
)
from ingest.metadata import parse_header
from ingest.names import safe_name
from ingest.provenance import catalogue_meta, is_scan_copy
from ingest.quality import diacritics_warning

log = logging.getLogger(__name__)

SKIP_IN_FOLDERS = {".yaml", ".yml", ".json", ".csv", ".xlsx"}
SKIP_NAMES = {"readme.md", "license", "license.md", "catalog.yaml"}
OCR_LIKE_RATIO = 0.2
OUTSIDE_LINK = "link leads outside the folder (not followed)"
OUTSIDE_LINK_VI = "Liên kết trỏ ra ngoài thư mục (không đọc)."


@dataclass
class FileResult:
    """What happened to one file. ``path`` is printable (escaped), ``key`` its identity."""

    path: str
    status: str  # added | updated | unchanged | removed | failed | skipped
    chunks: int = 0
    reason: str | None = None
    reason_vi: str | None = None
    doc_id: str | None = None
    key: str | None = None
    warning: str | None = None
    warning_vi: str | None = None


@dataclass
class IngestReport:
    results: list[FileResult] = field(default_factory=list)

    @property
    def counts(self) -> Counter[str]:
        return Counter(r.status for r in self.results)

    @property
    def ok_count(self) -> int:
        return sum(1 for r in self.results if r.status not in {"failed", "skipped"})

    @property
    def readable(self) -> int:
        """Files read this run or already indexed unchanged."""
        return sum(1 for r in self.results if r.status in {"added", "updated", "unchanged"})

    @property
    def changed(self) -> bool:
        return any(r.status in {"added", "updated", "removed"} for r in self.results)

    def summary(self) -> str:
        c = self.counts
        text = (
            f"added {c['added']}, updated {c['updated']}, unchanged {c['unchanged']}, "
            f"removed {c['removed']}, failed {c['failed']}"
        )
        if c["skipped"]:
            text += f", skipped {c['skipped']} (links leaving the folder)"
        warned = sum(1 for r in self.results if r.warning)
        if warned:
            text += f", {warned} with warnings"
        return text


def display_path(path: Path) -> str:
    """Printable name of ``path`` as reached (a link by its own name, not its target).

    Relative to the working directory when inside it, else absolute; control
    characters are escaped so one file is always one line.
    """
    absolute = Path(os.path.abspath(path))
    try:
        shown = str(absolute.relative_to(Path.cwd().resolve()))
    except ValueError:
        shown = str(absolute)
    return safe_name(shown)


def slugify(text: str, limit: int = 60) -> str:
    return re.sub(r"[^a-z0-9]+", "-", fold(text)).strip("-")[:limit] or "tai-lieu"


@dataclass(frozen=True)
class Candidate:
    """A file met while walking: ``skip`` holds why it is not read (a link outside)."""

    path: Path
    explicit: bool
    skip: str | None = None


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def iter_files(paths: Iterable[Path]) -> Iterator[Candidate]:
    """Files to ingest; explicit files as given, folders walked without leaving them.

    A link (to a file or a folder) whose target is outside the folder being
    walked is yielded with ``skip`` set; links inside are read as their target.
    """
    for path in paths:
        if not path.is_dir():
            yield Candidate(path, True)
            continue
        folder = path.resolve()
        for root, dirs, files in os.walk(path):
            base = Path(root)
            kept = []
            for name in sorted(dirs):
                if name.startswith("."):
                    continue
                sub = base / name
                if sub.is_symlink():
                    if not _inside(sub.resolve(), folder):
                        yield Candidate(sub, False, OUTSIDE_LINK)
                    continue  # a link inside is reached through its real place
                kept.append(name)
            dirs[:] = kept
            for name in sorted(files):
                file = base / name
                if name.startswith(".") or name.lower() in SKIP_NAMES:
                    continue
                if file.suffix.lower() in SKIP_IN_FOLDERS:
                    continue
                if is_scan_copy(file):  # provenance: OCR text of a transcribed plan
                    continue
                if file.is_symlink() and file.exists() and not _inside(file.resolve(), folder):
                    yield Candidate(file, False, OUTSIDE_LINK)
                    continue
                yield Candidate(file, False)


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
    """Synchronises files into the ``documents``/``chunks`` tables.

    ``root`` is the knowledge folder that identities are relative to;
    ``limits`` caps what one file may expand to.
    """

    def __init__(
        self, db: Database, *, root: Path | None = None, limits: IngestLimits | None = None
    ) -> None:
        self.db = db
        self.root = (root or Path.cwd()).resolve()
        self.limits = limits or IngestLimits()

    # -- identity -------------------------------------------------------------------
    def identity(self, file: Path) -> str:
        """The document key of ``file``: resolved, relative to the root when inside it."""
        resolved = file.resolve()
        try:
            return resolved.relative_to(self.root).as_posix()
        except ValueError:
            return str(resolved)

    def locate(self, key: str) -> Path:
        """The file a stored key names (absolute)."""
        path = Path(key)
        return path if path.is_absolute() else self.root / path

    def migrate_keys(self) -> int:
        """Re-key documents stored by an older version (paths relative to the cwd of the day).

        A relative key that does not name a file under the root but does from
        the working directory, or an absolute key inside the root, gets its
        canonical key; a second copy of an already-known file is dropped (its
        vectors go with the next vector sync). Returns how many changed.
        """
        changed = 0
        with self.db.session() as session:
            docs = session.scalars(select(Document)).all()
            by_key = {d.path: d for d in docs}
            for doc in docs:
                path = Path(doc.path)
                if path.is_absolute():
                    key = self.identity(path) if _inside(path, self.root) else doc.path
                elif (self.root / path).exists() or not path.exists():
                    continue
                else:
                    key = self.identity(path)
                if key == doc.path:
                    continue
                changed += 1
                if key in by_key:
                    log.info("dropping duplicate document %s (same file as %s)", doc.id, key)
                    session.delete(doc)
                    continue
                del by_key[doc.path]
                doc.path, by_key[key] = key, doc
        return changed

    # -- sync ------------------------------------------------------------------------
    def sync(
        self, paths: list[Path], *, remove_missing: bool = True, progress: bool = False
    ) -> IngestReport:
        report = IngestReport()
        self.migrate_keys()
        files = list(iter_files(paths))
        if remove_missing:
            folders = [p.resolve() for p in paths if p.is_dir()]
            seen = {self.identity(c.path) for c in files if c.skip is None}
            report.results.extend(self._remove_missing(folders, seen))
        iterator: Iterable[Candidate] = files
        if progress and len(files) > 3:
            from tqdm import tqdm

            iterator = tqdm(files, desc="Đọc tài liệu", unit="tệp")
        for candidate in iterator:
            if candidate.skip is not None:
                shown = display_path(candidate.path)
                log.warning("not following %s: %s", shown, candidate.skip)
                report.results.append(
                    FileResult(shown, "skipped", reason=candidate.skip, reason_vi=OUTSIDE_LINK_VI)
                )
                continue
            report.results.append(self.ingest_file(candidate.path, explicit=candidate.explicit))
        return report

    def ingest_file(
        self, file: Path, *, explicit: bool = True, meta: dict[str, Any] | None = None
    ) -> FileResult:
        """Index one file; every failure is a one-line reason, never an exception.

        ``meta`` is kept with the document (an upload's original name).
        """
        shown = display_path(file)
        key: str | None = None
        try:
            if not file.exists():
                if file.is_symlink():
                    raise IngestError(
                        "broken link (its target does not exist)",
                        "Liên kết hỏng (tệp đích không còn).",
                    )
                raise IngestError("file not found", "Không tìm thấy tệp.")
            if file.suffix.lower() not in SUPPORTED_SUFFIXES:
                raise IngestError(
                    f"unsupported file type '{file.suffix or '(none)'}'",
                    f"Định dạng “{file.suffix or 'không rõ'}” chưa được hỗ trợ "
                    "(hỗ trợ PDF, DOCX, TXT, MD, HTML và ảnh chụp).",
                )
            key = self.identity(file)
            check_size(file, self.limits)
            with file.open("rb") as handle:
                digest = hashlib.file_digest(handle, "sha256")
            # Curated metadata is part of the version: editing it re-indexes.
            digest.update(repr(sorted(_catalogue_entry(file).items())).encode())
            sha = digest.hexdigest()
            with self.db.session() as session:
                existing = session.scalar(select(Document).where(Document.path == key))
                if existing is not None and existing.sha256 == sha:
                    return FileResult(
                        shown, "unchanged", len(existing.chunks), doc_id=existing.id, key=key
                    )
            loaded = load_text(file, self.limits)
            via = self.identity_of_link(file) if file.is_symlink() else None
            result = self._store(file, key, sha, loaded.text, loaded.method, via, meta or {})
            result.path = shown
            return result
        except IngestError as exc:
            log.warning("ingest failed for %s: %s", shown, exc.reason)
            return FileResult(shown, "failed", reason=exc.reason, reason_vi=exc.reason_vi, key=key)
        except OSError as exc:
            reason = f"cannot read file: {exc.strerror or exc}"
            log.warning("ingest failed for %s: %s", shown, reason)
            return FileResult(
                shown, "failed", reason=one_line(reason), reason_vi="Không đọc được tệp.", key=key
            )
        except SQLAlchemyError:
            raise  # the database, not this file: every other file would fail the same way
        except Exception as exc:  # a defect met on this file's text must not stop the run
            log.exception("indexing %s failed", shown)
            return FileResult(
                shown,
                "failed",
                reason=one_line(f"internal error while indexing: {type(exc).__name__}: {exc}"),
                reason_vi="Lỗi khi xử lý tệp này; chi tiết trong nhật ký máy chủ.",
                key=key,
            )

    def identity_of_link(self, link: Path) -> str:
        """Key-like form of the path a file was reached by (the link itself, unresolved)."""
        absolute = Path(os.path.abspath(link))
        try:
            return absolute.relative_to(self.root).as_posix()
        except ValueError:
            return str(absolute)

    def _store(
        self,
        file: Path,
        key: str,
        sha: str,
        text: str,
        method: str,
        via: str | None,
        extra: dict[str, Any],
    ) -> FileResult:
        front: dict[str, Any] = {}
        body = text
        if file.suffix.lower() in {".md", ".markdown"}:
            from ingest.frontmatter import split_front_matter

            front, body = split_front_matter(text)
        meta = parse_header(body, file)
        curated = _catalogue_entry(file)
        for name in ("title", "issuer", "number", "issued_date"):
            if curated.get(name):
                setattr(meta, name, str(curated[name]))
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
        doc_meta.update(extra)
        if via is not None:
            doc_meta["via"] = via  # reached through a link: removal looks here too
        warning = diacritics_warning(body)
        if warning is not None:
            doc_meta["warning"] = warning[0]
            log.warning("%s %s", safe_name(key), warning[0])
        with self.db.session() as session:
            doc = session.scalar(select(Document).where(Document.path == key))
            status = "updated" if doc is not None else "added"
            if doc is None:
                doc_id = slugify(file.stem)
                base, n = doc_id, 2
                while session.get(Document, doc_id) is not None:
                    doc_id, n = f"{base}-{n}", n + 1
                doc = Document(id=doc_id, path=key)
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
        return FileResult(
            key,
            status,
            count,
            doc_id=doc_id,
            key=key,
            warning=warning[0] if warning else None,
            warning_vi=warning[1] if warning else None,
        )

    def _remove_missing(self, folders: list[Path], seen: set[str]) -> list[FileResult]:
        """Drop documents under ``folders`` that this walk did not meet.

        A document is under a folder by its own file or by the link it was
        reached through; it stays when its file still exists inside the
        folder (a hidden or explicitly ingested file the walk passes by).
        """
        if not folders:
            return []
        out: list[FileResult] = []
        with self.db.session() as session:
            for doc in session.scalars(select(Document)).all():
                if doc.path in seen:
                    continue
                place = self.locate(doc.path)
                via = (doc.meta or {}).get("via")
                reached = [place] + ([self.locate(str(via))] if via else [])
                folder = next((f for f in folders if any(_inside(p, f) for p in reached)), None)
                if folder is None:
                    continue
                if not via and _inside(place, folder) and place.is_file():
                    continue
                shown = safe_name(doc.path)
                out.append(
                    FileResult(shown, "removed", len(doc.chunks), doc_id=doc.id, key=doc.path)
                )
                session.delete(doc)
        return out
