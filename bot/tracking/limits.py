"""What a value may look like before it is stored: lengths and code patterns.

Checked in Python, row by row, so SQLite (which would silently store an
over-long value) and PostgreSQL (which would abort the whole transaction)
behave the same: the offending row is reported and the others go in.

Staff codes follow :data:`CODE_PATTERN`: 1 to 40 characters, letters
A-Z (any case), digits, and ``.``, ``_`` or ``-`` after the first character.
A code never contains a slash, a space or anything that could change the
meaning of a file path built from it (evidence files are stored per staff
code), and it never starts with a dot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.errors import UserError

CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,39}")
CODE_RULE_VI = (
    "chỉ gồm chữ cái không dấu, chữ số và các dấu . _ - (bắt đầu bằng chữ hoặc số, tối đa 40 ký tự)"
)


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters for a message (with an ellipsis)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def valid_code(code: str) -> bool:
    return CODE_PATTERN.fullmatch(code) is not None


@dataclass(frozen=True)
class Limits:
    """Column sizes of the tracking tables (see bot.tracking.models)."""

    code: int = 40
    person_name: int = 200
    unit_name: int = 200
    title: int = 200
    course_name: int = 300
    provider: int = 200
    certificate: int = 100
    reason: int = 500

    def long_fields(self, values: dict[str, str | None], sizes: dict[str, int]) -> list[str]:
        """Names (Vietnamese) of the fields of ``values`` longer than allowed."""
        names = {
            "code": "mã",
            "full_name": "họ và tên",
            "name": "tên",
            "title": "chức danh",
            "unit": "đơn vị",
        }
        return [
            f"{names.get(field, field)} dài {len(value)} ký tự (tối đa {size})"
            for field, size in sizes.items()
            if (value := values.get(field)) is not None and len(value) > size
        ]

    def staff_problem(self, code: str, name: str, title: str | None) -> str | None:
        """Why a roster row cannot be stored as is (Vietnamese), or None."""
        if not valid_code(code):
            return f"mã nhân viên “{clip(code, 50)}” không hợp lệ: {CODE_RULE_VI}"
        long = self.long_fields(
            {"full_name": name, "title": title},
            {"full_name": self.person_name, "title": self.title},
        )
        return "; ".join(long) if long else None

    def unit_problem(self, code: str, name: str) -> str | None:
        """Unit codes are never part of a path: only their length and printability count."""
        if not code.isprintable():
            return f"mã đơn vị “{clip(code, 50)}” chứa ký tự điều khiển"
        long = self.long_fields(
            {"code": code, "name": name}, {"code": self.code, "name": self.unit_name}
        )
        return "; ".join(long) if long else None

    def check_unit(self, code: str, name: str) -> None:
        problem = self.unit_problem(code, name)
        if problem:
            raise UserError(problem[0].upper() + problem[1:] + ".")


LIMITS = Limits()
