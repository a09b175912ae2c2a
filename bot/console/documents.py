"""Documents pages: the list with filters, one document with what the reader found in it,
and a work's versions on a timeline."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.console.app import console_of, signed_in
from bot.console.charts import timeline_svg
from retrieval.models import Document
from retrieval.parts import decode_part_until, describe_keys, part_keys
from retrieval.versions import in_force, today


def _matches(doc: Document, language: str, status: str, work: str, text: str) -> bool:
    if language and doc.language != language:
        return False
    if status and doc.status != status:
        return False
    if work and doc.work != work:
        return False
    needle = text.strip().lower()
    haystack = " ".join((doc.doc_id, doc.title, doc.number, doc.aliases)).lower()
    return not needle or needle in haystack


def _translations(doc: Document, documents: list[Document]) -> list[str]:
    if not doc.group_id:
        return []
    return [d.doc_id for d in documents if d.group_id == doc.group_id and d.doc_id != doc.doc_id]


@signed_in
async def document_list(request: Request) -> Response:
    console = console_of(request)
    documents: list[Document] = await run_in_threadpool(console.assistant.documents)
    query = request.query_params
    chosen = {k: query.get(k, "") for k in ("language", "status", "work", "text")}
    shown = [d for d in documents if _matches(d, **chosen)]
    now = today()
    rows = [
        {"doc": d, "in_force": in_force(d, now), "translations": _translations(d, documents)}
        for d in shown
    ]
    return console.render(
        request,
        "documents.html",
        rows=rows,
        chosen=chosen,
        all_languages=sorted({d.language for d in documents}),
        works=sorted({d.work for d in documents if d.work}),
        statuses=("in_force", "repealed", "draft"),
    )


def warnings(doc: Document) -> list[tuple[str, dict[str, Any]]]:
    """What a keeper should look at: prompt keys and their fields."""
    found: list[tuple[str, dict[str, Any]]] = []
    if doc.doubt:
        found.append(("console_warning_doubt", {"work": doc.work or doc.doc_id}))
    if doc.conflict:
        found.append(("console_warning_conflict", {"other": doc.conflict}))
    if doc.part_until:
        replaced = decode_part_until(doc.part_until)
        found.append(("console_warning_part_until", {"articles": describe_keys(replaced)}))
    return found


@signed_in
async def document_page(request: Request) -> Response:
    console = console_of(request)
    doc_id = request.path_params["doc_id"]
    manifest = await run_in_threadpool(console.assistant.refresh)
    doc = manifest.get(doc_id)
    if doc is None:
        return console.render(request, "missing.html", 404, what=doc_id)
    chunks = await run_in_threadpool(console.assistant.document_chunks, doc_id)
    fields, fingerprint = await run_in_threadpool(console.assistant.editable_fields, doc_id)
    keys = part_keys(doc.parts)
    articles = []
    seen: set[str] = set()
    for chunk in chunks:
        if chunk["part"] and chunk["part"] not in seen:
            seen.add(chunk["part"])
            articles.append(chunk["locator"].split("(")[0].strip() or chunk["part"])
    return console.render(
        request,
        "document.html",
        doc=doc,
        in_force=in_force(doc, today()),
        chunks=chunks,
        articles=articles,
        article_keys=describe_keys(keys),
        warnings=warnings(doc),
        translations=_translations(doc, list(manifest.values())),
        fields=fields,
        fingerprint=fingerprint,
        notice=request.query_params.get("notice", ""),
    )


@signed_in
async def work_page(request: Request) -> Response:
    console = console_of(request)
    work = request.path_params["work"]
    versions = await run_in_threadpool(console.assistant.history, work)
    if not versions:
        return console.render(request, "missing.html", 404, what=work)
    now = today()
    return console.render(
        request,
        "work.html",
        work=work,
        versions=[{"doc": d, "in_force": in_force(d, now)} for d in versions],
        timeline=timeline_svg(versions, now),
    )


routes = [
    Route("/documents", document_list),
    Route("/documents/{doc_id:path}", document_page),
    Route("/works/{work:path}", work_page),
]
