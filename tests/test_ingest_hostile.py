"""Hostile files at ingest (issue 12, items 1-7) and the lost-diacritics warning (issue 11.6).

One bad file must never cost the others: every file below was reproduced as a
failure on the version before this one (the run stopped, the file was indexed
as junk, the same file became three documents...).
"""

from __future__ import annotations

import io
import os
import random
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from docx import Document as DocxDocument
from sqlalchemy import func, select

from bot.app import build_engine
from bot.core.messages import Attachment, Incoming, Reply
from bot.core.services import Services
from bot.retrieval.models import Chunk, Document
from ingest import chunker
from ingest.chunker import MAX_CHARS, chunk_document
from ingest.loaders import IngestError, IngestLimits, load_text
from ingest.names import safe_name
from ingest.pipeline import Ingestor
from ingest.quality import check_diacritics
from ingest.textdecode import NotText, decode_text

REPO = Path(__file__).resolve().parents[1]
PLANS = REPO / "knowledge" / "plans"
# The scan-OCR text of plan 2948 (kept beside its typed version for provenance).
OCR_PLAN = PLANS / "scans" / "so-y-te-bac-ninh-2948-KH-SYT-2026-binh-dan-hoc-vu-so.ocr.txt"
TYPED_PLAN = PLANS / "ttyt-ngoc-lac-789-KH-TTYT-2025-binh-dan-hoc-vu-so.txt"
GOOD_TEXT = "Kế hoạch tập huấn bệnh án điện tử cho điều dưỡng khoa Nội vào tháng mười."


# -- builders of hostile files -------------------------------------------------------------
def _docx(path: Path, paragraphs: list[str]) -> None:
    doc = DocxDocument()
    for p in paragraphs:
        doc.add_paragraph(p)
    doc.save(str(path))


def _truncated_docx(path: Path) -> None:
    """A DOCX whose word/document.xml is cut in half (lxml: XMLSyntaxError)."""
    good = io.BytesIO()
    doc = DocxDocument()
    for i in range(40):
        doc.add_paragraph(f"Đoạn văn số {i} của quy chế trực đêm.")
    doc.save(good)
    good.seek(0)
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "word/document.xml":
                data = data[: len(data) // 2]
            dst.writestr(item, data)


def _png_header(path: Path, width: int, height: int) -> None:
    """A valid PNG that declares ``width`` x ``height`` pixels (PIL: DecompressionBombError)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def _pdf(
    path: Path, pages: int, text: str = "Thông báo hội thi tin học cho kỹ thuật viên."
) -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    font = Path(__import__("matplotlib").get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    pdfmetrics.registerFont(TTFont("DejaVu", str(font)))
    c = canvas.Canvas(str(path))
    for i in range(pages):
        c.setFont("DejaVu", 12)
        c.drawString(50, 800, f"{text} Trang {i + 1}.")
        c.showPage()
    c.save()


def _chunks_and_vectors(services: Services) -> tuple[int, int]:
    with services.db.session() as s:
        chunks = int(s.scalar(select(func.count()).select_from(Chunk)) or 0)
    return chunks, services.kb.vectors.count()


def _by_name(report: Any) -> dict[str, Any]:
    return {Path(r.path).name: r for r in report.results}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "kho"
    folder.mkdir()
    (folder / "tot.txt").write_text(GOOD_TEXT, encoding="utf-8")
    return folder


# -- 1. a bad file never stops the run ---------------------------------------------------------
def test_loader_errors_become_one_line_reasons_and_the_run_goes_on(
    empty_services: Services, corpus: Path
) -> None:
    _truncated_docx(corpus / "cat-doi.docx")
    _png_header(corpus / "khong-lo.png", 30000, 30000)
    _pdf(corpus / "nguyen.pdf", 2)
    whole = (corpus / "nguyen.pdf").read_bytes()
    (corpus / "cat-doi.pdf").write_bytes(whole[: len(whole) // 3])
    (corpus / "nguyen.pdf").unlink()
    (corpus / "zip-gia.docx").write_bytes(b"PK\x03\x04" + os.urandom(300))
    _docx(corpus / "sau.docx", ["Điều dưỡng trưởng duyệt lịch trực chuyển đổi số hằng tuần."])

    report = empty_services.kb.ingest([corpus])
    by_name = _by_name(report)
    assert by_name["tot.txt"].status == "added"
    assert by_name["sau.docx"].status == "added"  # after the bad DOCX in walking order
    for name in ("cat-doi.docx", "khong-lo.png", "cat-doi.pdf", "zip-gia.docx"):
        result = by_name[name]
        assert result.status == "failed", name
        assert result.reason and "\n" not in result.reason, name
        assert result.reason_vi, name
    assert "corrupt DOCX" in by_name["cat-doi.docx"].reason
    assert "too large" in by_name["khong-lo.png"].reason
    assert "INGEST_MAX_IMAGE_PIXELS" in by_name["khong-lo.png"].reason
    chunks, vectors = _chunks_and_vectors(empty_services)
    assert chunks == vectors > 0


def test_load_text_raises_only_ingest_errors(tmp_path: Path) -> None:
    _truncated_docx(tmp_path / "a.docx")
    _png_header(tmp_path / "b.png", 30000, 30000)
    (tmp_path / "c.html").write_bytes(b"<html>\x00\xff" * 10)
    for name in ("a.docx", "b.png"):
        with pytest.raises(IngestError):
            load_text(tmp_path / name)


# -- 2. bounded expansion and linear chunking --------------------------------------------------
def test_limits_refuse_a_file_that_expands_too_far(empty_services: Services, corpus: Path) -> None:
    _pdf(corpus / "dai.pdf", 3)
    (corpus / "nhieu-chu.txt").write_text("chữ " * 3000, encoding="utf-8")
    # A DOCX whose document.xml unzips to ~2 MB from a few KB (a small zip bomb).
    _docx(corpus / "bom.docx", ["a" * 2_000_000])
    (corpus / "to.txt").write_bytes(b"x" * 2_100_000)
    ingestor = Ingestor(
        empty_services.db,
        root=corpus,
        limits=IngestLimits(max_file_mb=2, max_unzipped_mb=1, max_chars=5000, max_pages=2),
    )
    report = ingestor.sync([corpus])
    by_name = _by_name(report)
    assert by_name["tot.txt"].status == "added"
    expected = {
        "dai.pdf": "INGEST_MAX_PAGES",
        "nhieu-chu.txt": "INGEST_MAX_CHARS",
        "bom.docx": "INGEST_MAX_UNZIPPED_MB",
        "to.txt": "INGEST_MAX_FILE_MB",
    }
    for name, setting in expected.items():
        assert by_name[name].status == "failed", name
        assert setting in (by_name[name].reason or ""), (name, by_name[name].reason)
        assert "quá lớn" in (by_name[name].reason_vi or "")


def test_settings_reach_the_limits(make_services: Callable[..., Services]) -> None:
    services = make_services(INGEST_MAX_PAGES=7, INGEST_MAX_CHARS=12345)
    limits = services.kb.ingestor().limits
    assert (limits.max_pages, limits.max_chars) == (7, 12345)


def _unpunctuated(chars: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    syllables = ["cong", "tac", "chuyen", "doi", "so", "nganh", "y", "te"]
    syllables += ["benh", "vien", "tram", "xa", "huyen", "ke", "hoach"]
    lines, size = [], 0
    while size < chars:
        line = " ".join(rng.choice(syllables) for _ in range(12))
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)


def test_every_chunk_is_bounded_whatever_the_punctuation() -> None:
    text = _unpunctuated(200_000)
    drafts = chunk_document(text)
    assert len(drafts) > 200
    assert max(len(d.text) for d in drafts) <= MAX_CHARS
    # Nothing is lost: the words are all there, in order.
    assert " ".join(" ".join(d.text.split()) for d in drafts) == " ".join(text.split())
    # A single "word" of 50 KB (a pasted hash) is cut too.
    assert max(len(d.text) for d in chunk_document("x" * 50_000)) <= MAX_CHARS
    # A Markdown heading of 20 KB does not become a 20 KB section label.
    drafts = chunk_document("# T\n\n## " + "tiêu đề " * 2500 + "\n\nNội dung.", markdown=True)
    assert max(len(d.section) for d in drafts) <= 200


def test_reflow_looks_at_each_character_a_bounded_number_of_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Linear, not timed: the text handed to the per-paragraph tests grows with the input.

    The old reflow re-tested the whole growing paragraph for every line, so
    2,000 wrapped lines without punctuation cost ~2,000 x 60 KB of scanning.
    """
    seen = {"chars": 0}

    def counting(fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(text: str, *args: Any, **kw: Any) -> Any:
            seen["chars"] += len(text)
            return fn(text, *args, **kw)

        return wrapper

    for name in ("fold", "heading_level", "_is_upper"):
        monkeypatch.setattr(chunker, name, counting(getattr(chunker, name)))
    text = _unpunctuated(120_000)
    chunker.reflow(text)
    assert seen["chars"] < 10 * len(text)


def _python_docx_text(path: Path) -> str:
    """The former loader (whole tree with python-docx): the reference output."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    doc = DocxDocument(str(path))
    parts: list[str] = []
    for child in doc.element.body.iterchildren():
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


def test_streaming_docx_reads_what_python_docx_read(tmp_path: Path) -> None:
    doc = DocxDocument()
    doc.add_heading("KẾ HOẠCH TRỰC", level=1)
    doc.add_paragraph("I. MỤC ĐÍCH")
    para = doc.add_paragraph("Đoạn có ")
    para.add_run("chữ đậm").bold = True
    para.add_run("\tvà tab.")
    table = doc.add_table(rows=3, cols=3)
    for r in range(3):
        for c in range(3):
            table.cell(r, c).text = f"Ô {r}-{c}"
    table.cell(0, 0).merge(table.cell(0, 1))  # horizontal merge
    table.cell(1, 2).merge(table.cell(2, 2))  # vertical merge
    doc.add_paragraph("- Mục cuối cùng.")
    path = tmp_path / "bang.docx"
    doc.save(str(path))
    assert load_text(path).text == load_text_reference(path)


def load_text_reference(path: Path) -> str:
    from ingest.loaders import _clean

    return _clean(_python_docx_text(path))


# -- 3. binary junk is refused ----------------------------------------------------------------
def test_binary_files_renamed_txt_are_refused(empty_services: Services, corpus: Path) -> None:
    rng = random.Random(3)
    (corpus / "ngau-nhien.txt").write_bytes(bytes(rng.randrange(256) for _ in range(20_000)))
    (corpus / "chuong-trinh.txt").write_bytes(b"MZ\x90\x00\x03\x00" + b"\x00\x10ab" * 3000)
    (corpus / "latin.md").write_bytes(bytes(rng.randrange(0x80, 0x100) for _ in range(5000)))
    report = empty_services.kb.ingest([corpus])
    by_name = _by_name(report)
    assert by_name["tot.txt"].status == "added"
    for name in ("ngau-nhien.txt", "chuong-trinh.txt", "latin.md"):
        assert by_name[name].status == "failed", name
        assert "not a text file" in (by_name[name].reason or ""), by_name[name].reason
        assert "không phải là văn bản" in (by_name[name].reason_vi or "")
    with empty_services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Document)) == 1


def _cp1258(text: str) -> bytes:
    """Text as old Vietnamese Windows editors saved it: letters, then the tone mark."""
    tones = "\u0300\u0301\u0303\u0309\u0323"
    out = []
    for ch in text:
        parts = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in tones))
        out.append(base + "".join(c for c in parts if c in tones))
    return "".join(out).encode("cp1258")


def test_text_encodings_are_detected() -> None:
    text = "Kế hoạch chuyển đổi số ngành y tế năm 2025: Trạm y tế xã Minh Sơn."
    assert decode_text(text.encode("utf-8-sig"))[0] == text
    assert decode_text(text.encode("utf-16"))[0] == text
    assert decode_text(text.encode("utf-16-le"))[0] == text
    # Windows-1258 stores tones as combining marks; NFC happens in the loader.
    decoded, encoding = decode_text(_cp1258(text))
    assert encoding == "cp1258"
    assert unicodedata.normalize("NFC", decoded) == text
    for junk in (b"abc\x00def", bytes(range(0x80, 0x100)) * 4, b"\x01\x02\x03abc" * 100):
        with pytest.raises(NotText):
            decode_text(junk)


# -- 4. identity does not depend on the working directory --------------------------------------
def test_same_file_from_three_directories_is_one_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.cli import main

    root = tmp_path / "kb"
    (root / "plans").mkdir(parents=True)
    plan = root / "plans" / "ke-hoach.txt"
    plan.write_text(GOOD_TEXT, encoding="utf-8")
    data = tmp_path / "data"
    monkeypatch.setenv("HOCVUSO_KNOWLEDGE_DIR", str(root))
    for cwd, arg in ((tmp_path, "kb/plans/ke-hoach.txt"), (root, "plans/ke-hoach.txt")):
        monkeypatch.chdir(cwd)
        assert main(["--data-dir", str(data), "ingest", "-q", arg]) == 0
    monkeypatch.chdir(root / "plans")
    assert main(["--data-dir", str(data), "ingest", "-q", "ke-hoach.txt"]) == 0
    out = capsys.readouterr().out
    assert out.count("added 1") == 1 and out.count("unchanged 1") == 2
    assert main(["--data-dir", str(data), "docs", "list", "--json"]) == 0
    import json

    docs = json.loads(capsys.readouterr().out)
    assert [d["key"] for d in docs] == ["plans/ke-hoach.txt"]
    assert docs[0]["path"] == str(plan)

    elsewhere = tmp_path / "noi-khac"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["--data-dir", str(data), "docs", "remove", "../kb/plans/ke-hoach.txt"]) == 0
    assert main(["--data-dir", str(data), "docs", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.split("\n", 1)[1]) == []
    assert plan.exists()  # a knowledge file is the operator's; only uploads are deleted


def test_keys_stored_relative_to_an_old_working_directory_are_migrated(
    empty_services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "kb"
    root.mkdir()
    (root / "a.txt").write_text(GOOD_TEXT, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    # What the former version stored when run from tmp_path: "kb/a.txt".
    old = Ingestor(empty_services.db, root=tmp_path)
    assert old.ingest_file(Path("kb/a.txt")).status == "added"
    ingestor = Ingestor(empty_services.db, root=root)
    report = ingestor.sync([root])
    assert [r.status for r in report.results] == ["unchanged"]
    with empty_services.db.session() as s:
        assert s.scalars(select(Document.path)).all() == ["a.txt"]


# -- 5. links leaving the folder are not followed ---------------------------------------------
def test_links_out_of_the_folder_are_not_followed(
    empty_services: Services, corpus: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "ngoai" / "mat-khau.txt"
    secret.parent.mkdir()
    secret.write_text("Mật khẩu máy chủ bí mật là hoa-sen-2026 không được tiết lộ.", "utf-8")
    os.symlink(secret, corpus / "passwd.txt")
    os.symlink(secret.parent, corpus / "thu-muc-ngoai")
    os.symlink(corpus / "tot.txt", corpus / "ban-sao.txt")  # inside: same document
    os.symlink(tmp_path / "khong-co.txt", corpus / "gay.txt")  # dangling
    report = empty_services.kb.ingest([corpus])
    by_name = _by_name(report)
    assert by_name["passwd.txt"].status == "skipped"
    assert by_name["thu-muc-ngoai"].status == "skipped"
    assert "skipped 2" in report.summary()
    assert by_name["gay.txt"].status == "failed"
    assert by_name["gay.txt"].path.endswith("gay.txt")  # the link's own name, not its target
    assert "broken link" in (by_name["gay.txt"].reason or "")
    with empty_services.db.session() as s:
        texts = s.scalars(select(Chunk.text)).all()
        assert s.scalar(select(func.count()).select_from(Document)) == 1
    assert not any("hoa-sen" in t for t in texts)


def test_a_document_reached_through_a_deleted_link_is_removed(
    empty_services: Services, corpus: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "ngoai.txt"
    outside.write_text("Quy định trực đêm của phòng Công nghệ thông tin bệnh viện.", "utf-8")
    link = corpus / "lien-ket.txt"
    os.symlink(outside, link)
    kb = empty_services.kb
    assert kb.ingest([link]).counts["added"] == 1  # named explicitly: read
    link.unlink()
    report = kb.ingest([corpus])
    assert report.counts["removed"] == 1
    assert {d.doc_id for d in kb.documents()} == {"tot"}
    assert _chunks_and_vectors(empty_services)[0] == _chunks_and_vectors(empty_services)[1]


# -- 6. upload collisions ------------------------------------------------------------------
def _upload(services: Services, tmp_path: Path, name: str, text: str) -> Any:
    src = tmp_path / f"src-{abs(hash((name, text)))}.txt"
    src.write_text(text, encoding="utf-8")
    return services.kb.add_upload(src, name)


def test_colliding_upload_names_keep_both_files(services: Services, tmp_path: Path) -> None:
    first = _upload(services, tmp_path, "Kế hoạch A.txt", "Kế hoạch A: tập huấn chữ ký số.")
    second = _upload(services, tmp_path, "ke-hoach-a.txt", "Kế hoạch khác: trực đêm phòng máy.")
    assert (first.status, second.status) == ("added", "added")
    assert first.doc_id != second.doc_id
    uploads = services.settings.uploads_dir
    assert (uploads / "ke-hoach-a.txt").exists() and (uploads / "ke-hoach-a-2.txt").exists()
    # Names of only punctuation get a unique safe name each.
    a = _upload(services, tmp_path, "!!!.txt", "Lịch tiêm chủng mở rộng của trạm y tế xã.")
    b = _upload(services, tmp_path, "???.txt", "Quy trình sao lưu dữ liệu hằng tuần.")
    assert a.status == b.status == "added" and a.doc_id != b.doc_id
    names = sorted(p.name for p in uploads.iterdir() if p.is_file())
    assert all(n.startswith(("ke-hoach-a", "tai-lieu-")) for n in names), names
    assert len(names) == 4


def test_same_name_new_content_needs_confirmation(services: Services, tmp_path: Path) -> None:
    kb = services.kb
    assert _upload(services, tmp_path, "Lịch trực.txt", "Lịch trực: bác sĩ Lan trực thứ hai.")
    again = _upload(services, tmp_path, "Lịch trực.txt", "Lịch trực: bác sĩ Hùng trực thứ hai.")
    assert again.status == "conflict"
    assert "Lan" in (services.settings.uploads_dir / "lich-truc.txt").read_text("utf-8")
    src = tmp_path / "moi.txt"
    src.write_text("Lịch trực: bác sĩ Hùng trực thứ hai.", encoding="utf-8")
    replaced = kb.add_upload(src, "Lịch trực.txt", replace=True)
    assert replaced.status == "updated" and replaced.doc_id == again.doc_id
    # The very same bytes again: nothing to confirm.
    assert kb.add_upload(src, "Lịch trực.txt").status == "unchanged"


def _chat(services: Services) -> Callable[..., list[Reply]]:
    engine = build_engine(services)

    def say(text: str = "", **kw: Any) -> list[Reply]:
        """The replies that carry the outcome (indexing runs in the background: its
        "⏳ đang xử lý" notice comes first and is left out here)."""
        replies = engine.handle(Incoming("console", "admin", chat_id="admin", text=text, **kw))
        return [r for r in replies if not r.text.startswith("⏳")]

    return say


def test_chat_upload_asks_before_replacing(
    make_services: Callable[..., Services], tmp_path: Path
) -> None:
    services = make_services(HOCVUSO_ADMIN_IDS="console:admin")
    say = _chat(services)
    first = tmp_path / "v1" / "Quy chế trực.txt"
    first.parent.mkdir()
    first.write_text("Quy chế trực: đổi ca lúc bảy giờ sáng.", encoding="utf-8")
    reply = say(attachment=Attachment(first.name, first, first.stat().st_size))
    assert "Đã thêm" in reply[0].text
    second = tmp_path / "v2" / "Quy chế trực.txt"
    second.parent.mkdir()
    second.write_text("Quy chế trực: đổi ca lúc sáu giờ sáng.", encoding="utf-8")
    reply = say(attachment=Attachment(second.name, second, second.stat().st_size))
    assert "nội dung khác" in reply[0].text
    no, yes = reply[0].choices()[1], reply[0].choices()[0]
    second.unlink()  # the channel deletes its download once the message is handled
    assert "giữ nguyên" in say(payload=no.payload)[0].text
    assert "bảy giờ" in (services.settings.uploads_dir / "quy-che-truc.txt").read_text("utf-8")
    assert "hết hạn" in say(payload=yes.payload)[0].text  # that choice was already answered

    second.write_text("Quy chế trực: đổi ca lúc sáu giờ sáng.", encoding="utf-8")
    reply = say(attachment=Attachment(second.name, second, second.stat().st_size))
    assert "Đã cập nhật" in say(payload=reply[0].choices()[0].payload)[0].text
    assert "sáu giờ" in (services.settings.uploads_dir / "quy-che-truc.txt").read_text("utf-8")
    pending = services.settings.uploads_dir / ".pending"
    assert not pending.exists() or not any(pending.iterdir())


def test_failed_chat_upload_explains_and_leaves_no_copy(
    make_services: Callable[..., Services], tmp_path: Path
) -> None:
    services = make_services(HOCVUSO_ADMIN_IDS="console:admin")
    say = _chat(services)
    bad = tmp_path / "Quy chế.docx"
    _truncated_docx(bad)
    reply = say(attachment=Attachment(bad.name, bad, bad.stat().st_size))
    assert "Không thêm được" in reply[0].text and "DOCX bị hỏng" in reply[0].text
    uploads = services.settings.uploads_dir
    assert not [p for p in uploads.iterdir() if p.is_file()] if uploads.exists() else True


def test_failed_update_keeps_the_previous_file(services: Services, tmp_path: Path) -> None:
    kb = services.kb
    good = tmp_path / "good.docx"
    _docx(good, ["Quy chế trực đêm khoa Cấp cứu: hai bác sĩ mỗi ca."])
    assert kb.add_upload(good, "Quy chế.docx").status == "added"
    bad = tmp_path / "bad.docx"
    _truncated_docx(bad)
    result = kb.add_upload(bad, "Quy chế.docx", replace=True)
    assert result.status == "failed"
    kept = services.settings.uploads_dir / "quy-che.docx"
    assert kept.read_bytes() == good.read_bytes()
    assert not kb.ask("quy che truc dem khoa cap cuu may bac si").abstained


# -- 7. names printed safely -------------------------------------------------------------------
def test_names_with_newlines_print_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.cli import main

    corpus = tmp_path / "kho"
    corpus.mkdir()
    (corpus / "tot.txt").write_text(GOOD_TEXT, encoding="utf-8")
    (corpus / "xau\nFAILED gia.txt").write_bytes(b"")
    (corpus / "dieu-khien\x1b[31m.txt").write_bytes(b"\x00\x01")
    monkeypatch.setenv("HOCVUSO_KNOWLEDGE_DIR", str(corpus))
    code = main(["--data-dir", str(tmp_path / "data"), "ingest", "-q", str(corpus)])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert sum(line.startswith("FAILED") for line in lines) == 2
    assert any("xau\\nFAILED gia.txt" in line for line in lines)
    assert "\x1b" not in out
    assert safe_name("a\u202eb\r") == "a\\u202eb\\r"


# -- 8. OCR that lost its diacritics is flagged -------------------------------------------------
def test_ocr_without_diacritics_is_flagged_but_indexed(
    empty_services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check_diacritics(OCR_PLAN.read_text("utf-8")).lost_diacritics
    assert not check_diacritics(TYPED_PLAN.read_text("utf-8")).lost_diacritics
    english = (REPO / "README.md").read_text("utf-8")
    assert not check_diacritics(english).lost_diacritics
    report = empty_services.kb.ingest([OCR_PLAN, TYPED_PLAN])
    by_name = _by_name(report)
    assert by_name[OCR_PLAN.name].status == "added"
    assert "diacritics" in (by_name[OCR_PLAN.name].warning or "")
    assert "bản quét gốc" in (by_name[OCR_PLAN.name].warning_vi or "")
    assert by_name[TYPED_PLAN.name].warning is None
    assert "1 with warnings" in report.summary()


def test_chat_upload_of_ocr_text_warns_the_admin(
    make_services: Callable[..., Services], tmp_path: Path
) -> None:
    services = make_services(HOCVUSO_ADMIN_IDS="console:admin")
    copy = tmp_path / "ke-hoach-quet.txt"
    copy.write_bytes(OCR_PLAN.read_bytes())
    reply = _chat(services)(attachment=Attachment(copy.name, copy, copy.stat().st_size))
    assert "Đã thêm" in reply[0].text
    assert "mất dấu" in reply[0].text and "bản quét gốc" in reply[0].text


# -- acceptance: a folder of every bad file plus good ones --------------------------------------
@pytest.fixture
def hostile_folder(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "hon-hop"
    folder.mkdir()
    (folder / "tot.txt").write_text(GOOD_TEXT, encoding="utf-8")
    _docx(folder / "tot.docx", ["Quy chế trực đêm: hai điều dưỡng mỗi ca tại khoa Nội."])
    _truncated_docx(folder / "cat-doi.docx")
    _png_header(folder / "khong-lo.png", 30000, 30000)
    (folder / "hong.pdf").write_bytes(b"%PDF-1.7\n" + os.urandom(2000))
    (folder / "rac.txt").write_bytes(os.urandom(5000))
    (folder / "exe.txt").write_bytes(b"\x7fELF\x02\x01\x01" + b"\x00" * 500)
    (folder / "ten\nxuong-dong.txt").write_bytes(b"")
    outside = tmp_path / "bi-mat.txt"
    outside.write_text("Bí mật ngoài thư mục.", encoding="utf-8")
    os.symlink(outside, folder / "passwd.txt")
    os.symlink(tmp_path / "mat-tich.txt", folder / "gay.txt")
    yield folder


def test_cli_over_a_hostile_folder_ingests_the_good_files(
    hostile_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    data = tmp_path / "data"
    code = main(["--data-dir", str(data), "ingest", "-q", str(hostile_folder)])
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()
    bad = [line for line in lines if line.startswith(("FAILED", "SKIPPED"))]
    assert len(bad) == 8, out
    assert sum(line.startswith("ADDED") for line in lines) == 2
    assert "added 2" in lines[-1] and "failed 7" in lines[-1] and "skipped 1" in lines[-1]

    # Only bad files: a distinct exit status.
    only_bad = tmp_path / "toan-hong"
    only_bad.mkdir()
    (only_bad / "rac.txt").write_bytes(os.urandom(3000))
    _truncated_docx(only_bad / "cat-doi.docx")
    assert main(["--data-dir", str(tmp_path / "data2"), "ingest", "-q", str(only_bad)]) == 3
