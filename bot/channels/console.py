"""Console conversation: the same engine as the messengers, on a terminal.

Buttons are shown as a numbered list (answer with the number), photos and
documents are saved under ``data/outbox/`` and their path printed, and
``/tep <path>`` sends a local file as an attachment (roster, document,
certificate photo).
"""

from __future__ import annotations

import mimetypes
import sys
from pathlib import Path
from typing import TextIO

from bot.core.engine import Engine
from bot.core.messages import Attachment, Incoming, OutFile, Reply

PROMPT = "Bạn: "
EXIT_WORDS = {"/thoat", "/exit", "/quit", "thoát", "thoat"}


def render(reply: Reply, outbox: Path, out: TextIO) -> None:
    if reply.text:
        print(f"Trợ lý: {reply.text}", file=out)
    choices = reply.choices()
    if choices:
        print("  Trả lời bằng số:", file=out)
        for i, button in enumerate(choices, 1):
            print(f"  {i}. {button.label}", file=out)
    for item in (reply.photo, reply.document):
        if isinstance(item, OutFile):
            outbox.mkdir(parents=True, exist_ok=True)
            target = outbox / item.filename
            target.write_bytes(item.data)
            print(f"  [tệp đã lưu: {target}]", file=out)


def _attachment(arg: str) -> Attachment | None:
    path = Path(arg.strip()).expanduser()
    if not path.is_file():
        return None
    mime, _ = mimetypes.guess_type(path.name)
    return Attachment(filename=path.name, path=path, size=path.stat().st_size, mime_type=mime)


def run_console(
    engine: Engine,
    *,
    user_id: str = "local",
    stdin: TextIO | None = None,
    out: TextIO | None = None,
) -> int:
    """Read lines until EOF or /thoat; returns the exit status."""
    stdin = stdin or sys.stdin
    out = out or sys.stdout
    interactive = stdin.isatty()
    outbox = engine.services.settings.data_dir / "outbox"
    print(
        "Trợ lý Bình dân học vụ số (bảng điều khiển). Gõ câu hỏi, /trogiup để xem lệnh, /thoat để thoát.",
        file=out,
    )
    while True:
        if interactive:
            print(PROMPT, end="", file=out, flush=True)
        line = stdin.readline()
        if not line:
            return 0
        text = line.strip()
        if not text:
            continue
        if text.lower() in EXIT_WORDS:
            print("Tạm biệt!", file=out)
            return 0
        msg = Incoming(channel="console", user_id=user_id, chat_id=user_id, text=text)
        if text.startswith(("/tep ", "/file ")):
            att = _attachment(text.split(" ", 1)[1])
            if att is None:
                print("Trợ lý: Không tìm thấy tệp này trên máy.", file=out)
                continue
            msg = Incoming(channel="console", user_id=user_id, chat_id=user_id, attachment=att)
        for reply in engine.handle(msg):
            render(reply, outbox, out)
        out.flush()
