"""Who is talking: role and the units they may see.

Admins are configured explicitly (``HOCVUSO_ADMIN_IDS`` as ``channel:user_id``
entries, or the channel-specific lists); staff and managers come from the
roster through an :class:`IdentityProvider` supplied by completion tracking.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from bot.settings import Settings

GUEST, STAFF, MANAGER, ADMIN = "guest", "staff", "manager", "admin"


@dataclass(frozen=True)
class Actor:
    channel: str
    user_id: str
    roles: frozenset[str] = frozenset({GUEST})
    staff_id: int | None = None
    staff_code: str | None = None
    name: str | None = None
    managed_unit_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    @property
    def is_manager(self) -> bool:
        return MANAGER in self.roles or ADMIN in self.roles

    @property
    def is_linked(self) -> bool:
        return self.staff_id is not None


class IdentityProvider(Protocol):
    def resolve(self, channel: str, user_id: str, *, is_admin: bool) -> Actor: ...


def configured_admin(settings: Settings, channel: str, user_id: str) -> bool:
    """True when this (channel, user) is listed as an admin in the settings."""
    if f"{channel}:{user_id}" in settings.admin_ids:
        return True
    if channel == "telegram" and user_id in settings.telegram_admin_ids:
        return True
    return channel.startswith("zalo") and user_id in settings.zalo_admin_ids


class AdminOnlyIdentity:
    """Fallback identity when no roster is available: admins and guests only."""

    def resolve(self, channel: str, user_id: str, *, is_admin: bool) -> Actor:
        roles = frozenset({ADMIN}) if is_admin else frozenset({GUEST})
        return Actor(channel=channel, user_id=user_id, roles=roles)
