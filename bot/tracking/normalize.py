"""Cleaning what people type and what spreadsheets contain.

Phones arrive as "0912 345 678", "+84912345678", 912345678.0 (Excel ate the
leading zero); dates as "5/3/2026", "05-03-2026", "hôm nay"; job titles as
free text. Everything is folded (no diacritics, lower case) before matching.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from bot.errors import UserError
from bot.text import normalize_name

_PHONE_JUNK = re.compile(r"[\s.\-()/]")

# Folded keywords -> job group; first match wins, so specific titles come first.
_JOB_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "village_health_worker",
        ("y te thon", "thon ban", "co do thon", "nhan vien y te thon", "vhw"),
    ),
    ("pharmacist", ("duoc si", "duoc ", "duoc", "pharmacist")),
    ("technician", ("ky thuat vien", "ktv", "technician", "xet nghiem")),
    ("nurse", ("dieu duong", "ho sinh", "nurse", "midwife")),
    ("doctor", ("bac si", "y si", "bs", "doctor", "thay thuoc")),
    (
        "administrative",
        (
            "hanh chinh",
            "ke toan",
            "van thu",
            "thu quy",
            "giam doc",
            "truong phong",
            "pho phong",
            "chuyen vien",
            "can bo",
            "nhan vien",
            "quan ly",
            "lai xe",
            "bao ve",
            "cong nghe thong tin",
            "admin",
        ),
    ),
)


def job_group(title: str | None) -> str:
    """Map a free-text job title ("Điều dưỡng hạng III", "BS CKI") to a job group."""
    key = f" {normalize_name(title or '')} "
    for group, words in _JOB_RULES:
        if any(f" {w.strip()} " in key or key.strip().startswith(w.strip()) for w in words):
            return group
    return "other"


def normalize_phone(raw: object) -> str | None:
    """Vietnamese phone in national form ("0912345678"); None when blank.

    Raises ValueError with an English detail when the value cannot be a phone.
    """
    if raw is None:
        return None
    if isinstance(raw, float):
        if raw != raw:  # NaN
            return None
        raw = str(int(raw))
    text = _PHONE_JUNK.sub("", str(raw).strip())
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    if not text:
        return None
    if text.startswith("+84"):
        text = "0" + text[3:]
    elif text.startswith("84") and len(text) in (11, 12):
        text = "0" + text[2:]
    elif text.startswith("0084"):
        text = "0" + text[4:]
    if not text.isdigit():
        raise ValueError(f"not a phone number: {raw!r}")
    if len(text) == 9 and text[0] != "0":
        text = "0" + text  # the spreadsheet dropped the leading zero
    if not (text.startswith("0") and len(text) in (10, 11)):
        raise ValueError(f"phone must have 10-11 digits starting with 0: {raw!r}")
    return text


_TODAY = {"hom nay", "today", "nay"}
_YESTERDAY = {"hom qua", "yesterday", "qua"}
_DATE_RE = re.compile(r"^(\d{1,2})\s*[/\-.]\s*(\d{1,2})\s*[/\-.]\s*(\d{2}|\d{4})$")
EARLIEST = date(2020, 1, 1)


def check_completion_day(value: date, today: date) -> date:
    """A completion date must be real: not in the future, not before 2020."""
    if value > today:
        raise UserError("Ngày hoàn thành không thể ở tương lai. Hãy nhập lại.")
    if value < EARLIEST:
        raise UserError("Ngày này quá xa (trước năm 2020), có lẽ nhập nhầm năm. Hãy nhập lại.")
    return value


def _dmy(text: str) -> date:
    match = _DATE_RE.match(text.strip())
    if not match:
        raise UserError(
            "Ngày chưa đúng dạng. Hãy nhập ngày/tháng/năm, ví dụ 05/03/2026, "
            "hoặc “hôm nay”, “hôm qua”."
        )
    day, month, year = (int(g) for g in match.groups())
    if year < 100:
        year += 2000
    try:
        return date(year, month, day)
    except ValueError:
        raise UserError(f"Ngày {text.strip()} không tồn tại. Hãy kiểm tra lại.") from None


def parse_day(text: str, today: date) -> date:
    """A completion date typed by a person: dd/mm/yyyy, "hôm nay", "hôm qua".

    Not in the future, not before 2020 (a typo, not a course).
    """
    key = normalize_name(text)
    if key in _TODAY:
        return today
    if key in _YESTERDAY:
        return today - timedelta(days=1)
    return check_completion_day(_dmy(text), today)


def parse_iso_or_vi(text: str) -> date:
    """A date on the command line: 2026-03-05 or 05/03/2026 (UserError otherwise)."""
    text = text.strip()
    if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", text):
        try:
            return datetime.strptime(text, "%Y-%m-%d").date()
        except ValueError:
            raise UserError(f"Ngày {text} không tồn tại. Hãy kiểm tra lại.") from None
    try:
        value = _dmy(text)
    except UserError as exc:
        if "không tồn tại" in exc.message:
            raise
        raise UserError(
            f"Ngày “{text}” chưa đúng dạng: dùng NNNN-TT-NN hoặc NN/TT/NNNN (ví dụ 05/03/2026)."
        ) from None
    if not 2000 <= value.year <= 2100:
        raise UserError(f"Năm {value.year} không hợp lệ.")
    return value


def yes_no(text: str) -> bool | None:
    """Có / không in any spelling; None when it is neither."""
    key = normalize_name(text)
    if key in {"co", "c", "yes", "y", "roi", "da", "da xac nhan", "co roi", "dung", "1"}:
        return True
    if key in {"khong", "k", "ko", "no", "n", "chua", "khong co", "0"}:
        return False
    return None


def vi_date(value: date) -> str:
    return value.strftime("%d/%m/%Y")
