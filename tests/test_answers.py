"""What a staff member sees when asking: quotes, citations, honest abstention."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from bot.core.knowledge_commands import format_answer
from bot.core.services import Services
from bot.text import fold


def test_question_without_diacritics_finds_the_passage(services: Services) -> None:
    answer = services.kb.ask(
        "ke hoach cua ttyt ngoc lac thuc hien ke hoach nao cua so y te thanh hoa"
    )
    assert not answer.abstained
    assert "3433" in answer.text
    assert answer.sources[0].doc_id.startswith("ttyt-ngoc-lac")


def test_question_with_diacritics_finds_ocr_text_without_them(services: Services) -> None:
    answer = services.kb.ask("Phòng nào kiểm tra việc triển khai đơn thuốc điện tử?")
    assert not answer.abstained
    assert any(s.doc_id.startswith("so-y-te-bac-ninh") for s in answer.sources[:3])


def test_document_names_choose_the_document_not_its_letterhead(services: Services) -> None:
    answer = services.kb.ask(
        "Kế hoạch hành động của TTYT Ngọc Lặc thực hiện kế hoạch nào của Sở Y tế Thanh Hóa?"
    )
    assert answer.sources[0].doc_id.startswith("ttyt-ngoc-lac")
    answer = services.kb.ask("Sở Y tế Bắc Ninh giao phòng nào theo dõi chỉ tiêu?")
    assert answer.sources[0].doc_id.startswith("so-y-te-bac-ninh")


def test_answer_quotes_the_source_and_cites_it(services: Services) -> None:
    answer = services.kb.ask("Mô hình chính quyền địa phương mấy cấp được tuyên truyền?")
    assert not answer.abstained
    assert "2 cap" in fold(answer.text)
    assert "“" in answer.text  # a quotation, not a paraphrase
    shown = format_answer(answer)
    assert shown.count("Nguồn") == 1 and "19/KH-TTYT" in shown.split("Nguồn:", 1)[1]


@pytest.mark.parametrize(
    "question",
    [
        "Giá vàng SJC hôm nay bao nhiêu?",
        "ket qua bong da ngoai hang anh",
        "Bệnh viện Chợ Rẫy có bao nhiêu bác sĩ?",
        # every syllable folds to a word of the documents ("hôn"/"hơn", "phường"/"phương")
        "Thủ tục đăng ký kết hôn ở phường?",
        "Lương cơ sở năm 2026",
    ],
)
def test_questions_outside_the_documents_are_declined(services: Services, question: str) -> None:
    answer = services.kb.ask(question)
    assert answer.abstained
    # declined outright, or with what is missing named ("không có thông tin về “Bệnh viện Chợ Rẫy”")
    assert "không đề cập" in answer.text or answer.text.startswith(
        "Tài liệu hiện có không có thông tin về"
    )


@pytest.mark.parametrize(
    "question",
    [
        "Liều paracetamol cho trẻ 10kg là bao nhiêu?",
        "cach chua sot xuat huyet tai nha",
        "Nên uống thuốc gì để hạ huyết áp?",
    ],
)
def test_clinical_advice_is_refused(services: Services, question: str) -> None:
    answer = services.kb.ask(question)
    assert answer.abstained
    assert "không tư vấn chuyên môn lâm sàng" in answer.text


def test_json_contract(services: Services) -> None:
    data = services.kb.ask("Đề án 06 là gì?").to_json()
    assert set(data) == {"question", "answer", "abstained", "sources", "elapsed_ms"}
    assert data["sources"]
    source = data["sources"][0]
    assert set(source) == {"doc_id", "title", "path", "section", "text", "score"}
    assert source["path"].endswith((".txt", ".md"))
    assert isinstance(source["score"], float)


def _fake(responses: list[str]) -> Any:
    return FakeListChatModel(responses=responses)


class _Broken:
    def invoke(self, _messages: object) -> None:
        raise ConnectionError("endpoint down")


def test_generative_mode_uses_a_cited_model_answer(make_services: Any) -> None:
    services = make_services(ANSWER_MODE="generative")
    services.kb.set_generative_model(
        _fake(["Kế hoạch 789/KH-TTYT thực hiện Kế hoạch số 3433/KH-SYT [1]."])
    )
    answer = services.kb.ask("TTYT Ngọc Lặc thực hiện kế hoạch nào của Sở Y tế?")
    assert answer.mode == "generative"
    assert "3433" in answer.text and not answer.abstained


@pytest.mark.parametrize(
    "model",
    [
        _fake(["Tôi nghĩ là kế hoạch 3433."]),
        _fake(["KHONG_CO_THONG_TIN"]),
        _fake(["Xem [9]."]),
        _Broken(),
    ],
    ids=["no-citation", "no-info", "bad-citation", "error"],
)
def test_generative_mode_falls_back_to_extractive(make_services: Any, model: Any) -> None:
    services = make_services(ANSWER_MODE="generative")
    services.kb.set_generative_model(model)
    answer = services.kb.ask("TTYT Ngọc Lặc thực hiện kế hoạch nào của Sở Y tế?")
    assert answer.mode == "extractive"
    assert "3433" in answer.text


def test_generative_mode_still_abstains_without_evidence(make_services: Any) -> None:
    services = make_services(ANSWER_MODE="generative")
    services.kb.set_generative_model(_fake(["Giá xăng là 25.000 đồng [1]."]))
    assert services.kb.ask("Giá xăng hôm nay bao nhiêu?").abstained


@pytest.mark.parametrize(
    "question",
    [
        "Hạn chót hoàn thành khóa học MOOC là ngày nào?",
        "han chot hoan thanh khoa hoc mooc la ngay nao",
    ],
)
def test_mooc_deadline_comes_from_the_plan(services: Services, question: str) -> None:
    answer = services.kb.ask(question)
    assert not answer.abstained
    assert "30/6/2026" in answer.text.split("\n\n")[0]
    assert answer.sources[0].title.startswith("Kế hoạch") or "2948" in answer.sources[0].title


@pytest.mark.parametrize(
    "question",
    [
        "uống paracetamol bao nhiêu mg một lần",
        "Điều trị tăng huyết áp bằng thuốc gì?",
        "tiem insulin may lan mot ngay",
    ],
)
def test_dosing_and_treatment_are_refused_however_phrased(
    services: Services, question: str
) -> None:
    answer = services.kb.ask(question)
    assert answer.abstained and "không tư vấn chuyên môn lâm sàng" in answer.text


def test_prescribing_rules_are_not_mistaken_for_clinical_advice(services: Services) -> None:
    answer = services.kb.ask("Liều dùng trên đơn thuốc điện tử phải ghi thế nào theo Thông tư 26?")
    assert answer.reason != "clinical" and not answer.abstained
    assert "Liều dùng phải ghi rõ lượng mỗi lần" in answer.text


def test_a_plan_named_by_its_number_is_quoted_from_its_body(services: Services) -> None:
    answer = services.kb.ask("Kế hoạch 19/KH-TTYT tuyên truyền về nội dung gì?")
    assert not answer.abstained
    quoted = answer.text.split("\n", 1)[0]  # the answer opens with its quote
    assert "cai cach hanh chinh" in fold(quoted)  # the subject, not the letterhead line
    assert "KE HOACH" not in answer.text


def test_percentages_are_found_when_asked_in_words(services: Services) -> None:
    answer = services.kb.ask(
        "Ke hoach cua TTYT Ngoc Lac dat chi tieu bao nhieu phan tram cho nam 2025?"
    )
    assert not answer.abstained
    assert any("90%" in s.text for s in answer.sources)


def test_ocr_passage_is_not_sunk_by_missing_dense_score(services: Services) -> None:
    # The answering passage is OCR text e5 cannot read; it must still be used.
    answer = services.kb.ask("Cán bộ y tế hỗ trợ những đối tượng nào cài đặt ứng dụng y tế số?")
    assert not answer.abstained


def test_a_named_unit_is_answered_from_its_own_plan(services: Services) -> None:
    answer = services.kb.ask("ai la truong ban chi dao phong trao o ttyt ngoc lac")
    if not answer.abstained:
        assert answer.sources[0].doc_id.startswith("ttyt-ngoc-lac")
        assert "2948" not in format_answer(answer)


@pytest.mark.parametrize(
    "question",
    [
        "han chot hoan thanh khoa hoc mooc la ngay nao",
        "Hạn chót hoàn thành khóa học MOOC là ngày nào và đăng nhập nền tảng bằng gì?",
    ],
)
def test_citations_list_only_the_passages_quoted(services: Services, question: str) -> None:
    answer = services.kb.ask(question)
    shown = format_answer(answer)
    assert shown.count("Nguồn") == 1
    quoted = {s.doc_id + s.section for s in answer.sources[: answer.cited]}
    cited = shown.split("Nguồn:", 1)[1].strip().splitlines()
    assert len(cited) == len(quoted) >= 1
    assert len(answer.to_json()["sources"]) == len(answer.sources) >= len(cited)


def test_a_word_absent_from_every_document_does_not_cost_the_answer(services: Services) -> None:
    answer = services.kb.ask("bao cao hang thang nop truoc ngay may?")
    assert not answer.abstained and "15" in answer.text


@pytest.mark.parametrize(
    ("question", "when"),
    [
        # the line is in the plan's sixth passage: every passage repeats the event's name
        (
            "tuan le hoc tap suot doi 2023 to chuc ngay nao",
            "từ ngày 02/10/2023 đến ngày 08/10/2023",
        ),
        (
            "Các hoạt động hưởng ứng Ngày Chuyển đổi số của ngành y tế TP.HCM diễn ra "
            "trong thời gian nào?",
            "Từ ngày 01 tháng 10 đến ngày 31 tháng 10 năm 2024",
        ),
    ],
)
def test_a_date_question_quotes_the_line_that_states_the_time(
    services: Services, question: str, when: str
) -> None:
    answer = services.kb.ask(question)
    assert not answer.abstained
    assert when in answer.text.splitlines()[0]
    # not the date the plan it carries out was issued, not a sentence that only names the year
    assert "4397/KH-SYT" not in answer.text
    assert "kinh phi" not in fold(answer.text) and "diễn ra thành công" not in answer.text


def test_report_and_focal_point_questions_typed_without_marks_are_answered(
    services: Services,
) -> None:
    # "bao cao" is "báo cáo" here, not the asking "bao" of "bao nhiêu"
    answer = services.kb.ask("khi nao phai nop bao cao quy")
    assert not answer.abstained and "10 tháng cuối quý" in answer.text
    # the duty is quoted with the unit it is listed under
    answer = services.kb.ask("ttyt ngoc lac giao khoa nao lam dau moi")
    assert not answer.abstained
    assert answer.text.startswith("“1. Phòng Hành chính tổng hợp") and "đầu mối" in answer.text


def test_the_title_is_not_quoted_with_the_preamble_under_it(services: Services) -> None:
    answer = services.kb.ask("Kế hoạch 2948 thực hiện kế hoạch nào của tỉnh ủy?")
    assert not answer.abstained
    assert answer.text.startswith("“Thực hiện Kế hoạch số 08-KH/TU")
    assert "năm 2026 Thực hiện" not in answer.text
    # the line under "KẾ HOẠCH" is the plan's title, worded unlike its catalogue title
    for question in (
        "nam 2025 ttyt vinh thanh tuyen truyen cchc bang hinh thuc nao",
        "TTYT Vĩnh Thạnh tuyên truyền những nội dung gì?",
    ):
        quoted = services.kb.ask(question).text
        assert "“Tuyên truyền công tác cải cách hành chính tại" not in quoted
