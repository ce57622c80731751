"""Greeting, help and cancel: the commands every conversation has."""

from __future__ import annotations

import argparse

from bot.core.messages import Reply
from bot.core.registry import Command, Context, Registry
from bot.core.services import Services


def _help(ctx: Context, _args: str) -> list[Reply]:
    lines = [
        "Bạn có thể gõ câu hỏi bằng tiếng Việt (có dấu hoặc không dấu), ví dụ:",
        "• Hạn chót hoàn thành khóa học MOOC là ngày nào?",
        "• bao cao hang thang nop truoc ngay may?",
        "",
        "Các lệnh:",
    ]
    for command in ctx.registry.menu(ctx.actor):
        lines.append(f"/{command.name} — {command.description}")
    return [Reply("\n".join(lines))]


def _start(ctx: Context, _args: str) -> list[Reply]:
    name = f" {ctx.actor.name}" if ctx.actor.name else ""
    text = (
        f"Xin chào{name}! Tôi là trợ lý “Bình dân học vụ số” của ngành y tế.\n"
        "Tôi trả lời câu hỏi dựa trên kế hoạch và hướng dẫn chính thức, có trích dẫn nguồn, "
        "và giúp bạn ghi nhận khóa học đã hoàn thành."
    )
    replies = [Reply(text)]
    for hook in ctx.registry.start_hooks:
        replies.extend(hook(ctx) or [])
    replies.extend(_help(ctx, ""))
    return replies


def _cancel(ctx: Context, _args: str) -> list[Reply]:
    if ctx.flow is None:
        return [Reply("Không có thao tác nào đang dở.")]
    ctx.finish()
    return [Reply("Đã hủy. Dữ liệu đã lưu trước đó không bị ảnh hưởng.")]


class BasicsFeature:
    """/batdau, /trogiup, /huy."""

    name = "basics"

    def register(self, registry: Registry, services: Services) -> None:
        registry.add_command(
            Command(
                "batdau",
                "Bắt đầu, liên kết tài khoản",
                _start,
                aliases=("start",),
                phrases=("bắt đầu", "xin chào", "chào"),
            )
        )
        registry.add_command(
            Command(
                "trogiup",
                "Hướng dẫn sử dụng",
                _help,
                aliases=("help",),
                phrases=("trợ giúp", "hướng dẫn sử dụng", "menu"),
            )
        )
        registry.add_command(
            Command(
                "huy",
                "Hủy thao tác đang dở",
                _cancel,
                aliases=("cancel",),
                phrases=("hủy", "thoát", "dừng lại"),
            )
        )

    def register_cli(self, commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """The conversation basics have no command-line part."""
