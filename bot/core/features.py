"""The contract a feature signs to become part of the assistant.

A feature is one capability (answering from documents, completion tracking,
the web console). It contributes to the chat through the :class:`Registry`
(commands, forms, button handlers, file kinds, greetings, notifications,
identity) and to the ``hocvuso`` command line through argparse sub-commands.
Features are listed explicitly in :mod:`bot.app`; nothing is discovered by
name at run time.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from bot.settings import Settings

if TYPE_CHECKING:
    from bot.core.registry import Registry
    from bot.core.services import Services


class CliContext:
    """What a command-line handler gets besides its arguments.

    The services (database, tracking, knowledge base) are opened on first use,
    so ``hocvuso serve`` and ``--help`` open nothing they do not need.
    """

    def __init__(self, settings: Settings, open_services: Callable[[Settings], Services]) -> None:
        self.settings = settings
        self._open = open_services
        self._services: Services | None = None

    @property
    def services(self) -> Services:
        if self._services is None:
            self._services = self._open(self.settings)
        return self._services

    def close(self) -> None:
        if self._services is not None:
            self._services.close()
            self._services = None


CliHandler = Callable[[argparse.Namespace, CliContext], int]
"""A ``hocvuso`` sub-command: parsed arguments and the CLI context -> exit code."""


class Feature(Protocol):
    """One capability of the assistant, registered in :data:`bot.app.FEATURES`."""

    name: str

    def register(self, registry: Registry, services: Services) -> None:
        """Add this feature's commands, forms, handlers, file kinds and notifications."""
        ...

    def register_cli(self, commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """Add ``hocvuso`` sub-commands; each sets ``func`` to a :data:`CliHandler`.

        Keep heavy imports inside the handlers: the parser is built on every call.
        """
        ...
