"""The web console in a real browser: headless Chromium from Debian's packages
driven by Playwright (never ``playwright install``).

A manager-admin gets the sign-in link from the console chat (``/web``), opens
the overview, drills down to a ward, verifies a completion and sees the figure
change, uploads a document and asks about it in the console chat, then writes a
curated answer for a question the assistant abstained on and sees the next
asking answered with it. Every page is photographed into the test's tmp dir
(and into docs/img/ with HOCVUSO_WEB_SCREENSHOTS=docs).

Without Chromium or Playwright the test is skipped, unless
HOCVUSO_REQUIRE_BROWSER=1 (scripts/test.sh sets it), where it fails.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

from bot.app import build_engine
from bot.channels.console import run_console
from bot.core.engine import Engine
from bot.core.services import Services
from bot.tracking.service import CompletionInput
from bot.web.app import create_app
from tests.conftest import REPO, Province

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DOC_FACT = "Phòng Tổ chức cán bộ, tầng 2 nhà B"


def _browser_available() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    if not CHROMIUM.exists():
        return "Debian's chromium is not installed (apt-get install chromium)"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ConsoleChat:
    """The console channel (``hocvuso chat``'s loop) for one user, line by line."""

    def __init__(self, engine: Engine, user: str) -> None:
        self.engine, self.user = engine, user

    def say(self, line: str) -> str:
        out = io.StringIO()
        run_console(self.engine, user_id=self.user, stdin=io.StringIO(line + "\n"), out=out)
        return out.getvalue()


@pytest.fixture
def served(
    make_services: Callable[..., Services],
    make_province: Callable[[Services], Province],
) -> Iterator[tuple[str, Province, ConsoleChat]]:
    import uvicorn

    services = make_services(HOCVUSO_ADMIN_IDS="console:boss")
    port = _free_port()
    services.settings.web_port = port
    prov = make_province(services)
    _evidence_completion(prov)
    engine = build_engine(services)
    server = uvicorn.Server(
        uvicorn.Config(create_app(engine), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", prov, ConsoleChat(engine, "boss")
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def _evidence_completion(prov: Province) -> None:
    """NV005 reports a course with a photo of the certificate."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (640, 400), (250, 247, 235))
    draw = ImageDraw.Draw(image)
    font_path = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    font = ImageFont.truetype(str(font_path), 26) if font_path.exists() else None
    draw.rectangle((10, 10, 630, 390), outline=(160, 30, 30), width=6)
    draw.text((60, 90), "GIẤY CHỨNG NHẬN", fill=(160, 30, 30), font=font)
    draw.text((60, 170), "Vũ Thị Hạnh — Chuyển đổi số", fill=(20, 20, 20), font=font)
    draw.text((60, 230), "Hoàn thành ngày 12/03/2026", fill=(20, 20, 20), font=font)
    data_dir = prov.services.settings.data_dir
    path = data_dir / "evidence" / "NV005" / "chung-nhan.png"
    path.parent.mkdir(parents=True)
    image.save(path)
    staff = prov.tracking.staff_by_code("NV005")
    course = prov.tracking.find_course("Chuyển đổi số")
    prov.tracking.log_completion(
        "test",
        staff.id,
        CompletionInput(
            course.id, date(2026, 3, 12), "CDS-0005", False, "evidence/NV005/chung-nhan.png"
        ),
    )


def _docx(path: Path) -> None:
    from docx import Document

    doc = Document()
    doc.add_heading("Hướng dẫn nhận thẻ xanh phòng dịch", level=1)
    doc.add_heading("1. Nơi nhận thẻ xanh", level=2)
    doc.add_paragraph(f"Nhân viên nhận thẻ xanh phòng dịch tại {DOC_FACT}, trước ngày 15/8/2026.")
    doc.add_heading("2. Giấy tờ cần mang", level=2)
    doc.add_paragraph("Mang theo thẻ nhân viên và giấy xác nhận của khoa.")
    doc.save(str(path))


def test_console_in_a_real_browser(
    served: tuple[str, Province, ConsoleChat], tmp_path: Path
) -> None:
    missing = _browser_available()
    if missing:
        if os.environ.get("HOCVUSO_REQUIRE_BROWSER") == "1":
            pytest.fail(missing)
        pytest.skip(missing)
    from playwright.sync_api import expect, sync_playwright

    base, _prov, chat = served
    shots = tmp_path / "screens"
    shots.mkdir()
    errors: list[str] = []

    # 1. The link comes from the console chat.
    said = chat.say("/web")
    link = re.search(r"(http://127\.0\.0\.1:\d+/dang-nhap/\S+)", said)
    assert link, said

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="vi-VN")
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))

        def shot(name: str) -> None:
            page.screenshot(path=str(shots / name), full_page=True)

        page.goto(link.group(1))
        expect(page.get_by_role("button", name="Đăng nhập")).to_be_visible()
        shot("01-dang-nhap.png")
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_url(f"{base}/tong-quan")
        page.wait_for_function("document.querySelector('#bieu-do-don-vi').width > 0")
        expect(page.locator("h1")).to_have_text("Sở Y tế Thanh Hóa")
        shot("02-tong-quan.png")

        # 2. Drill down: province -> hospital -> ward.
        page.get_by_role("link", name="Bệnh viện Đa khoa tỉnh").click()
        page.wait_for_url(f"{base}/don-vi/BVDK")
        shot("03-benh-vien.png")
        page.get_by_role("link", name="Khoa Nội").click()
        page.wait_for_url(f"{base}/don-vi/BVDK-NOI")
        expect(page.locator("#tong-da-duyet")).to_have_text("0%")
        shot("04-khoa-noi.png")

        # 3. Verify NV002's completion; the ward's verified share goes 0% -> 50%.
        page.get_by_role("link", name="Chờ duyệt").click()
        expect(page.locator("img.evidence")).to_be_visible()
        page.wait_for_function("document.querySelector('img.evidence').naturalWidth > 0")
        shot("05-cho-duyet.png")
        card = page.locator("article.pending", has_text="Lê Văn Hùng")
        card.get_by_role("button", name="Duyệt", exact=True).click()
        expect(page.locator(".flash")).to_contain_text("Đã duyệt khai báo")
        page.goto(f"{base}/don-vi/BVDK-NOI")
        expect(page.locator("#tong-da-duyet")).to_have_text("50%")
        shot("06-khoa-noi-sau-duyet.png")
        page.get_by_role("link", name="Chưa hoàn thành").first.click()
        expect(page.locator("table.people")).to_contain_text("0912000001")
        shot("07-chua-hoan-thanh.png")

        # 4. Upload a document (indexed in the background), then ask about it in the chat.
        docx = tmp_path / "huong-dan-the-xanh.docx"
        _docx(docx)
        page.get_by_role("link", name="Tài liệu").click()
        page.locator("input[name=tep]").set_input_files([str(docx)])
        page.get_by_role("button", name="Tải lên và lập chỉ mục").click()
        expect(page.locator(".flash")).to_contain_text("Đã nhận 1 tệp")
        expect(page.locator("li.job.done", has_text="huong-dan-the-xanh.docx")).to_be_visible(
            timeout=120_000
        )
        expect(page.locator("table.docs")).to_contain_text("Hướng dẫn nhận thẻ xanh")
        shot("08-tai-lieu.png")
        answer = chat.say("nhan the xanh phong dich o dau?")
        assert DOC_FACT in answer and "Nguồn:" in answer, answer

        # 5. Two ways of asking something no document covers: abstained, one line.
        for question in (
            "Nhà xe của bệnh viện mở cửa lúc mấy giờ?",
            "cho em hoi nha xe cua benh vien mo cua luc may gio a",
        ):
            assert "không đề cập" in chat.say(question)
        page.get_by_role("link", name="Chất lượng trả lời").click()
        row = page.locator("table.abstained tr", has_text="Nhà xe của bệnh viện")
        expect(row.locator("td.count")).to_have_text("2")
        shot("09-chat-luong.png")
        row.get_by_role("link", name="Soạn câu trả lời").click()
        page.locator("textarea[name=tra_loi]").fill(
            "Nhà xe mở cửa từ 5 giờ 30 đến 22 giờ hằng ngày; xe của nhân viên gửi ở khu B."
        )
        page.locator("select[name=trich_dan]").select_option(
            "huong-dan-the-xanh|1. Nơi nhận thẻ xanh"
        )
        page.locator("input[name=ra_soat]").fill("Phòng Hành chính quản trị")
        shot("10-soan-tra-loi.png")
        page.get_by_role("button", name="Lưu câu trả lời").click()
        expect(page.locator(".flash")).to_contain_text("Đã lưu câu trả lời biên soạn")
        shot("11-tra-loi-bien-soan.png")
        curated = chat.say("Mấy giờ thì nhà xe bệnh viện mở cửa vậy?")
        assert "5 giờ 30 đến 22 giờ" in curated and "rà soát" in curated, curated

        # 6. The citation opens the passage it points to.
        page.get_by_role("link", name=re.compile("Hướng dẫn nhận thẻ xanh")).first.click()
        expect(page.locator(".passage.cited")).to_contain_text(DOC_FACT)
        shot("12-doan-trich-dan.png")

        # 7. A phone screen.
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"{base}/tong-quan")
        page.wait_for_function("document.querySelector('#bieu-do-don-vi').width > 0")
        shot("13-dien-thoai-tong-quan.png")
        page.goto(f"{base}/cho-duyet")
        shot("14-dien-thoai-cho-duyet.png")
        browser.close()

    assert not errors, errors  # no script or Content-Security-Policy errors
    if os.environ.get("HOCVUSO_WEB_SCREENSHOTS") == "docs":
        target = REPO / "docs" / "img"
        target.mkdir(parents=True, exist_ok=True)
        for png in sorted(shots.glob("*.png")):
            shutil.copy(png, target / f"web-{png.name}")
    print(f"screenshots in {shots}")
