"""PTB handlers: Telegram updates -> :class:`Incoming`, :class:`Reply` -> send calls.

No business logic lives here. The adapter decides only what Telegram itself
forces on it: whether a group message is addressed to the bot, whether a
shared contact belongs to the sender, whether a file may be downloaded at all
(size and type, checked *before* downloading), per-user flood control and
ordering, and how a reply is drawn (HTML, inline keyboards, the contact
button, photos and documents, splitting under 4096 characters).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    Chat,
    Message,
    MessageEntity,
    ReplyKeyboardRemove,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.channels.common import FLOOD_MESSAGE, Deliver, EngineRunner
from bot.channels.telegram.render import CONTACT_BUTTON, Outgoing, render_reply
from bot.core.actor import ADMIN, GUEST, MANAGER, STAFF, Actor
from bot.core.channel_state import FloodCounter, ProcessedEvents
from bot.core.engine import APOLOGY, Engine
from bot.core.messages import Attachment, Capabilities, Incoming, Reply
from bot.core.uploads import describe
from bot.settings import Settings

log = logging.getLogger(__name__)

CHANNEL = "telegram"
BYTES_PER_MB = 1024 * 1024

CONTACT_NOT_OWN = (
    "Chỉ nhận số điện thoại của chính bạn. Hãy bấm nút “" + CONTACT_BUTTON + "” "
    "thay vì gửi số trong danh bạ."
)
FILE_TOO_BIG = "Không nhận tệp “{name}”: tệp nặng {size} MB, vượt giới hạn {limit} MB."
FILE_WRONG_TYPE = "Không nhận tệp “{name}”: loại tệp này không được hỗ trợ. Chỉ nhận: {kinds}."
FILE_NOT_DOWNLOADED = "Không tải được tệp “{name}” từ Telegram. Vui lòng gửi lại sau ít phút."
FILE_RECEIVED = "📥 Đã nhận tệp “{name}”, đang xử lý…"

Context = ContextTypes.DEFAULT_TYPE
Clock = Callable[[], datetime]
PRIVATE_CHAT = Capabilities(buttons=True, share_contact=True)
GROUP_CHAT = Capabilities(buttons=True, share_contact=False)  # no contact keyboard in groups


def _mb(size: int) -> str:
    return f"{size / BYTES_PER_MB:.1f}".replace(".", ",")


class _UserLocks:
    """One asyncio lock per user: a user's messages are handled in order while
    different users are served concurrently. Idle locks are dropped."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


class TelegramAdapter:
    """Holds the engine runner, flood guard and upload rules; installs PTB handlers."""

    def __init__(self, settings: Settings, engine: Engine, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.runner = EngineRunner(engine)
        db = engine.services.db
        # Both live in the database so that every worker behind the proxy agrees.
        self.flood = FloodCounter(db, settings.flood_limit_per_minute)
        self.processed = ProcessedEvents(db)
        self.locks = _UserLocks()
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.incoming_dir = settings.uploads_dir / "incoming"
        self.max_bytes = settings.max_upload_mb * BYTES_PER_MB
        self.suffixes = engine.registry.accepted_suffixes()
        # Commands last set in each private chat's menu (absent: the default menu).
        self._menus: dict[int, tuple[str, ...]] = {}
        self._default_menu: tuple[str, ...] = ()

    # -- wiring ---------------------------------------------------------------------
    def install(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        app.add_handler(TypeHandler(Update, self.drop_duplicate), group=-1)
        app.add_handler(CallbackQueryHandler(self.on_callback))
        app.add_handler(MessageHandler(filters.UpdateType.MESSAGE, self.on_message))
        app.add_error_handler(self.on_error)

    async def post_init(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        await self.set_commands(app.bot)

    async def post_stop(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Let background jobs finish and deliver while the bot can still send."""
        await self.runner.drain(timeout=60.0)

    async def post_shutdown(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        self.runner.close()

    async def set_commands(self, bot: Bot) -> None:
        """The bot menu: everyone's and staff commands by default, more for admins."""
        registry = self.engine.registry
        everyone = _menu(registry.menu(Actor(CHANNEL, "", frozenset({GUEST, STAFF}))))
        self._default_menu = tuple(c.command for c in everyone)
        try:
            await bot.set_my_commands(everyone, scope=BotCommandScopeDefault())
        except TelegramError as exc:
            log.warning("could not set the bot menu: %s", exc)
        admin_roles = frozenset({ADMIN, MANAGER, STAFF, GUEST})
        admin_menu = _menu(registry.menu(Actor(CHANNEL, "", admin_roles)))
        for admin_id in self.admin_ids():
            try:
                await bot.set_my_commands(admin_menu, scope=BotCommandScopeChat(admin_id))
                self._menus[admin_id] = tuple(c.command for c in admin_menu)
            except TelegramError as exc:  # e.g. the admin has not started the bot yet
                log.warning("could not set the admin menu for %s: %s", admin_id, exc)

    async def sync_menu(self, bot: Bot, user_id: int) -> None:
        """Give a private chat the menu of its user's roles (managers see their commands).

        Called after commands and shared contacts, where roles change (linking);
        a chat whose menu is already right costs no Telegram call. Best effort:
        the reply has been sent already, so a failure here is only logged.
        """
        try:
            await self._sync_menu(bot, user_id)
        except Exception:
            log.warning("could not update the menu of chat %s", user_id, exc_info=True)

    async def _sync_menu(self, bot: Bot, user_id: int) -> None:
        actor = await self.runner.call(self._actor, str(user_id))
        # Everyone sees the staff commands (a guest is told to link first).
        menu_actor = Actor(CHANNEL, actor.user_id, actor.roles | {GUEST, STAFF})
        commands = _menu(self.engine.registry.menu(menu_actor))
        names = tuple(c.command for c in commands)
        default = self._default_menu
        if self._menus.get(user_id, default) == names:
            return
        if names == default:
            await bot.delete_my_commands(scope=BotCommandScopeChat(user_id))
        else:
            await bot.set_my_commands(commands, scope=BotCommandScopeChat(user_id))
        self._menus[user_id] = names

    def _actor(self, user_id: str) -> Actor:
        return self.engine.actor(CHANNEL, user_id)

    def admin_ids(self) -> list[int]:
        ids = list(self.settings.telegram_admin_ids)
        ids += [e.split(":", 1)[1] for e in self.settings.admin_ids if e.startswith("telegram:")]
        return sorted({int(i) for i in ids if i.strip().lstrip("-").isdigit()})

    # -- updates --------------------------------------------------------------------
    async def drop_duplicate(self, update: Update, context: Context) -> None:
        """Stop an update some worker has already taken in (webhook redelivery, a
        replayed request, polling after a crash): ids are kept in the database."""
        key = f"{context.bot.id}:{update.update_id}"
        if not await self.runner.quick(self.processed.first, CHANNEL, key):
            log.info("duplicate update %s ignored", update.update_id)
            raise ApplicationHandlerStop

    def _later(self, bot: Bot, key: str, chat_id: int, **options: Any) -> Deliver:
        """Where a heavy job's replies go: the same chat, after the user's turn."""

        async def deliver(replies: list[Reply]) -> None:
            async with self.locks.hold(key):
                await self.send(bot, chat_id, replies, **options)

        return deliver

    async def on_message(self, update: Update, context: Context) -> None:
        msg, user, chat = update.message, update.effective_user, update.effective_chat
        if msg is None or user is None or chat is None or user.is_bot:
            return
        private = chat.type == ChatType.PRIVATE
        text = msg.text or ""
        reply_to: int | None = None
        if not private:
            addressed, text = addressed_to_bot(msg, context.bot)
            if not addressed:
                return
            reply_to = msg.message_id
        key = str(user.id)
        verdict = await self.runner.quick(self.flood.check, f"{CHANNEL}:{key}")
        if verdict == "drop":
            return
        if verdict == "warn":
            await self.send(context.bot, chat.id, [Reply(FLOOD_MESSAGE)], reply_to=reply_to)
            return
        async with self.locks.hold(key):
            incoming, notice = await self._incoming(
                msg, user, chat, text, context.bot, reply_to=reply_to
            )
            if incoming is None:
                if notice:
                    await self.send(
                        context.bot, chat.id, [Reply(notice)], private=private, reply_to=reply_to
                    )
                return
            later = self._later(context.bot, key, chat.id, private=private, reply_to=reply_to)
            try:
                replies = await self.runner.handle(incoming, later)
            finally:
                if incoming.attachment is not None:
                    incoming.attachment.path.unlink(missing_ok=True)
            await self.send(
                context.bot,
                chat.id,
                replies,
                private=private,
                reply_to=reply_to,
                remove_keyboard=msg.contact is not None and private,
            )
            if private and (msg.contact is not None or incoming.text.startswith("/")):
                await self.sync_menu(context.bot, user.id)

    async def on_callback(self, update: Update, context: Context) -> None:
        query = update.callback_query
        if query is None or query.data is None:
            return
        user = query.from_user
        key = str(user.id)
        verdict = await self.runner.quick(self.flood.check, f"{CHANNEL}:{key}")
        if verdict != "ok":
            with contextlib.suppress(BadRequest):
                await query.answer(FLOOD_MESSAGE if verdict == "warn" else None)
            return
        with contextlib.suppress(BadRequest):  # "query is too old": the choice still counts
            await query.answer()
        message = query.message
        chat_id = message.chat.id if message is not None else user.id
        private = message is None or message.chat.type == ChatType.PRIVATE
        if private and isinstance(message, Message) and message.reply_markup is not None:
            # The choice is made: take the buttons away so it is not made twice.
            with contextlib.suppress(BadRequest):
                await message.edit_reply_markup(reply_markup=None)
        incoming = Incoming(
            channel=CHANNEL,
            user_id=key,
            chat_id=str(chat_id),
            payload=query.data,
            display_name=user.full_name,
            capabilities=PRIVATE_CHAT if private else GROUP_CHAT,
        )
        async with self.locks.hold(key):
            later = self._later(context.bot, key, chat_id, private=private)
            replies = await self.runner.handle(incoming, later)
            await self.send(context.bot, chat_id, replies, private=private)

    async def on_error(self, update: object, context: Context) -> None:
        """Log the failure and apologise to the user: never silence."""
        if not isinstance(update, Update):  # a job or the polling loop itself
            log.error("error outside an update: %s", context.error, exc_info=context.error)
            return
        chat = update.effective_chat
        log.error(
            "error while handling update %s (chat %s)",
            update.update_id,
            chat.id if chat else None,
            exc_info=context.error,
        )
        if chat is None:
            return
        quote = None
        if chat.type != ChatType.PRIVATE and update.message is not None:
            # In a group, say whose message failed.
            quote = ReplyParameters(update.message.message_id, allow_sending_without_reply=True)
        try:
            await context.bot.send_message(chat.id, APOLOGY, reply_parameters=quote)
        except TelegramError as exc:
            log.warning("could not send the apology to chat %s: %s", chat.id, exc)

    # -- reminders --------------------------------------------------------------------
    async def deliver_due(self, context: Context) -> None:
        """JobQueue callback: send what the core says is due now on Telegram."""
        due = await self.runner.call(self.engine.due_notifications, self.clock(), {CHANNEL})
        for note in due:
            # Personal messages go to the private chat (its id is the user id on
            # Telegram), never to a group the user happened to link from.
            chat_id = int(note.chat_id) if note.chat_id else int(note.user_id)
            if chat_id < 0:
                chat_id = int(note.user_id)
            try:
                await self.send(context.bot, chat_id, note.replies)
            except Forbidden:
                log.info("user %s has blocked the bot; %s not delivered", note.user_id, note.kind)
            except TelegramError as exc:
                log.warning("could not deliver %s to %s: %s", note.kind, note.user_id, exc)

    # -- building Incoming --------------------------------------------------------------
    async def _incoming(
        self, msg: Message, user: User, chat: Chat, text: str, bot: Bot, *, reply_to: int | None
    ) -> tuple[Incoming | None, str | None]:
        base: dict[str, Any] = {
            "channel": CHANNEL,
            "user_id": str(user.id),
            "chat_id": str(chat.id),
            "display_name": user.full_name,
            "capabilities": PRIVATE_CHAT if chat.type == ChatType.PRIVATE else GROUP_CHAT,
        }
        if msg.contact is not None:
            if msg.contact.user_id != user.id:
                return None, CONTACT_NOT_OWN
            return Incoming(**base, contact_phone=msg.contact.phone_number), None
        if msg.document is not None or msg.photo:
            attachment, notice = await self._download(msg, chat, bot, reply_to=reply_to)
            if attachment is None:
                return None, notice
            return Incoming(**base, attachment=attachment), None
        return Incoming(**base, text=text.strip()), None

    async def _download(
        self, msg: Message, chat: Chat, bot: Bot, *, reply_to: int | None
    ) -> tuple[Attachment | None, str]:
        """Check size and type from the update, then fetch the file into uploads/incoming."""
        if msg.document is not None:
            doc = msg.document
            mime = doc.mime_type
            guessed = (mimetypes.guess_extension(mime) or "") if mime else ""
            name = Path(doc.file_name or f"tep{guessed}").name
            file_id, size = doc.file_id, doc.file_size
        else:
            photo = msg.photo[-1]  # the largest size
            mime, name = "image/jpeg", f"anh-{photo.file_unique_id}.jpg"
            file_id, size = photo.file_id, photo.file_size
        suffix = Path(name).suffix.lower()
        limit = self.settings.max_upload_mb
        if suffix not in self.suffixes:
            kinds = describe(self.suffixes)
            return None, FILE_WRONG_TYPE.format(name=name, kinds=kinds)
        if size is not None and size > self.max_bytes:
            return None, FILE_TOO_BIG.format(name=name, size=_mb(size), limit=limit)
        if msg.document is not None:
            private = chat.type == ChatType.PRIVATE
            notice = [Reply(FILE_RECEIVED.format(name=name))]
            await self.send(bot, chat.id, notice, private=private, reply_to=reply_to)
        self.incoming_dir.mkdir(parents=True, exist_ok=True)
        target = self.incoming_dir / f"{uuid.uuid4().hex}{suffix}"
        try:
            tg_file = await bot.get_file(file_id)
            if tg_file.file_size is not None and tg_file.file_size > self.max_bytes:
                size = tg_file.file_size
                return None, FILE_TOO_BIG.format(name=name, size=_mb(size), limit=limit)
            await tg_file.download_to_drive(target)
        except BadRequest as exc:  # e.g. "file is too big" (over the Bot API's 20 MB)
            log.info("download of %s refused by Telegram: %s", name, exc)
            target.unlink(missing_ok=True)
            return None, FILE_NOT_DOWNLOADED.format(name=name)
        except BaseException:
            target.unlink(missing_ok=True)  # no half-downloaded file left behind
            raise
        actual = target.stat().st_size
        if actual > self.max_bytes:
            target.unlink(missing_ok=True)
            return None, FILE_TOO_BIG.format(name=name, size=_mb(actual), limit=limit)
        return Attachment(filename=name, path=target, size=actual, mime_type=mime), ""

    # -- sending ------------------------------------------------------------------------
    async def send(
        self,
        bot: Bot,
        chat_id: int | str,
        replies: list[Reply],
        *,
        private: bool = True,
        reply_to: int | None = None,
        remove_keyboard: bool = False,
    ) -> None:
        """Send replies in order; in groups the first message quotes the user's."""
        calls = [call for reply in replies for call in render_reply(reply, private=private)]
        if remove_keyboard:
            for i, call in enumerate(calls):
                if call.markup is None:
                    calls[i] = Outgoing(call.kind, call.text, call.file, ReplyKeyboardRemove())
                    break
        for i, call in enumerate(calls):
            quote = None
            if reply_to is not None and i == 0:
                quote = ReplyParameters(reply_to, allow_sending_without_reply=True)
            await _send_one(bot, chat_id, call, quote)


async def _send_one(
    bot: Bot, chat_id: int | str, call: Outgoing, quote: ReplyParameters | None
) -> None:
    common: dict[str, Any] = {"reply_markup": call.markup, "reply_parameters": quote}
    if call.kind == "text":
        await bot.send_message(chat_id, call.text, parse_mode=ParseMode.HTML, **common)
        return
    assert call.file is not None
    caption: dict[str, Any] = (
        {"caption": call.text, "parse_mode": ParseMode.HTML} if call.text else {}
    )
    if call.kind == "photo":
        await bot.send_photo(
            chat_id, call.file.data, filename=call.file.filename, **caption, **common
        )
    else:
        await bot.send_document(
            chat_id, call.file.data, filename=call.file.filename, **caption, **common
        )


def _menu(commands: list[Any]) -> list[BotCommand]:
    return [BotCommand(c.name, c.description[:256]) for c in commands]


def addressed_to_bot(msg: Message, bot: Bot) -> tuple[bool, str]:
    """In a group: is this message for us (mention, reply, /command), and its text without
    the mention. Commands addressed to another bot (``/lenh@khac_bot``) are not ours."""
    text = msg.text or msg.caption or ""
    username = (bot.username or "").lower()
    addressed = False
    reply = msg.reply_to_message
    if reply is not None and reply.from_user is not None and reply.from_user.id == bot.id:
        addressed = True
    entities = msg.parse_entities() if msg.text else msg.parse_caption_entities()
    for entity, value in entities.items():
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            target = value.partition("@")[2].lower()
            if target and target != username:
                return False, text
            addressed = True
        elif _mentions_bot(entity, value, username, bot.id):
            text = text.replace(value, " ", 1)
            addressed = True
    if not entities and username and f"@{username}" in text.lower():
        start = text.lower().index(f"@{username}")
        text = text[:start] + " " + text[start + len(username) + 1 :]
        addressed = True
    return addressed, " ".join(text.split())


def _mentions_bot(entity: MessageEntity, value: str, username: str, bot_id: int) -> bool:
    if entity.type == MessageEntity.MENTION:
        return value.lower() == f"@{username}"
    if entity.type == MessageEntity.TEXT_MENTION:
        return entity.user is not None and entity.user.id == bot_id
    return False
