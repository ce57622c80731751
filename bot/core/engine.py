"""The conversation engine: one implementation for every channel.

``Engine.handle`` takes an :class:`Incoming`, works out who is speaking and
where they are in a form, dispatches to a command, a form step, a button
handler or the knowledge base, persists the conversation state, and returns
replies. Errors become a polite Vietnamese message; nothing escapes to the
adapter as a traceback.

One user's messages are handled one at a time (a named database lock, which
on PostgreSQL holds across every worker process), different users' at the
same time: adapters call the engine from a thread pool. Heavy work (indexing
an uploaded document, building a report) is split off by :meth:`Engine.turn`
so it runs outside the conversation path.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from pathlib import Path

from bot.core.actor import GUEST, STAFF, Actor, configured_admin
from bot.core.messages import Incoming, Reply
from bot.core.models import ConversationState
from bot.core.notifications import Notification, in_quiet_hours
from bot.core.registry import Context, Hook, Registry
from bot.core.services import Services
from bot.errors import PermissionDenied, UserError
from bot.text import normalize_name

log = logging.getLogger(__name__)

APOLOGY = (
    "Xin lỗi, hệ thống vừa gặp sự cố khi xử lý tin nhắn của bạn. Vui lòng thử lại sau ít phút."
)
STALE_CHOICE = "Lựa chọn này đã hết hiệu lực. Gõ /trogiup để xem các chức năng."
NEED_LINK = "Chức năng này cần liên kết tài khoản với danh sách nhân viên. Gõ /batdau để liên kết."
UNKNOWN_COMMAND = "Lệnh /{name} không tồn tại."
SUGGEST_COMMAND = "Có phải bạn muốn dùng /{name} ({description})?"
SEE_HELP = "Gõ /trogiup để xem các lệnh."
HEAVY_STARTED = (
    "⏳ Đang xử lý, tôi sẽ báo kết quả ngay khi xong. Trong lúc chờ, bạn vẫn có thể hỏi "
    "hoặc dùng các lệnh khác."
)
HEAVY_FILE_STARTED = (
    "⏳ Đang xử lý tệp “{name}”, tôi sẽ báo kết quả ngay khi xong. Trong lúc chờ, bạn vẫn "
    "có thể hỏi hoặc dùng các lệnh khác."
)
# "/word" or "/word@bot" at the start of a message: something meant as a command
# (a path such as "/home/x" or a date "/2026" is not).
COMMAND_LIKE = re.compile(r"^/([^\W\d]\w{0,63})(?:@\w+)?(?:\s|$)")


@dataclass
class Turn:
    """What one message produced: replies to send now and, for heavy work, a job.

    ``later`` runs off the conversation path (the adapters' background pool)
    and returns the replies to deliver when it is done; it never raises.
    """

    replies: list[Reply]
    later: Callable[[], list[Reply]] | None = None


class Engine:
    """Dispatches messages; holds no per-user state in memory."""

    def __init__(self, services: Services, registry: Registry) -> None:
        self.services = services
        self.registry = registry

    # -- public ---------------------------------------------------------------
    def handle(self, msg: Incoming) -> list[Reply]:
        """Process one message and return all its replies, heavy work included
        (the console and the command line wait for it); never raises."""
        turn = self.turn(msg)
        if turn.later is None:
            return turn.replies
        return turn.replies + turn.later()

    def turn(self, msg: Incoming) -> Turn:
        """Process one message; heavy work comes back as ``Turn.later``. Never raises."""
        try:
            with self.services.db.lock(f"conversation:{msg.channel}:{msg.user_id}"):
                ctx, replies = self._handle(msg)
        except UserError as exc:
            return Turn([Reply(exc.message)])
        except Exception:
            log.exception("Unhandled error for %s:%s", msg.channel, msg.user_id)
            return Turn([Reply(APOLOGY)])
        if ctx is None or ctx.later is None:
            return Turn(replies)
        return Turn(replies, self._guarded(ctx, ctx.later))

    def actor(self, channel: str, user_id: str) -> Actor:
        """Who this is: configured admins, then the registered identity provider."""
        is_admin = configured_admin(self.services.settings, channel, user_id)
        return self.registry.identity.resolve(channel, user_id, is_admin=is_admin)

    def due_notifications(self, now: datetime, channels: set[str]) -> list[Notification]:
        """What a channel should send on its own now (nothing in quiet hours)."""
        if in_quiet_hours(self.services.settings, now):
            return []
        return [n for s in self.registry.notification_sources for n in s.due(now, channels)]

    # -- internals ------------------------------------------------------------
    def _guarded(self, ctx: Context, job: Callable[[], list[Reply]]) -> Callable[[], list[Reply]]:
        """The heavy job as run in the background: errors become the apology, a
        kept copy of an uploaded file is removed, and buttons it offers are
        remembered (numbered answers keep working)."""
        attachment = ctx.msg.attachment

        def run() -> list[Reply]:
            try:
                replies = job()
            except UserError as exc:
                replies = [Reply(exc.message)]
            except Exception:
                log.exception("background job failed for %s:%s", ctx.msg.channel, ctx.msg.user_id)
                replies = [Reply(APOLOGY)]
            finally:
                if attachment is not None:
                    shutil.rmtree(attachment.path.parent, ignore_errors=True)
            if any(r.choices() for r in replies) or ctx.flow is not None:
                with self.services.db.lock(f"conversation:{ctx.msg.channel}:{ctx.msg.user_id}"):
                    self._save_state(ctx, replies)
            return replies

        return run

    def _defer(self, ctx: Context, job: Callable[[], list[Reply]]) -> list[Reply]:
        """Hand ``job`` to the background; an uploaded file is kept for it (the
        adapter deletes its own copy as soon as the turn is over)."""
        attachment = ctx.msg.attachment
        if attachment is not None:
            folder = Path(tempfile.mkdtemp(prefix="job-", dir=attachment.path.parent))
            kept = folder / attachment.path.name
            shutil.copyfile(attachment.path, kept)
            ctx.msg = replace(ctx.msg, attachment=replace(attachment, path=kept))
        ctx.later = job
        if attachment is not None:
            return [Reply(HEAVY_FILE_STARTED.format(name=attachment.filename))]
        return [Reply(HEAVY_STARTED)]

    def _unknown_command(self, ctx: Context, name: str) -> list[Reply]:
        """``/dangkykhoahoc``: say so, suggest the closest command, point to help.
        Not a question, so it is neither answered from the documents nor logged."""
        wider = replace(ctx.actor, roles=ctx.actor.roles | {GUEST, STAFF})
        lines = [UNKNOWN_COMMAND.format(name=name)]
        closest = self.registry.closest(name, wider)
        if closest is not None:
            lines.append(SUGGEST_COMMAND.format(name=closest.name, description=closest.description))
        lines.append(SEE_HELP)
        return [Reply(" ".join(lines))]

    def _handle(self, msg: Incoming) -> tuple[Context | None, list[Reply]]:
        services = self.services
        actor = self.actor(msg.channel, msg.user_id)
        with services.db.session() as session:
            state = session.get(ConversationState, (msg.channel, msg.user_id))
            flow, step = (state.flow, state.step) if state else (None, None)
            data = dict(state.data or {}) if state else {}
            choices = list(state.choices or []) if state else []
        msg = self._resolve_numbered_choice(msg, choices)
        ctx = Context(
            msg=msg,
            actor=actor,
            services=services,
            registry=self.registry,
            flow=flow,
            step=step,
            data=data,
        )
        try:
            replies = self._dispatch(ctx)
        except UserError as exc:
            replies = [Reply(exc.message)]
        self._save_state(ctx, replies)
        return ctx, replies

    @staticmethod
    def _resolve_numbered_choice(msg: Incoming, choices: list[dict[str, str]]) -> Incoming:
        """Channels without buttons answer a numbered list with a number; people
        also type the choice itself ("bo qua" for "Bỏ qua và lưu", "co" for "Có")."""
        if msg.payload is not None or not choices:
            return msg
        text = msg.text.strip().rstrip(".)")
        if text.isdigit():
            index = int(text) - 1
            if 0 <= index < len(choices):
                return replace(msg, payload=choices[index]["payload"], text="")
            return msg
        typed = normalize_name(text)
        if not typed or text.startswith("/"):
            return msg
        labels = [normalize_name(c["label"]) for c in choices]
        exact = [c for c, label in zip(choices, labels, strict=True) if label == typed]
        prefix = [
            c
            for c, label in zip(choices, labels, strict=True)
            if len(typed) >= 4 and label.startswith(typed + " ")
        ]
        for found in (exact, prefix):
            if len(found) == 1:
                return replace(msg, payload=found[0]["payload"], text="")
        return msg

    def _dispatch(self, ctx: Context) -> list[Reply]:
        msg, registry = ctx.msg, self.registry
        if msg.payload:
            prefix, _, rest = msg.payload.partition(":")
            if ctx.flow and prefix == ctx.flow:
                return registry.flows[ctx.flow].handle(ctx)
            handler = registry.payload_handlers.get(prefix)
            if handler is not None:
                if prefix in registry.heavy_payloads:
                    return self._defer(ctx, partial(handler, ctx, rest))
                return handler(ctx, rest)
            return [Reply(STALE_CHOICE)]
        if msg.contact_phone:
            for hook in registry.contact_hooks:
                result = hook(ctx)
                if result is not None:
                    return result
        if msg.text:
            matched = registry.match(msg.text)
            if matched is not None:
                command, args = matched
                if not command.allowed(ctx.actor):
                    if ctx.actor.roles == frozenset({GUEST}):
                        if registry.need_link is not None:
                            return registry.need_link(ctx) or [Reply(NEED_LINK)]
                        return [Reply(NEED_LINK)]
                    raise PermissionDenied()
                prefix_replies: list[Reply] = []
                if ctx.flow and command.name != "huy":
                    ctx.finish()
                    prefix_replies.append(Reply("Đã dừng biểu mẫu đang dở."))
                if command.heavy:
                    handler = command.handler
                    return prefix_replies + self._defer(ctx, lambda: handler(ctx, args))
                return prefix_replies + command.handler(ctx, args)
            unknown = COMMAND_LIKE.match(msg.text.strip())
            if unknown is not None:
                return self._unknown_command(ctx, unknown.group(1))
        if ctx.flow and ctx.flow in registry.flows:
            return registry.flows[ctx.flow].handle(ctx)
        if msg.attachment is not None:
            for kind in registry.upload_handlers(msg.attachment.filename):
                assert kind.handler is not None
                if kind.heavy and (not kind.roles or kind.roles & ctx.actor.roles):
                    return self._defer(ctx, partial(_run_upload, kind.handler, ctx))
                result = kind.handler(ctx)
                if result is not None:
                    return result
            return [Reply("Tôi chưa biết xử lý tệp này. Gõ /trogiup để xem các chức năng.")]
        if msg.text.strip() and registry.text_handler is not None:
            return registry.text_handler(ctx, msg.text)
        return [Reply("Bạn hãy nhập câu hỏi, hoặc gõ /trogiup để xem các chức năng.")]

    def _save_state(self, ctx: Context, replies: list[Reply]) -> None:
        offered = [b for r in replies for b in r.choices()]
        choices = [{"label": b.label, "payload": b.payload} for b in offered]
        with self.services.db.session() as session:
            state = session.get(ConversationState, (ctx.msg.channel, ctx.msg.user_id))
            if state is None:
                if ctx.flow is None and not choices:
                    return
                state = ConversationState(channel=ctx.msg.channel, user_id=ctx.msg.user_id)
                session.add(state)
            state.flow, state.step = ctx.flow, ctx.step
            state.data = dict(ctx.data)
            state.choices = choices


def _run_upload(hook: Hook, ctx: Context) -> list[Reply]:
    """A heavy upload handler as a background job (it always takes its files)."""
    return hook(ctx) or []
