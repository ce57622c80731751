"""Web console over HTTP (Starlette's test client on the real app and services):
sign-in links from the chat, expiry, reuse, logout, CSRF, unit scoping, staff
refused, manager and admin pages, curated answers, the CLI link and
``hocvuso serve web``.
"""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.core.messages import Incoming
from bot.core.services import Services
from bot.tracking.models import Completion
from bot.tracking.service import CompletionInput
from bot.web.app import create_app
from bot.web.auth import COOKIE
from tests.conftest import REPO, Province

ADMIN = "console:boss"
LINK = re.compile(r"/dang-nhap/([A-Za-z0-9_\-]+)")


class Clock:
    """A clock the test moves (no sleeping)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def reset(self) -> None:
        """Back to real time (the chat issues links on the real clock)."""
        self.now = datetime.now(UTC)

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Console:
    prov: Province
    app_clock: Clock
    client_factory: Callable[[], TestClient]

    @property
    def services(self) -> Services:
        return self.prov.services

    def say(self, user: str, text: str, chat_id: str | None = None) -> str:
        msg = Incoming("console", user, chat_id=chat_id or user, text=text)
        return "\n".join(r.text for r in self.prov.engine.handle(msg))

    def link_for(self, user: str) -> str:
        reply = self.say(user, "/web")
        found = LINK.search(reply)
        assert found, reply
        return found.group(1)

    def signed_in(self, user: str) -> TestClient:
        client = self.client_factory()
        token = self.link_for(user)
        assert client.get(f"/dang-nhap/{token}").status_code == 200
        response = client.post(f"/dang-nhap/{token}", follow_redirects=False)
        assert response.status_code == 303, response.text
        return client


@pytest.fixture
def console(
    make_services: Callable[..., Services], make_province: Callable[[Services], Province]
) -> Iterator[Console]:
    services = make_services(HOCVUSO_ADMIN_IDS=ADMIN)
    prov = make_province(services)
    prov.link("QL001", "console", "ql1")  # manages BVDK (Khoa Nội, Khoa Ngoại)
    prov.link("QL002", "console", "ql2")  # manages TTYT-NL (Trạm Y tế xã Minh Sơn)
    prov.link("NV001", "console", "nv1")  # staff
    clock = Clock()
    app = create_app(prov.engine, clock=clock)
    clients: list[TestClient] = []

    def client() -> TestClient:
        c = TestClient(app)
        c.__enter__()
        clients.append(c)
        return c

    yield Console(prov, clock, client)
    for c in clients:
        c.__exit__(None, None, None)


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found
    return found.group(1)


def pending_id(prov: Province, staff_code: str) -> int:
    with prov.services.db.session() as s:
        row = s.scalars(select(Completion)).all()
        return next(c.id for c in row if c.staff.code == staff_code)


# -- sign-in ------------------------------------------------------------------------------------
def test_manager_signs_in_from_chat_link_and_sees_own_units(console: Console) -> None:
    client = console.client_factory()
    token = console.link_for("ql1")
    page = client.get(f"/dang-nhap/{token}")
    assert page.status_code == 200 and "Đăng nhập" in page.text
    # Opening the link (what a messenger's preview does) did not use it up.
    assert client.get(f"/dang-nhap/{token}").status_code == 200
    response = client.post(f"/dang-nhap/{token}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/tong-quan"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http on loopback
    overview = client.get("/tong-quan")
    assert overview.status_code == 200
    assert "Bệnh viện Đa khoa tỉnh" in overview.text and "Khoa Nội" in overview.text
    assert "Minh Sơn" not in overview.text and "Ngọc Lặc" not in overview.text
    assert "Tiêu chí:" in overview.text  # the rule used is said on the screen


def test_cookie_is_secure_behind_https(
    make_services: Callable[..., Services], make_province: Callable[[Services], Province]
) -> None:
    services = make_services(WEB_BASE_URL="https://console.example.vn")
    prov = make_province(services)
    prov.link("QL001", "console", "ql1")
    reply = "\n".join(
        r.text for r in prov.engine.handle(Incoming("console", "ql1", chat_id="ql1", text="/web"))
    )
    assert "https://console.example.vn/dang-nhap/" in reply
    token = LINK.search(reply).group(1)  # type: ignore[union-attr]
    with TestClient(create_app(prov.engine), base_url="https://console.example.vn") as client:
        response = client.post(f"/dang-nhap/{token}", follow_redirects=False)
    assert "Secure" in response.headers["set-cookie"]


def test_link_works_once(console: Console) -> None:
    token = console.link_for("ql1")
    first = console.client_factory()
    assert first.post(f"/dang-nhap/{token}", follow_redirects=False).status_code == 303
    second = console.client_factory()
    again = second.post(f"/dang-nhap/{token}", follow_redirects=False)
    assert again.status_code == 410 and "đã được dùng" in again.text
    assert "đã được dùng" in second.get(f"/dang-nhap/{token}").text
    assert second.get("/tong-quan").status_code == 401


def test_link_expires_after_ten_minutes(console: Console) -> None:
    early, late = console.link_for("ql1"), console.link_for("ql1")
    console.app_clock.advance(minutes=9)
    assert (
        console.client_factory().post(f"/dang-nhap/{early}", follow_redirects=False).status_code
        == 303
    )
    console.app_clock.advance(minutes=2)
    client = console.client_factory()
    page = client.get(f"/dang-nhap/{late}")
    assert page.status_code == 410 and "hết hạn" in page.text and "/web" in page.text
    assert client.post(f"/dang-nhap/{late}", follow_redirects=False).status_code == 410
    assert client.get("/tong-quan").status_code == 401


def test_unknown_link_says_so(console: Console) -> None:
    page = console.client_factory().get("/dang-nhap/khong-phai-lien-ket")
    assert page.status_code == 404 and "không hợp lệ" in page.text


def test_session_expires_when_idle_and_after_twelve_hours(console: Console) -> None:
    client = console.signed_in("ql1")
    console.app_clock.advance(hours=1, minutes=50)
    assert client.get("/tong-quan").status_code == 200  # used: the idle clock restarts
    console.app_clock.advance(hours=1, minutes=50)
    assert client.get("/tong-quan").status_code == 200
    console.app_clock.advance(hours=2, minutes=1)  # idle more than two hours
    expired = client.get("/tong-quan")
    assert expired.status_code == 401 and "hết hạn" in expired.text

    console.app_clock.reset()
    busy = console.signed_in("ql1")
    for _ in range(13):  # used every hour, still ends after twelve
        console.app_clock.advance(hours=1)
        last = busy.get("/tong-quan")
    assert last.status_code == 401


def test_logout_ends_the_session_everywhere(console: Console) -> None:
    client = console.signed_in("ql1")
    stolen = client.cookies.get(COOKIE)
    page = client.get("/tong-quan")
    out = client.post("/dang-xuat", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 200 and "đã đăng xuất" in out.text
    assert client.get("/tong-quan").status_code == 401
    replay = console.client_factory()
    replay.cookies.set(COOKIE, stolen or "")
    assert replay.get("/tong-quan").status_code == 401


# -- CSRF ---------------------------------------------------------------------------------------
def test_forms_need_the_session_csrf_token(console: Console) -> None:
    client = console.signed_in("ql1")
    ident = pending_id(console.prov, "NV002")
    token = csrf_of(client.get("/cho-duyet").text)
    url = f"/cho-duyet/{ident}/duyet"
    for data, headers in (
        ({}, {}),
        ({"csrf": "sai"}, {}),
        ({"csrf": token}, {"Origin": "https://attacker.example"}),
    ):
        refused = client.post(url, data=data, headers=headers, follow_redirects=False)
        assert refused.status_code == 403 and "chưa có gì thay đổi" in refused.text
    other = console.signed_in("ql1")  # another session's token is not this one's
    other_token = csrf_of(other.get("/cho-duyet").text)
    assert client.post(url, data={"csrf": other_token}).status_code == 403
    assert (
        console.prov.tracking.pending(
            console.prov.tracking.resolve("console", "ql1", is_admin=False)
        )[1]
        == 1
    )
    ok = client.post(url, data={"csrf": token}, follow_redirects=False)
    assert ok.status_code == 303


# -- scoping ----------------------------------------------------------------------------------------
def _other_unit_completion(console: Console) -> int:
    tracking = console.prov.tracking
    staff = tracking.staff_by_code("NV004")  # Trạm Y tế xã Minh Sơn, under TTYT-NL
    evidence = console.services.settings.data_dir / "evidence" / "NV004" / "anh.png"
    evidence.parent.mkdir(parents=True)
    evidence.write_bytes(_png())
    course = tracking.find_course("Chuyển đổi số")
    row, _ = tracking.log_completion(
        "test",
        staff.id,
        CompletionInput(course.id, date(2026, 3, 12), None, True, "evidence/NV004/anh.png"),
    )
    return row.id


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_manager_gets_404_for_another_units_pages_and_exports(console: Console) -> None:
    foreign = _other_unit_completion(console)
    client = console.signed_in("ql1")
    assert client.get("/don-vi/BVDK-NOI").status_code == 200
    unknown = client.get("/don-vi/KHONG-CO")
    for url in (
        "/don-vi/TTYT-NL",
        "/don-vi/TYT-NL-01",
        "/don-vi/SYT",
        "/chua-hoan-thanh?don_vi=TTYT-NL",
        "/chua-hoan-thanh.xlsx?don_vi=TTYT-NL",
        "/bao-cao.xlsx?don_vi=TTYT-NL",
        f"/minh-chung/{foreign}",
        "/tai-lieu",
        "/tra-loi",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert (
            response.text == unknown.text.replace("KHONG-CO", "")
            or "Không tìm thấy" in response.text
        )
    token = csrf_of(client.get("/cho-duyet").text)
    assert client.post(f"/cho-duyet/{foreign}/duyet", data={"csrf": token}).status_code == 404
    with console.services.db.session() as s:
        assert s.get(Completion, foreign).status == "reported"  # type: ignore[union-attr]
    # The unit's own manager sees the evidence photo.
    own = console.signed_in("ql2")
    photo = own.get(f"/minh-chung/{foreign}")
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/png"
    assert photo.content == _png()


def test_staff_cannot_open_the_console(console: Console) -> None:
    reply = console.say("nv1", "/web")
    assert "dang-nhap" not in reply and "quyền" in reply
    # A manager who loses the unit loses the console at the next request.
    client = console.signed_in("ql1")
    console.prov.tracking.remove_manager("test", "QL001", "BVDK")
    refused = client.get("/tong-quan")
    assert refused.status_code == 403 and "chỉ dành cho người quản lý" in refused.text


def test_web_link_is_not_posted_in_a_group_chat(console: Console) -> None:
    reply = console.say("ql1", "/web", chat_id="-100200")
    assert "dang-nhap" not in reply and "tin nhắn riêng" in reply


# -- manager pages ------------------------------------------------------------------------------------
def test_drill_down_and_verification_change_the_figures(console: Console) -> None:
    client = console.signed_in("ql1")
    hospital = client.get("/tong-quan")
    assert 'href="/don-vi/BVDK-NOI"' in hospital.text and "Dưới chỉ tiêu" in hospital.text
    ward = client.get("/don-vi/BVDK-NOI")
    assert "Bệnh viện Đa khoa tỉnh" in ward.text  # breadcrumb back up
    assert re.search(r'id="tong-da-duyet">0%', ward.text)
    ident = pending_id(console.prov, "NV002")
    token = csrf_of(client.get("/cho-duyet").text)
    done = client.post(f"/cho-duyet/{ident}/duyet", data={"csrf": token})
    assert "Đã duyệt khai báo" in done.text and "Không có khai báo nào" in done.text
    ward = client.get("/don-vi/BVDK-NOI")
    assert re.search(r'id="tong-da-duyet">50%', ward.text)  # 1 of 2 in Khoa Nội


def test_reject_needs_a_reason_and_tells_the_staff(console: Console) -> None:
    client = console.signed_in("ql1")
    ident = pending_id(console.prov, "NV002")
    token = csrf_of(client.get("/cho-duyet").text)
    short = client.post(f"/cho-duyet/{ident}/tu-choi", data={"csrf": token, "ly_do": "x"})
    assert short.status_code == 400 and "lý do" in short.text
    ok = client.post(
        f"/cho-duyet/{ident}/tu-choi", data={"csrf": token, "ly_do": "Ảnh mờ, gửi lại"}
    )
    assert "Đã từ chối" in ok.text
    with console.services.db.session() as s:
        row = s.get(Completion, ident)
        assert (
            row is not None and row.status == "rejected" and row.reject_reason == "Ảnh mờ, gửi lại"
        )


def test_not_done_list_filters_and_exports_text_not_formulas(
    console: Console, tmp_path: Path
) -> None:
    from bot.tracking.roster import import_staff

    roster = tmp_path / "them.csv"
    roster.write_text(
        "Mã NV,Họ và tên,Đơn vị,Chức danh,Số điện thoại\n"
        'NV009,"=HYPERLINK(""http://x.example"",""Xem"")",BVDK-NGOAI,Bác sĩ,0912000009\n',
        encoding="utf-8",
    )
    assert not import_staff(console.prov.tracking, roster, partial=True).errors
    client = console.signed_in("ql1")
    page = client.get("/chua-hoan-thanh?don_vi=BVDK-NGOAI&nhom=doctor")
    assert "0912000009" in page.text and "Phạm Thị Mai" not in page.text  # a pharmacist
    book = load_workbook(io.BytesIO(client.get("/chua-hoan-thanh.xlsx?don_vi=BVDK-NGOAI").content))
    cells = [c for row in book.active.iter_rows() for c in row if c.value]
    formula = next(c for c in cells if str(c.value).startswith("=HYPERLINK"))
    assert formula.data_type == "s"
    assert any(c.value == "0912000003" for c in cells)  # the pharmacist is there unfiltered


def test_report_download_is_the_chat_workbook(console: Console) -> None:
    client = console.signed_in("ql1")
    page = client.get("/bao-cao")
    assert "Quý" in page.text and "Tháng" in page.text
    for period in ("hom-nay", "thang", "quy"):
        response = client.get(f"/bao-cao.xlsx?ky={period}&don_vi=BVDK-NOI")
        assert response.status_code == 200
        book = load_workbook(io.BytesIO(response.content), read_only=True)
        assert book.sheetnames == ["Tổng hợp", "Chưa đạt", "Đã khai báo", "Xu hướng"]


# -- admin pages ---------------------------------------------------------------------------------------
def test_roster_dry_run_lists_row_errors_then_confirm_imports(
    console: Console, tmp_path: Path
) -> None:
    client = console.signed_in("boss")
    token = csrf_of(client.get("/nhan-su").text)
    csv = (
        "Mã NV,Họ và tên,Đơn vị,Chức danh,Số điện thoại\n"
        "NV101,Ngô Thị Hằng,BVDK-NOI,Điều dưỡng,0912000101\n"
        "NV102,Lý Văn Tâm,KHONG-CO,Bác sĩ,0912000102\n"
        "NV103,Mai Thu Hà,BVDK-NGOAI,Dược sĩ,12\n"
    )
    preview = client.post(
        "/nhan-su/kiem-tra",
        data={"csrf": token, "loai": "staff"},
        files={"tep": ("nhan-vien.csv", csv.encode(), "text/csv")},
    )
    assert preview.status_code == 200
    assert "Kiểm tra thử" in preview.text and "Dòng 3" in preview.text and "Dòng 4" in preview.text
    with pytest.raises(Exception, match="NV101"):
        console.prov.tracking.staff_by_code("NV101")  # nothing saved yet
    staged = re.search(r'name="tep_tam" value="([0-9a-f]+)"', preview.text).group(1)  # type: ignore[union-attr]
    done = client.post(
        "/nhan-su/nhap",
        data={
            "csrf": token,
            "tep_tam": staged,
            "duoi": ".csv",
            "loai": "staff",
            "ten": "nhan-vien.csv",
        },
    )
    assert "Đã nhập" in done.text
    assert console.prov.tracking.staff_by_code("NV101").full_name == "Ngô Thị Hằng"
    again = client.post(
        "/nhan-su/nhap",
        data={"csrf": token, "tep_tam": staged, "duoi": ".csv", "loai": "staff"},
    )
    assert again.status_code == 400  # the staged file is used once
    evil = client.post(
        "/nhan-su/nhap", data={"csrf": token, "tep_tam": "../../etc/passwd", "duoi": ".csv"}
    )
    assert evil.status_code == 400


def test_admin_grants_and_removes_a_manager(console: Console) -> None:
    client = console.signed_in("boss")
    token = csrf_of(client.get("/nhan-su").text)
    client.post("/nhan-su/quan-ly", data={"csrf": token, "ma_nv": "NV003", "don_vi": "BVDK-NGOAI"})
    assert "Phạm Thị Mai (NV003)" in client.get("/nhan-su").text
    console.prov.link("NV003", "console", "nv3")
    assert "dang-nhap" in console.say("nv3", "/web")
    client.post(
        "/nhan-su/quan-ly",
        data={"csrf": token, "ma_nv": "NV003", "don_vi": "BVDK-NGOAI", "thao_tac": "bo"},
    )
    assert "Phạm Thị Mai (NV003)" not in client.get("/nhan-su").text


FACT = (
    "Quy định về thẻ xanh phòng dịch\n\n"
    "1. Nơi nhận thẻ xanh\n"
    "Nhân viên nhận thẻ xanh phòng dịch tại Phòng Tổ chức cán bộ, tầng 2 nhà B, "
    "trước ngày 15/8/2026.\n"
)


def test_documents_upload_in_background_and_are_answered(console: Console) -> None:
    client = console.signed_in("boss")
    token = csrf_of(client.get("/tai-lieu").text)
    response = client.post(
        "/tai-lieu/tai-len",
        data={"csrf": token},
        files=[
            ("tep", ("the-xanh.txt", FACT.encode(), "text/plain")),
            ("tep", ("rong.txt", b"", "text/plain")),
        ],
    )
    assert response.status_code == 200 and "Đã nhận 2 tệp" in response.text
    client.app.state.web.jobs.wait()  # type: ignore[attr-defined]
    progress = client.get("/tai-lieu/tien-do.json").json()
    assert progress["active"] == 0
    by_name = {j["filename"]: j for j in progress["jobs"]}
    assert by_name["the-xanh.txt"]["status"] == "done"
    assert by_name["rong.txt"]["status"] == "failed" and by_name["rong.txt"]["message"]
    page = client.get("/tai-lieu")
    assert 'href="/tai-lieu/the-xanh"' in page.text
    answer = console.say("nv1", "Nhận thẻ xanh phòng dịch ở đâu?")
    assert "Phòng Tổ chức cán bộ" in answer
    doc_id = "the-xanh"
    passages = client.get(f"/tai-lieu/{doc_id}?muc=1. Nơi nhận thẻ xanh")
    assert 'class="card passage cited"' in passages.text
    removed = client.post(f"/tai-lieu/{doc_id}/xoa", data={"csrf": token})
    assert "Đã xóa" in removed.text and 'href="/tai-lieu/the-xanh"' not in removed.text


def test_uploads_of_unsupported_files_are_refused(console: Console) -> None:
    client = console.signed_in("boss")
    token = csrf_of(client.get("/tai-lieu").text)
    response = client.post(
        "/tai-lieu/tai-len",
        data={"csrf": token},
        files=[("tep", ("virus.exe", b"MZ\x00\x00", "application/octet-stream"))],
    )
    assert response.status_code == 400 and "virus.exe" in response.text


UNANSWERED = (
    "Nhà xe của bệnh viện mở cửa lúc mấy giờ?",
    "cho em hoi nha xe cua benh vien mo cua luc may gio a",
)


def test_abstained_questions_grouped_then_curated_answer_given(console: Console) -> None:
    for question in (*UNANSWERED, UNANSWERED[0]):
        assert "không đề cập" in console.say("nv1", question)
    console.say("nv1", "Danh mục khóa học trên nền tảng Bình dân học vụ số gồm những khóa nào?")
    client = console.signed_in("boss")
    quality = client.get("/chat-luong")
    row = re.search(
        r"Nhà xe của bệnh viện mở cửa lúc mấy giờ\?</strong>.*?</tr>", quality.text, re.S
    )
    assert row, quality.text
    # Asked three times in two ways: one line, with the count.
    assert re.search(r'class="num count">3<', row.group(0))
    new_url = re.search(r'href="(/tra-loi/moi\?tu=[0-9,]+)"', row.group(0)).group(1)  # type: ignore[union-attr]
    form = client.get(new_url)
    assert "Nhà xe của bệnh viện" in form.text and "cho em hoi nha xe" in form.text
    token = csrf_of(form.text)
    citation = re.search(r'<option value="([^"|]+\|[^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    saved = client.post(
        "/tra-loi/moi",
        data={
            "csrf": token,
            "cau_hoi": UNANSWERED[0],
            "cach_hoi": UNANSWERED[1],
            "tra_loi": "Nhà xe mở cửa từ 5 giờ 30 đến 22 giờ hằng ngày.",
            "trich_dan": citation,
            "ra_soat": "Phòng Hành chính quản trị",
        },
    )
    assert "Đã lưu câu trả lời biên soạn" in saved.text
    answer = console.say("nv1", "Mấy giờ thì nhà xe bệnh viện mở cửa vậy?")
    assert "5 giờ 30 đến 22 giờ" in answer
    assert "Phòng Hành chính quản trị rà soát" in answer and "Nguồn:" in answer
    # Another question is not taken for this one.
    assert "5 giờ 30" not in console.say("nv1", "Nhà ăn của bệnh viện mở cửa lúc mấy giờ?")
    assert "Đã có câu trả lời" in client.get("/chat-luong").text
    curated_id = int(re.search(r"Đã lưu câu trả lời biên soạn #(\d+)", saved.text).group(1))  # type: ignore[union-attr]
    client.post(f"/tra-loi/{curated_id}/ngung", data={"csrf": token})
    assert "5 giờ 30" not in console.say("nv1", UNANSWERED[0])


def test_disliked_answers_are_listed_with_their_sources(console: Console) -> None:
    msg = Incoming("console", "nv1", chat_id="nv1", text="Hạn chót hoàn thành khóa học MOOC?")
    replies = console.prov.engine.handle(msg)
    payload = replies[0].buttons[0][1].payload
    console.prov.engine.handle(Incoming("console", "nv1", chat_id="nv1", payload=payload))
    client = console.signed_in("boss")
    page = client.get("/chat-luong")
    assert "Hạn chót hoàn thành khóa học MOOC?" in page.text
    assert re.search(r'href="/tai-lieu/[^"]+\?muc=', page.text)


def test_try_page_shows_the_current_answer(console: Console) -> None:
    client = console.signed_in("boss")
    page = client.get("/hoi-thu?q=Hạn chót hoàn thành khóa học MOOC là ngày nào?")
    assert "trích từ tài liệu" in page.text and "Nguồn:" in page.text


# -- operator ------------------------------------------------------------------------------------------
def test_cli_prints_an_admin_link_and_a_manager_link(
    console: Console, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    data = str(console.services.settings.data_dir)
    assert main(["--data-dir", data, "web", "link"]) == 0
    admin_token = LINK.search(capsys.readouterr().out).group(1)  # type: ignore[union-attr]
    assert main(["--data-dir", data, "web", "link", "--staff", "QL002", "--manager"]) == 0
    manager_token = LINK.search(capsys.readouterr().out).group(1)  # type: ignore[union-attr]
    assert main(["--data-dir", data, "web", "link", "--staff", "NV001", "--manager"]) == 2
    assert "chỉ dành cho người quản lý" in capsys.readouterr().err

    admin = console.client_factory()
    admin.post(f"/dang-nhap/{admin_token}")
    assert admin.get("/tai-lieu").status_code == 200
    manager = console.client_factory()
    manager.post(f"/dang-nhap/{manager_token}")
    assert "Minh Sơn" in manager.get("/tong-quan").text
    assert manager.get("/tai-lieu").status_code == 404
    assert manager.get("/don-vi/BVDK").status_code == 404


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_web_runs_the_console(console: Console) -> None:
    port = _free_port()
    data = console.services.settings.data_dir
    env = dict(
        os.environ,
        HOCVUSO_DATA_DIR=str(data),
        WEB_PORT=str(port),
        HOCVUSO_KNOWLEDGE_DIR=str(REPO / "knowledge"),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "web"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/suc-khoe", timeout=2) as r:
                    assert r.read() == b"ok"
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "console did not start"
                time.sleep(0.3)
        token = console.link_for("ql1")
        with urllib.request.urlopen(f"{base}/dang-nhap/{token}", timeout=5) as r:
            assert "Đăng nhập bảng điều khiển" in r.read().decode()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


# -- curated answers and the question judge ----------------------------------------------------------
def test_question_judge_keeps_kinds_of_asking_together_and_questions_apart() -> None:
    from bot.curation.matching import Phrasing, group, same

    base = Phrasing.of("Hạn chót hoàn thành khóa học MOOC là ngày nào?")
    for variant in (
        "han chot hoan thanh khoa hoc mooc la ngay nao",  # no diacritics
        "Cho em hỏi hạn chót hoàn thành khóa học MOOC là ngày nào ạ?",  # politeness
        "Khóa học MOOC hạn chót hoàn thành là ngày nào vậy?",  # word order
    ):
        assert same(base, Phrasing.of(variant)), variant
    for other in (
        "Hạn chót hoàn thành khóa học MOOC là bao nhiêu người?",  # asks how many, not when
        "Ai phải hoàn thành khóa học MOOC?",  # asks who
        "Hạn chót nộp báo cáo khóa học MOOC là ngày nào?",  # another subject
    ):
        assert not same(base, Phrasing.of(other)), other
    groups = group(
        [
            "Nhà xe mở cửa lúc mấy giờ?",
            "Nhà ăn mở cửa lúc mấy giờ?",
            "nha xe mo cua luc may gio",
        ]
    )
    assert sorted(map(sorted, groups)) == [[0, 2], [1]]


def _curate(console: Console, question: str, answer: str) -> tuple[int, str]:
    from bot.curation.service import curation_for

    curation = curation_for(console.services)
    cite = next(c for c in curation.citations() if c.sections)
    curated_id = curation.create(
        "test",
        question=question,
        answer=answer,
        doc_id=cite.doc_id,
        section=cite.sections[0],
        reviewed_by="Sở Y tế",
    )
    return curated_id, cite.doc_id


def test_curated_answer_is_not_given_once_its_document_is_removed(console: Console) -> None:
    curated_id, doc_id = _curate(console, UNANSWERED[0], "Nhà xe mở cửa từ 5 giờ 30.")
    assert "5 giờ 30" in console.say("nv1", UNANSWERED[0])
    console.services.kb.remove(doc_id)
    assert "5 giờ 30" not in console.say("nv1", UNANSWERED[0])
    client = console.signed_in("boss")
    assert "Tài liệu trích dẫn đã bị xóa" in client.get("/tra-loi").text
    assert curated_id


def test_eval_includes_curated_answers_only_when_asked(
    console: Console, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from bot.cli import main

    _curate(console, UNANSWERED[0], "Nhà xe mở cửa từ 5 giờ 30 đến 22 giờ.")
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps(
            {"id": "x1", "question": UNANSWERED[0], "any": [["a"]], "answer_any": ["5 giờ 30"]},
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    data = str(console.services.settings.data_dir)
    assert main(["--data-dir", data, "eval", str(questions), "--json", "--curated"]) == 0
    with_curated = json.loads(capsys.readouterr().out)
    assert main(["--data-dir", data, "eval", str(questions), "--json"]) == 0
    without = json.loads(capsys.readouterr().out)
    assert with_curated["original"]["answer_contains"] == 1.0
    assert with_curated["no_diacritics"]["answer_contains"] == 1.0
    assert without["original"]["false_abstention_rate"] == 1.0


def test_sign_in_reuse_scoping_and_logout_on_postgresql(
    make_services: Callable[..., Services], make_province: Callable[[Services], Province]
) -> None:
    pg_url = os.environ.get("HOCVUSO_TEST_PG_URL")
    if not pg_url:
        pytest.skip("HOCVUSO_TEST_PG_URL not set")
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(pg_url)
    name = f"hocvuso_web_{os.urandom(5).hex()}"
    admin = dict(host=url.host, port=url.port or 5432, user=url.username, dbname=url.database)
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        services = make_services(DATABASE_URL=url.set(database=name).render_as_string(False))
        prov = make_province(services)
        prov.link("QL001", "console", "ql1")
        reply = "\n".join(
            r.text
            for r in prov.engine.handle(Incoming("console", "ql1", chat_id="ql1", text="/web"))
        )
        token = LINK.search(reply).group(1)  # type: ignore[union-attr]
        with TestClient(create_app(prov.engine)) as client:
            assert client.post(f"/dang-nhap/{token}", follow_redirects=False).status_code == 303
            assert client.post(f"/dang-nhap/{token}", follow_redirects=False).status_code == 410
            assert client.get("/don-vi/BVDK-NOI").status_code == 200
            assert client.get("/don-vi/TTYT-NL").status_code == 404
            assert client.get("/chua-hoan-thanh.xlsx?don_vi=TTYT-NL").status_code == 404
            csrf = csrf_of(client.get("/cho-duyet").text)
            assert client.post("/dang-xuat", data={"csrf": csrf}).status_code == 200
            assert client.get("/tong-quan").status_code == 401
        services.db.dispose()
    finally:
        with psycopg.connect(**admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
