"""The conversation engine: one implementation for every channel.

``Engine.handle`` takes an :class:`Incoming`, works out who is speaking and
where they are in a form, dispatches to a command, a form step, a button
handler or the knowledge base, persists the conversation state, and returns
replies. Errors become a polite Vietnamese message; nothing escapes to the
adapter as a traceback.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from bot.core.actor import GUEST, Actor, configured_admin
from bot.core.messages import Incoming, Reply
from bot.core.models import ConversationState
from bot.core.notifications import Notification, in_quiet_hours
from bot.core.registry import Context, Registry
from bot.core.services import Services
from bot.errors import PermissionDenied, UserError
from bot.text import normalize_name

log = logging.getLogger(__name__)

APOLOGY = (
    "Xin lỗi, hệ thống vừa gặp sự cố khi xử lý tin nhắn của bạn. Vui lòng thử lại sau ít phút."
)
STALE_CHOICE = "Lựa chọn này đã hết hiệu lực. Gõ /trogiup để xem các chức năng."
NEED_LINK = "Chức năng này cần liên kết tài khoản với danh sách nhân viên. Gõ /batdau để liên kết."


class Engine:
    """Dispatches messages; holds no per-user state in memory."""

    def __init__(self, services: Services, registry: Registry) -> None:
        self.services = services
        self.registry = registry

    # -- public ---------------------------------------------------------------
    def handle(self, msg: Incoming) -> list[Reply]:
        """Process one message and return the replies, never raising."""
        try:
            return self._handle(msg)
        except UserError as exc:
            return [Reply(exc.message)]
        except Exception:
            log.exception("Unhandled error for %s:%s", msg.channel, msg.user_id)
            return [Reply(APOLOGY)]

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
    def _handle(self, msg: Incoming) -> list[Reply]:
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
        return replies

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
                        return [Reply(NEED_LINK)]
                    raise PermissionDenied()
                prefix_replies: list[Reply] = []
                if ctx.flow and command.name != "huy":
                    ctx.finish()
                    prefix_replies.append(Reply("Đã dừng biểu mẫu đang dở."))
                return prefix_replies + command.handler(ctx, args)
        if ctx.flow and ctx.flow in registry.flows:
            return registry.flows[ctx.flow].handle(ctx)
        if msg.attachment is not None:
            for hook in registry.upload_handlers(msg.attachment.filename):
                result = hook(ctx)
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
