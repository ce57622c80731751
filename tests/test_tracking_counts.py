"""Completion figures a department can report from (issue 13, items 1-3).

Every status change of a completion keeps each person's progress exact; the
target is checked with the rule its plan sets (plan 2948: done AND confirmed
on VNeID); a rejected report is not verified by accident; a completion after
the deadline is late, not "đạt".
"""

from __future__ import annotations

from datetime import date

import pytest

from bot.errors import UserError
from bot.tracking.service import CompletionInput
from tests.conftest import Province
from tests.tracking_support import *  # noqa: F403
from tests.tracking_support import staff_chat

JULY = date(2026, 7, 1)


def _log(prov: Province, code: str, course: str, day: date, vneid: bool = True) -> int:
    tracking = prov.tracking
    staff = tracking.staff_by_code(code)
    row, _ = tracking.log_completion(
        "test", staff.id, CompletionInput(tracking.find_course(course).id, day, None, vneid)
    )
    return int(row.id)


def _nv002_completion(prov: Province) -> int:
    return int(prov.tracking.my_completions(prov.tracking.staff_by_code("NV002").id)[0].id)


def test_rejecting_the_only_completion_stops_counting_the_person(prov: Province) -> None:
    """Before: reject() left done_on set, so the person still counted as done."""
    ident = _nv002_completion(prov)
    assert prov.stats.summary(None, "BVDK-NOI", as_of=JULY).counts.done == 1
    prov.tracking.reject("test", ident, "Ảnh chứng nhận bị mờ")
    after = prov.stats.summary(None, "BVDK-NOI", as_of=JULY)
    assert (after.counts.done, after.counts.vneid, after.counts.verified) == (0, 0, 0)
    people, total = prov.stats.missing(None, "BVDK-NOI", as_of=JULY)
    assert total == 2 and {s.code for s, _u in people} == {"NV001", "NV002"}


def test_rejecting_after_a_verify_removes_the_verified_count(prov: Province) -> None:
    ident = _nv002_completion(prov)
    prov.tracking.verify("test", ident)
    assert prov.stats.summary(None, as_of=JULY).counts.verified == 1
    prov.tracking.reject("test", ident, "Mã chứng nhận không khớp")
    assert prov.stats.summary(None, as_of=JULY).counts.verified == 0
    assert prov.stats.summary(None, as_of=JULY).counts.done == 0


def test_deleting_a_completion_recomputes_progress(prov: Province) -> None:
    ident = _nv002_completion(prov)
    prov.tracking.delete_completion("test", ident)
    assert prov.stats.summary(None, as_of=JULY).counts.done == 0
    assert prov.tracking.my_completions(prov.tracking.staff_by_code("NV002").id) == []


def test_verifying_a_rejected_completion_needs_confirmation(prov: Province) -> None:
    """Before: verify() silently flipped a rejected report to verified."""
    ident = _nv002_completion(prov)
    prov.tracking.reject("test", ident, "Sai khóa học")
    with pytest.raises(UserError, match="đã bị từ chối"):
        prov.tracking.verify("test", ident)
    assert prov.stats.summary(None, as_of=JULY).counts.verified == 0
    row = prov.tracking.verify("test", ident, override_rejection=True)
    assert row.status == "verified"
    assert prov.stats.summary(None, as_of=JULY).counts.verified == 1


def test_a_stale_verify_button_on_a_rejected_report_asks_first(prov: Province) -> None:
    ident = _nv002_completion(prov)
    manager = staff_chat(prov, "QL001", "m1")
    prov.tracking.reject("test", ident, "Sai khóa học")
    asked = manager.say(payload=f"vr:ok:{ident}")
    assert "đã bị từ chối" in asked[0].text and "Sai khóa học" in asked[0].text
    assert prov.tracking.my_completions(prov.tracking.staff_by_code("NV002").id)[0].status == (
        "rejected"
    )
    confirm = next(b for b in asked[0].choices() if "Vẫn duyệt" in b.label)
    assert "Đã duyệt" in manager.text(payload=confirm.payload)
    assert prov.stats.summary(None, as_of=JULY).counts.verified == 1


def test_target_of_plan_2948_counts_only_vneid_confirmed_people(prov: Province) -> None:
    """Before: "Đã đạt chỉ tiêu" looked at done% alone, whatever VNeID said."""
    # Everyone in Khoa Nội done by June; NV001 not confirmed on VNeID.
    _log(prov, "NV001", "BDHVS-ANKGS", date(2026, 5, 2), vneid=False)
    s = prov.stats.summary(None, "BVDK-NOI", as_of=date(2026, 6, 1))
    assert (s.counts.done, s.counts.vneid) == (2, 1)
    assert s.rule == "vneid" and s.counted == 1 and s.needed == 1
    assert "Đã đạt" not in s.pace_vi()
    assert "VNeID" in s.rule_vi()
    people, total = prov.stats.missing(None, "BVDK-NOI", as_of=date(2026, 6, 1))
    assert total == 1 and people[0][0].code == "NV001"
    # Plan 789 (2025) counts done alone.
    _log(prov, "NV002", "BDHVS-BVDLCN", date(2025, 11, 3), vneid=False)
    s2025 = prov.stats.summary(None, "BVDK-NOI", as_of=date(2025, 12, 1))
    assert s2025.rule == "done" and s2025.counted == 1


def test_target_rule_is_configurable_per_target(prov: Province) -> None:
    prov.tracking.set_target("test", 2026, 1.0, date(2026, 6, 30), "2948/KH-SYT", rule="verified")
    s = prov.stats.summary(None, "BVDK-NOI", as_of=date(2026, 6, 1))
    assert s.rule == "verified" and s.counted == 0
    prov.tracking.verify("test", _nv002_completion(prov))
    assert prov.stats.summary(None, "BVDK-NOI", as_of=date(2026, 6, 1)).counted == 1
    with pytest.raises(UserError):
        prov.tracking.set_target("test", 2026, 1.0, date(2026, 6, 30), None, rule="sometimes")


def test_completion_after_the_deadline_is_late_not_reached(prov: Province) -> None:
    # Khoa Nội: NV002 on time (10/03), NV001 after the 30/06/2026 deadline.
    _log(prov, "NV001", "BDHVS-ANKGS", date(2026, 7, 5))
    s = prov.stats.summary(None, "BVDK-NOI", as_of=date(2026, 7, 10))
    assert (s.counted, s.on_time, s.late) == (2, 1, 1)
    pace = s.pace_vi()
    assert "Đã đạt chỉ tiêu" not in pace and "muộn" in pace and "30/06/2026" in pace
    on_time = prov.stats.summary(None, "BVDK-NGOAI", as_of=date(2026, 7, 10))
    assert "đã qua" in on_time.pace_vi()


def test_progress_after_the_deadline_says_it_passed(prov: Province) -> None:
    nv002 = staff_chat(prov, "NV002", "u2")
    text = nv002.text("/tiendo")
    # NV002 finished on 10/03/2026 with VNeID: on time (whatever today is).
    assert "đạt" in text
    _log(prov, "NV001", "BDHVS-ANKGS", date(2026, 7, 5))
    prov.tracking.set_target("test", 2026, 1.0, date(2026, 6, 30), "2948/KH-SYT", rule="vneid")
    from bot.tracking.chat.staff import progress_lines

    lan = prov.tracking.staff_by_code("NV001")
    lines = "\n".join(progress_lines(prov.tracking, lan.id, date(2026, 7, 10)))
    assert "muộn" in lines and "đã qua" in lines and "bạn đã đạt" not in lines
