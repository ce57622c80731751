"""Exceptions that carry a message safe to show a user (in Vietnamese)."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix; ``message`` is Vietnamese and shown as is."""

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(detail or message)
        self.message = message


class PermissionDenied(UserError):
    """The actor may not see or change this (other unit, wrong role)."""

    def __init__(self, message: str = "Bạn không có quyền thực hiện thao tác này.") -> None:
        super().__init__(message)
