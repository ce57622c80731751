"""A fake Zalo on 127.0.0.1: Bot Platform, OA API, OAuth and a file CDN.

It speaks just enough of each API for the adapters' real HTTP code to run
against it, and records everything sent so tests can read the conversation.

* Bot Platform: ``POST /bot<TOKEN>/<method>`` (JSON). ``getUpdates`` returns
  queued events (wrapped in ``result`` like Zalo) or a 408 after a short wait.
* OA: ``POST /v3.0/oa/message/cs``, ``/v2.0/oa/upload/image``,
  ``/v2.0/oa/upload/file`` with the ``access_token`` header; unknown tokens get
  ``error -216``. File uploads accept PDF only (like the real one, which takes
  PDF/DOC/DOCX). The recipient is ``{"user_id"}`` (a *proactive* message) or
  ``{"message_id"}`` of a user message the test registered in
  :attr:`FakeZalo.oa_messages` (a *reply*; from the 9th reply to one message
  on, Zalo counts it as proactive). Each message call records
  ``headers["user"]`` and ``headers["quota"]``.
* OAuth: ``POST /v4/oa/access_token``; every refresh token works once. The
  ``oauth_mode`` switch imitates failures: ``"drop"`` consumes the refresh
  token, issues a new pair and then closes the connection without answering
  (a refresh lost mid-way); ``"error500"`` answers 500 without consuming.
* CDN: ``GET /cdn/<name>`` serves bytes registered with :meth:`add_file`
  (each download is recorded in :attr:`FakeZalo.downloads`).

Text lengths are checked in UTF-16 code units against 2000, the stricter of
the ways Zalo might count. ``on_record`` is called with every recorded call as
it arrives (tests use it to look at the token file at that very moment).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import tornado.httpserver
import tornado.netutil
import tornado.web

BOT_TOKEN = "12345:fake-bot-token"
APP_ID = "4000000000000000001"
APP_SECRET = "app-secret-xyz"
OA_SECRET_KEY = "oa-secret-key-abc"


def zalo_signature(app_id: str, body: bytes, timestamp: str, secret_key: str) -> str:
    """``X-ZEvent-Signature`` value as Zalo computes it (written independently of the bot)."""
    raw = app_id.encode() + body + timestamp.encode() + secret_key.encode()
    return "mac=" + hashlib.sha256(raw).hexdigest()


@dataclass
class Call:
    api: str  # "bot" | "oa" | "oauth"
    method: str
    payload: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class FakeZalo:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.updates: list[Any] = []  # getUpdates results, oldest first
        self.files: dict[str, tuple[bytes, str]] = {}
        self.valid_access: set[str] = set()
        self.valid_refresh: set[str] = set()
        self.issued: list[tuple[str, str]] = []
        self.oauth_mode = "ok"
        self.poll_wait_s = 0.3
        self.file_types = {"application/pdf"}
        self.downloads: list[str] = []
        self.oa_messages: dict[str, str] = {}  # user message id -> user id
        self.replies_used: dict[str, int] = {}
        self.on_record: Callable[[Call], None] | None = None
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._server: tornado.httpserver.HTTPServer | None = None
        self.port = 0

    # -- control ------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeZalo:
        app = tornado.web.Application(
            [
                (r"/bot([^/]+)/(\w+)", _BotHandler, {"fake": self}),
                (r"/v3\.0/oa/message/cs", _OAHandler, {"fake": self, "kind": "message"}),
                (r"/v2\.0/oa/upload/image", _OAHandler, {"fake": self, "kind": "upload_image"}),
                (r"/v2\.0/oa/upload/file", _OAHandler, {"fake": self, "kind": "upload_file"}),
                (r"/v4/oa/access_token", _OAuthHandler, {"fake": self}),
                (r"/cdn/(.+)", _FileHandler, {"fake": self}),
            ]
        )
        sockets = tornado.netutil.bind_sockets(0, address="127.0.0.1", family=socket.AF_INET)
        self._server = tornado.httpserver.HTTPServer(app)
        self._server.add_sockets(sockets)
        self.port = sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None

    def add_file(self, name: str, data: bytes, content_type: str) -> str:
        self.files[name] = (data, content_type)
        return f"{self.url}/cdn/{name}"

    def issue_pair(self) -> tuple[str, str]:
        n = next(self._ids)
        pair = (f"AT-{n}", f"RT-{n}")
        self.valid_access.add(pair[0])
        self.valid_refresh.add(pair[1])
        self.issued.append(pair)
        return pair

    async def record(self, call: Call) -> None:
        if self.on_record is not None:
            self.on_record(call)
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    def sent(self, api: str | None = None, method: str | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if (api is None or c.api == api) and (method is None or c.method == method)
        ]

    def texts(self, api: str = "bot", chat_id: str | None = None) -> list[str]:
        """Texts sent to users, in order (Bot sendMessage or OA text messages)."""
        out = []
        for call in self.calls:
            if (
                api == "bot"
                and call.api == "bot"
                and call.method == "sendMessage"
                and (chat_id is None or call.payload.get("chat_id") == chat_id)
            ):
                out.append(call.payload["text"])
            if api == "oa" and call.api == "oa" and call.method == "message":
                message = call.payload.get("message", {})
                user = call.headers.get("user")
                if "text" in message and (chat_id is None or user == chat_id):
                    out.append(message["text"])
        return out

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        """Wait until ``predicate()`` holds (a safety timeout, not a timing assertion)."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)

    def route(self, recipient: Any) -> tuple[str | None, str]:
        """(user id, "reply" | "proactive") for an OA message recipient; None: refused."""
        if not isinstance(recipient, dict) or len(recipient) != 1:
            return None, ""
        user_id, msg_id = recipient.get("user_id"), recipient.get("message_id")
        if isinstance(user_id, str) and user_id:
            return user_id, "proactive"
        if not isinstance(msg_id, str) or msg_id not in self.oa_messages:
            return None, ""
        used = self.replies_used[msg_id] = self.replies_used.get(msg_id, 0) + 1
        return self.oa_messages[msg_id], "reply" if used <= 8 else "proactive"

    async def next_update(self, wait_s: float) -> Any | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while not self.updates and loop.time() < deadline and self._server is not None:
            await asyncio.sleep(0.02)
        return self.updates.pop(0) if self.updates else None


def zalo_length(text: str) -> int:
    """UTF-16 code units (written independently of the bot's renderer)."""
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


class _Base(tornado.web.RequestHandler):
    fake: FakeZalo

    def initialize(self, fake: FakeZalo, **kwargs: Any) -> None:
        self.fake = fake
        self.kind = kwargs.get("kind", "")

    def reply(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(payload))


class _BotHandler(_Base):
    async def post(self, token: str, method: str) -> None:
        if token != BOT_TOKEN:
            self.reply({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
            return
        body = self.request.body or b"{}"
        payload = json.loads(body) if body.strip() else {}
        if method == "getUpdates":
            update = await self.fake.next_update(self.fake.poll_wait_s)
            if update is None:
                self.reply({"ok": False, "error_code": 408, "description": "Request timeout"})
            else:
                self.reply({"ok": True, "result": update})
            return
        await self.fake.record(Call("bot", method, payload, dict(self.request.headers)))
        if method == "getMe":
            self.reply({"ok": True, "result": {"id": "999", "account_name": "bot.test"}})
        elif method in {"sendMessage", "sendPhoto", "sendChatAction"} and not isinstance(
            payload.get("chat_id"), str
        ):
            self.reply({"ok": False, "error_code": 400, "description": "chat_id"}, 400)
        elif method in {"sendMessage", "sendPhoto"}:
            if method == "sendMessage" and not 1 <= zalo_length(payload.get("text", "")) <= 2000:
                self.reply({"ok": False, "error_code": 400, "description": "text length"}, 400)
                return
            result = {"message_id": f"m{next(self.fake._ids)}", "date": 1750000000000}
            self.reply({"ok": True, "result": result})
        else:
            self.reply({"ok": True, "result": {}})


class _OAHandler(_Base):
    async def post(self) -> None:
        token = self.request.headers.get("access_token", "")
        if token not in self.fake.valid_access:
            await self.fake.record(Call("oa", f"rejected_{self.kind}", {}, {"token": token}))
            self.reply({"error": -216, "message": "Access token is invalid"})
            return
        if self.kind == "message":
            payload = json.loads(self.request.body)
            recipient = payload.get("recipient", {})
            user, quota = self.fake.route(recipient)
            meta = {"token": token, "user": user or "", "quota": quota}
            await self.fake.record(Call("oa", "message", payload, meta))
            if user is None:
                self.reply({"error": -201, "message": "recipient is invalid"})
                return
            text = payload.get("message", {}).get("text")
            if text is not None and not 1 <= zalo_length(text) <= 2000:
                self.reply({"error": -201, "message": "text length"})
                return
            self.reply({"error": 0, "message": "Success", "data": {"message_id": "x"}})
            return
        upload = self.request.files["file"][0]
        meta = {"filename": upload.filename, "content_type": upload.content_type}
        await self.fake.record(Call("oa", self.kind, meta | {"size": len(upload.body)}))
        if self.kind == "upload_image":
            if upload.content_type not in {"image/png", "image/jpeg"} or len(upload.body) > 2**20:
                self.reply({"error": -210, "message": "Image is not supported"})
                return
            self.fake.files[f"oa-{upload.filename}"] = (upload.body, upload.content_type)
            self.reply({"error": 0, "message": "Success", "data": {"attachment_id": "att-1"}})
        elif upload.content_type in self.fake.file_types:
            self.reply({"error": 0, "message": "Success", "data": {"token": "file-1"}})
        else:
            self.reply({"error": -210, "message": "File type is not supported"})


class _OAuthHandler(_Base):
    async def post(self) -> None:
        fake = self.fake
        args = {k: v[0].decode() for k, v in self.request.body_arguments.items()}
        await fake.record(Call("oauth", "refresh", args, dict(self.request.headers)))
        if self.request.headers.get("secret_key") != APP_SECRET or args.get("app_id") != APP_ID:
            self.reply({"error": -14003, "error_name": "Invalid app", "error_description": "bad"})
            return
        if fake.oauth_mode == "error500":
            self.reply({"error": -1, "message": "internal"}, 500)
            return
        refresh = args.get("refresh_token", "")
        if args.get("grant_type") != "refresh_token" or refresh not in fake.valid_refresh:
            self.reply(
                {
                    "error": -14014,
                    "error_name": "Invalid refresh token",
                    "error_description": "Refresh token is invalid or was used",
                }
            )
            return
        fake.valid_refresh.discard(refresh)  # single use
        access, new_refresh = fake.issue_pair()
        if fake.oauth_mode == "drop":
            # Zalo did the work, but the answer never arrives.
            assert self.request.connection is not None
            self.request.connection.close()  # type: ignore[attr-defined]
            raise tornado.web.Finish()
        self.reply({"access_token": access, "refresh_token": new_refresh, "expires_in": "90000"})


class _FileHandler(_Base):
    def get(self, name: str) -> None:
        self.fake.downloads.append(name)
        item = self.fake.files.get(name)
        if item is None:
            self.set_status(404)
            self.finish()
            return
        self.set_header("Content-Type", item[1])
        self.finish(item[0])
