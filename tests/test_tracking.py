"""Completion tracking on SQLite and PostgreSQL: roster, form, verification,
permissions, statistics, reports, reminders, CLI.

Every test runs twice (``db`` parameter). PostgreSQL tests use a fresh
database on the server named by ``HOCVUSO_TEST_PG_URL`` (set by
``scripts/test.sh``); without it they are skipped.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from bot.core.messages import Attachment
from bot.core.services import Services
from bot.errors import UserError
from bot.tracking.roster import import_staff
from tests.conftest import Province
from tests.tracking_support import *  # noqa: F403
from tests.tracking_support import Chat, staff_chat


# -- roster ---------------------------------------------------------------------------
def _messy_xlsx(path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["SỞ Y TẾ THANH HÓA"])
    ws.merge_cells("A1:F1")
    ws.append(["DANH SÁCH CÁN BỘ, NHÂN VIÊN NĂM 2026"])
    ws.merge_cells("A2:F2")
    ws.append([])
    ws.append(["STT", " MÃ NV ", "Ho va ten", "Đơn  vị", "CHỨC DANH", "Số điện thoại"])
    ws.append(
        [1, "NV101", "  Trần Thị   Thu  ", "BVDK-NOI ", "Điều dưỡng hạng III", "0912 345 678"]
    )
    ws.append([2, "NV102", "Ngô Văn Tài", "khoa noi", "BS CKI", 912345679])  # number, lost zero
    ws.append([3, "NV103", "Lý Thị Hà", "Trạm Y tế xã Minh Sơn", "Hộ sinh", "+84 912-345-680"])
    ws.append([4, "", "Không Có Mã", "BVDK-NOI", "Điều dưỡng", ""])
    ws.append([5, "NV105", "Đơn Vị Lạ", "Khoa Mắt", "Bác sĩ", ""])
    ws.append([6, "NV106", "Số Sai", "BVDK-NOI", "Bác sĩ", "12345"])
    ws.append([7, "NV101", "Trùng Mã", "BVDK-NOI", "Bác sĩ", ""])
    ws.append([8, 107, "Mã Là Số", "BVDK-NGOAI", "Dược sĩ", "0987.654.321"])
    wb.save(path)


def test_messy_roster_imports_valid_rows_and_reports_bad_ones(
    prov: Province, tmp_path: Path
) -> None:
    path = tmp_path / "danh-sach.xlsx"
    _messy_xlsx(path)
    report = import_staff(prov.tracking, path, dry_run=True, partial=True)
    assert report.created == 4 and report.dry_run
    with pytest.raises(UserError):
        prov.tracking.staff_by_code("NV101")  # dry run stored nothing

    report = import_staff(prov.tracking, path, partial=True)
    assert (report.created, report.updated) == (4, 0)
    errors = {e.row: e for e in report.errors}
    assert set(errors) == {8, 9, 10, 11}
    assert "thiếu mã" in errors[8].message
    assert "Khoa Mắt" in errors[9].message
    assert "12345" in errors[10].message
    assert "trùng với dòng 5" in errors[11].message
    thu = prov.tracking.staff_by_code("nv101")
    assert thu.full_name == "Trần Thị Thu" and thu.phone == "0912345678"
    assert thu.job_group == "nurse"
    tai = prov.tracking.staff_by_code("NV102")
    assert tai.phone == "0912345679" and tai.job_group == "doctor" and tai.unit.code == "BVDK-NOI"
    assert prov.tracking.staff_by_code("NV103").phone == "0912345680"
    assert prov.tracking.staff_by_code("107").job_group == "pharmacist"
    assert "Dòng 10 (NV106)" in report.summary_vi()

    again = import_staff(prov.tracking, path, partial=True)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)


def test_full_reimport_deactivates_missing_staff_out_of_denominator(
    prov: Province, tmp_path: Path
) -> None:
    before = prov.stats.summary(None, "BVDK-NOI", as_of=date(2026, 11, 1))
    assert before.counts.active == 2
    path = tmp_path / "noi.csv"
    path.write_text("Mã NV;Họ và tên;Đơn vị\nNV002;Lê Văn Hùng;BVDK-NOI\n", encoding="utf-8")
    report = import_staff(prov.tracking, path)
    assert report.deactivated == 1 and report.unchanged == 0  # title/phone cleared -> updated
    lan = prov.tracking.staff_by_code("NV001")
    assert lan.active is False  # kept, not deleted
    after = prov.stats.summary(None, "BVDK-NOI", as_of=date(2026, 11, 1))
    assert (after.counts.active, after.counts.done) == (1, 1)
    # Staff of other units were not touched by a ward's file.
    assert prov.tracking.staff_by_code("NV004").active is True


# -- linking ----------------------------------------------------------------------------
def test_linking_by_contact_and_one_time_code(prov: Province) -> None:
    stranger = Chat(prov, "u9")
    assert "liên kết" in stranger.text("/ghinhan")
    assert "chưa có trong danh sách" in stranger.text(contact_phone="+84 900 000 000")
    assert "Nguyễn Thị Lan" in stranger.text(contact_phone="+84912000001")
    assert "Tiến độ của Nguyễn Thị Lan" in stranger.text("/tiendo")

    manager = staff_chat(prov, "QL001", "m1")
    issued = manager.text("/taomalienket NV003")
    code = issued.split(": ")[1].split()[0]
    pharmacist = Chat(prov, "u3")
    assert "không đúng" in pharmacist.text(
        "/lienket NV003 000000" if code != "000000" else "/lienket NV003 111111"
    )
    assert "Phạm Thị Mai" in pharmacist.text(f"/link NV003 {code}")
    assert "không đúng" in Chat(prov, "u4").text(f"/lienket NV003 {code}")  # single use
    # A manager cannot issue codes for another unit's staff.
    assert "trong các đơn vị bạn quản lý" in manager.text("/taomalienket NV004")


# -- the completion form -----------------------------------------------------------------
def test_completion_form_with_bad_dates_cancel_and_duplicate(prov: Province) -> None:
    lan = staff_chat(prov, "NV001", "u1")
    first = lan.say("/ghinhan")
    labels = [b.label for b in first[0].choices()]
    assert "Chuyển đổi số" in labels and "Hủy" in labels
    lan.say("1")  # numbered answer picks the first course
    assert "không tồn tại" in lan.text("31/02/2026")
    assert "tương lai" in lan.text("01/01/2099")
    assert "đúng dạng" in lan.text("tuần trước")
    assert "Bước 3/5" in lan.text("hom qua")
    assert "Đã hủy" in lan.text("/huy")
    assert "chưa khai báo" in lan.text("/tiendo")

    def log_course(date_text: str, cert: str) -> str:
        lan.say("/ghinhan")
        lan.say("chuyen doi so")  # typed name, no diacritics
        lan.say(date_text)
        lan.say(cert)
        lan.say("co")
        return lan.text(payload="ghinhan:skip")

    done = log_course("05/03/2026", "CDS-1")
    assert "Đã ghi nhận" in done and "05/03/2026" in done
    again = log_course("06/03/2026", "CDS-2")
    assert "không tính trùng" in again
    rows = prov.tracking.my_completions(prov.tracking.staff_by_code("NV001").id)
    assert len(rows) == 1 and rows[0].certificate_code == "CDS-2"
    assert rows[0].completed_on == date(2026, 3, 6)
    stats = prov.stats.summary(None, "BVDK-NOI", as_of=date(2026, 11, 1))
    assert stats.counts.done == 2  # NV001 counted once


def test_completion_form_typed_course_and_evidence(prov: Province, tmp_path: Path) -> None:
    lan = staff_chat(prov, "NV001", "u1")
    lan.say("ghi nhận hoàn thành")
    assert "Kỹ năng sử dụng bệnh án điện tử" in lan.text("Kỹ năng sử dụng bệnh án điện tử")
    lan.say("hôm nay")
    lan.say(payload="ghinhan:skip")
    lan.say(payload="ghinhan:vneid:no")
    bad = tmp_path / "chungnhan.exe"
    bad.write_bytes(b"MZ")
    refused = lan.text(attachment=Attachment("chungnhan.exe", bad, 2))
    assert "Chỉ nhận ảnh" in refused
    photo = tmp_path / "chungnhan.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    saved = lan.text(
        attachment=Attachment("chungnhan.png", photo, photo.stat().st_size, "image/png")
    )
    assert "Minh chứng: đã gửi" in saved and "VNeID" in saved
    row = prov.tracking.my_completions(prov.tracking.staff_by_code("NV001").id)[0]
    assert (prov.services.settings.data_dir / row.evidence_path).read_bytes() == photo.read_bytes()
    assert row.course.in_catalogue is False


# -- verification and permissions ---------------------------------------------------------
def test_verify_and_reject_with_reason_told_to_staff(prov: Province) -> None:
    hung = staff_chat(prov, "NV002", "u2")
    manager = staff_chat(prov, "QL001", "m1")
    pending = manager.say("/duyet")
    assert "1 khai báo" in pending[0].text and "Lê Văn Hùng" in pending[0].text
    reject = next(b for b in pending[0].choices() if b.label.startswith("❌"))
    assert "Lý do" in manager.text(payload=reject.payload)
    assert "Đã từ chối" in manager.text("Ảnh chứng nhận bị mờ")
    assert "bị từ chối" in hung.text("/tiendo") and "Ảnh chứng nhận bị mờ" in hung.text("/tiendo")
    due = prov.engine.due_notifications(datetime(2026, 11, 24, 3, 0, tzinfo=UTC), {"console"})
    verdicts = [n for n in due if n.user_id == "u2" and n.kind == "verdict"]
    assert len(verdicts) == 1 and "Ảnh chứng nhận bị mờ" in verdicts[0].replies[0].text
    assert "Không có khai báo" in manager.text("/duyet")

    # Relogging sends it back for verification; then the manager approves.
    hung.say("/ghinhan"), hung.say("1"), hung.say("10/03/2026"), hung.say(payload="ghinhan:skip")
    hung.say(payload="ghinhan:vneid:yes")
    hung.say(payload="ghinhan:skip")
    approve = next(b for b in manager.say("/duyet")[0].choices() if b.label.startswith("✅"))
    assert "Đã duyệt" in manager.text(payload=approve.payload)
    assert "đã duyệt" in hung.text("/tiendo")


def test_managers_see_only_their_units_and_staff_only_themselves(prov: Province) -> None:
    bv = staff_chat(prov, "QL001", "m1")
    ttyt = staff_chat(prov, "QL002", "m2")
    nurse = staff_chat(prov, "NV001", "u1")
    assert "Bệnh viện Đa khoa tỉnh" in bv.text("/thongke")
    assert "trong các đơn vị bạn quản lý" in bv.text("/thongke TTYT-NL")
    assert "Hoàng Văn Nam" not in bv.text("/chuahoanthanh")
    assert "Hoàng Văn Nam" in ttyt.text("/chuahoanthanh")
    assert "Không có khai báo" in ttyt.text("/duyet")  # NV002's report is not theirs
    assert "trong các đơn vị bạn quản lý" in ttyt.text(payload="vr:ok:1") or "quyền" in ttyt.text(
        payload="vr:ok:1"
    )
    assert (
        prov.tracking.my_completions(prov.tracking.staff_by_code("NV002").id)[0].status
        == "reported"
    )
    assert "quyền" in nurse.text("/thongke")
    assert "quyền" in nurse.text("/baocao")
    assert "Lê Văn Hùng" not in nurse.text("/tiendo")


# -- statistics ---------------------------------------------------------------------------
def test_statistics_match_hand_computed_numbers(prov: Province) -> None:
    tracking, stats = prov.tracking, prov.stats
    from bot.tracking.service import CompletionInput

    lan = tracking.staff_by_code("NV001")
    nam = tracking.staff_by_code("NV004")
    course = tracking.find_course("BDHVS-ANKGS")
    tracking.log_completion(
        "test", lan.id, CompletionInput(course.id, date(2026, 6, 1), None, False)
    )
    tracking.log_completion(
        "test", nam.id, CompletionInput(course.id, date(2026, 6, 25), None, True)
    )
    tracking.verify("test", prov.tracking.my_completions(nam.id)[0].id)

    # Province, 28/06/2026: 7 active; done NV001, NV002, NV004 = 3; VNeID NV002, NV004 = 2;
    # verified NV004 = 1; plan 2948 counts VNeID-confirmed people: 100% -> 5 more
    # people in 2 days -> 3 per day.
    s = stats.summary(None, as_of=date(2026, 6, 28))
    assert (s.counts.active, s.counts.done, s.counts.vneid, s.counts.verified) == (7, 3, 2, 1)
    assert (s.pct_done, s.pct_vneid, s.pct_verified) == (42.9, 28.6, 14.3)
    assert (s.rule, s.counted, s.pct_counted) == ("vneid", 2, 28.6)
    assert (s.target_pct, s.days_left, s.needed, s.per_day) == (100.0, 2, 5, 3)
    assert "cần thêm 3 người mỗi ngày để đạt 100% trước 30/06/2026" in s.pace_vi()
    # Before NV004 finished; and 2025 uses plan 789's 90% target.
    assert stats.summary(None, as_of=date(2026, 6, 2)).counts.done == 2
    s2025 = stats.summary(None, as_of=date(2025, 12, 1))
    assert (s2025.counts.done, s2025.target_pct, s2025.needed) == (0, 90.0, 7)  # ceil(6.3)
    # Sub-units: the hospital's own staff plus each ward.
    rows = {r.label: r for r in stats.breakdown(None, "BVDK", as_of=date(2026, 7, 1))}
    assert rows["Khoa Nội"].counts.done == 2 and rows["Khoa Nội"].pct_done == 100.0
    assert rows["Khoa Ngoại"].counts.active == 1 and rows["Khoa Ngoại"].counts.done == 0
    assert rows["Bệnh viện Đa khoa tỉnh (trực thuộc)"].counts.active == 1
    assert "Hạn 30/06/2026 đã qua 1 ngày" in rows["Khoa Ngoại"].pace_vi()
    jobs = {r.key: r for r in stats.breakdown(None, by="job", as_of=date(2026, 7, 1))}
    assert jobs["nurse"].counts.active == 2 and jobs["nurse"].counts.done == 1  # Lan; Hạnh not
    assert jobs["village_health_worker"].pct_done == 100.0
    total, by_job = stats.overview(None, by="job", as_of=date(2026, 7, 1))
    assert {r.key for r in by_job} == set(jobs) and total.counts.active == sum(
        r.counts.active for r in by_job
    )
    only_nurses = stats.summary(None, job="nurse", as_of=date(2026, 7, 1))
    assert only_nurses.counts.active == 2
    missing, total = stats.missing(None, "TTYT-NL", as_of=date(2026, 7, 1))
    assert total == 2 and [s.code for s, _u in missing] == ["QL002", "NV005"]


def test_manager_stats_chart_and_xlsx_report(prov: Province) -> None:
    manager = staff_chat(prov, "QL001", "m1")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        replies = manager.say("/thongke")
    assert not [w for w in caught if "Glyph" in str(w.message)]  # Vietnamese glyphs render
    assert "1/4 người (25%)" in replies[0].text
    photo = replies[1].photo
    assert photo is not None and photo.data.startswith(b"\x89PNG")
    report = manager.say("/baocao")[-1].document  # after the "being built" notice
    assert report is not None and report.filename.endswith(".xlsx")
    wb = load_workbook(io.BytesIO(report.data), read_only=True)
    assert wb.sheetnames == ["Tổng hợp", "Chưa đạt", "Đã khai báo", "Xu hướng"]
    summary = [r for r in wb["Tổng hợp"].iter_rows(values_only=True)]
    header = next(r for r in summary if r and r[0] == "Mã đơn vị")
    assert "Tỷ lệ hoàn thành (%)" in header
    noi = next(r for r in summary if r and r[0] == "BVDK-NOI")
    assert noi[2:5] == (2, 1, 50.0)
    missing = [r for r in wb["Chưa đạt"].iter_rows(values_only=True)]
    assert missing[0][:2] == ("Mã NV", "Họ và tên")
    assert {r[0] for r in missing[1:]} == {"NV001", "NV003", "QL001"}
    done = list(wb["Đã khai báo"].iter_rows(values_only=True))
    assert done[1][:2] == ("NV002", "Lê Văn Hùng") and done[1][7] == "chờ duyệt"


# -- reminders ----------------------------------------------------------------------------
def test_reminders_weekly_once_digest_and_quiet_hours(prov: Province) -> None:
    prov.link("NV001", "telegram", "111")
    prov.link("NV002", "telegram", "222")  # done: no reminder
    prov.link("QL001", "telegram", "999")
    noon = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)  # 12:00 in Vietnam
    due = prov.engine.due_notifications(noon, {"telegram"})
    kinds = {(n.user_id, n.kind) for n in due}
    assert ("111", "reminder") in kinds and ("222", "reminder") not in kinds
    assert ("999", "digest") in kinds and ("999", "reminder") in kinds
    digest = next(n for n in due if n.kind == "digest")
    assert "1/4" in digest.replies[0].text and "Chờ duyệt: 1" in digest.replies[0].text
    assert prov.engine.due_notifications(noon, {"telegram"}) == []  # once per period
    assert prov.engine.due_notifications(noon, {"zalo_bot"}) == []
    night = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # 23:00 local, next week
    assert prov.engine.due_notifications(night, {"telegram"}) == []
    morning = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 09:00 local
    assert {n.user_id for n in prov.engine.due_notifications(morning, {"telegram"})} == {
        "111",
        "999",
    }


# -- admin upload and CLI ------------------------------------------------------------------
def test_admin_roster_upload_in_chat(
    make_db_services: Callable[..., Services],
    make_province: Callable[[Services], Province],
    tmp_path: Path,
) -> None:
    prov = make_province(make_db_services(HOCVUSO_ADMIN_IDS="console:admin"))
    path = tmp_path / "bo-sung.xlsx"
    _messy_xlsx(path)
    admin = Chat(prov, "admin")
    text = admin.text(attachment=Attachment(path.name, path, path.stat().st_size))
    assert "thêm mới 4" in text and "Dòng 9 (NV105)" in text
    staff = staff_chat(prov, "NV001", "u1")
    assert "quản trị" in staff.text(attachment=Attachment(path.name, path, path.stat().st_size))


def test_cli_import_stats_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main
    from tests.conftest import ROSTER_CSV, UNITS_CSV

    data = str(tmp_path / "data")
    units = tmp_path / "units.csv"
    units.write_text(UNITS_CSV, encoding="utf-8")
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER_CSV + "NV999,,BVDK-NOI,,,\n", encoding="utf-8")
    assert main(["--data-dir", data, "units", "import", str(units)]) == 0
    assert main(["--data-dir", data, "staff", "import", str(roster), "--dry-run"]) == 0
    assert "Kiểm tra thử" in capsys.readouterr().out
    assert main(["--data-dir", data, "staff", "import", str(roster)]) == 0
    assert "thêm mới 7" in capsys.readouterr().out
    assert (
        main(
            [
                "--data-dir",
                data,
                "completions",
                "add",
                "NV001",
                "BDHVS-CDS",
                "--date",
                "01/03/2026",
                "--vneid",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["--data-dir", data, "stats", "--json", "--date", "2026-06-20"]) == 0
    import json

    result = json.loads(capsys.readouterr().out)
    assert result["total"]["active"] == 7 and result["total"]["done"] == 1
    assert result["total"]["per_day"] == 1 and result["total"]["days_left"] == 10
    out = tmp_path / "r.xlsx"
    chart = tmp_path / "c.png"
    assert main(["--data-dir", data, "report", "--out", str(out), "--chart", str(chart)]) == 0
    assert load_workbook(out).sheetnames[0] == "Tổng hợp"
    assert chart.read_bytes().startswith(b"\x89PNG")


def test_demo_data_builds_a_realistic_province(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    data = str(tmp_path / "data")
    assert main(["--data-dir", data, "demo-data", "--staff", "1200", "--units", "30"]) == 0
    assert "30 đơn vị, 1200 nhân viên" in capsys.readouterr().out
    assert main(["--data-dir", data, "stats", "--json"]) == 0
    import json

    total = json.loads(capsys.readouterr().out)["total"]
    assert 1000 < total["active"] <= 1200 and 0 < total["done"] < total["active"]


def test_choices_can_be_typed_instead_of_numbered(prov: Province) -> None:
    """On Zalo and the console people often type the choice rather than its number."""
    chat = staff_chat(prov, "NV003", "mai")
    chat.say("/ghinhan")
    assert "Bước 2/5" in chat.text("bao ve du lieu ca nhan truc tuyen")
    assert "Bước 3/5" in chat.text("hom nay")
    assert "Bước 4/5" in chat.text("bo qua")  # "Bỏ qua"
    assert "Bước 5/5" in chat.text("co")  # "Có"
    saved = chat.text("bo qua")  # a unique prefix of "Bỏ qua và lưu"
    assert "Đã ghi nhận" in saved and "Xác nhận VNeID: có" in saved
