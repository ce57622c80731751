"""A small imitation of the Telegram Bot API on 127.0.0.1, for tests and benchmarks.

python-telegram-bot talks to it through its real HTTP layer
(``Application.builder().base_url(fake.base_url).base_file_url(fake.base_file_url)``).
It understands the requests PTB makes (form-encoded or multipart parameters,
JSON-encoded values), serves ``getUpdates`` from a queue with long polling,
serves files for ``getFile`` downloads, and records everything the bot sends
so tests can read the conversation back.

It runs in a background thread (``ThreadingHTTPServer``), so it works the same
whether the bot runs in the test's event loop or in another process.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

TOKEN = "123456:TEST-token_for_the_fake_server"
BOT_ID = 123456
BOT_USERNAME = "hocvuso_test_bot"

SEND_METHODS = {"sendMessage", "sendPhoto", "sendDocument"}


@dataclass
class Call:
    """One Bot API request as the server saw it."""

    method: str
    params: dict[str, Any]
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)


@dataclass
class Sent:
    """A message the bot sent (text, photo or document)."""

    method: str
    chat_id: int
    message_id: int
    text: str  # text, or the caption of a photo/document
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    file_name: str | None = None
    file_data: bytes | None = None
    reply_to: int | None = None
    at: float = field(default_factory=time.monotonic)

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """Inline buttons as (label, callback data), in reading order."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]

    def button(self, label_part: str) -> str:
        """Callback data of the first button whose label contains ``label_part``."""
        for label, data in self.buttons:
            if label_part in label:
                return data
        raise KeyError(f"no button with {label_part!r} in {self.buttons}")

    def as_message(self) -> dict[str, Any]:
        """The Message object Telegram would attach to a callback query."""
        msg: dict[str, Any] = {
            "message_id": self.message_id,
            "date": int(time.time()),
            "chat": {"id": self.chat_id, "type": "private" if self.chat_id > 0 else "group"},
            "from": bot_user(),
        }
        if self.method == "sendMessage":
            msg["text"] = self.text
        elif self.text:
            msg["caption"] = self.text
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            msg["reply_markup"] = self.reply_markup
        return msg


def bot_user() -> dict[str, Any]:
    return {
        "id": BOT_ID,
        "is_bot": True,
        "first_name": "Trợ lý học vụ số",
        "username": BOT_USERNAME,
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
    }


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _entities(text: str) -> list[dict[str, Any]]:
    """Entities Telegram would add: a leading /command and @mentions (UTF-16 offsets)."""
    out: list[dict[str, Any]] = []
    pos = 0
    if text.startswith("/"):
        head = text.split(maxsplit=1)[0]
        out.append({"type": "bot_command", "offset": 0, "length": _utf16_len(head)})
        pos = len(head)
    while (pos := text.find("@", pos)) != -1:
        end = pos + 1
        while end < len(text) and (text[end].isalnum() or text[end] == "_"):
            end += 1
        if end - pos > 1 and (pos == 0 or text[pos - 1] in " \n("):
            out.append({"type": "mention", "offset": _utf16_len(text[:pos]), "length": end - pos})
        pos = end
    return out


class FakeTelegram:
    """The fake Bot API server. Use as a context manager or call start()/stop()."""

    def __init__(self, token: str = TOKEN, *, max_poll_wait: float = 1.0) -> None:
        self.token = token
        self.max_poll_wait = max_poll_wait
        self.calls: list[Call] = []
        self.sent: list[Sent] = []
        self.file_downloads: list[str] = []
        self.on_sent: Callable[[Sent], None] | None = None
        self._updates: list[dict[str, Any]] = []
        self._files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, data)
        self._failures: dict[str, list[tuple[int, str]]] = {}
        self._cond = threading.Condition()
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._ids = itertools.count(1)
        self._closed = False
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------
    def start(self) -> FakeTelegram:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-telegram",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.server_address[1])

    @property
    def root_url(self) -> str:
        """What an operator puts in TELEGRAM_API_BASE_URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.root_url}/file/bot"

    # -- scripting the users --------------------------------------------------------
    def push(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates; returns its update_id."""
        with self._cond:
            update = {"update_id": next(self._update_ids), **update}
            self._updates.append(update)
            self._cond.notify_all()
        return int(update["update_id"])

    def new_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """An update with a fresh update_id, for webhook posts (not queued)."""
        return {"update_id": next(self._update_ids), **update}

    @staticmethod
    def user(user_id: int, first_name: str = "Người dùng") -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "vi"}

    def message(
        self,
        user_id: int,
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str = "Người dùng",
        **content: Any,
    ) -> dict[str, Any]:
        chat_id = user_id if chat_id is None else chat_id
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = first_name
        else:
            chat["title"] = "Nhóm khoa Nội"
        return {
            "message": {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": chat,
                "from": self.user(user_id, first_name),
                **content,
            }
        }

    def text(self, user_id: int, text: str, **kw: Any) -> dict[str, Any]:
        content: dict[str, Any] = {"text": text}
        entities = _entities(text)
        if entities:
            content["entities"] = entities
        return self.message(user_id, **content, **kw)

    def reply_to_bot(self, user_id: int, text: str, to: Sent, **kw: Any) -> dict[str, Any]:
        return self.message(user_id, text=text, reply_to_message=to.as_message(), **kw)

    def callback(self, user_id: int, data: str, message: Sent) -> dict[str, Any]:
        return {
            "callback_query": {
                "id": f"cq{next(self._ids)}",
                "from": self.user(user_id),
                "chat_instance": f"ci{message.chat_id}",
                "data": data,
                "message": message.as_message(),
            }
        }

    def contact(self, user_id: int, phone: str, owner_id: int | None, **kw: Any) -> dict[str, Any]:
        contact: dict[str, Any] = {"phone_number": phone, "first_name": "Liên hệ"}
        if owner_id is not None:
            contact["user_id"] = owner_id
        return self.message(user_id, contact=contact, **kw)

    def add_file(self, data: bytes, suffix: str) -> tuple[str, str]:
        """Store a file users can send; returns (file_id, file_unique_id)."""
        n = next(self._ids)
        file_id = f"FILE{n:06d}"
        with self._cond:
            self._files[file_id] = (f"documents/file_{n}{suffix}", data)
        return file_id, f"U{n:06d}"

    def document(
        self,
        user_id: int,
        file_name: str,
        data: bytes,
        mime_type: str | None = None,
        *,
        declared_size: int | None = None,
        **kw: Any,
    ) -> dict[str, Any]:
        suffix = "." + file_name.rsplit(".", 1)[-1] if "." in file_name else ""
        file_id, unique = self.add_file(data, suffix)
        document: dict[str, Any] = {
            "file_id": file_id,
            "file_unique_id": unique,
            "file_name": file_name,
            "file_size": len(data) if declared_size is None else declared_size,
        }
        if mime_type:
            document["mime_type"] = mime_type
        return self.message(user_id, document=document, **kw)

    def photo(
        self, user_id: int, data: bytes, *, declared_size: int | None = None, **kw: Any
    ) -> dict[str, Any]:
        small_id, small_unique = self.add_file(data[:64], ".jpg")
        big_id, big_unique = self.add_file(data, ".jpg")
        sizes = [
            {"file_id": small_id, "file_unique_id": small_unique, "width": 90, "height": 60},
            {
                "file_id": big_id,
                "file_unique_id": big_unique,
                "width": 1280,
                "height": 853,
                "file_size": len(data) if declared_size is None else declared_size,
            },
        ]
        return self.message(user_id, photo=sizes, **kw)

    def fail_next(self, method: str, description: str, error_code: int = 400) -> None:
        """Make the next call of ``method`` fail like Telegram would."""
        with self._cond:
            self._failures.setdefault(method, []).append((error_code, description))

    # -- reading back -------------------------------------------------------------
    def mark(self) -> int:
        with self._cond:
            return len(self.sent)

    def sent_since(self, mark: int, chat_id: int | None = None) -> list[Sent]:
        with self._cond:
            items = self.sent[mark:]
        return [s for s in items if chat_id is None or s.chat_id == chat_id]

    def calls_of(self, method: str) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 60.0) -> None:
        """Block until ``predicate()`` is true (checked on every request); fail after timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("fake Telegram: condition not reached in time")
                self._cond.wait(min(left, 0.5))

    async def until(self, predicate: Callable[[], bool], timeout: float = 60.0) -> None:
        """:meth:`wait_for` without blocking the event loop the bot runs in."""
        await asyncio.to_thread(self.wait_for, predicate, timeout)

    def pending_updates(self) -> int:
        with self._cond:
            return len(self._updates)

    # -- the API ----------------------------------------------------------------
    def _answer(self, method: str, params: dict[str, Any], files: dict[str, Any]) -> Any:
        with self._cond:
            self.calls.append(Call(method, params, files))
            self._cond.notify_all()
            failures = self._failures.get(method)
            if failures:
                code, description = failures.pop(0)
                raise _ApiError(code, description)
        if method == "getMe":
            return bot_user()
        if method == "getUpdates":
            return self._get_updates(params)
        if method in SEND_METHODS:
            return self._record_send(method, params, files)
        if method == "getFile":
            file_id = str(params.get("file_id"))
            with self._cond:
                if file_id not in self._files:
                    raise _ApiError(400, "Bad Request: invalid file_id")
                path, data = self._files[file_id]
            return {
                "file_id": file_id,
                "file_unique_id": f"U{file_id}",
                "file_size": len(data),
                "file_path": path,
            }
        if method == "editMessageReplyMarkup":
            return True
        if method in {
            "setMyCommands",
            "deleteMyCommands",
            "setWebhook",
            "deleteWebhook",
            "answerCallbackQuery",
            "sendChatAction",
            "close",
            "logOut",
        }:
            return True
        if method == "getWebhookInfo":
            return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        raise _ApiError(404, "Not Found: method not found")

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        wait = min(float(params.get("timeout") or 0), self.max_poll_wait)
        deadline = time.monotonic() + wait
        with self._cond:
            # Confirming an offset drops everything before it, as Telegram does.
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return self._updates[:limit]

    def _record_send(
        self, method: str, params: dict[str, Any], files: dict[str, tuple[str, bytes]]
    ) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        markup = params.get("reply_markup")
        reply_to = None
        if params.get("reply_parameters"):
            reply_to = int(params["reply_parameters"]["message_id"])
        file_name = file_data = None
        field = {"sendPhoto": "photo", "sendDocument": "document"}.get(method)
        if field:
            ref = params.get(field)
            key = (
                ref[len("attach://") :]
                if isinstance(ref, str) and ref.startswith("attach://")
                else field
            )
            if key in files:
                file_name, file_data = files[key]
        text = params.get("text") if method == "sendMessage" else params.get("caption")
        sent = Sent(
            method=method,
            chat_id=chat_id,
            message_id=next(self._message_ids),
            text=str(text or ""),
            parse_mode=params.get("parse_mode"),
            reply_markup=markup if isinstance(markup, dict) else None,
            file_name=file_name,
            file_data=file_data,
            reply_to=reply_to,
        )
        with self._cond:
            self.sent.append(sent)
            self._cond.notify_all()
        if self.on_sent is not None:
            self.on_sent(sent)
        result = sent.as_message()
        if method == "sendPhoto":
            result["photo"] = [{"file_id": "P1", "file_unique_id": "P1", "width": 1, "height": 1}]
        elif method == "sendDocument":
            result["document"] = {"file_id": "D1", "file_unique_id": "D1", "file_name": file_name}
        return result

    def _download(self, file_path: str) -> bytes | None:
        with self._cond:
            self.file_downloads.append(file_path)
            self._cond.notify_all()
            for path, data in self._files.values():
                if path == file_path:
                    return data
        return None

    def iter_sent_texts(self) -> Iterator[str]:
        with self._cond:
            items = list(self.sent)
        for s in items:
            yield s.text


class _ApiError(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def _decode(value: str) -> Any:
    """PTB JSON-encodes non-string values; plain strings are sent as they are."""
    if value[:1] in "{[" or value in {"true", "false", "null"}:
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class _Handler(BaseHTTPRequestHandler):
    server_fake: FakeTelegram
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_GET(self) -> None:
        self._dispatch(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._dispatch(self.rfile.read(length) if length else b"")

    def _dispatch(self, body: bytes) -> None:
        fake = self.server_fake
        path = unquote(urlsplit(self.path).path)
        file_prefix = f"/file/bot{fake.token}/"
        if path.startswith(file_prefix):
            data = fake._download(path[len(file_prefix) :])
            if data is None:
                self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")
            else:
                self._send(HTTPStatus.OK, data, "application/octet-stream")
            return
        prefix = f"/bot{fake.token}/"
        if not path.startswith(prefix):
            self._json(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            return
        method = path[len(prefix) :]
        try:
            params, files = self._params(body)
            result = fake._answer(method, params, files)
        except _ApiError as exc:
            self._json(
                exc.code, {"ok": False, "error_code": exc.code, "description": exc.description}
            )
            return
        self._json(200, {"ok": True, "result": result})

    def _params(self, body: bytes) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
        ctype = self.headers.get("Content-Type") or ""
        params: dict[str, Any] = dict(parse_qsl(urlsplit(self.path).query))
        files: dict[str, tuple[str, bytes]] = {}
        if ctype.startswith("application/json") and body:
            params.update(json.loads(body))
        elif ctype.startswith("application/x-www-form-urlencoded"):
            params.update({k: _decode(v) for k, v in parse_qsl(body.decode("utf-8"))})
        elif ctype.startswith("multipart/form-data"):
            head = f"Content-Type: {ctype}\r\nMIME-Version: 1.0\r\n\r\n".encode()
            message = BytesParser(policy=HTTP).parsebytes(head + body)
            for part in message.iter_parts():
                name = str(part.get_param("name", header="content-disposition"))
                data = part.get_payload(decode=True) or b""
                filename = part.get_filename()
                if filename is not None:
                    files[name] = (filename, bytes(data))
                else:
                    params[name] = _decode(bytes(data).decode("utf-8"))
        return params, files

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, json.dumps(payload, ensure_ascii=False).encode(), "application/json")

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (shutdown)
            self.close_connection = True
