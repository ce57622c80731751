"""Folding, OCR repair, sentence splitting and structure-aware chunking."""

from pathlib import Path

from bot.text import diacritic_ratio, fold, split_sentences, terms, tokens
from ingest.chunker import SIGNATURE_SECTION, chunk_document, heading_level, reflow
from ingest.metadata import parse_header

PLANS = Path(__file__).resolve().parents[1] / "knowledge" / "plans"


def test_fold_matches_the_eval_definition() -> None:
    assert fold("  Hạn CHÓT   hoàn thành\tkhóa học  ") == "han chot hoan thanh khoa hoc"
    assert fold("Đơn thuốc điện tử") == "don thuoc dien tu"


def test_tokens_repair_common_ocr_damage() -> None:
    # "s6" is "số", "1a" is "là", "VNelD" is "VNeID" in the OCR seeds.
    assert tokens("Binh dan hoc vu s6 1a VNelD") == [
        "binh",
        "dan",
        "hoc",
        "vu",
        "so",
        "la",
        "vneid",
    ]
    assert tokens("ngay05 thang 6") == ["ngay", "05", "thang", "6"]


def test_terms_include_syllable_bigrams() -> None:
    assert "hoc_vu" in terms("Bình dân học vụ số")


def test_diacritic_ratio_tells_ocr_text_apart() -> None:
    # The OCR text of plan 2948 (the typed transcription is what is indexed).
    ocr = (
        PLANS / "scans" / "so-y-te-bac-ninh-2948-KH-SYT-2026-binh-dan-hoc-vu-so.ocr.txt"
    ).read_text()
    clean = (PLANS / "ttyt-ngoc-lac-789-KH-TTYT-2025-binh-dan-hoc-vu-so.txt").read_text()
    assert diacritic_ratio(ocr) < 0.2 < diacritic_ratio(clean)


def test_split_sentences_does_not_cut_inside_parentheses() -> None:
    text = "Người học đăng nhập bằng tài khoản VNeID (Nguồn: Báo Đồng Nai). Sau đó chọn khóa học."
    assert split_sentences(text) == [
        "Người học đăng nhập bằng tài khoản VNeID (Nguồn: Báo Đồng Nai).",
        "Sau đó chọn khóa học.",
    ]


def test_split_sentences_keeps_list_items_apart() -> None:
    text = "Mục tiêu chung.\n- Ý thứ nhất;\n- Ý thứ hai.\nCâu cuối cùng."
    assert split_sentences(text) == [
        "Mục tiêu chung.",
        "- Ý thứ nhất;",
        "- Ý thứ hai.",
        "Câu cuối cùng.",
    ]


def test_reflow_joins_wrapped_lines_separated_by_blank_lines() -> None:
    text = "Thực hiện Kế hoạch số 3433/KH-SYT ngày 13/6/2025 của Sở Y tế Thanh \n\nHóa về triển khai.\n\n- Mục một"
    assert reflow(text) == [
        "Thực hiện Kế hoạch số 3433/KH-SYT ngày 13/6/2025 của Sở Y tế Thanh Hóa về triển khai.",
        "- Mục một",
    ]


def test_a_title_ends_where_the_preamble_begins() -> None:
    """ "Thực hiện Kế hoạch số …" under the title is the preamble, not the title's wrapped end."""
    text = (
        'KẾ HOẠCH\n\nTriển khai Phong trào "Bình dân học vụ số" ngành Y tế Bắc Ninh năm 2026\n\n'
        "Thực hiện Kế hoạch số 08-KH/TU ngày 25/7/2025 của Ban Thường vụ Tỉnh\n"
        "ủy về triển khai Phong trào;\n\nCăn cứ Kế hoạch số 15/KH-UBND ngày 07/8/2025;"
    )
    assert reflow(text) == [
        "KẾ HOẠCH",
        'Triển khai Phong trào "Bình dân học vụ số" ngành Y tế Bắc Ninh năm 2026',
        "Thực hiện Kế hoạch số 08-KH/TU ngày 25/7/2025 của Ban Thường vụ Tỉnh ủy về triển khai "
        "Phong trào;",
        "Căn cứ Kế hoạch số 15/KH-UBND ngày 07/8/2025;",
    ]


def test_chunks_carry_their_section_path() -> None:
    text = (
        "KẾ HOẠCH\nThử nghiệm\n"
        "I. MỤC ĐÍCH, YÊU CẦU\n1. Mục đích\n- Nâng cao kỹ năng số cho toàn thể viên chức.\n"
        "II. NHIỆM VỤ\n1. Truyền thông\na) Tuyên truyền trên Zalo OA của bệnh viện.\n"
        "Nơi nhận:\n- Như trên;\nGIÁM ĐỐC\nNguyễn Văn A\n"
    )
    chunks = chunk_document(text)
    zalo = next(c for c in chunks if "Zalo OA" in c.text)
    assert zalo.section.startswith("II. NHIỆM VỤ")
    signature = next(c for c in chunks if "Nguyễn Văn A" in c.text)
    assert signature.section == SIGNATURE_SECTION


def test_real_plan_sections_nest() -> None:
    plan = PLANS / "scans" / "so-y-te-bac-ninh-2948-KH-SYT-2026-binh-dan-hoc-vu-so.ocr.txt"
    chunks = chunk_document(plan.read_text())
    zalo = next(c for c in chunks if "Zalo OA" in c.text)
    assert zalo.section.startswith("I1I. NHIEM VU") and "> 1.2." in zalo.section
    assert all(len(c.text) <= 1400 for c in chunks)


def test_ocr_roman_headings_are_recognised() -> None:
    text = "I1I. NHIEM VU VA GIAI PHAP\n1. Truyen thong\nNoi dung truyen thong can bo.\n"
    assert chunk_document(text)[0].section.startswith("I1I. NHIEM VU")


def test_header_metadata_from_clean_and_ocr_plans() -> None:
    ngoc_lac = PLANS / "ttyt-ngoc-lac-789-KH-TTYT-2025-binh-dan-hoc-vu-so.txt"
    meta = parse_header(ngoc_lac.read_text(), ngoc_lac)
    assert meta.number == "789/KH-TTYT"
    assert meta.issued_date == "2025-06-20"
    assert "NGỌC LẶC" in (meta.issuer or "")
    assert "Bình dân học vụ số" in meta.title

    bac_ninh = PLANS / "so-y-te-bac-ninh-2948-KH-SYT-2026-binh-dan-hoc-vu-so.txt"
    meta = parse_header(bac_ninh.read_text(), bac_ninh)
    assert meta.number == "2948/KH-SYT"
    assert meta.issued_date == "2026-06-05"


REGULATION = """QUY ĐỊNH TRỰC ĐÊM KHOA HỒI SỨC TÍCH CỰC

Chương I
QUY ĐỊNH CHUNG

Điều 1. Số đêm trực
Mỗi điều dưỡng khoa Hồi sức tích cực trực tối đa 6 đêm mỗi tháng.
Sau mỗi đêm trực, điều dưỡng được nghỉ bù một ngày theo lịch của khoa,
do điều dưỡng trưởng khoa sắp xếp.
1. Trực chính: điều dưỡng có trên 2 năm kinh nghiệm và đã qua đào tạo hồi sức cấp cứu cơ bản của bệnh viện.
2. Trực phụ: điều dưỡng mới, có người trực chính kèm cặp trong toàn bộ ca trực đêm theo phân công.

Điều 2. Bàn giao ca
Bàn giao ca trực đêm lúc 7 giờ sáng tại phòng hành chính khoa, có ký sổ bàn giao
và ghi đầy đủ tình trạng người bệnh nặng.
"""


def test_regulations_are_cut_at_chapters_and_articles() -> None:
    assert heading_level("Chương II. QUY ĐỊNH CHUNG") == (1, "Chương II. QUY ĐỊNH CHUNG")
    assert heading_level("Điều 3. Trách nhiệm") == (2, "Điều 3. Trách nhiệm")
    for prose in (
        "Chương trình đào tạo kỹ năng số",
        "Phần mềm quản lý bệnh viện",
        "Điều dưỡng trực",
    ):
        assert heading_level(prose) is None
    chunks = chunk_document(REGULATION)
    handover = next(c for c in chunks if "7 giờ sáng" in c.text)
    # "Điều 2" is never cited as a clause of "Điều 1".
    assert "Điều 1" not in handover.section
    assert handover.section.startswith("Chương I")


def test_informal_document_title_comes_from_its_heading() -> None:
    meta = parse_header(REGULATION, Path("truc-dem.txt"))
    assert meta.title == "Quy định trực đêm khoa hồi sức tích cực"
    assert parse_header("# Hướng dẫn dùng máy in\n\nNội dung.", Path("x.md")).title == (
        "Hướng dẫn dùng máy in"
    )
    assert parse_header(
        "Ghi chú họp giao ban sáng nay về lịch trực.", Path("ghi_chu.txt")
    ).title == ("ghi chu")


def test_percent_sign_reads_as_phan_tram() -> None:
    assert "phan_tram" in terms("năm 2025 đạt 90%")
    assert "phan_tram" in terms("bao nhiêu phần trăm")


def test_table_rows_stay_separate_records() -> None:
    """The typed appendix of 19/KH-TTYT is one row per line: rows are never joined."""
    from ingest.chunker import reflow

    text = (
        "STT | Nhiệm vụ | Cơ quan chủ trì\n"
        "4.5 | Tuyên truyền trên trang thông tin | Phòng KH - NV - ĐD\n"
        "5 | Tham gia Cuộc thi tìm hiểu cải cách hành chính | Toàn thể VC, NLĐ\n"
        "Nơi nhận:\n"
    )
    paragraphs = reflow(text)
    assert paragraphs[1].startswith("4.5 |") and "Cuộc thi" not in paragraphs[1]
    assert paragraphs[2].startswith("5 | Tham gia")


def test_a_sentence_about_a_department_is_not_the_issuer() -> None:
    # A statute article titled "Phòng vệ chính đáng" or a regulation whose first
    # sentence starts "Phòng Đào tạo …" names no issuer: taking it as one made its
    # words "name the document" and left them out of the ranking of its sentences.
    article = "Phòng vệ chính đáng\n\n1. Phòng vệ chính đáng là hành vi của người vì bảo vệ quyền."
    assert parse_header(article, Path("dieu-22.txt")).issuer is None
    rule = "Phòng Đào tạo Đại học xếp lịch thi và gửi cho các đơn vị tổ chức thi.\n\nNội dung."
    assert parse_header(rule, Path("lich-thi.txt")).issuer is None
    letterhead = "PHÒNG Y TẾ HUYỆN THỌ XUÂN\nSố: 12/KH-PYT\nKẾ HOẠCH\nTriển khai bệnh án điện tử\n"
    assert parse_header(letterhead, Path("kh.txt")).issuer == "PHÒNG Y TẾ HUYỆN THỌ XUÂN"
    above_number = "Phòng Y tế huyện Thọ Xuân\nSố: 12/KH-PYT\nKẾ HOẠCH\nTriển khai\n"
    assert parse_header(above_number, Path("kh.txt")).issuer == "Phòng Y tế huyện Thọ Xuân"


def test_both_spellings_of_i_and_y_read_the_same() -> None:
    # "lí do" / "lý do", "kĩ năng" / "kỹ năng", "tử sĩ" / "tử sỹ": both are correct Vietnamese
    assert terms("lí do") == terms("lý do") == terms("li do")
    assert terms("kĩ năng số") == terms("kỹ năng số") == terms("ki nang so")
    assert terms("tử sĩ") == terms("tử sỹ")
    assert terms("quí I") == terms("quý I")
    assert terms("ít nhất") == ["it", "nhat", "it_nhat"]  # only whole syllables change


def test_an_abbreviation_before_a_name_ends_no_sentence() -> None:
    assert split_sentences("CBPB nhận xét theo mẫu của P. ĐTĐH. Sau đó gửi lại.") == [
        "CBPB nhận xét theo mẫu của P. ĐTĐH.",
        "Sau đó gửi lại.",
    ]
    assert len(split_sentences("Sở Y tế TP. Hồ Chí Minh tổ chức. ThS. Nguyễn Văn A ký.")) == 2
    assert split_sentences("Báo cáo gửi về SYT. Hạn nộp ngày 5.") == [
        "Báo cáo gửi về SYT.",
        "Hạn nộp ngày 5.",
    ]
