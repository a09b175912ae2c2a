"""Operating ``regula serve``: Prometheus metrics and a small HTTP server for health checks.

``Metrics`` owns its own registry (so two applications in one test process never share
counters) and is filled by the handlers; labels are closed sets (a language code, an outcome,
an update type, a result), never a user id or question text. ``OpsServer`` serves, on
``ops.http_host:ops.http_port``:

- ``GET /healthz``: 200 ``{status, documents, chunks, index_revision, uptime_s}`` when the
  index (the Chroma server, in server mode) can be read; 503 ``{status, reason, uptime_s}``
  when it cannot;
- ``GET /metrics``: every metric in the Prometheus text format (the document and chunk gauges
  are refreshed at each scrape).

It runs in a daemon thread beside the bot's event loop, so a slow scrape never delays an answer.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

if TYPE_CHECKING:
    from retrieval.assistant import Assistant
    from retrieval.models import IngestReport

log = logging.getLogger(__name__)

ANSWER_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
_LANGUAGE = re.compile(r"[a-z]{2,3}")
INGEST_RESULTS = ("added", "updated", "unchanged", "removed")


def language_label(code: str) -> str:
    """A language code as a metric label; anything unexpected is ``other`` (bounded labels)."""
    return code if _LANGUAGE.fullmatch(code or "") else "other"


class Metrics:
    """Every metric ``regula serve`` exposes, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.questions = Counter(
            "regula_questions", "Questions answered, by answer language and outcome "
            "(answered, closest, refused, fallback, unavailable).", ["language", "outcome"],
            registry=r,
        )  # fmt: skip
        self.answer_seconds = Histogram(
            "regula_answer_seconds", "Time from question to composed answer.",
            buckets=ANSWER_BUCKETS, registry=r,
        )  # fmt: skip
        self.updates = Counter(
            "regula_telegram_updates", "Telegram updates received, by kind and whether the "
            "access policy let them through.", ["type", "allowed"], registry=r,
        )  # fmt: skip
        self.rate_limited = Counter(
            "regula_rate_limited", "Questions refused by the per-user rate limit.", registry=r
        )
        self.errors = Counter(
            "regula_errors", "Updates whose handling failed (logged with a traceback).", registry=r
        )
        self.documents = Gauge("regula_documents", "Documents in the index.", registry=r)
        self.chunks = Gauge("regula_chunks", "Chunks in the index.", registry=r)
        self.ingest_files = Counter(
            "regula_ingest_files", "Files handled by uploads and /reindex, by result.",
            ["result"], registry=r,
        )  # fmt: skip

    def answered(self, language: str, outcome: str, seconds: float | None = None) -> None:
        self.questions.labels(language=language_label(language), outcome=outcome).inc()
        if seconds is not None:
            self.answer_seconds.observe(seconds)

    def ingested(self, report: IngestReport) -> None:
        for result in INGEST_RESULTS:
            count = int(getattr(report, result))
            if count:
                self.ingest_files.labels(result=result).inc(count)
        if report.failed:
            self.ingest_files.labels(result="failed").inc(len(report.failed))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


@dataclass
class Health:
    """What /healthz answers: its HTTP status and JSON body."""

    status: int
    body: dict[str, Any]


def index_health(assistant: Assistant, metrics: Metrics, started: float) -> Health:
    """Read the index's revision and counts; 503 with the reason when that fails."""
    uptime = round(time.monotonic() - started, 1)
    try:
        revision = assistant.store.revision()
        documents = assistant.store.count_documents()
        chunks = assistant.store.count_chunks()
    except Exception as e:  # any failure to read the index is "unavailable", with its reason
        reason = " ".join(f"{type(e).__name__}: {e}".split())[:300]
        log.warning("health check failed: %s", reason)
        return Health(503, {"status": "unavailable", "reason": reason, "uptime_s": uptime})
    metrics.documents.set(documents)
    metrics.chunks.set(chunks)
    body = {"status": "ok", "documents": documents, "chunks": chunks,
            "index_revision": revision, "uptime_s": uptime}  # fmt: skip
    return Health(200, body)


class OpsServer:
    """GET /healthz and GET /metrics on a daemon thread; ``stop`` shuts it down."""

    def __init__(self, host: str, port: int, metrics: Metrics, health: Callable[[], Health]):
        self.metrics = metrics
        self.health = health
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> OpsServer:
        self._thread.start()
        log.info("health and metrics on http://%s:%d/", *self._server.server_address[:2])
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        ops = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/healthz":
                    health = ops.health()
                    body = json.dumps(health.body).encode()
                    self._send(health.status, "application/json", body)
                elif path == "/metrics":
                    ops.health()  # refreshes the document and chunk gauges
                    self._send(200, CONTENT_TYPE_LATEST, ops.metrics.exposition())
                else:
                    self._send(404, "text/plain; charset=utf-8", b"not found\n")

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(HTTPStatus(status))
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("ops %s", format % args)

        return Handler
