"""Read documents into plain text: TXT, Markdown, DOCX, HTML, PDF and images.

PDF pages with a text layer are read directly; pages without one (scans) are
rendered and OCR'd with tesseract's Vietnamese model, page by page, so mixed
PDFs work. Every failure is an :class:`IngestError` with a one-line reason
for the operator's log and a Vietnamese one for the user.
"""

from __future__ import annotations

import logging
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

log = logging.getLogger(__name__)

TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown"})
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"})
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | IMAGE_SUFFIXES | {".docx", ".html", ".htm", ".pdf"}
# A page with fewer characters than this in its text layer is treated as scanned.
MIN_PAGE_TEXT = 40
OCR_DPI = 300


class IngestError(Exception):
    """Why a file could not be read: ``reason`` (English, one line) and ``reason_vi``."""

    def __init__(self, reason: str, reason_vi: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reason_vi = reason_vi


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
    raw = path.read_bytes()
    if not raw.strip():
        raise IngestError("empty file", "Tệp rỗng.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        log.info("%s is not UTF-8; decoding as cp1258", path.name)
        try:
            return raw.decode("cp1258")
        except UnicodeDecodeError:
            return raw.decode("latin-1")


def _load_docx(path: Path) -> str:
    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        doc = Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise IngestError(f"corrupt DOCX: {exc}", "Tệp DOCX bị hỏng, không mở được.") from exc
    parts: list[str] = []
    body = doc.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            parts.append(Paragraph(child, doc).text)
        elif tag == "tbl":
            for row in Table(child, doc).rows:
                cells = [c.text.strip() for c in row.cells]
                unique = list(dict.fromkeys(c for c in cells if c))
                if unique:
                    parts.append(" | ".join(unique))
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


def _load_pdf(path: Path) -> tuple[str, str, int]:
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
    try:
        for index in range(len(pdf)):
            page = pdf[index]
            text = page.get_textpage().get_text_range()
            if len(text.strip()) < MIN_PAGE_TEXT:
                _ocr_available()
                from ingest.ocr import ocr_image

                image = page.render(scale=OCR_DPI / 72).to_pil()
                text = ocr_image(image)
                ocr_pages += 1
            pages.append(text)
        count = len(pdf)
    finally:
        pdf.close()
    method = "pdf-ocr" if ocr_pages else "pdf-text"
    return "\n\n".join(pages), method, count


def _load_image(path: Path) -> str:
    from PIL import Image, UnidentifiedImageError

    _ocr_available()
    from ingest.ocr import ocr_image

    try:
        with Image.open(path) as image:
            image.load()
            return ocr_image(image)
    except (UnidentifiedImageError, OSError) as exc:
        raise IngestError(f"unreadable image: {exc}", "Không đọc được tệp ảnh.") from exc


def load_text(path: Path) -> LoadedText:
    """Text of a supported file, NFC-normalised, one paragraph or item per line."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise IngestError(
            f"unsupported file type '{suffix or '(none)'}'",
            f"Định dạng “{suffix or 'không rõ'}” chưa được hỗ trợ (hỗ trợ PDF, DOCX, TXT, MD, HTML và ảnh chụp).",
        )
    if path.stat().st_size == 0:
        raise IngestError("empty file", "Tệp rỗng.")
    if suffix in TEXT_SUFFIXES:
        method = "markdown" if suffix != ".txt" else "text"
        return LoadedText(_require_text(_load_plain(path), "file"), method)
    if suffix == ".docx":
        return LoadedText(_require_text(_load_docx(path), "DOCX"), "docx")
    if suffix in {".html", ".htm"}:
        return LoadedText(_require_text(_load_html(path), "HTML"), "html")
    if suffix == ".pdf":
        text, method, pages = _load_pdf(path)
        return LoadedText(_require_text(text, "PDF (even after OCR)"), method, pages)
    return LoadedText(_require_text(_load_image(path), "image (OCR)"), "image-ocr", 1)
