"""Practical guides: front-matter contract, sources, and answers that cite them."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.core.knowledge_commands import format_answer
from bot.core.services import Services
from bot.text import fold
from ingest.frontmatter import split_front_matter

REPO = Path(__file__).resolve().parents[1]
GUIDES = REPO / "knowledge" / "guides"
GUIDE_FILES = sorted(GUIDES.glob("*.md"))
TAGS = {"DOC", "GOV", "NEWS", "VENDOR", "DRAFT"}


def _catalogue() -> dict[str, dict[str, object]]:
    data = yaml.safe_load((GUIDES / "sources.yaml").read_text(encoding="utf-8"))
    return {entry["id"]: entry for entry in data["sources"]}


def test_there_is_a_guide_per_topic() -> None:
    topics = {split_front_matter(f.read_text(encoding="utf-8"))[0]["topic"] for f in GUIDE_FILES}
    assert {
        "mooc",
        "vneid",
        "bhyt",
        "so-suc-khoe-dien-tu",
        "don-thuoc-dien-tu",
        "benh-an-dien-tu",
        "chu-ky-so",
        "thanh-toan",
        "phong-trao",
    } <= topics


def test_source_catalogue_entries_are_complete() -> None:
    catalogue = _catalogue()
    assert catalogue
    for sid, entry in catalogue.items():
        assert re.fullmatch(r"[a-z0-9-]+", sid)
        assert entry["title"] and entry["publisher"] and entry["url"]
        assert entry["tag"] in TAGS
        assert entry["facts"] and all(isinstance(n, int) for n in entry["facts"])


@pytest.mark.parametrize("path", GUIDE_FILES, ids=lambda p: p.name)
def test_guide_front_matter_and_sources(path: Path) -> None:
    front, body = split_front_matter(path.read_text(encoding="utf-8"))
    assert set(front) == {"title", "topic", "audience", "sources", "checked_on"}
    assert isinstance(front["title"], str) and front["title"].strip()
    assert isinstance(front["topic"], str) and front["topic"]
    assert isinstance(front["audience"], list) and front["audience"]
    assert isinstance(front["checked_on"], date)
    catalogue = _catalogue()
    assert front["sources"] and all(sid in catalogue for sid in front["sources"]), path.name
    # Every publisher named inline ("Nguồn: ...") is one of the guide's listed sources.
    publishers = {str(catalogue[sid]["publisher"]).split(";")[0] for sid in front["sources"]}
    for cited in re.findall(r"\(Nguồn: ([^)]*)\)", body):
        first = cited.split(",")[0].split(";")[0].strip()
        assert any(p in cited for p in publishers) or first.startswith(("Báo Đồng Nai", "HL7")), (
            path.name,
            cited,
        )
    assert "## " in body


def test_unconfirmed_facts_are_not_stated() -> None:
    text = fold(" ".join(f.read_text(encoding="utf-8") for f in GUIDE_FILES))
    # Facts list: date of QĐ 2733, effective date of TT 26/2025, other two TT13
    # signing methods, MOOC pass marks are UNCONFIRMED; the guides must say so.
    assert not re.search(r"2733/qd-byt ngay \d", text)
    assert not re.search(r"thong tu 26/2025/tt-byt (co hieu luc|hieu luc) tu ngay", text)
    assert "diem dat" in text and "chua duoc xac nhan" in text
    assert not re.search(r"(?<![0-9])1/7/2025", text)  # the INF guess for TT 26 effective date


def test_eval_phrases_exist_in_the_knowledge() -> None:
    corpus = [
        fold(p.read_text(encoding="utf-8"))
        for p in (REPO / "knowledge").rglob("*")
        if p.suffix in {".md", ".txt"}
    ]
    items = [
        json.loads(x)
        for x in (REPO / "eval" / "guides.jsonl").read_text(encoding="utf-8").splitlines()
        if x
    ]
    assert sum(1 for i in items if i.get("unanswerable")) >= 6
    for item in items:
        for group in item.get("any", []):
            assert any(all(fold(p) in t for p in group) for t in corpus), (item["id"], group)


def test_vneid_level_question_cites_the_guide_and_its_date(services: Services) -> None:
    answer = services.kb.ask("Tài khoản VNeID mức mấy thì thêm được thẻ bảo hiểm y tế?")
    assert not answer.abstained
    assert "mức 2" in answer.text
    top = answer.sources[0]
    assert top.kind == "guide" and top.doc_id == "tai-khoan-vneid-muc-dinh-danh"
    shown = format_answer(answer)
    assert "kiểm tra 22/11/2026" in shown
    assert "kenh14.vn" in shown  # the guide's original source, not just the guide


def test_unconfirmed_detail_is_not_invented(services: Services) -> None:
    answer = services.kb.ask("Quyết định 2733/QĐ-BYT ban hành ngày nào?")
    assert answer.abstained
    assert "chưa có thông tin được xác nhận" in answer.text


def test_plans_and_guides_answer_together(services: Services) -> None:
    answer = services.kb.ask(
        "Hạn chót hoàn thành khóa học MOOC là ngày nào và đăng nhập nền tảng bằng gì?"
    )
    kinds = {s.kind for s in answer.sources}
    assert kinds == {"plan", "guide"}


@pytest.mark.parametrize(
    "question",
    [
        "Đơn thuốc theo Thông tư 26 được kê tối đa bao nhiêu ngày?",
        "Don thuoc theo Thong tu 26 duoc ke toi da bao nhieu ngay?",
    ],
)
def test_confirmed_fact_beside_an_unconfirmed_one_is_answered(
    services: Services, question: str
) -> None:
    # The guide says TT 26's effective date is unconfirmed, in the next
    # section; the 90-day limit itself is confirmed and must be given.
    answer = services.kb.ask(question)
    assert not answer.abstained
    assert "90 ngày" in answer.text


@pytest.mark.parametrize(
    "question",
    [
        "Thông tư 26/2025/TT-BYT có hiệu lực từ ngày nào?",
        "Hai cach ky con lai cua nguoi benh theo Thong tu 13/2025 la gi?",
    ],
)
def test_unconfirmed_detail_wins_over_nearby_facts(services: Services, question: str) -> None:
    answer = services.kb.ask(question)
    assert answer.abstained
    assert "chưa có thông tin được xác nhận" in answer.text


def test_a_ministry_plan_is_not_answered_with_a_provincial_one(services: Services) -> None:
    for question in (
        "Bộ Y tế ban hành kế hoạch Bình dân học vụ số số mấy?",
        "bo y te ban hanh ke hoach binh dan hoc vu so so may",
    ):
        assert services.kb.ask(question).abstained, question
    # The ministry is found in document numbers ("TT-BYT") and in the text.
    answer = services.kb.ask("Bộ Y tế quy định kê đơn thuốc điện tử theo thông tư nào?")
    assert not answer.abstained and "Thông tư" in answer.text
    answer = services.kb.ask("Bộ Công an xây dựng nền tảng nào?")
    assert not answer.abstained and "Bộ Công an xây dựng và vận hành" in answer.text
    assert answer.sources[0].doc_id == "nen-tang-binh-dan-hoc-vu-so"


def test_guide_steps_name_a_command_that_exists(engine: Any) -> None:
    registry = engine.registry
    for path in GUIDE_FILES:
        for command in re.findall(r"lệnh /([a-z]+)", path.read_text(encoding="utf-8")):
            assert registry.match(f"/{command}") is not None, (path.name, command)
