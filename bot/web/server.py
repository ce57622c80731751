"""``hocvuso serve web``: the console under uvicorn on WEB_HOST:WEB_PORT."""

from __future__ import annotations

import logging

from bot.settings import Settings

log = logging.getLogger(__name__)


def run(settings: Settings) -> int:
    import uvicorn

    from bot.app import build_engine, build_services
    from bot.web.app import create_app

    services = build_services(settings)
    try:
        app = create_app(build_engine(services))
        print(
            f"Bảng điều khiển web: {settings.web_url} — người quản lý và quản trị viên gõ /web "
            "trong khung chat để nhận liên kết đăng nhập.",
            flush=True,
        )
        uvicorn.run(
            app,
            host=settings.web_host,
            port=settings.web_port,
            # Behind a TLS proxy on this machine, trust its X-Forwarded-* headers.
            proxy_headers=True,
            forwarded_allow_ips="127.0.0.1",
            log_level=settings.log_level.lower(),
            access_log=False,
        )
    finally:
        services.close()
    return 0
