"""The console's ASGI application: sign-in, logout, pages, static assets.

``create_app(engine)`` builds it on the same services and database as the
messengers; ``hocvuso serve web`` runs it under uvicorn (bot.web.server).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.core.engine import Engine
from bot.web import views_admin, views_manager
from bot.web.auth import COOKIE, NOT_FOR_STAFF, SESSION_MAX, Clock, LinkError, may_open_console
from bot.web.context import (
    Visitor,
    WebContext,
    blocking,
    message,
    page,
    render,
    web,
)

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "object-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


class Hardening:
    """Security headers on every response, and the server time it took (``Server-Timing``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        static = scope["path"].startswith("/static/")

        async def send_with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                headers = MutableHeaders(scope=msg)
                headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
                headers["X-Frame-Options"] = "DENY"
                headers["Content-Security-Policy"] = CSP
                if static:
                    headers["Cache-Control"] = "public, max-age=86400"
                elif "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
            await send(msg)

        await self.app(scope, receive, send_with_headers)


async def home(request: Request) -> Response:
    return RedirectResponse("/tong-quan", status_code=303)


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


async def login_page(request: Request) -> Response:
    """Opening the link only shows a button: previews do not use the link up."""
    ctx = web(request)
    secret = request.path_params["token"]
    state = await blocking(ctx.auth.link_state, secret)
    if state != "ok":
        return message(request, LinkError(state).message, 404 if state == "unknown" else 410)
    return render(request, "login.html", token=secret)


async def login(request: Request) -> Response:
    ctx = web(request)
    try:
        cookie, link = await blocking(ctx.auth.redeem, request.path_params["token"])
    except LinkError as exc:
        return message(request, exc.message, 404 if exc.state == "unknown" else 410)
    visit = await blocking(ctx.auth.visit, cookie)
    actor = await blocking(ctx.actor, visit) if visit else None
    if actor is None or not may_open_console(actor):
        await blocking(ctx.auth.end, cookie)
        return message(request, NOT_FOR_STAFF, 403)
    log.info("web console sign-in for %s:%s", link.channel, link.user_id)
    response = RedirectResponse("/tong-quan", status_code=303)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int(SESSION_MAX / timedelta(seconds=1)),
        path="/",
        httponly=True,
        secure=ctx.secure_cookies,
        samesite="lax",
    )
    return response


@page()
async def logout(request: Request, visitor: Visitor) -> Response:
    ctx = web(request)
    await blocking(ctx.auth.end, request.cookies.get(COOKIE))
    response = render(request, "logged_out.html")
    response.delete_cookie(
        COOKIE, path="/", httponly=True, secure=ctx.secure_cookies, samesite="lax"
    )
    return response


async def not_found(request: Request, exc: Exception) -> Response:
    return message(request, "Không tìm thấy trang này.", 404)


def create_app(engine: Engine, *, clock: Clock | None = None) -> Starlette:
    """The console on ``engine``'s services (the same database as the chat)."""
    context = WebContext(engine, clock)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await blocking(context.jobs.recover)
        try:
            yield
        finally:
            context.jobs.close()

    routes = [
        Route("/", home),
        Route("/suc-khoe", health),
        Route("/dang-nhap/{token}", login_page),
        Route("/dang-nhap/{token}", login, methods=["POST"]),
        Route("/dang-xuat", logout, methods=["POST"]),
        *views_manager.ROUTES,
        *views_admin.ROUTES,
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: not_found})
    app.state.web = context
    app.add_middleware(Hardening)
    return app
