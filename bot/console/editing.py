"""Writes from the console: upload a file with its version fields, edit those fields of an
indexed document, remove a document. Each is written to the audit log with who did it."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.console.app import Console, console_of, signed_in
from bot.console.jobs import Job
from retrieval.errors import RegulaError
from retrieval.hygiene import safe_doc_id
from retrieval.ingest.file_types import SUPPORTED_SUFFIXES
from retrieval.ingest.uploads import upload_name
from retrieval.metadata_edits import EDITABLE_KEYS, STATUSES, StaleEditError


def _fields(form: FormData) -> dict[str, str]:
    return {k: v.strip() for k in EDITABLE_KEYS if isinstance(v := form.get(k), str)}


def _extensions() -> str:
    return ", ".join(sorted(SUPPORTED_SUFFIXES))


@signed_in
async def upload_form(request: Request) -> Response:
    console = console_of(request)
    return _upload_page(request, console)


def _upload_page(
    request: Request, console: Console, error: str = "", status: int = 200
) -> Response:
    return console.render(
        request,
        "upload.html",
        status,
        error=error,
        extensions=_extensions(),
        limit_mb=f"{console.settings.ingest.max_file_mb:g}",
        statuses=STATUSES,
    )


@signed_in
async def upload(request: Request) -> Response:
    console = console_of(request)
    form: FormData = request.state.form
    file = form.get("file")
    language = console.language(request)
    if not isinstance(file, UploadFile) or not file.filename:
        return _upload_page(
            request, console, console.prompts.get("console_upload_missing", language), 400
        )
    name = upload_name(file.filename)
    if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
        error = console.prompts.get("console_upload_bad_type", language, extensions=_extensions())
        return _upload_page(request, console, error, 400)
    limit_mb = console.settings.ingest.max_file_mb
    data = await file.read(int(limit_mb * 1024 * 1024) + 1)
    if len(data) > limit_mb * 1024 * 1024:
        size_mb = f"{(file.size or len(data)) / 1024 / 1024:.1f}"
        error = console.prompts.get(
            "console_upload_too_large", language, size_mb=size_mb, limit_mb=f"{limit_mb:g}"
        )
        return _upload_page(request, console, error, 413)
    metadata = {k: v for k, v in _fields(form).items() if v}
    assistant = console.assistant

    def index(job: Job) -> None:
        report = assistant.ingest_bytes(data, name, metadata)
        job.report = report.to_json()
        if report.failed:
            job.reason = "; ".join(f.error for f in report.failed)
            msg = job.reason
            raise RegulaError(msg)
        job.doc_id = safe_doc_id(name)  # the id the ingest gives an upload, changed or not

    console.act(request, "upload", name, urlencode(metadata))
    job_id = console.jobs.start(name, index)
    return RedirectResponse(f"/jobs/{job_id}", 303)


@signed_in
async def job_page(request: Request) -> Response:
    console = console_of(request)
    job = console.jobs.get(request.path_params["job_id"])
    if job is None:
        return console.render(request, "missing.html", 404, what=request.path_params["job_id"])
    return console.render(request, "job.html", job=job, quote=quote)


@signed_in
async def edit(request: Request) -> Response:
    console = console_of(request)
    doc_id = request.path_params["doc_id"]
    form: FormData = request.state.form
    fingerprint = form.get("fingerprint")
    changes = _fields(form)
    notice, reason = "saved", ""
    try:
        await run_in_threadpool(
            console.assistant.edit_fields, doc_id, changes, str(fingerprint or "")
        )
        console.act(request, "edit", doc_id, urlencode(changes))
    except StaleEditError:
        notice = "stale"
    except (RegulaError, KeyError) as e:
        notice, reason = "edit_failed", str(e)
    query = urlencode({"notice": notice, "reason": reason} if reason else {"notice": notice})
    return RedirectResponse(f"/documents/{quote(doc_id)}?{query}", 303)


@signed_in
async def remove(request: Request) -> Response:
    console = console_of(request)
    doc_id = request.path_params["doc_id"]
    removed = await run_in_threadpool(console.assistant.remove, doc_id)
    if removed:
        console.act(request, "remove", doc_id)
    return RedirectResponse("/documents?" + urlencode({"removed": doc_id}), 303)


routes = [
    Route("/upload", upload_form, methods=["GET"]),
    Route("/upload", upload, methods=["POST"]),
    Route("/jobs/{job_id}", job_page),
    Route("/edit/{doc_id:path}", edit, methods=["POST"]),
    Route("/remove/{doc_id:path}", remove, methods=["POST"]),
]
