"""Ingest: every format, incremental re-runs, bad files, duplicates, removal."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from docx import Document as DocxDocument
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import func, select

from bot.core.services import Services
from bot.retrieval.models import Chunk

FONT = Path(__import__("matplotlib").get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
PLANS = Path(__file__).resolve().parents[1] / "knowledge" / "plans"


def _text_pdf(path: Path, lines: list[str]) -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(TTFont("DejaVu", str(FONT)))
    c = canvas.Canvas(str(path))
    c.setFont("DejaVu", 12)
    y = 800
    for line in lines:
        c.drawString(50, y, line)
        y -= 20
    c.save()


def _scanned_pdf(path: Path, lines: list[str]) -> None:
    image = Image.new("L", (1700, 200 + 70 * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONT), 44)
    for i, line in enumerate(lines):
        draw.text((80, 80 + 70 * i), line, fill=0, font=font)
    image.save(path, "PDF", resolution=200)


def _docx(path: Path, paragraphs: list[str]) -> None:
    doc = DocxDocument()
    for p in paragraphs:
        doc.add_paragraph(p)
    doc.save(str(path))


def _chunk_count(services: Services) -> int:
    with services.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Chunk)) or 0)


def test_every_format_is_ingested_and_answerable(empty_services: Services, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ghi-chu.txt").write_text(
        "KẾ HOẠCH\nKiểm tra máy tính\nI. NỘI DUNG\n1. Phòng Vật tư kiểm tra máy tính bảng tại khoa Dược mỗi quý.\n",
        encoding="utf-8",
    )
    (corpus / "huong-dan.md").write_text(
        "# Hướng dẫn\n\n## Mật khẩu\n\nMật khẩu hồ sơ bệnh án phải đổi sau chín mươi ngày.\n",
        encoding="utf-8",
    )
    (corpus / "trang.html").write_text(
        "<html><head><style>p{}</style></head><body>"
        "<p>Tổng đài hỗ trợ kỹ thuật trực ban đêm &amp; ngày lễ.</p></body></html>",
        encoding="utf-8",
    )
    _docx(
        corpus / "quy-che.docx",
        ["QUY CHẾ", "Điều dưỡng trưởng duyệt lịch trực chuyển đổi số hằng tuần."],
    )
    _text_pdf(
        corpus / "thong-bao.pdf",
        ["THÔNG BÁO", "Hội thi tin học dành cho kỹ thuật viên tổ chức tháng mười hai."],
    )
    _scanned_pdf(
        corpus / "ban-quet.pdf", ["KẾ HOẠCH", "Trạm y tế xã tập huấn sổ sức khỏe điện tử."]
    )

    kb = empty_services.kb
    report = kb.ingest([corpus])
    assert report.counts["added"] == 6, [(r.path, r.reason) for r in report.results]

    expectations = {
        "may tinh bang khoa duoc": "ghi-chu",
        "mật khẩu hồ sơ bệnh án đổi sau bao lâu": "huong-dan",
        "tong dai ho tro ky thuat truc ban dem": "trang",
        "Ai duyệt lịch trực chuyển đổi số hằng tuần?": "quy-che",
        "hoi thi tin hoc danh cho ky thuat vien": "thong-bao",
        "trạm y tế xã tập huấn sổ sức khỏe điện tử": "ban-quet",
    }
    for question, doc_id in expectations.items():
        answer = kb.ask(question)
        assert not answer.abstained, question
        assert answer.sources[0].doc_id == doc_id, question


def test_reingest_is_incremental(empty_services: Services, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(PLANS, corpus)
    kb = empty_services.kb
    first = kb.ingest([corpus])
    assert first.counts["added"] == 5
    chunks = _chunk_count(empty_services)
    vectors = kb.vectors.count()
    assert vectors == chunks

    # Unchanged: nothing parsed, nothing embedded.
    second = kb.ingest([corpus])
    assert second.counts["unchanged"] == 5 and not second.changed
    assert kb.sync_vectors() == 0

    # Changed: the file's old passages are replaced, not duplicated.
    target = corpus / "bv-tam-than-thanh-hoa-2023-tuan-le-hoc-tap-suot-doi.txt"
    target.write_text(
        target.read_text(encoding="utf-8").replace("Lê Bật Tân", "Trần Thị Mai Anh"),
        encoding="utf-8",
    )
    third = kb.ingest([corpus])
    assert third.counts["updated"] == 1 and third.counts["unchanged"] == 4
    assert _chunk_count(empty_services) == chunks
    assert kb.vectors.count() == chunks
    answer = kb.ask("Ai ký kế hoạch tuần lễ học tập suốt đời của Bệnh viện Tâm thần?")
    # The updated passage is what is retrieved (which source the answer quotes
    # first is the answering's business, tested in test_answering.py).
    assert any("Trần Thị Mai Anh" in s.text for s in answer.sources)
    assert all("Lê Bật Tân" not in s.text for s in answer.sources)

    # Removed: its passages and vectors go away.
    target.unlink()
    fourth = kb.ingest([corpus])
    assert fourth.counts["removed"] == 1
    assert len(kb.documents()) == 4
    assert kb.vectors.count() == _chunk_count(empty_services)


def test_duplicate_passages_are_indexed_once(empty_services: Services) -> None:
    plan = PLANS / "so-y-te-tphcm-2024-ngay-chuyen-doi-so-quoc-gia.txt"
    empty_services.kb.ingest([plan])
    with empty_services.db.session() as s:
        texts = s.scalars(select(Chunk.content_hash)).all()
    assert len(texts) == len(set(texts))
    # The plan holds its text twice; far fewer chunks than two full copies.
    answer = empty_services.kb.ask("Đặt lịch khám qua tổng đài điện thoại có được không?")
    hits = [s for s in answer.sources if "tổng đài điện thoại" in s.text]
    assert len(hits) == 1


def test_bad_files_are_reported_and_the_rest_ingested(
    empty_services: Services, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "tot.txt").write_text(
        "Kế hoạch tập huấn bệnh án điện tử cho điều dưỡng.", encoding="utf-8"
    )
    (corpus / "rong.txt").write_text("   \n", encoding="utf-8")
    (corpus / "hong.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (corpus / "bang.exe").write_bytes(b"MZ\x00\x00")
    report = empty_services.kb.ingest([corpus])
    by_name = {Path(r.path).name: r for r in report.results}
    assert by_name["tot.txt"].status == "added"
    for name in ("rong.txt", "hong.pdf", "bang.exe"):
        assert by_name[name].status == "failed"
        assert by_name[name].reason and "\n" not in by_name[name].reason
        assert by_name[name].reason_vi
    assert "failed 3" in report.summary()


def test_a_corrupt_update_keeps_the_previous_version(
    empty_services: Services, tmp_path: Path
) -> None:
    doc = tmp_path / "ke-hoach.txt"
    doc.write_text("Kế hoạch tập huấn chữ ký số cho phòng Tài chính kế toán.", encoding="utf-8")
    kb = empty_services.kb
    assert kb.ingest([doc]).counts["added"] == 1
    doc.write_bytes(b"")  # a broken re-upload
    assert kb.ingest([doc]).counts["failed"] == 1
    answer = kb.ask("tap huan chu ky so cho phong tai chinh ke toan")
    assert not answer.abstained
    assert "chữ ký số" in answer.sources[0].text


def test_documents_can_be_listed_and_removed(services: Services) -> None:
    kb = services.kb
    docs = {d.doc_id: d for d in kb.documents()}
    plan = next(d for d in docs.values() if d.number == "2948/KH-SYT")
    assert plan.chunks > 10
    removed = kb.remove(plan.doc_id)
    assert removed is not None and removed.doc_id == plan.doc_id
    assert plan.doc_id not in {d.doc_id for d in kb.documents()}
    answer = kb.ask("chi tieu 5 noi ve gi")
    assert all(s.doc_id != plan.doc_id for s in answer.sources)
    assert kb.remove("khong-co-tai-lieu-nay") is None


@pytest.mark.parametrize("name", ["bao-cao.docx", "trang.txt"])
def test_admin_upload_is_kept_in_the_data_dir(
    services: Services, tmp_path: Path, name: str
) -> None:
    src = tmp_path / name
    if name.endswith(".docx"):
        _docx(
            src,
            ["Hướng dẫn nộp báo cáo chuyển đổi số trước ngày mười lăm hằng tháng qua hệ thống."],
        )
    else:
        src.write_text(
            "Hướng dẫn nộp báo cáo chuyển đổi số trước ngày mười lăm hằng tháng qua hệ thống.",
            encoding="utf-8",
        )
    result = services.kb.add_upload(src, name)
    assert result.status == "added"
    assert (services.settings.uploads_dir / name).exists()
    assert not services.kb.ask("nop bao cao chuyen doi so truoc ngay muoi lam").abstained
    services.kb.remove(result.doc_id or "")
    assert not (services.settings.uploads_dir / name).exists()


def test_encrypted_pdf_and_blank_scan_get_their_own_reasons(
    empty_services: Services, tmp_path: Path
) -> None:
    from reportlab.pdfgen import canvas

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    locked = canvas.Canvas(str(corpus / "mat-khau.pdf"), encrypt="bimat-2026")
    locked.drawString(72, 720, "Ke hoach co mat khau")
    locked.save()
    Image.new("RGB", (800, 600), "white").save(corpus / "trang-trang.png")
    report = empty_services.kb.ingest([corpus])
    by_name = {Path(r.path).name: r for r in report.results}
    assert by_name["mat-khau.pdf"].status == "failed"
    assert "mật khẩu" in (by_name["mat-khau.pdf"].reason_vi or "")
    assert by_name["trang-trang.png"].status == "failed"
    assert "Không tìm thấy chữ" in (by_name["trang-trang.png"].reason_vi or "")
