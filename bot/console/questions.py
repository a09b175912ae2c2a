"""The questions asked: the audit log as a filterable table, charts per day, the gaps (what the
corpus did not answer, by topic) and a CSV export of the same rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from collections import Counter
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.console.app import SECURITY_HEADERS, Console, console_of, signed_in
from bot.console.charts import OUTCOME_COLOURS, stacked_bars_svg
from bot.telegram_bot.audit import OUTCOMES
from retrieval.gaps import topics_of

DEFAULT_DAYS = 30
GAP_QUESTIONS = 300  # the most recent unanswered questions grouped into topics
CSV_COLUMNS = ("id", "asked_at", "user_id", "chat_id", "language", "outcome", "question",
               "cited", "as_of", "latency_ms", "feedback", "notified")  # fmt: skip


def _filters(request: Request) -> dict[str, Any]:
    query = request.query_params
    days = query.get("days", "")
    outcome = query.get("outcome", "")
    return {
        "days": int(days) if days.isdigit() and 0 < int(days) <= 3650 else DEFAULT_DAYS,
        "language": query.get("language", "")[:8],
        "outcome": outcome if outcome in OUTCOMES else "",
        "text": query.get("text", "")[:200],
    }


def _rows(console: Console, chosen: dict[str, Any]) -> list[dict[str, Any]]:
    since = time.time() - chosen["days"] * 86400
    rows = console.audit.questions(
        since=since, language=chosen["language"], outcome=chosen["outcome"], text=chosen["text"]
    )
    for row in rows:
        asked = dt.datetime.fromtimestamp(row["ts"], dt.UTC)
        row["asked_at"] = asked.strftime("%Y-%m-%d %H:%M")
        row["day"] = asked.date().isoformat()
        row["cited"] = list(
            dict.fromkeys(c.get("work") or c["doc_id"] for c in row["cited_versions"])
        )
    return rows


def _charts(console: Console, rows: list[dict[str, Any]], days: int, language: str) -> list[str]:
    end = dt.datetime.now(dt.UTC).date()
    span = [(end - dt.timedelta(days=i)).isoformat() for i in range(min(days, 60) - 1, -1, -1)]
    by_outcome: dict[str, Counter[str]] = {}
    by_language: dict[str, Counter[str]] = {}
    for row in rows:
        by_outcome.setdefault(row["day"], Counter())[row["outcome"]] += 1
        by_language.setdefault(row["day"], Counter())[row["language"] or "?"] += 1
    languages = sorted({row["language"] or "?" for row in rows})
    outcome_labels = {o: console.prompts.get(f"console_outcome_{o}", language) for o in OUTCOMES}
    return [
        stacked_bars_svg(span, by_outcome, OUTCOMES, outcome_labels, OUTCOME_COLOURS),
        stacked_bars_svg(
            span, by_language, languages,
            {c: console.prompts.language_name(c, language) for c in languages},
        ),
    ]  # fmt: skip


def _gaps(console: Console, rows: list[dict[str, Any]]) -> list[list[str]]:
    asked = [r["question"] for r in rows if r["outcome"] != "answer"][:GAP_QUESTIONS]
    if not asked:
        return []
    vectors = console.assistant.embeddings.embed_queries(asked)
    return topics_of(asked, vectors, console.settings.console.gap_similarity)


@signed_in
async def questions_page(request: Request) -> Response:
    console = console_of(request)
    chosen = _filters(request)
    rows = await run_in_threadpool(_rows, console, chosen)
    gaps = await run_in_threadpool(_gaps, console, rows)
    language = console.language(request)
    return console.render(
        request,
        "questions.html",
        rows=rows[:500],
        total=len(rows),
        chosen=chosen,
        outcomes=OUTCOMES,
        charts=_charts(console, rows, chosen["days"], language),
        gaps=gaps,
        csv_query=str(request.url.query),
    )


@signed_in
async def questions_csv(request: Request) -> Response:
    console = console_of(request)
    rows = await run_in_threadpool(_rows, console, _filters(request))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        values = {**row, "cited": "; ".join(row["cited"]), "feedback": row["feedback"] or ""}
        writer.writerow([_safe_cell(values[c]) for c in CSV_COLUMNS])
    console.act(request, "export_csv", "questions", f"{len(rows)} rows")
    headers = {**SECURITY_HEADERS,
               "Content-Disposition": 'attachment; filename="regula-questions.csv"'}  # fmt: skip
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


def _safe_cell(value: Any) -> Any:
    """A question starting with = + - @ would run as a formula in a spreadsheet: quote it."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


routes = [
    Route("/questions", questions_page),
    Route("/questions.csv", questions_csv),
]
