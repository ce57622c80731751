"""Completion tracking as a feature: its chat part and its command-line part.

The chat part is imported when the engine is assembled, not when ``hocvuso``
builds its parser: a tracking command starts without the conversation code.
"""

from __future__ import annotations

import argparse

from bot.core.registry import Registry
from bot.core.services import Services
from bot.tracking import cli


class TrackingFeature:
    """Roster, linking, the completion form, statistics, reports and reminders."""

    name = "tracking"

    def register(self, registry: Registry, services: Services) -> None:
        from bot.tracking import chat

        chat.register(registry, services)

    def register_cli(
        self, subcommands: argparse._SubParsersAction[argparse.ArgumentParser]
    ) -> None:
        cli.register_cli(subcommands)
