"""Commands, forms (flows) and hooks that features register with the engine.

A feature module (knowledge, tracking, admin tools) exposes
``register(registry, services)`` and adds its commands and flows here; the
engine dispatches, the adapters only render.
"""

from __future__ import annotations

import difflib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.core.actor import Actor, AdminOnlyIdentity, IdentityProvider
from bot.core.messages import Incoming, Reply
from bot.core.uploads import UploadKind, suffix_of
from bot.text import normalize_name

if TYPE_CHECKING:
    from bot.core.notifications import NotificationSource
    from bot.core.services import Services


@dataclass
class Context:
    """Everything a handler needs for one incoming message."""

    msg: Incoming
    actor: Actor
    services: Services
    registry: Registry
    flow: str | None = None
    step: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    later: Callable[[], list[Reply]] | None = None

    def goto(self, step: str) -> None:
        """Move the active form to ``step`` (persisted after the handler returns)."""
        self.step = step

    def finish(self) -> None:
        """End the active form and forget its data."""
        self.flow, self.step, self.data = None, None, {}


Handler = Callable[[Context, str], list[Reply]]
Hook = Callable[[Context], list[Reply] | None]


@dataclass(frozen=True)
class Command:
    """A command: ``/name`` or an English alias, or a plain Vietnamese phrase.

    ``roles`` lists who may run it (empty: everyone). ``menu`` puts it in the
    messenger's command menu. ``heavy`` commands (building a province report)
    run off the conversation path: the engine says the work has started and
    the replies follow when it is done, while other users are answered.
    """

    name: str
    description: str
    handler: Handler
    aliases: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    roles: frozenset[str] = frozenset()
    menu: bool = True
    heavy: bool = False

    def allowed(self, actor: Actor) -> bool:
        return not self.roles or bool(self.roles & actor.roles)


class Flow(ABC):
    """A multi-step form whose position lives in SQL, not in a messenger."""

    name: str = ""

    @abstractmethod
    def start(self, ctx: Context, args: str) -> list[Reply]:
        """Begin the form (set ``ctx.flow``/``ctx.step``) and ask the first question."""

    @abstractmethod
    def handle(self, ctx: Context) -> list[Reply]:
        """Consume ``ctx.msg`` (text, payload or attachment) at ``ctx.step``."""


class Registry:
    """Everything features contribute to the engine, in one typed place.

    A feature (see :mod:`bot.core.features`) adds commands, forms, button
    handlers, the file kinds it reads, greetings for newcomers, notification
    sources and, for the roster feature, the identity provider.
    """

    def __init__(self) -> None:
        self.commands: list[Command] = []
        self.flows: dict[str, Flow] = {}
        self.payload_handlers: dict[str, Handler] = {}
        self.heavy_payloads: set[str] = set()
        self.contact_hooks: list[Hook] = []
        self.upload_kinds: list[UploadKind] = []
        self.start_hooks: list[Hook] = []
        self.notification_sources: list[NotificationSource] = []
        self.identity: IdentityProvider = AdminOnlyIdentity()
        self.text_handler: Handler | None = None
        self.need_link: Hook | None = None
        self._by_name: dict[str, Command] = {}
        self._by_phrase: dict[str, Command] = {}

    def add_command(self, command: Command) -> None:
        for key in (command.name, *command.aliases):
            self._by_name[key.lower()] = command
        for phrase in command.phrases:
            self._by_phrase[normalize_name(phrase)] = command
        self.commands.append(command)

    def add_flow(self, flow: Flow) -> None:
        self.flows[flow.name] = flow

    def on_payload(self, prefix: str, handler: Handler, *, heavy: bool = False) -> None:
        """Route button payloads ``prefix:rest`` to ``handler(ctx, rest)``.

        ``heavy`` handlers (a confirmed document update: indexing) run off the
        conversation path like heavy commands; the user is answered when done.
        """
        self.payload_handlers[prefix] = handler
        if heavy:
            self.heavy_payloads.add(prefix)

    def on_contact(self, hook: Hook) -> None:
        self.contact_hooks.append(hook)

    def accept_uploads(self, kind: UploadKind) -> None:
        """Declare a file kind; its handler (if any) receives such files sent outside a form."""
        self.upload_kinds.append(kind)

    def on_start(self, hook: Hook) -> None:
        """Add to the greeting of /batdau (e.g. how to link an account); None adds nothing."""
        self.start_hooks.append(hook)

    def add_notifications(self, source: NotificationSource) -> None:
        self.notification_sources.append(source)

    def provide_identity(self, provider: IdentityProvider) -> None:
        """Who is talking: the roster feature replaces the admins-and-guests default."""
        self.identity = provider

    def on_need_link(self, hook: Hook) -> None:
        """What a guest is told when a command needs a linked account (how to link,
        written for the channel's capabilities)."""
        self.need_link = hook

    def on_text(self, handler: Handler) -> None:
        """Where a message that is no command, form answer or file goes (a question)."""
        self.text_handler = handler

    def accepted_suffixes(self) -> frozenset[str]:
        """Every file suffix some feature reads; channels refuse the rest before downloading."""
        return frozenset(s for kind in self.upload_kinds for s in kind.suffixes)

    def upload_handlers(self, filename: str) -> list[UploadKind]:
        """Kinds with a handler for a file sent outside a form, in registration order."""
        suffix = suffix_of(filename)
        return [k for k in self.upload_kinds if k.handler and suffix in k.suffixes]

    def closest(self, name: str, actor: Actor) -> Command | None:
        """The registered command a mistyped ``/name`` most likely meant (None: no
        plausible one). Only commands this actor may use are suggested."""
        typed = normalize_name(name).replace(" ", "")
        candidates: dict[str, Command] = {}
        for command in self.commands:
            if command.allowed(actor):
                for key in (command.name, *command.aliases):
                    candidates[key.lower()] = command
        found = difflib.get_close_matches(typed, list(candidates), n=1, cutoff=0.6)
        if found:
            return candidates[found[0]]
        # A longer word that starts or ends with a command name ("dangkykhoahoc").
        for key in sorted(candidates, key=len, reverse=True):
            if len(key) >= 5 and (typed.startswith(key) or typed.endswith(key)):
                return candidates[key]
        return None

    def match(self, text: str) -> tuple[Command, str] | None:
        """Find the command a message asks for, and its argument text."""
        stripped = text.strip()
        if stripped.startswith("/"):
            head, _, rest = stripped[1:].partition(" ")
            head = head.split("@", 1)[0].lower()
            command = self._by_name.get(head)
            return (command, rest.strip()) if command else None
        key = normalize_name(stripped)
        command = self._by_phrase.get(key)
        return (command, "") if command else None

    def menu(self, actor: Actor) -> list[Command]:
        """Commands this actor may use, for help texts and messenger menus."""
        return [c for c in self.commands if c.menu and c.allowed(actor)]
