"""The command line as an operator uses it: ingest, docs, ask, chat, eval."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_engine
from bot.channels.console import run_console
from bot.cli import main

REPO = Path(__file__).resolve().parents[1]


def _run(args: list[str], capsys: pytest.CaptureFixture[str], data_dir: Path) -> tuple[int, str]:
    code = main(["--data-dir", str(data_dir), *args])
    return code, capsys.readouterr().out


def test_ingest_docs_ask_eval(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    data = tmp_path / "data"
    code, out = _run(["ingest", "-q", "knowledge/plans"], capsys, data)
    assert code == 0
    assert "added 5, updated 0, unchanged 0, removed 0, failed 0" in out
    code, out = _run(["ingest", "-q", "knowledge/plans"], capsys, data)
    assert "unchanged 5" in out

    code, out = _run(["docs", "list", "--json"], capsys, data)
    docs = json.loads(out)
    assert {d["number"] for d in docs} >= {"2948/KH-SYT", "789/KH-TTYT"}

    code, out = _run(
        ["ask", "--json", "han chot hoan thanh khoa hoc mooc la ngay nao"], capsys, data
    )
    answer = json.loads(out)
    assert answer["abstained"] is False and answer["sources"]

    code, out = _run(["ask", "Bạn", "có", "biết", "giá", "xăng", "hôm", "nay?"], capsys, data)
    assert "không đề cập" in out

    eval_file = tmp_path / "mini.jsonl"
    eval_file.write_text(
        '{"id":"a","question":"Đề án 06 là gì?","any":[["de an 06"]]}\n'
        '{"id":"u","question":"Giá xăng hôm nay?","unanswerable":true}\n',
        encoding="utf-8",
    )
    code, out = _run(["eval", "--json", str(eval_file)], capsys, data)
    report = json.loads(out)
    for part in ("original", "no_diacritics"):
        assert report[part]["hit@5"] == 1.0
        assert report[part]["abstention_accuracy"] == 1.0

    code, out = _run(["docs", "remove", "khong-ton-tai"], capsys, data)
    assert code == 1


def test_ask_jsonl_reads_stdin_once_per_line(
    services: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**os.environ, "HOCVUSO_DATA_DIR": str(services.settings.data_dir)}
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "ask", "--jsonl"],
        input="Đề án 06 là gì?\n\nGiá xăng hôm nay?\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
        check=True,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [x["abstained"] for x in lines] == [False, True]
    assert lines[0]["question"] == "Đề án 06 là gì?"


def test_console_chat_conversation(services: Any) -> None:
    engine = build_engine(services)
    stdin = io.StringIO("/trogiup\nbao cao hang thang truoc ngay may?\n1\n/thoat\n")
    out = io.StringIO()
    assert run_console(engine, user_id="tester", stdin=stdin, out=out) == 0
    text = out.getvalue()
    assert "/hoanthanh" in text or "/trogiup" in text
    assert "Nguồn:" in text
    assert "Trả lời bằng số" in text
    assert "Cảm ơn bạn đã phản hồi" in text  # "1" pressed 👍 on the answer
