"""Changes (answers whose cited text has since changed, and whether the asker was alerted)
and health (index, model, calibration, the vector store, the ops endpoints)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.console.app import Console, console_of, signed_in
from bot.telegram_bot.audit import changed_answers


@signed_in
async def changes_page(request: Request) -> Response:
    console = console_of(request)

    def find() -> list[dict[str, Any]]:
        manifest = {d.doc_id: d for d in console.assistant.documents()}
        return list(reversed(changed_answers(console.audit, manifest)))

    return console.render(request, "changes.html", items=await run_in_threadpool(find))


def health(console: Console) -> dict[str, Any]:
    """What the health page shows; a store that cannot be read is reported, not raised."""
    settings = console.settings
    facts: dict[str, Any] = {"mode": settings.vector_store.mode, "store_ok": True, "reason": ""}
    try:
        facts.update(console.assistant.stats())
        model = console.assistant.store.recorded_model()
        facts["model"] = (
            model.describe() if model else console.assistant.embeddings.model.describe()
        )
    except Exception as e:  # the page exists to show this
        facts.update(store_ok=False, reason=" ".join(f"{type(e).__name__}: {e}".split())[:300])
    ops = settings.ops
    facts["ops"] = f"http://{ops.http_host}:{ops.http_port}" if ops.http_port else ""
    facts["actions"] = console.audit.actions(20)
    for action in facts["actions"]:
        when = dt.datetime.fromtimestamp(action["ts"], dt.UTC)
        action["when"] = when.strftime("%Y-%m-%d %H:%M")
    return facts


@signed_in
async def health_page(request: Request) -> Response:
    console = console_of(request)
    return console.render(request, "health.html", facts=await run_in_threadpool(health, console))


routes = [
    Route("/changes", changes_page),
    Route("/health", health_page),
]
