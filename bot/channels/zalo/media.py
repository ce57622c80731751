"""Files in and out of Zalo: attachment downloads and a short-lived file route.

Incoming: Zalo hands us a URL for an image or file the user sent.
:class:`AttachmentFetcher` downloads it into ``uploads/incoming`` with a size
limit (``MAX_UPLOAD_MB``), an allow-list of types checked by extension *and*
by the file's first bytes, and returns an
:class:`~bot.core.messages.Attachment` for the engine — or a Vietnamese reason
to tell the user. Which files a feature accepts (certificate photos, rosters,
documents) stays the core's decision; this is the transport gate.

Outgoing: the Bot Platform's ``sendPhoto`` only takes a URL. :class:`MediaStore`
keeps a chart in memory for a limited time under an unguessable token, served
by the webhook server, so Zalo can fetch it.
"""

from __future__ import annotations

import logging
import mimetypes
import re
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx

from bot.core.channel_state import SharedFiles
from bot.core.messages import Attachment, OutFile
from bot.core.uploads import describe
from bot.db import Database

log = logging.getLogger(__name__)

# How each suffix is recognised from its first bytes. Which suffixes are
# accepted at all is the features' decision (``Registry.accepted_suffixes``).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".heic", ".tif", ".tiff", ".bmp"})
ZIP_SUFFIXES = frozenset({".docx", ".xlsx", ".xlsm"})
BINARY_SUFFIXES = IMAGE_SUFFIXES | ZIP_SUFFIXES | {".pdf"}

REFUSE_TYPE = "Tệp này không được nhận. Chỉ nhận các loại tệp: {kinds}."
REFUSE_SIZE = "Tệp quá lớn (tối đa {mb} MB). Hãy gửi tệp nhỏ hơn."
REFUSE_DOWNLOAD = "Không tải được tệp bạn gửi. Vui lòng gửi lại sau ít phút."


def sniff_suffix(head: bytes) -> str | None:
    """The file type its first bytes say, as a suffix (None: unknown)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if head.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return ".webp"
    if head[4:8] == b"ftyp" and head[8:12] in {b"heic", b"heix", b"mif1", b"msf1", b"heim"}:
        return ".heic"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return ".tif"
    if head.startswith(b"%PDF-"):
        return ".pdf"
    if head.startswith(b"BM"):
        return ".bmp"
    if head.startswith(b"PK\x03\x04"):
        return ".zip"  # docx/xlsx/xlsm are zip containers
    return None


def content_matches(suffix: str, head: bytes) -> bool:
    """True when the first bytes fit the claimed extension."""
    sniffed = sniff_suffix(head)
    if suffix not in BINARY_SUFFIXES:  # text kinds: .txt .md .csv .html
        return (sniffed is None or sniffed == ".bmp") and b"\x00" not in head
    if suffix in ZIP_SUFFIXES:
        return sniffed == ".zip"
    if suffix in {".jpg", ".jpeg"}:
        return sniffed == ".jpg"
    if suffix in {".tif", ".tiff"}:
        return sniffed == ".tif"
    return sniffed == suffix


def safe_filename(name: str, fallback: str) -> str:
    """A plain file name: no folders, no control characters, at most 120 characters."""
    name = unquote(name).replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f<>:\"|?*]", "_", name).strip(" .")
    if not name:
        return fallback
    stem, dot, suffix = name.rpartition(".")
    if dot and len(name) > 120:
        return stem[: 119 - len(suffix)] + "." + suffix
    return name[:120]


@dataclass(frozen=True)
class Fetched:
    """Either an attachment for the engine or a reason to tell the user."""

    attachment: Attachment | None = None
    refusal: str | None = None


class AttachmentFetcher:
    """Downloads user attachments from Zalo's CDN with limits and type checks."""

    def __init__(
        self, http: httpx.AsyncClient, folder: Path, max_mb: int, accepted: frozenset[str]
    ) -> None:
        self.http = http
        self.folder = folder
        self.accepted = accepted
        self.refuse_type = REFUSE_TYPE.format(kinds=describe(accepted))
        self.max_mb = max_mb
        self.max_bytes = max_mb * 1024 * 1024

    async def fetch(
        self, url: str, filename: str | None = None, declared_size: int | None = None
    ) -> Fetched:
        """Download ``url``; ``filename`` is the name the user's file had, if known."""
        if urlparse(url).scheme not in {"http", "https"}:
            return Fetched(refusal=REFUSE_DOWNLOAD)
        if declared_size is not None and declared_size > self.max_bytes:
            return Fetched(refusal=REFUSE_SIZE.format(mb=self.max_mb))
        name_hint = filename or urlparse(url).path
        suffix = Path(safe_filename(name_hint, "tep")).suffix.lower()
        if filename and suffix not in self.accepted:
            return Fetched(refusal=self.refuse_type)
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{uuid.uuid4().hex}.part"
        size = 0
        mime: str | None = None
        try:
            async with self.http.stream("GET", url, follow_redirects=True) as response:
                if response.status_code != 200:
                    log.warning("attachment download answered HTTP %s", response.status_code)
                    return Fetched(refusal=REFUSE_DOWNLOAD)
                length = response.headers.get("content-length", "")
                if length.isdigit() and int(length) > self.max_bytes:
                    return Fetched(refusal=REFUSE_SIZE.format(mb=self.max_mb))
                mime = response.headers.get("content-type", "").split(";")[0].strip() or None
                with target.open("wb") as out:
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > self.max_bytes:
                            return Fetched(refusal=REFUSE_SIZE.format(mb=self.max_mb))
                        out.write(chunk)
        except httpx.HTTPError as exc:
            log.warning("attachment download failed: %s", type(exc).__name__)
            return Fetched(refusal=REFUSE_DOWNLOAD)
        finally:
            if size > self.max_bytes or not target.exists() or target.stat().st_size != size:
                target.unlink(missing_ok=True)
        if not target.exists():
            return Fetched(refusal=REFUSE_DOWNLOAD)
        with target.open("rb") as fh:
            head = fh.read(4096)
        if size == 0:
            target.unlink(missing_ok=True)
            return Fetched(refusal=REFUSE_DOWNLOAD)
        if not filename or suffix not in self.accepted:
            # An image event (no name) or a URL without a usable extension: name it by content.
            sniffed = sniff_suffix(head)
            if sniffed not in (IMAGE_SUFFIXES | {".pdf"}) & self.accepted:
                target.unlink(missing_ok=True)
                return Fetched(refusal=self.refuse_type)
            suffix = sniffed or ".jpg"
            filename = f"anh-zalo{suffix}" if sniffed != ".pdf" else "tep-zalo.pdf"
        if not content_matches(suffix, head):
            target.unlink(missing_ok=True)
            return Fetched(refusal=self.refuse_type)
        name = safe_filename(filename, f"tep{suffix}")
        final = target.with_name(f"{target.stem}-{name}")
        target.rename(final)
        if mime is None or mime == "application/octet-stream":
            mime = mimetypes.guess_type(name)[0]
        return Fetched(Attachment(filename=name, path=final, size=size, mime_type=mime))


class MediaStore:
    """Files served under unguessable tokens for a limited time.

    Given the database, the files live in its ``shared_files`` table, so the
    link works whichever worker the download reaches (several workers behind
    one proxy); without it (unit tests) they are kept in memory.
    """

    def __init__(
        self,
        ttl_s: float = 3600.0,
        max_items: int = 200,
        clock: Callable[[], float] = time.monotonic,
        db: Database | None = None,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_items = max_items
        self.clock = clock
        self._items: OrderedDict[str, tuple[float, OutFile]] = OrderedDict()
        self._shared = SharedFiles(db, ttl_s) if db is not None else None

    def put(self, file: OutFile) -> str:
        """Keep ``file`` and return its token (which ends with the file's extension)."""
        suffix = Path(file.filename).suffix.lower()
        token = secrets.token_urlsafe(24) + (
            suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) else ""
        )
        if self._shared is not None:
            return self._shared.put(file, token)
        self._expire()
        self._items[token] = (self.clock() + self.ttl_s, file)
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)
        return token

    def get(self, token: str) -> OutFile | None:
        if self._shared is not None:
            return self._shared.get(token)
        self._expire()
        item = self._items.get(token)
        return item[1] if item else None

    def _expire(self) -> None:
        now = self.clock()
        for token in [t for t, (until, _) in self._items.items() if until < now]:
            del self._items[token]
