"""Operations: logging set-up, metrics, /healthz and /metrics, ownership, in-process locks."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.logs import configure_logging
from bot.telegram_bot.ops import Metrics, OpsServer, index_health
from retrieval.config import LoggingSettings, load_settings
from retrieval.models import Document, IngestFailure, IngestReport
from retrieval.store.locking import WriterLock
from retrieval.store.ownership import owner_id, prunable


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_logging_settings_come_from_the_environment() -> None:
    env = {"REGULA_LOGGING__LEVEL": "debug", "REGULA_LOGGING__FORMAT": "json",
           "REGULA_LOGGING__QUESTIONS": "true", "REGULA_OPS__HTTP_PORT": "9464"}  # fmt: skip
    settings = load_settings(None, env=env)
    assert settings.logging == LoggingSettings(level="DEBUG", format="json", questions=True)
    assert settings.ops.http_port == 9464
    assert settings.ops.http_host == "127.0.0.1"
    assert load_settings(None, env={}).ops.http_port is None  # off by default


def test_json_logs_one_object_per_line_without_secrets(
    restore_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:SECRET-token-value")
    out = io.StringIO()
    configure_logging(LoggingSettings(format="json"), stream=out)
    log = logging.getLogger("bot.telegram_bot.handlers")
    log.info("update %s answered", 7, extra={"update_id": 7, "language": "fr",
                                             "outcome": "refused", "latency_ms": 12.5})  # fmt: skip
    logging.getLogger("telegram.ext").info("GET /bot123456:SECRET-token-value/getMe")
    logging.getLogger("httpx").info("HTTP Request: https://api.telegram.org/bot123456:SECRET")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["message"] == "update 7 answered"
    assert (first["level"], first["logger"]) == ("INFO", "bot.telegram_bot.handlers")
    assert {k: first[k] for k in ("update_id", "language", "outcome", "latency_ms")} == {
        "update_id": 7, "language": "fr", "outcome": "refused", "latency_ms": 12.5}  # fmt: skip
    assert "time" in first
    assert "question" not in first
    assert "SECRET" not in out.getvalue()  # redacted, and httpx stays at WARNING
    assert second["message"] == "GET /bot[redacted]/getMe"


def test_text_logs_show_info_lines(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging(LoggingSettings(), stream=out)
    logging.getLogger("bot.telegram_bot.app").info("bot @x ready")
    assert "INFO bot.telegram_bot.app: bot @x ready" in out.getvalue()
    assert logging.getLogger("httpx").level == logging.WARNING


def test_serve_from_the_command_line_shows_its_info_lines(
    restore_logging: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """``regula serve`` goes through ``cli.main``, the one place logging is configured: the
    bot's INFO lines reach stderr with nothing else installing a handler on the way."""
    from bot.telegram_bot import app
    from bot.terminal import cli

    def fake_serve(settings: Any, assistant: Any) -> None:
        app.log.info("bot @%s ready", "x")

    monkeypatch.setattr(cli, "_assistant", lambda settings: None)
    monkeypatch.setattr(app, "serve", fake_serve)
    assert cli.main(["serve", "--data-dir", str(tmp_path)]) == 0
    assert "INFO bot.telegram_bot.app: bot @x ready" in capsys.readouterr().err
    assert len(logging.getLogger().handlers) == 1


def test_metrics_labels_are_bounded() -> None:
    metrics = Metrics()
    metrics.answered("fr", "answered", 0.3)
    metrics.answered("<script>question text</script>", "refused", 0.1)
    metrics.ingested(IngestReport(added=2, unchanged=1, failed=[IngestFailure("x", "bad")]))
    text = metrics.exposition().decode()
    assert 'regula_questions_total{language="fr",outcome="answered"} 1.0' in text
    assert 'regula_questions_total{language="other",outcome="refused"} 1.0' in text
    assert "question text" not in text
    assert 'regula_ingest_files_total{result="added"} 2.0' in text
    assert 'regula_ingest_files_total{result="failed"} 1.0' in text
    assert "regula_answer_seconds_count 2.0" in text
    for name in ("regula_telegram_updates", "regula_rate_limited_total", "regula_errors_total",
                 "regula_documents", "regula_chunks"):  # fmt: skip
        assert name in text


class FakeStore:
    def __init__(self) -> None:
        self.down = False

    def revision(self) -> str:
        if self.down:
            msg = "Could not connect to a Chroma server"
            raise ConnectionError(msg)
        return "rev1"

    def count_documents(self) -> int:
        return 2

    def count_chunks(self) -> int:
        return 30


class FakeAssistant:
    def __init__(self) -> None:
        self.store = FakeStore()


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_healthz_and_metrics_endpoints() -> None:
    metrics, assistant = Metrics(), FakeAssistant()
    started = time.monotonic()
    server = OpsServer(
        "127.0.0.1",
        0,
        metrics,
        lambda: index_health(assistant, metrics, started),  # type: ignore[arg-type]
    ).start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        status, body = _get(base + "/healthz")
        health = json.loads(body)
        assert status == 200
        assert {k: health[k] for k in ("status", "documents", "chunks", "index_revision")} == {
            "status": "ok", "documents": 2, "chunks": 30, "index_revision": "rev1"}  # fmt: skip
        assert health["uptime_s"] >= 0
        status, body = _get(base + "/metrics")
        assert status == 200
        assert "regula_documents 2.0" in body.decode()
        assistant.store.down = True
        status, body = _get(base + "/healthz")
        assert status == 503
        assert json.loads(body)["status"] == "unavailable"
        assert "Could not connect" in json.loads(body)["reason"]
        assistant.store.down = False
        assert _get(base + "/healthz")[0] == 200  # recovers
        assert _get(base + "/nothing")[0] == 404
    finally:
        server.stop()


def _doc(path: Path, owner: str = "me") -> Document:
    return Document(doc_id=path.name, path=str(path), title="t", language="en",
                    content_hash="h", version="v", owner=owner)  # fmt: skip


def test_only_the_owner_prunes_and_only_under_the_paths_given(tmp_path: Path) -> None:
    uploads = tmp_path / "data" / "uploads"
    gone_a = tmp_path / "a" / "x.md"
    gone_b = tmp_path / "b" / "y.md"
    kept = tmp_path / "a" / "z.md"
    kept.parent.mkdir(parents=True)
    kept.write_text("z")

    def can(doc: Document, **kw: Any) -> bool:
        return prunable(doc, "me", **({"embedded": False, "uploads": uploads} | kw))

    assert can(_doc(gone_a))
    assert not can(_doc(kept))  # file still there
    assert not can(_doc(gone_a, owner="other-worker"))
    assert not can(_doc(gone_a, owner=""))  # older record, shared server: not ours to judge
    assert can(_doc(gone_a, owner=""), embedded=True)  # embedded index: only we write it
    assert not can(_doc(uploads / "memo.md"))  # uploads leave only through /forget
    assert can(_doc(gone_a), roots=[tmp_path / "a"])
    assert not can(_doc(gone_b), roots=[tmp_path / "a"])


def test_owner_id_is_stable_per_data_dir(tmp_path: Path) -> None:
    first = owner_id(tmp_path / "one")
    assert owner_id(tmp_path / "one") == first
    assert owner_id(tmp_path / "two") != first


def test_writers_in_one_process_wait_their_turn(tmp_path: Path) -> None:
    order: list[str] = []
    first = WriterLock(tmp_path / "writer.lock")
    first.acquire()
    second = WriterLock(tmp_path / "writer.lock")  # another Ingestor, same index
    assert second.busy()

    def write() -> None:
        second.acquire()  # waits instead of raising IndexLockedError
        order.append("second")
        second.release()

    thread = threading.Thread(target=write)
    thread.start()
    time.sleep(0.2)
    order.append("first")
    first.release()
    thread.join(10)
    assert order == ["first", "second"]
    assert not first.busy()
