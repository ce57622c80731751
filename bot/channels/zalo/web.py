"""The small HTTP server both Zalo runners listen on.

Why tornado: it is already installed with ``python-telegram-bot[webhooks]``
(a declared dependency, which uses it for Telegram webhooks), it is a mature
asyncio-native server with request size limits, keep-alive and clean
shutdown, and it runs in the same event loop as the httpx clients and the
engine bridge. Hand-written asyncio streams would mean parsing HTTP ourselves
(chunked bodies, keep-alive, limits) — more code and more ways to be wrong.

Routes are plain async functions ``(WebRequest) -> WebResponse`` so the
runners stay framework-agnostic and testable without sockets.
"""

from __future__ import annotations

import json
import logging
import re
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import tornado.httpserver
import tornado.httputil
import tornado.netutil
import tornado.web

from bot.errors import UserError

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # webhook events are a few kB
MAX_JSON_DEPTH = 32  # real events nest 3-4 levels
MAX_NUMBER_CHARS = 24  # ids and millisecond timestamps are under 20 digits
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")


@dataclass(frozen=True)
class WebRequest:
    """One HTTP request; ``headers`` look-ups ignore case."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    path_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class WebResponse:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any) -> WebResponse:
        return cls(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))


Endpoint = Callable[[WebRequest], Awaitable[WebResponse]]


class _Handler(tornado.web.RequestHandler):
    """Adapts a tornado request to an :data:`Endpoint`; never leaks a traceback."""

    endpoints: dict[str, Endpoint]

    def initialize(self, endpoints: dict[str, Endpoint]) -> None:
        self.endpoints = endpoints

    async def _dispatch(self, *args: str) -> None:
        endpoint = self.endpoints.get(self.request.method or "")
        if endpoint is None:
            self._send(WebResponse.json(405, {"ok": False, "error": "method not allowed"}))
            return
        request = WebRequest(
            method=self.request.method or "",
            path=self.request.path,
            # Case-insensitive: tornado spells the OA header "X-Zevent-Signature".
            headers=tornado.httputil.HTTPHeaders(self.request.headers),
            body=self.request.body or b"",
            path_args=tuple(a for a in args if a is not None),
        )
        try:
            response = await endpoint(request)
        except Exception:
            log.exception("webhook endpoint failed for %s %s", request.method, request.path)
            response = WebResponse.json(500, {"ok": False, "error": "internal error"})
        self._send(response)

    def _send(self, response: WebResponse) -> None:
        self.set_status(response.status)
        self.set_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.set_header(name, value)
        self.finish(response.body)

    async def get(self, *args: str) -> None:
        await self._dispatch(*args)

    async def post(self, *args: str) -> None:
        await self._dispatch(*args)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"ok": False, "error": self._reason}))


class WebServer:
    """A tornado server for a list of ``(path regex, {method: endpoint})`` routes."""

    def __init__(
        self, routes: list[tuple[str, dict[str, Endpoint]]], *, max_body: int = MAX_BODY_BYTES
    ) -> None:
        rules = [(pattern, _Handler, {"endpoints": endpoints}) for pattern, endpoints in routes]
        self.app = tornado.web.Application(rules, default_handler_class=_NotFound)
        self.max_body = max_body
        self._server: tornado.httpserver.HTTPServer | None = None
        self.port: int | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (0 = any free port) and return the bound port."""
        sockets = tornado.netutil.bind_sockets(port, address=host, family=socket.AF_UNSPEC)
        server = tornado.httpserver.HTTPServer(
            self.app, max_body_size=self.max_body, idle_connection_timeout=60
        )
        server.add_sockets(sockets)
        self._server = server
        self.port = sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Stop accepting connections and close the open ones."""
        if self._server is None:
            return
        self._server.stop()
        await self._server.close_all_connections()
        self._server = None


class _NotFound(tornado.web.RequestHandler):
    def prepare(self) -> None:
        self.set_status(404)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"ok": False, "error": "not found"}))


async def listen(server: WebServer, host: str, port: int) -> int:
    """Start ``server``; a port that cannot be opened is an operator error, told in one line."""
    try:
        return await server.start(host, port)
    except OSError as exc:
        raise UserError(
            f"Không mở được cổng {host}:{port} cho webhook Zalo ({exc.strerror or exc}). "
            "Kiểm tra ZALO_LISTEN_HOST / ZALO_LISTEN_PORT (cổng đang bị chương trình khác dùng?).",
            detail=f"cannot listen on {host}:{port}: {exc}",
        ) from None


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in ``text`` (brackets inside strings ignored)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_JSON_STRING.sub('""', text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _bounded_number(text: str) -> float | int:
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"number of {len(text)} characters")
    return float(text) if any(c in text for c in ".eE") else int(text)


def json_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is not one.

    Bounded before parsing: nesting deeper than :data:`MAX_JSON_DEPTH` (which
    would exhaust the parser's recursion) and numbers longer than
    :data:`MAX_NUMBER_CHARS` characters are refused like any malformed body.
    """
    try:
        text = body.decode("utf-8")
        if json_depth(text) > MAX_JSON_DEPTH:
            return None
        value = json.loads(text, parse_int=_bounded_number, parse_float=_bounded_number)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None
