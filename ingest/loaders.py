"""Read documents into plain text: TXT, Markdown, DOCX, HTML, PDF and images.

PDF pages with a text layer are read directly; pages without one (scans) are
rendered and OCR'd with tesseract's Vietnamese model, page by page, so mixed
PDFs work. Every failure, including the parsers' own exceptions on a
damaged file, is an :class:`IngestError` with a one-line reason for the
operator's log and a Vietnamese one for the user: one bad file must never
cost the others. :class:`IngestLimits` caps what one file may expand to
(bytes on disk, unzipped XML, pages, image pixels, characters).
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

from ingest.errors import IngestError

log = logging.getLogger(__name__)

TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown"})
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"})
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | IMAGE_SUFFIXES | {".docx", ".html", ".htm", ".pdf"}
# A page with fewer characters than this in its text layer is treated as scanned.
MIN_PAGE_TEXT = 40
OCR_DPI = 300


@dataclass(frozen=True)
class IngestLimits:
    """What one file may cost; the settings ``INGEST_MAX_*`` fill it in."""

    max_file_mb: int = 50
    max_unzipped_mb: int = 200
    max_chars: int = 2_000_000
    max_pages: int = 500
    max_image_pixels: int = 40_000_000


def _too_large(what: str, what_vi: str, setting: str) -> IngestError:
    return IngestError(
        f"file too large: {what} (raise {setting} to accept it)",
        f"Tệp quá lớn để đưa vào kho ({what_vi}). Hãy tách thành các tệp nhỏ hơn.",
    )


def _chars_error(limits: IngestLimits) -> IngestError:
    return _too_large(
        f"more than {limits.max_chars:,} characters of text",
        f"hơn {limits.max_chars:,} ký tự".replace(",", "."),
        "INGEST_MAX_CHARS",
    )


@dataclass(frozen=True)
class LoadedText:
    text: str
    method: str
    pages: int | None = None


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = text.replace("\f", "\n").replace("\u00a0", " ").replace("\ufeff", "")
    lines = [ln.rstrip() for ln in text.split("\n")]
    lines = [ln for ln in lines if not re.fullmatch(r"\s*(-\s*)?\d{1,3}(\s*-)?\s*", ln)]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _require_text(text: str, what: str) -> str:
    cleaned = _clean(text)
    if len(re.sub(r"\W", "", cleaned)) < 3:
        raise IngestError(f"no text found in {what}", "Không tìm thấy chữ nào trong tệp.")
    return cleaned


def _load_plain(path: Path) -> str:
    from ingest.textdecode import NotText, decode_text

    raw = path.read_bytes()
    if not raw.strip():
        raise IngestError("empty file", "Tệp rỗng.")
    try:
        text, encoding = decode_text(raw)
    except NotText as exc:
        raise IngestError(
            exc.reason,
            "Tệp không phải là văn bản (có thể là tệp chương trình hoặc dữ liệu "
            "đổi đuôi thành .txt/.md). Hãy gửi tệp văn bản, DOCX hoặc PDF.",
        ) from exc
    if encoding == "cp1258":
        log.info("%s is not UTF-8; read as Windows-1258", path.name)
    return text


def _load_docx(path: Path, limits: IngestLimits) -> str:
    from lxml.etree import XMLSyntaxError

    from ingest.docx_stream import DocxMissingPart, DocxTooLarge, iter_docx_lines

    corrupt_vi = "Tệp DOCX bị hỏng, không mở được."
    parts: list[str] = []
    size = 0
    try:
        for line in iter_docx_lines(path, limits.max_unzipped_mb * 1_000_000):
            parts.append(line)
            size += len(line) + 1
            if size > limits.max_chars:
                raise _chars_error(limits)
    except DocxTooLarge as exc:
        raise _too_large(
            f"unzipped {exc}", "nội dung giải nén quá lớn", "INGEST_MAX_UNZIPPED_MB"
        ) from exc
    except DocxMissingPart as exc:
        raise IngestError(f"corrupt DOCX: {exc}", corrupt_vi) from exc
    except zipfile.BadZipFile as exc:
        raise IngestError(f"corrupt DOCX (zip): {exc}", corrupt_vi) from exc
    except XMLSyntaxError as exc:
        raise IngestError(f"corrupt DOCX (document.xml): {exc}", corrupt_vi) from exc
    except (zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise IngestError(f"corrupt DOCX: {exc}", corrupt_vi) from exc
    return "\n".join(parts)


class _HTMLText(HTMLParser):
    BLOCK: ClassVar[frozenset[str]] = frozenset(
        {
            "p",
            "div",
            "br",
            "li",
            "tr",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "section",
            "article",
            "table",
            "ul",
            "ol",
        }
    )
    SKIP: ClassVar[frozenset[str]] = frozenset(
        {"script", "style", "nav", "head", "noscript", "template", "svg"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skip += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skip:
            self._skip -= 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _load_html(path: Path) -> str:
    raw = path.read_bytes()
    if not raw.strip():
        raise IngestError("empty file", "Tệp rỗng.")
    head = raw[:2048].decode("ascii", "ignore")
    m = re.search(r"charset=[\"']?([\w-]+)", head, re.I)
    encoding = m.group(1) if m else "utf-8"
    try:
        html = raw.decode(encoding, errors="replace")
    except LookupError:
        html = raw.decode("utf-8", errors="replace")
    parser = _HTMLText()
    parser.feed(html)
    text = "".join(parser.parts)
    return "\n".join(re.sub(r"[ \t]+", " ", ln).strip() for ln in text.splitlines())


def _ocr_available() -> None:
    from ingest.ocr import ensure_tesseract

    ensure_tesseract()


def _render_scale(width_pt: float, height_pt: float, max_pixels: int) -> float:
    """OCR_DPI, lowered so that a page of any size renders within ``max_pixels``."""
    scale = OCR_DPI / 72
    area = max(width_pt, 1.0) * max(height_pt, 1.0)
    if area * scale * scale > max_pixels:
        scale = math.sqrt(max_pixels / area)
    return scale


def _load_pdf(path: Path, limits: IngestLimits) -> tuple[str, str, int]:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        message = str(exc).lower()
        if "password" in message:
            raise IngestError("encrypted PDF", "Tệp PDF có mật khẩu, không đọc được.") from exc
        raise IngestError(f"corrupt PDF: {exc}", "Tệp PDF bị hỏng, không mở được.") from exc
    pages: list[str] = []
    ocr_pages = 0
    size = 0
    try:
        count = len(pdf)
        if count > limits.max_pages:
            raise _too_large(
                f"{count} pages, limit {limits.max_pages}",
                f"{count} trang, tối đa {limits.max_pages}",
                "INGEST_MAX_PAGES",
            )
        for index in range(count):
            page = pdf[index]
            text = page.get_textpage().get_text_range()
            if len(text.strip()) < MIN_PAGE_TEXT:
                _ocr_available()
                from ingest.ocr import ocr_image

                width, height = page.get_size()
                scale = _render_scale(width, height, limits.max_image_pixels)
                image = page.render(scale=scale).to_pil()
                text = ocr_image(image)
                ocr_pages += 1
            pages.append(text)
            size += len(text)
            if size > limits.max_chars:
                raise _chars_error(limits)
    except pdfium.PdfiumError as exc:
        raise IngestError(f"corrupt PDF page: {exc}", "Tệp PDF bị hỏng, không đọc được.") from exc
    finally:
        pdf.close()
    method = "pdf-ocr" if ocr_pages else "pdf-text"
    return "\n\n".join(pages), method, count


def _load_image(path: Path, limits: IngestLimits) -> str:
    from PIL import Image, UnidentifiedImageError

    from ingest.ocr import ocr_image

    try:
        with Image.open(path) as image:  # reads the header only
            width, height = image.size
            if width * height > limits.max_image_pixels:
                raise _too_large(
                    f"image of {width}x{height} pixels, limit {limits.max_image_pixels:,}",
                    f"ảnh {width}x{height} điểm ảnh",
                    "INGEST_MAX_IMAGE_PIXELS",
                )
            _ocr_available()
            image.load()
            return ocr_image(image)
    except Image.DecompressionBombError as exc:
        raise _too_large(
            f"image {exc}", "ảnh quá nhiều điểm ảnh", "INGEST_MAX_IMAGE_PIXELS"
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise IngestError(f"unreadable image: {exc}", "Không đọc được tệp ảnh.") from exc


def check_size(path: Path, limits: IngestLimits) -> None:
    """Refuse an empty file or one larger than ``INGEST_MAX_FILE_MB`` before reading it."""
    size = path.stat().st_size
    if size == 0:
        raise IngestError("empty file", "Tệp rỗng.")
    if size > limits.max_file_mb * 1_000_000:
        raise _too_large(
            f"{size / 1e6:.1f} MB, limit {limits.max_file_mb} MB",
            f"{size / 1e6:.1f} MB, tối đa {limits.max_file_mb} MB",
            "INGEST_MAX_FILE_MB",
        )


def _read(path: Path, suffix: str, limits: IngestLimits) -> LoadedText:
    if suffix in TEXT_SUFFIXES:
        method = "markdown" if suffix != ".txt" else "text"
        return LoadedText(_require_text(_load_plain(path), "file"), method)
    if suffix == ".docx":
        return LoadedText(_require_text(_load_docx(path, limits), "DOCX"), "docx")
    if suffix in {".html", ".htm"}:
        return LoadedText(_require_text(_load_html(path), "HTML"), "html")
    if suffix == ".pdf":
        text, method, pages = _load_pdf(path, limits)
        return LoadedText(_require_text(text, "PDF (even after OCR)"), method, pages)
    return LoadedText(_require_text(_load_image(path, limits), "image (OCR)"), "image-ocr", 1)


def load_text(path: Path, limits: IngestLimits | None = None) -> LoadedText:
    """Text of a supported file, NFC-normalised, one paragraph or item per line.

    Raises only :class:`IngestError`: a parser's own exception on a damaged
    file (lxml, zip, PIL, pdfium...) becomes that file's one-line reason.
    """
    limits = limits or IngestLimits()
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise IngestError(
            f"unsupported file type '{suffix or '(none)'}'",
            f"Định dạng “{suffix or 'không rõ'}” chưa được hỗ trợ (hỗ trợ PDF, DOCX, TXT, MD, HTML và ảnh chụp).",
        )
    check_size(path, limits)
    try:
        loaded = _read(path, suffix, limits)
    except (IngestError, OSError):
        raise  # OSError: the caller reports "cannot read file"
    except MemoryError as exc:
        raise _too_large(
            "it does not fit in memory", "không đủ bộ nhớ", "INGEST_MAX_FILE_MB"
        ) from exc
    except Exception as exc:  # a parser's own error on a damaged file
        log.warning("unexpected loader error for %r", path.name, exc_info=True)
        kind = suffix.lstrip(".").upper() or "file"
        raise IngestError(
            f"unreadable {kind}: {type(exc).__name__}: {exc}",
            f"Tệp {kind} bị hỏng hoặc không đọc được.",
        ) from exc
    if len(loaded.text) > limits.max_chars:
        raise _chars_error(limits)
    return loaded
