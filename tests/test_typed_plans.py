"""The typed transcriptions of the two scanned plans, and their provenance.

2948/KH-SYT and 19/KH-TTYT exist only as scans whose OCR text lost its
diacritics. The typed version is what is indexed and quoted; the OCR text is
kept in ``knowledge/plans/scans/`` for provenance. These tests prove the
transcription kept every fact of the scan (numbers, dates, document codes, in
both directions), added or reworded nothing (folded syllables align with the
scan), reads as normal Vietnamese (share of marked syllables), and that ingest,
answers and ``hocvuso docs scan`` treat the pair as documented.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from bot.cli import main
from bot.core.services import Services
from bot.text import diacritic_ratio, fold
from ingest.pipeline import iter_files
from ingest.provenance import (
    TRANSCRIBED_NOTE,
    catalogue_meta,
    is_scan_copy,
    locate,
    scan_copy,
    similarity,
    syllables,
)

REPO = Path(__file__).resolve().parents[1]
PLANS = REPO / "knowledge" / "plans"
BAC_NINH = "so-y-te-bac-ninh-2948-KH-SYT-2026-binh-dan-hoc-vu-so"
VINH_THANH = "ttyt-vinh-thanh-19-KH-TTYT-2025-tuyen-truyen-cai-cach-hanh-chinh"
TRANSCRIBED = [BAC_NINH, VINH_THANH]

# OCR digit confusions in the scans, normalised before the facts are compared.
# Each one is a place where the scan clearly shows a letter read as a digit
# (or a digit run glued to a word); nothing else is touched.
SCAN_NORMALISATIONS: dict[str, list[tuple[str, str]]] = {
    BAC_NINH: [
        # "ngày 05": the space was lost, the day is real ("ngay05" hides "05").
        ("ngay05 thing 6", "ngay 05 thing 6"),
        # "tỷ lệ người dân": "lệ" read as "16".
        ("ty 16 nguoi", "ty le nguoi"),
        # "nguy cơ lộ lọt": "lộ" read as "16".
        ("nguy co 16 lot", "nguy co lo lot"),
        # "dịch vụ y tế số.": "số" read as "6".
        ("dichvuy té 6.", "dichvuy té so."),
        # "học liệu số,": "số" read as "50".
        ("hoc li¢u 50,", "hoc li¢u so,"),
        # "vướng mắc": a speck read as "1" inside the word.
        ("vuong 1 mic", "vuong mic"),
        # "hồ sơ": "hồ" read as "1}0".
        ("1}0 so suc khoe", "ho so suc khoe"),
    ],
    VINH_THANH: [
        # Letterhead "Số: 19/KH-TTYT": Y read as V, and a space before the slash.
        ("19 /KH-TTVT", "19/KH-TTYT"),
        # "lộ trình": "lộ" read as "10".
        ("voi 10 trinh", "voi lo trinh"),
        # "nhất là": "là" read as "1".
        ("nhat 1 cac", "nhat la cac"),
        # Appendix row numbers: "4.1" read as "ML\", "4.3" and "4.5" without their dot.
        ("ML\\ cai cach", "4.1 cai cach"),
        ("43 Ve fa", "4.3 Ve fa"),
        ("45 V?e", "4.5 V?e"),
        # "Định kỳ 01 lần/quý": "01" read as "Ol".
        ("Dngh ky ,Ol", "Dngh ky 01"),
    ],
}

_NUMBER = re.compile(r"(?<![\w])\d+(?![\w])")
_DATE = re.compile(r"(?<!\d)(\d{1,2})/(\d{1,2})/(\d{4})(?!\d)")
_TEXT_DATE = re.compile(r"ngay\s*(\d{1,2})\s*th\w{0,4}\s*(\d{1,2})\s*n\w{0,3}\s*(\d{4})")
# "2948/KH-SYT", "08-KH/TU", "23/CT-TTg" (the scan: "2948 |KH-SYT").
_CODE = re.compile(r"(?<![\w])\d{1,5}\s*[-/|]\s*[A-Z]{1,6}[a-z]?(?:\s*[-/]\s*[A-Z]{1,6}[a-z]?)+")


def _typed(name: str) -> str:
    return (PLANS / f"{name}.txt").read_text(encoding="utf-8")


def _scan(name: str) -> str:
    return (PLANS / "scans" / f"{name}.ocr.txt").read_text(encoding="utf-8")


def _normalised_scan(name: str) -> str:
    text = _scan(name)
    for wrong, right in SCAN_NORMALISATIONS[name]:
        text = text.replace(wrong, right)
    return text


def _facts(text: str) -> dict[str, Counter[str]]:
    """Numbers, dates (dd/mm/yyyy and "ngày D tháng M năm Y") and document codes."""
    folded = fold(text)
    dates = Counter("/".join(d) for d in _DATE.findall(text))
    dates.update("/".join(d) for d in _TEXT_DATE.findall(folded))
    codes = Counter(re.sub(r"\s+", "", code).replace("|", "/") for code in _CODE.findall(text))
    return {"numbers": Counter(_NUMBER.findall(text)), "dates": dates, "codes": codes}


@pytest.mark.parametrize("name", TRANSCRIBED)
def test_every_normalisation_is_seen_exactly_once_in_the_scan(name: str) -> None:
    scan = _scan(name)
    for wrong, _ in SCAN_NORMALISATIONS[name]:
        assert scan.count(wrong) == 1, wrong


@pytest.mark.parametrize("name", TRANSCRIBED)
def test_typed_plan_keeps_every_number_date_and_code_of_the_scan(name: str) -> None:
    typed, scan = _facts(_typed(name)), _facts(_normalised_scan(name))
    for kind in ("numbers", "dates", "codes"):
        assert typed[kind] - scan[kind] == Counter(), f"{kind} only in the typed text"
        assert scan[kind] - typed[kind] == Counter(), f"{kind} only in the scan"
    assert typed["codes"]["2948/KH-SYT" if name == BAC_NINH else "19/KH-TTYT"] == 1


def test_fact_extraction_sees_the_codes_and_dates_that_matter() -> None:
    facts = _facts(_typed(BAC_NINH))
    codes = {"2948/KH-SYT", "08-KH/TU", "15/KH-UBND", "94/KH-UBND", "57-NQ/TW", "72-NQ/TW"}
    assert codes <= set(facts["codes"])
    assert {"25/7/2025", "07/8/2025", "30/6/2026", "05/6/2026", "05/12/2026"} <= set(facts["dates"])
    assert {"76/NQ-CP", "23/CT-TTg", "14/KH-SYT"} <= set(_facts(_typed(VINH_THANH))["codes"])


@pytest.mark.parametrize("name", TRANSCRIBED)
def test_typed_plan_folds_to_the_scan(name: str) -> None:
    """Nothing added, removed or reworded: folded syllables align with the scan."""
    typed, scan = _typed(name), _scan(name)
    assert similarity(typed, scan) >= 0.9
    # The body (before the appendix table, whose scan is column soup) is closer still.
    body = typed.split("PHỤ LỤC")[0]
    scan_body = scan.split("PHU LUC")[0]
    assert similarity(body, scan_body) >= 0.95


@pytest.mark.parametrize("name", TRANSCRIBED)
def test_typed_plan_reads_as_vietnamese_with_diacritics(name: str) -> None:
    assert diacritic_ratio(_typed(name)) > 0.5
    assert diacritic_ratio(_scan(name)) < 0.2  # what the OCR gave: marks lost


def test_similarity_notices_added_or_reworded_text() -> None:
    scan = _scan(BAC_NINH)
    typed = _typed(BAC_NINH)
    reworded = typed.replace("Tiếp tục đưa tri thức số", "Nhanh chóng mang kiến thức mới")
    padded = typed + "\n" + typed[: len(typed) // 5]
    assert similarity(reworded, scan) < similarity(typed, scan)
    assert similarity(padded, scan) < 0.9


def test_ingest_skips_scan_copies(tmp_path: Path) -> None:
    (tmp_path / "scans").mkdir()
    (tmp_path / "ke-hoach.txt").write_text("Kế hoạch", encoding="utf-8")
    (tmp_path / "scans" / "ke-hoach.ocr.txt").write_text("Ke hoach", encoding="utf-8")
    (tmp_path / "ban-quet.OCR.TXT").write_text("Ke hoach", encoding="utf-8")
    assert [c.path.name for c in iter_files([tmp_path])] == ["ke-hoach.txt"]
    shipped = [c.path for c in iter_files([REPO / "knowledge"])]
    assert not any(is_scan_copy(p) for p in shipped)
    assert {p.name for p in shipped} >= {f"{name}.txt" for name in TRANSCRIBED}


@pytest.mark.parametrize("name", TRANSCRIBED)
def test_catalogue_points_at_the_scan_copy(name: str) -> None:
    import yaml

    entry = yaml.safe_load((PLANS / "catalog.yaml").read_text(encoding="utf-8"))[f"{name}.txt"]
    assert catalogue_meta(entry) == {"transcribed": True, "scan": f"scans/{name}.ocr.txt"}
    assert scan_copy(PLANS / f"{name}.txt") == PLANS / "scans" / f"{name}.ocr.txt"
    assert catalogue_meta({"title": "x"}) == {}


def test_no_scan_copy_for_a_typed_original() -> None:
    assert scan_copy(PLANS / "ttyt-ngoc-lac-789-KH-TTYT-2025-binh-dan-hoc-vu-so.txt") is None


def test_a_quote_maps_back_to_its_scan_lines() -> None:
    scan = _scan(BAC_NINH)
    span = locate("7. Các cơ quan, đơn vị trực thuộc Sở Y tế", scan)
    assert span is not None and span.score > 0.8
    assert span.text == "7. C4c co quan, don vi truc thude S¢' Y té"
    assert scan.splitlines()[span.first_line - 1] == span.text

    span = locate("- Hằng tháng: Trước ngày 15 hằng tháng;", scan)
    assert span is not None and "Trudc ngdy 15 hang thang" in span.text


def test_every_typed_line_maps_to_its_own_scan_line() -> None:
    """The transcription keeps the scan's lines, so provenance finds each one."""
    scan = _scan(BAC_NINH)
    scan_lines = scan.splitlines()
    lines = [ln for ln in _typed(BAC_NINH).splitlines() if len(syllables(ln)) >= 8]
    for line in lines[::12]:
        span = locate(line, scan)
        assert span is not None and span.score > 0.6, line
        assert span.first_line == span.last_line, line
        assert similarity(line, scan_lines[span.first_line - 1]) >= 0.8, line


def test_a_passage_across_lines_maps_to_the_whole_range() -> None:
    scan = _scan(VINH_THANH)
    passage = (
        "+ Tuyên truyền kết quả cải thiện các Chỉ số đánh giá hoạt động của cơ quan "
        "hành chính nhà nước như: Chỉ số năng lực cạnh tranh cấp tỉnh (PCI); Chỉ số "
        "CCHC (PAR INDEX); Chỉ số hài lòng của người dân đối với sự phục vụ của cơ "
        "quan hành chính Nhà nước (SIPAS);"
    )
    span = locate(passage, scan)
    assert span is not None and span.last_line - span.first_line == 3
    assert span.text.startswith("+ Tuyén truyén két qua cai thién")
    assert "(SIPAS)" in span.text


def test_text_that_is_not_in_the_scan_does_not_match() -> None:
    span = locate("Thời tiết Hà Nội ngày mai có mưa rào và dông", _scan(BAC_NINH))
    assert span is None or span.score < 0.5
    assert locate("", _scan(BAC_NINH)) is None


def test_ingested_plans_say_they_are_transcribed(services: Services) -> None:
    kb = services.kb
    kb.ask("khởi động")  # loads the document cache
    docs = {d.number: d for d in kb._docs.values()}
    for number, name in (("2948/KH-SYT", BAC_NINH), ("19/KH-TTYT", VINH_THANH)):
        doc = docs[number]
        assert doc.meta["transcribed"] is True
        assert doc.meta["scan"] == f"scans/{name}.ocr.txt"
        assert not doc.ocr_like  # the indexed text has its diacritics
    assert not any(d.path.endswith(".ocr.txt") for d in kb.documents())


def test_answer_from_a_transcribed_plan_says_so_once(services: Services) -> None:
    answer = services.kb.ask(
        "Các đơn vị trực thuộc Sở Y tế Bắc Ninh báo cáo hằng tháng trước ngày nào?"
    )
    assert not answer.abstained
    assert answer.sources[0].meta.get("transcribed") is True
    assert answer.text.count(TRANSCRIBED_NOTE) == 1
    assert "Trích nguyên văn bản quét" not in answer.text
    assert "15" in answer.text


def test_answer_from_a_typed_original_has_no_transcription_note(services: Services) -> None:
    answer = services.kb.ask("Tuần lễ học tập suốt đời năm 2023 của Bệnh viện Tâm thần Thanh Hóa")
    assert not answer.abstained
    assert TRANSCRIBED_NOTE not in answer.text


def test_cli_docs_scan_shows_the_scan_lines_of_a_quote(
    services: Services, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    data = ["--data-dir", str(services.settings.data_dir)]
    doc_id = next(d.doc_id for d in services.kb.documents() if d.number == "2948/KH-SYT")
    code = main([*data, "docs", "scan", doc_id, "Hằng quý: Trước ngày 10 tháng cuối quý;"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"scans/{BAC_NINH}.ocr.txt" in out
    assert "Hang quy: Trudc ngay 10 thang cudi quy" in out

    code = main([*data, "docs", "scan", "--json", doc_id, "Chỉ tiêu 5"])
    match = json.loads(capsys.readouterr().out)["match"]
    assert code == 0 and "Chi ti€u 5" in match["text"]

    plain = next(d.doc_id for d in services.kb.documents() if d.number == "789/KH-TTYT")
    assert main([*data, "docs", "scan", plain]) == 1
    assert "no scan copy" in capsys.readouterr().err


def test_eval_judges_a_typed_passage_by_its_scan_lines_too() -> None:
    """Seed phrases are written against the scan ("nguoi cao tudi"): the typed
    passage that replaced it still counts as the passage that answers."""
    from bot.answering.types import Source
    from bot.evaluation import ScanLines, is_hit

    typed = _typed(BAC_NINH)
    start = typed.index("Chủ trì tổ chức chiến dịch")
    passage = typed[start : start + 400]
    source = Source("x", "t", f"knowledge/plans/{BAC_NINH}.txt", "", passage, 1.0)
    item = {"any": [["nguoi cao tudi"]]}
    assert not is_hit(item, source)
    assert is_hit(item, source, ScanLines(REPO / "knowledge"))
    other = Source("x", "t", "knowledge/guides/none.md", "", passage, 1.0)
    assert not is_hit(item, other, ScanLines(REPO / "knowledge"))
