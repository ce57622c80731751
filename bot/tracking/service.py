"""Completion tracking: the operations every channel and the CLI share.

:class:`TrackingService` is assembled from one module per concern:

- :mod:`bot.tracking.units`: the unit tree, staff look-ups, who may see what;
- :mod:`bot.tracking.identity`: who is talking, linking accounts, link codes;
- :mod:`bot.tracking.targets`: yearly targets and the rule that counts people;
- :mod:`bot.tracking.completions`: courses, completions and their verification;
- :mod:`bot.tracking.audit`: the audit trail every change writes.

Permission rules live in those modules, not in adapters: staff see only
themselves, managers only the units they manage (with everything under them),
admins everything.
"""

from __future__ import annotations

from bot.tracking.audit import SYSTEM, actor_label, audit
from bot.tracking.completions import CompletionBook, CompletionInput
from bot.tracking.identity import LINK_CODE_TTL, IdentityRegistry

__all__ = [
    "LINK_CODE_TTL",
    "SYSTEM",
    "CompletionInput",
    "TrackingService",
    "actor_label",
    "audit",
]


class TrackingService(IdentityRegistry, CompletionBook):
    """Roster, identities, courses, completions; one database, many channels."""
