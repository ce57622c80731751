"""The web console as a feature: /web in the chat, ``hocvuso web link`` on the CLI.

``hocvuso serve web`` (bot.cli) runs the console itself (bot.web.server).
"""

from __future__ import annotations

import argparse

from bot.core.actor import ADMIN, MANAGER
from bot.core.features import CliContext
from bot.core.messages import Reply
from bot.core.registry import Command, Context, Registry
from bot.core.services import Services
from bot.errors import UserError
from bot.web.auth import LINK_TTL, WebAuth

MANAGERS = frozenset({MANAGER, ADMIN})
OPERATOR_ID = "operator"


def sign_in_url(services: Services, secret: str) -> str:
    return f"{services.settings.web_url}/dang-nhap/{secret}"


def _web(ctx: Context, _args: str) -> list[Reply]:
    msg = ctx.msg
    if msg.chat_id and msg.chat_id != msg.user_id:
        # A group chat: the link would let everyone in the group sign in as you.
        raise UserError("Hãy gõ /web trong tin nhắn riêng với trợ lý, không gõ trong nhóm.")
    secret = WebAuth(ctx.services.db).issue_link(ctx.actor)
    minutes = int(LINK_TTL.total_seconds() // 60)
    return [
        Reply(
            "Liên kết đăng nhập bảng điều khiển web (dùng một lần, hết hạn sau "
            f"{minutes} phút):\n{sign_in_url(ctx.services, secret)}\n"
            "Đừng chuyển liên kết này cho người khác: ai mở nó sẽ đăng nhập bằng quyền của bạn."
        )
    ]


def cmd_web_link(args: argparse.Namespace, cli: CliContext) -> int:
    """A sign-in link from the operator's shell (the first admin has no chat yet)."""
    services = cli.services
    if args.staff:
        staff = services.tracking.staff_by_code(args.staff)
        user_id = staff.code
        # The console resolves roles through the chat identity, so the staff
        # member gets a "web" identity; their units come with it.
        services.tracking.link_identity(staff.code, "web", user_id)
        label = f"{staff.full_name} ({staff.code})"
    else:
        user_id, label = OPERATOR_ID, "quản trị viên (dòng lệnh)"
    actor = services.tracking.resolve("web", user_id, is_admin=not args.manager)
    secret = WebAuth(services.db).issue_link(actor, admin_grant=not args.manager, issued_by="cli")
    role = "quản lý" if args.manager else "quản trị viên"
    print(f"Liên kết đăng nhập cho {label}, quyền {role}, dùng một lần trong 10 phút:")
    print(sign_in_url(services, secret))
    return 0


class WebFeature:
    """The console: opened with /web from any channel, by managers and admins only."""

    name = "web"

    def register(self, registry: Registry, services: Services) -> None:
        registry.add_command(
            Command(
                "web",
                "Mở bảng điều khiển web (quản lý, quản trị)",
                _web,
                aliases=("console", "bangdieukhien"),
                phrases=("bảng điều khiển", "mở bảng điều khiển"),
                roles=MANAGERS,
            )
        )

    def register_cli(
        self, subcommands: argparse._SubParsersAction[argparse.ArgumentParser]
    ) -> None:
        web = subcommands.add_parser("web", help="web console: sign-in links")
        wsub = web.add_subparsers(dest="web_command", required=True)
        p = wsub.add_parser(
            "link",
            help="print a one-time sign-in link (admin rights; --manager: the person's own units)",
        )
        p.add_argument("--staff", help="staff code of the person signing in")
        p.add_argument(
            "--manager",
            action="store_true",
            help="no admin rights: only the units this staff member manages",
        )
        p.set_defaults(func=cmd_web_link)
