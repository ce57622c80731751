"""Retrieval pieces and the evaluation command, on real indexes and real e5.

A tiny corpus of three documents written here (not from any evaluation
set) keeps these fast: the throw-away index embeds a handful of passages.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.cli import main
from bot.evaluation import ThrowawayCorpus, is_hit, strip_marks
from bot.retrieval.cache import CachedEmbedder, EmbeddingCache
from bot.retrieval.hybrid import query_terms
from bot.retrieval.lexical import marked_terms
from bot.retrieval.params import FusionParams, load_params
from bot.retrieval.restore import DiacriticRestorer

DOCS = {
    "quy-che-hoc-phi": (
        "Điều 3. Học phí\n\n"
        "Sinh viên nộp học phí theo từng học kỳ, chậm nhất bốn tuần sau ngày bắt đầu học kỳ.\n\n"
        "Sinh viên nộp chậm bị tạm dừng đăng ký học phần của học kỳ sau."
    ),
    "luat-giao-thong": (
        "Điều 9. Tốc độ\n\n"
        "Xe máy chạy trong khu dân cư không được vượt quá 40 km/h.\n\n"
        "Người điều khiển xe phải đội mũ bảo hiểm cài quai đúng quy cách."
    ),
    "ke-hoach-tiem-chung": (
        "Kế hoạch tiêm chủng mở rộng năm 2025\n\n"
        "Trạm y tế xã tổ chức tiêm chủng vào ngày 15 hằng tháng cho trẻ dưới 1 tuổi.\n\n"
        "Cán bộ chuyên trách báo cáo kết quả tiêm chủng về Trung tâm Y tế trước ngày 25."
    ),
}
QUESTIONS = [
    {
        "id": "q1",
        "question": "Sinh viên phải nộp học phí chậm nhất khi nào?",
        "gold": "quy-che-hoc-phi",
    },
    {
        "id": "q2",
        "question": "Xe máy trong khu dân cư được chạy tối đa bao nhiêu km/h?",
        "gold": "luat-giao-thong",
        "answer_any": ["40 km/h"],
    },
    {
        "id": "q3",
        "question": "Trạm y tế tiêm chủng cho trẻ vào ngày nào?",
        "gold": "ke-hoach-tiem-chung",
    },
]


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    for stem, text in DOCS.items():
        (folder / f"{stem}.txt").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def questions_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("q") / "questions.jsonl"
    path.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in QUESTIONS) + "\n")
    return path


@pytest.fixture(scope="module")
def corpus(corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with ThrowawayCorpus(corpus_dir, tmp_path_factory.mktemp("cache"), progress=False) as c:
        yield c


def test_marked_terms_keep_syllables_apart() -> None:
    got = marked_terms("Bạn bán bản")
    assert got[:3] == ["bạn", "bán", "bản"] and "bạn_bán" in got


def test_restorer_puts_back_marks_the_corpus_attests() -> None:
    restorer = DiacriticRestorer(DOCS.values())
    assert restorer.restore("Sinh vien nop hoc phi cham nhat khi nao?") == (
        "Sinh viên nộp học phí chậm nhất khi nao?"
    )
    # Words the corpus never has stay as typed; typed marks are kept.
    assert restorer.restore("giá xang hom nay") == "giá xang hom nay"


def test_cache_computes_each_passage_once(tmp_path: Path, corpus: Any) -> None:
    inner = corpus.kb.embedder.inner
    cached = CachedEmbedder(inner, EmbeddingCache(tmp_path))
    first = cached.embed_passages(["một đoạn văn", "đoạn thứ hai"])
    again = cached.embed_passages(["đoạn thứ hai", "một đoạn văn"])
    assert cached.computed == 2
    assert np.allclose(first[0], again[1]) and np.allclose(first[1], again[0])
    assert first.shape == (2, 384)


def test_gold_stem_is_judged_from_the_source_path() -> None:
    from bot.answering.types import Source

    item = {"gold": "alqac-0001", "any": []}
    assert is_hit(item, Source("x", "t", "docs/alqac-0001.txt", "", "văn bản", 1.0))
    assert not is_hit(item, Source("x", "t", "docs/alqac-00011.txt", "", "văn bản", 1.0))


def test_search_ranks_the_document_that_answers_with_and_without_marks(corpus: Any) -> None:
    kb = corpus.kb
    for item in QUESTIONS:
        for question in (item["question"], strip_marks(item["question"])):
            retrieval = kb.retrieve(question)
            assert retrieval.hits[0].chunk.doc_id == item["gold"], question


def test_retrieval_carries_evidence_numbers(corpus: Any) -> None:
    retrieval = corpus.kb.retrieve("Sinh vien nop hoc phi cham nhat khi nao?")
    assert not retrieval.has_diacritics
    assert "học phí" in retrieval.dense_query
    top = retrieval.hits[0]
    assert "hoc_phi" in top.matched and top.coverage > 0.5
    assert set(top.matched).isdisjoint(top.unmatched)
    assert 0.0 <= retrieval.margin <= 1.0
    assert retrieval.term_idf["hoc_phi"] > 0
    unknown = corpus.kb.retrieve("Giá xăng hôm nay bao nhiêu?")
    assert "xang" in unknown.unknown_terms


def test_excluded_documents_are_never_returned(corpus: Any) -> None:
    kb = corpus.kb
    kb.exclude_docs = frozenset({"quy-che-hoc-phi"})
    try:
        retrieval = kb.retrieve("Sinh viên phải nộp học phí chậm nhất khi nào?")
    finally:
        kb.exclude_docs = frozenset()
    assert retrieval.hits
    assert all(h.chunk.doc_id != "quy-che-hoc-phi" for h in retrieval.hits)
    assert retrieval.excluded_docs == frozenset({"quy-che-hoc-phi"})


def test_params_round_trip_and_shipped_file_loads() -> None:
    params = load_params()
    again = FusionParams.from_json(json.loads(json.dumps(params.to_json())))
    assert again.weights == params.weights
    assert params.weight("marked", "folded") > 0


def test_eval_corpus_command_scores_a_folder_with_a_cache(
    corpus_dir: Path, questions_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    args = ["eval", str(questions_file), "--corpus", str(corpus_dir), "--cache", str(cache)]
    assert main([*args, "--json", "--retrieval-only"]) == 0
    report = json.loads(capsys.readouterr().out)
    for part in ("original", "no_diacritics"):
        assert report[part]["hit@1"] == 1.0, report[part]["misses"]
    assert (cache / "embeddings.sqlite").exists()

    # Answers (the decision to answer is the answering side's; here the shape).
    assert main([*args, "--json", "--strip"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report) == ["file", "no_diacritics"]
    assert {"hit@1", "answer_contains", "false_abstention_rate"} <= set(report["no_diacritics"])

    assert main([*args, "--near-miss", "--no-strip"]) == 0
    out = capsys.readouterr().out
    assert "near-misses (gold document hidden)" in out and "refused" in out


def test_a_near_miss_sees_the_corpus_without_its_gold_document(corpus: Any) -> None:
    """Asked with its gold document removed, a question's own words are unknown words:
    the simulation must not keep the removed document's statistics."""
    kb = corpus.kb
    gold = next(d.doc_id for d in kb.documents() if d.path.endswith("quy-che-hoc-phi.txt"))
    _, facts = kb._visible()
    assert facts.lexical.known("hoc_phi") and gold in facts.docs
    kb.exclude_docs = frozenset({gold})
    try:
        _, hidden = kb._visible()
        assert not hidden.lexical.known("hoc_phi") and gold not in hidden.docs
        assert hidden.lexical.known("tiem_chung")
        assert abs(hidden.lexical.idf("hoc_phi") - hidden.lexical.max_idf) < 1e-5
        answer = kb.ask("Sinh viên phải nộp học phí chậm nhất khi nào?")
        assert answer.abstained and all("hoc-phi" not in s.path for s in answer.sources)
    finally:
        kb.exclude_docs = frozenset()
    assert kb._visible()[1].lexical.known("hoc_phi")


def test_a_word_pair_across_a_comma_is_not_a_phrase_the_documents_miss(corpus: Any) -> None:
    """ "Theo Quy chế 2024, sinh viên …": "2024 sinh" is no phrase of the question, and
    as a pair no document has it must not lower the question's coverage."""
    from bot.retrieval.hybrid import broken_pairs

    assert broken_pairs("Theo Bộ luật Dân sự 2015, vật chính được hiểu như thế nào?") == {
        "2015_vat"
    }
    assert broken_pairs("hết ngày 31/12/2022 và 5.000.000 đồng") == set()
    plain = corpus.kb.retrieve("Sinh viên phải nộp học phí chậm nhất khi nào?")
    framed = corpus.kb.retrieve(
        "Theo quy chế năm 2024, sinh viên phải nộp học phí chậm nhất khi nào?"
    )
    assert framed.hits[0].chunk.doc_id == plain.hits[0].chunk.doc_id
    # the framing adds its own words ("quy chế", "2024"), never the pair "2024 sinh"
    assert "2024_sinh" not in {t for h in framed.hits for t in h.unmatched}


def test_a_cited_source_is_not_content_the_passage_must_have(corpus: Any) -> None:
    """ "Theo quy chế năm 2024, …" cites where the answer comes from: the passage that answers
    the rest is as covered as for the question asked without the citation."""
    from bot.retrieval.hybrid import framing_terms

    assert "2015" in framing_terms("Theo Bộ luật Dân sự 2015, vật chính được hiểu như thế nào?")
    assert framing_terms("theo ke hoach thi bao gio xong") == set()  # no cited clause
    # words the question repeats after the citation still count
    assert "hoc_phi" not in framing_terms("Theo quy chế học phí, học phí nộp khi nào?")
    plain = corpus.kb.retrieve("Sinh viên phải nộp học phí chậm nhất khi nào?")
    cited = corpus.kb.retrieve(
        "Theo quy chế năm 2024, sinh viên phải nộp học phí chậm nhất khi nào?"
    )
    assert cited.hits[0].chunk.doc_id == plain.hits[0].chunk.doc_id
    assert abs(cited.coverage - plain.coverage) < 1e-6
    # the decision weighs the same evidence
    from bot.answering.decision import evidence

    _, facts = corpus.kb._visible()
    asked = "Theo quy chế năm 2024, sinh viên phải nộp học phí chậm nhất khi nào?"
    framed = evidence(asked, cited, facts)
    bare = evidence("Sinh viên phải nộp học phí chậm nhất khi nào?", plain, facts)
    assert abs(framed["uni_best"] - bare["uni_best"]) < 1e-6
    assert abs(framed["uni_hit1"] - bare["uni_hit1"]) < 1e-6


def test_a_word_typed_with_marks_is_not_found_in_another_word_it_folds_to() -> None:
    """ "Lương cơ sở" folds to "luong co so"; a plan about "chất lượng" does not speak of it.
    A scan that lost its marks may, so unmarked text never makes a false friend."""
    from bot.retrieval.hybrid import CorpusIndex, IndexedChunk

    def index(text: str) -> CorpusIndex:
        return CorpusIndex([IndexedChunk("c1", "d1", "", text, False)], {"d1": ""})

    typed = index("Quyết định nâng cao chất lượng khám chữa bệnh hơn nữa năm 2026, ở lầu 2.")
    assert typed.false_friends("Lương cơ sở năm 2026") == {"luong"}
    assert typed.false_friends("Đăng ký kết hôn ở đâu?") == {"hon"}
    assert typed.false_friends("Chất lượng khám bệnh năm 2026 thế nào?") == set()
    assert typed.false_friends("Lâu dài có khám bệnh không?") == {"lau"}  # not "lầu"
    assert typed.false_friends("Khám bệnh trong bao lâu?") == set()  # "bao lâu" asks
    assert typed.false_friends("Quyêt định năm 2026") == set()  # a slip for "quyết"
    assert typed.false_friends("Quyệt định năm 2026") == {"quyet"}  # a word: "xảo quyệt"
    scan = index("Nang cao chat luong kham chua benh hon nua")
    assert scan.false_friends("Lương cơ sở năm 2026") == set()


def test_a_year_is_a_detail_not_the_topic_a_passage_must_cover(corpus: Any) -> None:
    """Any passage of a 2025 plan has "năm 2025": a year asked is checked as a pinned detail."""
    from bot.retrieval.hybrid import year_terms

    assert year_terms("Lương cơ sở năm 2026") == {"2026", "nam", "nam_2026"}
    assert year_terms("Trạm y tế tiêm chủng vào ngày nào?") == set()
    asked = corpus.kb.retrieve("Trạm y tế tiêm chủng cho trẻ vào ngày nào năm 2025?")
    bare = corpus.kb.retrieve("Trạm y tế tiêm chủng cho trẻ vào ngày nào?")
    assert asked.hits[0].chunk.doc_id == bare.hits[0].chunk.doc_id == "ke-hoach-tiem-chung"
    assert abs(asked.coverage - bare.coverage) < 1e-6


def test_a_function_word_folded_from_a_content_word_is_read_as_content() -> None:
    # with marks the syllable tells: "báo cáo", "đơn vị", "đầu mối", "văn bản"
    uni, bi = query_terms("Đơn vị nào làm đầu mối gửi báo cáo theo văn bản nào?")
    assert {"don_vi", "dau_moi", "bao_cao", "van_ban"} <= set(bi)
    assert "nao" not in uni and "lam" not in uni
    # without marks, "bao" asks only in "bao nhiêu/giờ/lâu", "dau" only "where"
    uni, bi = query_terms("khi nao phai nop bao cao quy")
    assert "bao_cao" in bi
    uni, _ = query_terms("bao nhieu nguoi phai hoc")
    assert "bao" not in uni
    _, bi = query_terms("ttyt giao khoa nao lam dau moi")
    assert "dau_moi" in bi
    uni, _ = query_terms("nop bao cao o dau")
    assert "dau" not in uni
