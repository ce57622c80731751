"""``hocvuso`` command line: ingest, ask, chat, eval, serve, and each feature's tools.

Features (listed in :mod:`bot.app`) add their own sub-commands through
``register_cli``, so this file stays a table of contents. Every handler takes
the parsed arguments and a :class:`CliContext` that opens the services on
first use.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.app import FEATURES, build_engine, build_services
from bot.core.features import CliContext
from bot.settings import Settings

log = logging.getLogger("hocvuso")
NOTHING_READ = 3  # `hocvuso ingest` exit status when not a single file could be read


def _settings(args: argparse.Namespace) -> Settings:
    if getattr(args, "data_dir", None):
        return Settings(HOCVUSO_DATA_DIR=Path(args.data_dir))
    return Settings()


# --- knowledge commands -------------------------------------------------------
def cmd_ingest(args: argparse.Namespace, cli: CliContext) -> int:
    services = cli.services
    paths = [Path(p) for p in args.paths] or [services.settings.knowledge_dir]
    report = services.kb.ingest(paths, progress=not args.quiet)
    for result in report.results:
        if result.status in {"failed", "skipped"}:
            print(f"{result.status.upper():8}{result.path}: {result.reason}")
        elif args.verbose or result.status != "unchanged":
            print(f"{result.status.upper():8}{result.path} ({result.chunks} chunks)")
        if result.warning:
            print(f"WARNING {result.path}: {result.warning}")
    print(report.summary())
    # Exit 3 only when nothing could be read: a bad file among good ones is reported, not fatal.
    unreadable = report.counts.get("failed") or report.counts.get("skipped")
    return NOTHING_READ if unreadable and not report.readable and not report.changed else 0


def cmd_docs_list(args: argparse.Namespace, cli: CliContext) -> int:
    services = cli.services
    docs = services.kb.documents()
    if args.json:
        print(json.dumps([d.to_json() for d in docs], ensure_ascii=False, indent=2))
        return 0
    if not docs:
        print("No documents. Run: hocvuso ingest")
    for d in docs:
        print(f"{d.doc_id:50} {d.kind:6} {d.chunks:4} chunks  {d.number or '-':14} {d.title[:60]}")
    return 0


def cmd_docs_remove(args: argparse.Namespace, cli: CliContext) -> int:
    services = cli.services
    status = 0
    for key in args.doc:
        removed = services.kb.remove(key)
        if removed is None:
            print(f"not found: {key}", file=sys.stderr)
            status = 1
        else:
            print(f"removed {removed.doc_id} ({removed.path})")
    return status


def cmd_docs_scan(args: argparse.Namespace, cli: CliContext) -> int:
    """A transcribed document's scan copy, or the scan lines a quoted passage came from."""
    from ingest.provenance import document_file, locate, scan_copy

    services = cli.services
    doc = next((d for d in services.kb.documents() if args.doc in (d.doc_id, d.path)), None)
    stored = doc.path if doc is not None else args.doc
    scan = scan_copy(document_file(stored, services.settings.knowledge_dir))
    if scan is None:
        print(f"no scan copy for {args.doc}", file=sys.stderr)
        return 1
    scan_text = scan.read_text(encoding="utf-8")
    quote = sys.stdin.read() if args.quote == ["-"] else " ".join(args.quote)
    span = locate(quote, scan_text) if quote.strip() else None
    if args.json:
        found = span.__dict__ if span is not None else None
        print(json.dumps({"scan": str(scan), "match": found}, ensure_ascii=False, indent=2))
    else:
        print(f"scan copy: {scan} ({len(scan_text.splitlines())} lines)")
        if span is not None:
            print(f"lines {span.first_line}-{span.last_line} (match {span.score:.2f}):")
            for number, line in enumerate(span.text.splitlines(), span.first_line):
                print(f"{number:5} | {line}")
    return 1 if quote.strip() and (span is None or span.score < 0.5) else 0


def cmd_ask(args: argparse.Namespace, cli: CliContext) -> int:
    kb = cli.services.kb
    if args.jsonl:
        for line in sys.stdin:
            question = line.strip()
            if not question:
                continue
            print(json.dumps(kb.ask(question).to_json(), ensure_ascii=False), flush=True)
        return 0
    question = " ".join(args.question).strip()
    if not question:
        print(
            'Nhập câu hỏi, ví dụ: hocvuso ask "Hạn chót hoàn thành khóa học MOOC?"', file=sys.stderr
        )
        return 2
    answer = kb.ask(question)
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False))
        return 0
    from bot.core.knowledge_commands import format_answer

    print(format_answer(answer))
    if not answer.abstained and args.show_sources:
        print("\n--- passages ---")
        for i, s in enumerate(answer.sources, 1):
            print(f"[{i}] {s.score:.3f} {s.path} § {s.section}\n{s.text[:400]}\n")
    return 0


def cmd_eval(args: argparse.Namespace, cli: CliContext) -> int:
    """Score a question set; with ``--corpus`` against a throw-away index of that folder."""
    from contextlib import ExitStack

    from bot.evaluation import (
        NearMissAsker,
        RetrievalAsker,
        ScanLines,
        ThrowawayCorpus,
        evaluate_file,
        format_report,
    )

    with ExitStack() as stack:
        if args.corpus:
            corpus = stack.enter_context(
                ThrowawayCorpus(
                    Path(args.corpus),
                    Path(args.cache) if args.cache else None,
                    progress=not args.json,
                )
            )
            kb = corpus.kb
        else:
            kb = cli.services.kb
        asker: Any = kb
        if args.retrieval_only:
            asker = RetrievalAsker(kb)
        elif args.curated:
            from bot.curation.service import CuratedAsker

            asker = CuratedAsker(cli.services)
        report = evaluate_file(
            asker,
            Path(args.file),
            strip=args.strip,
            limit=args.limit,
            near_miss=NearMissAsker(kb) if args.near_miss else None,
            alt_text=ScanLines(kb.settings.knowledge_dir),
        )
    print(
        json.dumps(report, ensure_ascii=False, indent=2)
        if args.json
        else format_report(report, show_misses=not args.quiet)
    )
    return 0


def cmd_chat(args: argparse.Namespace, cli: CliContext) -> int:
    from bot.channels.console import run_console

    services = cli.services
    if args.admin:
        services.settings.admin_ids.append(f"console:{args.user}")
    services.kb.ensure_ingested()
    engine = build_engine(services)
    return run_console(engine, user_id=args.user)


def cmd_serve(args: argparse.Namespace, cli: CliContext) -> int:
    """Start the channel asked for; with ``auto`` the first configured one."""
    settings = cli.settings
    channel = args.channel
    if channel == "auto":
        if settings.telegram_bot_token:
            channel = "telegram"
        elif settings.zalo_bot_token:
            channel = "zalo-bot"
        elif settings.zalo_oa_app_id:
            channel = "zalo-oa"
        else:
            channel = "console"
    if channel == "console":
        args.user, args.admin = "local", False
        return cmd_chat(args, cli)
    if channel == "telegram":
        from bot.channels.telegram import runner as telegram

        return telegram.run(settings)
    if channel == "web":
        from bot.web import server

        return server.run(settings)
    if channel == "zalo-bot":
        from bot.channels.zalo import bot_runner

        return bot_runner.run(settings)
    from bot.channels.zalo import oa_runner

    return oa_runner.run(settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hocvuso", description="Trợ lý Bình dân học vụ số ngành y tế"
    )
    parser.add_argument("--data-dir", help="data directory (default ./data or HOCVUSO_DATA_DIR)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("ingest", help="index files or folders (default: knowledge/)")
    p.add_argument("paths", nargs="*")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_ingest)

    docs = sub.add_parser("docs", help="list, remove or check indexed documents")
    dsub = docs.add_subparsers(dest="docs_command", required=True)
    p = dsub.add_parser("list")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_docs_list)
    p = dsub.add_parser("remove")
    p.add_argument("doc", nargs="+", help="document id or path")
    p.set_defaults(func=cmd_docs_remove)
    p = dsub.add_parser("scan", help="a transcribed document's scan copy; where a quote is in it")
    p.add_argument("doc", help="document id or path")
    p.add_argument("quote", nargs="*", help="quoted passage to find in the scan ('-': stdin)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_docs_scan)

    p = sub.add_parser("ask", help="answer a question from the documents")
    p.add_argument("question", nargs="*")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--jsonl", action="store_true", help="read questions from stdin, one per line")
    p.add_argument("--show-sources", action="store_true", help="also print the passages")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("eval", help="score a question set (JSONL)")
    p.add_argument("file")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--curated",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="answer with the admins' curated answers first, as the chat does (default: no)",
    )
    p.add_argument(
        "--corpus", help="index this folder into a throw-away data dir and score against it"
    )
    p.add_argument("--cache", help="folder caching passage embeddings between runs (--corpus)")
    p.add_argument(
        "--strip",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="only questions without diacritics (--no-strip: only as written; default: both)",
    )
    p.add_argument(
        "--retrieval-only", action="store_true", help="score the ranking only (no answers)"
    )
    p.add_argument(
        "--near-miss",
        action="store_true",
        help="ask each question with its gold document hidden; report the refusal rate",
    )
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument("-q", "--quiet", action="store_true", help="figures only, no list of misses")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("chat", help="interactive console conversation")
    p.add_argument("--user", default="local", help="console user id (default: local)")
    p.add_argument("--admin", action="store_true", help="act as an administrator")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser(
        "serve", help="run on a messenger (auto: the first configured) or the web console"
    )
    p.add_argument(
        "channel",
        nargs="?",
        default="auto",
        choices=["auto", "console", "telegram", "zalo-bot", "zalo-oa", "web"],
    )
    p.set_defaults(func=cmd_serve)

    for feature in FEATURES:
        feature.register_cli(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:
        args.channel = "auto"
        args.func = cmd_serve
    cli = CliContext(_settings(args), build_services)
    try:
        return int(args.func(args, cli) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # ``hocvuso stats --trend | head``: the reader left; not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # operator-facing: one line, details in the log
        from bot.errors import UserError

        if isinstance(exc, UserError):
            print(exc.message, file=sys.stderr)
            return 2
        log.exception("command failed")
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        cli.close()


if __name__ == "__main__":
    sys.exit(main())
