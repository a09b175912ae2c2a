"""``regula``: the command line over the same core the Telegram bot uses.

Each command is a few lines: parse, call ``retrieval``, print. Domain errors become one-line
messages on stderr and a non-zero exit status; tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bot.logs import configure_logging
from retrieval.config import Settings, load_settings
from retrieval.errors import RegulaError
from retrieval.hygiene import clean_text, iso_date

EXIT_OK, EXIT_ERROR, EXIT_PARTIAL = 0, 1, 2
DEFAULT_CONFIG = Path("config.yaml")


def _settings(args: argparse.Namespace) -> Settings:
    path = args.config
    if path is None and DEFAULT_CONFIG.exists():
        path = DEFAULT_CONFIG
    return load_settings(path, data_dir=args.data_dir)


def _assistant(settings: Settings) -> Any:
    from retrieval.assistant import Assistant  # heavy imports only for commands that need them

    return Assistant.from_settings(settings)


def _print_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    assistant = _assistant(settings)
    report = assistant.ingest(
        args.paths,
        prune=args.prune,
        progress=None if not args.json else False,
        rebuild=args.rebuild,
    )
    if args.json:
        _print_json(report.to_json())
    else:
        from bot.terminal.terminal_text import render_ingest

        sys.stdout.write(render_ingest(report))
    return EXIT_PARTIAL if report.failed else EXIT_OK


def _filters(args: argparse.Namespace) -> Any:
    from retrieval.search.fusion import SearchFilters

    return SearchFilters(
        doc_ids=args.doc or None, language=args.in_language,
        date_from=args.since, date_to=args.until,
        as_of=args.as_of, include_drafts=args.include_drafts,
    )  # fmt: skip


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from bot.terminal.terminal_text import render_answer

    assistant = _assistant(settings)
    filters = _filters(args)
    if args.question != "-":
        question = clean_text(args.question)
        answer = assistant.ask(question, language=args.lang, k=args.k, filters=filters)
        if args.json:
            _print_json(answer.to_json())
        else:
            sys.stdout.write(render_answer(answer, assistant.prompts))
        return EXIT_OK
    for number, raw in enumerate(sys.stdin.buffer, start=1):  # one question per line
        line = _decode(raw)
        if line is None:  # this line is lost, the batch goes on
            _print_json({"error": "line is not valid UTF-8", "line_number": number})
            continue
        if not line:
            continue
        question_id, question = None, line
        if question.startswith("{"):
            try:
                item = json.loads(question)
                question_id, question = item.get("id"), clean_text(str(item["question"]))
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
                _print_json({"error": "not a question line", "line": line})
                continue
            question_id = None if question_id is None else clean_text(str(question_id))
        answer = assistant.ask(question, language=args.lang, k=args.k, filters=filters)
        answer.id = question_id
        if args.json:
            _print_json(answer.to_json())
        else:
            sys.stdout.write(render_answer(answer, assistant.prompts) + "\n")
    return EXIT_OK


def _decode(raw: bytes) -> str | None:
    """A stdin line as clean text (no lone surrogates or control characters); ``None`` when
    it is not UTF-8 (a single bad line is reported, never the end of a batch)."""
    try:
        return clean_text(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return None


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.terminal.terminal_text import render_answer
    from retrieval.followup import Conversations, FollowUpRule
    from retrieval.search.fusion import SearchFilters

    assistant = _assistant(settings)
    prompts = assistant.prompts
    filters, conversation = SearchFilters(as_of=args.as_of), Conversations(FollowUpRule(prompts))
    interactive = sys.stdin.isatty()
    if interactive:
        sys.stdout.write(prompts.get("chat_welcome", args.lang or "en") + "\n")
    if not assistant.documents():
        sys.stdout.write(prompts.get("empty_index", args.lang or "en") + "\n")
    while True:
        if interactive:
            sys.stdout.write(prompts.get("chat_prompt", args.lang or "en"))
            sys.stdout.flush()
        raw = sys.stdin.buffer.readline()
        if not raw:
            break
        question = _decode(raw)
        if question is None:
            sys.stdout.write(prompts.get("chat_bad_text", args.lang or "en") + "\n")
            continue
        if not question:
            continue
        prior = conversation.context_for(question)  # the same follow-up rule as the bot's
        answer = assistant.ask(question, language=args.lang, context=prior, filters=filters)
        sys.stdout.write(render_answer(answer, prompts) + "\n")
        sys.stdout.flush()
        conversation.remember(question, prior)
    return EXIT_OK


def cmd_docs(args: argparse.Namespace, settings: Settings) -> int:
    from bot.terminal.documents_json import acts_json, document_json
    from bot.terminal.terminal_text import render_documents

    documents = _assistant(settings).documents()
    if args.json:
        _print_json(acts_json(documents) if args.by_act else [document_json(d) for d in documents])
    else:
        sys.stdout.write(render_documents(documents))
    return EXIT_OK


def cmd_history(args: argparse.Namespace, settings: Settings) -> int:
    from bot.terminal.documents_json import document_json
    from bot.terminal.terminal_text import render_history

    versions = _assistant(settings).history(args.work)
    if args.json:
        _print_json({"work": args.work, "versions": [document_json(d) for d in versions]})
    else:
        sys.stdout.write(render_history(args.work, versions))
    return EXIT_OK if versions else EXIT_ERROR


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    stats = _assistant(settings).stats()
    if args.json:
        _print_json(stats)
    else:
        for key, value in stats.items():
            sys.stdout.write(f"{key}: {value}\n")
    return EXIT_OK


def cmd_calibrate(args: argparse.Namespace, settings: Settings) -> int:
    report = _assistant(settings).calibrate(args.qa)
    if args.json:
        _print_json(report.to_json())
    else:
        from bot.terminal.terminal_text import render_calibration

        sys.stdout.write(render_calibration(report))
    return EXIT_OK


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from bot.terminal.terminal_text import render_eval
    from retrieval.evaluation import (
        RECALL_AT,
        evaluate,
        llm_totals,
        load_ids,
        load_qa,
        stage_timings,
    )

    assistant = _assistant(settings)
    items = load_qa(args.qa_file)
    if args.ids is not None:
        wanted = load_ids(args.ids)
        items = [item for item in items if item.id in wanted]
    depth = max(RECALL_AT)
    outcomes, rows = evaluate(
        items,
        lambda item: assistant.ask(item.question, k=args.k, retrieve=depth, filters=item.filters()),
    )
    llm = llm_totals(outcomes) if settings.answer.mode == "llm" else None
    stages = stage_timings(outcomes)
    if args.json:
        _print_json({"summary": rows, "stage_ms": stages, **({"llm": llm} if llm else {}),
                     "questions": [
            {"id": o.item.id, "lang": o.item.lang, "kind": o.item.kind, "hit": o.hit,
             "quote_hit": o.quote_hit, "top1": o.top1_hit, "gold_rank": o.gold_rank,
             "refused": o.answer.refused, "outcome": o.answer.outcome,
             "relevance": o.answer.relevance,
             "cited": [c.doc_id for c in o.answer.citations],
             **({"verification": o.answer.verification, "fallback": o.answer.fallback}
                if llm else {})}
            for o in outcomes
        ]})  # fmt: skip
    else:
        sys.stdout.write(render_eval(outcomes, rows, stages, details=args.details, llm=llm))
    return EXIT_OK


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    """``regula audit changed``: answers whose cited text was since edited, superseded,
    repealed or removed (notified or not)."""
    import datetime as dt

    from bot.telegram_bot.audit import AuditLog, changed_answers

    since = dt.datetime.fromisoformat(args.since).replace(tzinfo=dt.UTC) if args.since else None
    manifest = {d.doc_id: d for d in _assistant(settings).documents()}
    audit = AuditLog.from_settings(settings)
    found = changed_answers(audit, manifest, since.timestamp() if since else 0.0)
    audit.close()
    if args.json:
        _print_json(found)
    else:
        for item in found:
            sys.stdout.write(f"#{item['id']} {item['asked_at']} user {item['user_id']}: "
                             f"{item['question']}\n")  # fmt: skip
            for c in item["changes"]:
                detail = " ".join(x for x in (c["since"] and f"from {c['since']}",
                                              c["by"] and f"by {c['by']}") if x)  # fmt: skip
                sys.stdout.write(f"    {c['kind']}: {c['doc_id']} {detail}\n")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.telegram_bot.app import serve

    serve(settings, _assistant(settings))
    return EXIT_OK


def cmd_console(args: argparse.Namespace, settings: Settings) -> int:
    """``regula console``: the web console; ``--login-url`` prints a one-time sign-in link
    for the operator on this host and exits."""
    from bot.console.server import DEFAULT_PORT, login_url, operator, run_console

    host = args.host or settings.console.http_host
    port = args.port or settings.console.http_port or DEFAULT_PORT
    if args.login_url:
        sys.stdout.write(login_url(settings, operator(), host=host, port=port) + "\n")
        return EXIT_OK
    run_console(settings, _assistant(settings), host, port)
    return EXIT_OK


def _date(value: str) -> str:
    """argparse type: a bad date is a usage error (exit status 2), checked before any work."""
    try:
        return iso_date(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="config file (default: ./config.yaml)")
    common.add_argument("--data-dir", type=Path, help="index folder (default: storage.data_dir)")
    common.add_argument("-v", "--verbose", action="store_true", help="log debug details")

    parser = argparse.ArgumentParser(
        prog="regula", description="Cited answers from directives and regulations."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser("ingest", parents=[common], help="index files or folders")
    ingest.add_argument("paths", nargs="+", type=Path)
    ingest.add_argument("--prune", action="store_true", help="drop documents whose file is gone")
    ingest.add_argument(
        "--rebuild",
        action="store_true",
        help="drop the whole index and re-embed PATH... (after changing the embedding model)",
    )
    ingest.add_argument("--json", action="store_true", help="print the report as JSON")
    ingest.set_defaults(handler=cmd_ingest)

    ask = sub.add_parser("ask", parents=[common], help="answer one question ('-': from stdin)")
    ask.add_argument("question", help="the question, or - to read one per stdin line")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.add_argument("--k", type=int, default=None, help="passages to consider for citation")
    ask.add_argument("--lang", default=None, help="answer language (default: detected)")
    ask.add_argument("--doc", action="append", help="only this document id (repeatable)")
    ask.add_argument("--in-language", default=None, help="only documents in this language")
    ask.add_argument(
        "--since", type=_date, default=None, help="only documents dated on/after YYYY-MM-DD"
    )
    ask.add_argument(
        "--until", type=_date, default=None, help="only documents dated on/before YYYY-MM-DD"
    )
    ask.add_argument(
        "--as-of", type=_date, default=None, help="versions in force on YYYY-MM-DD (default today)"
    )
    ask.add_argument("--include-drafts", action="store_true", help="search draft versions too")
    ask.set_defaults(handler=cmd_ask)

    chat = sub.add_parser("chat", parents=[common], help="terminal conversation (stdin)")
    chat.add_argument("--lang", default=None, help="answer language (default: detected)")
    chat.add_argument(
        "--as-of", type=_date, default=None, help="versions in force on YYYY-MM-DD (default today)"
    )
    chat.set_defaults(handler=cmd_chat)

    history = sub.add_parser("history", parents=[common], help="the versions of one work")
    history.add_argument("work", help="the work (its `work` key, `number`, or doc id)")
    history.add_argument("--json", action="store_true", help="print JSON")
    history.set_defaults(handler=cmd_history)

    for name, handler, text in (
        ("docs", cmd_docs, "list indexed documents"),
        ("stats", cmd_stats, "index statistics and translation groups"),
    ):
        command = sub.add_parser(name, parents=[common], help=text)
        command.add_argument("--json", action="store_true", help="print JSON")
        command.set_defaults(handler=handler)
        if name == "docs":
            command.add_argument(
                "--by-act", action="store_true", help="JSON: the documents under their act"
            )

    evaluation = sub.add_parser("eval", parents=[common], help="score answers on a QA file")
    evaluation.add_argument("qa_file", type=Path)
    evaluation.add_argument("--json", action="store_true", help="print JSON")
    evaluation.add_argument("--k", type=int, default=None, help="passages per answer")
    evaluation.add_argument("--details", action="store_true", help="one line per question")
    evaluation.add_argument(
        "--ids", type=Path, default=None, help="only the questions whose ids this file lists"
    )
    evaluation.set_defaults(handler=cmd_eval)

    audit = sub.add_parser("audit", parents=[common], help="the audit log")
    audit.add_argument("action", choices=["changed"], help="changed: answers whose rule changed")
    audit.add_argument("--since", type=_date, default=None, help="asked on/after YYYY-MM-DD")
    audit.add_argument("--json", action="store_true", help="print JSON")
    audit.set_defaults(handler=cmd_audit)
    calibration = sub.add_parser(
        "calibrate", parents=[common], help="measure the refusal thresholds on the index now"
    )
    calibration.add_argument(
        "--qa", type=Path, default=None, help="a labelled QA file that refines the thresholds"
    )
    calibration.add_argument("--json", action="store_true", help="print JSON")
    calibration.set_defaults(handler=cmd_calibrate)

    serve = sub.add_parser("serve", parents=[common], help="run the Telegram bot")
    serve.set_defaults(handler=cmd_serve)

    console = sub.add_parser("console", parents=[common], help="run the web console")
    console.add_argument("--host", default=None, help="address to bind (console.http_host)")
    console.add_argument("--port", type=int, default=None, help="port (console.http_port, 8090)")
    console.add_argument(
        "--login-url", action="store_true", help="print a one-time sign-in link and exit"
    )
    console.set_defaults(handler=cmd_console)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    handler: Callable[[argparse.Namespace, Settings], int] = args.handler
    try:
        settings = _settings(args)
        configure_logging(settings.logging, verbose=args.verbose)  # the only place it is done
        return handler(args, settings)
    except RegulaError as e:
        sys.stderr.write(f"regula: {e}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
