"""The SQLite audit log: rows, feedback rules, retention at startup, thread safety."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from bot.telegram_bot.audit import FILENAME, AuditLog
from retrieval.config import Settings

DAY = 86400.0


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def record(log: AuditLog, user: int = 1, **kw: object) -> int | None:
    fields: dict[str, object] = {
        "user_id": user,
        "chat_id": -100,
        "question": "How is a petition registered?",
        "cited_doc_ids": ["a.md", "b.md", "a.md"],
        "refused": False,
        "latency_ms": 123.456,
        "language": "en",
    }
    fields.update(kw)
    return log.record(**fields)  # type: ignore[arg-type]


def test_records_question_citations_and_latency(tmp_path: Path) -> None:
    clock = Clock()
    log = AuditLog(tmp_path / "a.sqlite3", 90, clock)
    row_id = record(log)
    [row] = log.rows()
    assert row["id"] == row_id
    assert row["ts"] == clock.now
    assert (row["user_id"], row["chat_id"]) == (1, -100)
    assert row["question"] == "How is a petition registered?"
    assert row["cited_doc_ids"] == ["a.md", "b.md"]  # deduplicated, order kept
    assert row["refused"] is False
    assert row["latency_ms"] == 123.5
    assert row["feedback"] is None
    log.close()


def test_feedback_only_by_the_asker_and_only_once(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.sqlite3", 90)
    row_id = record(log, user=1)
    assert row_id is not None
    assert not log.set_feedback(row_id, user_id=2, value=1)
    assert log.set_feedback(row_id, user_id=1, value=-1)
    assert not log.set_feedback(row_id, user_id=1, value=1)
    assert not log.set_feedback(row_id + 1, user_id=1, value=1)
    assert log.rows()[0]["feedback"] == -1
    with pytest.raises(ValueError, match="feedback"):
        log.set_feedback(row_id, user_id=1, value=5)
    log.close()


def test_retention_is_applied_when_the_log_opens(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "a.sqlite3"
    log = AuditLog(path, 30, clock)
    record(log, question="old")
    clock.now += 20 * DAY
    record(log, question="recent")
    log.close()
    clock.now += 15 * DAY  # "old" is now 35 days old, "recent" 15
    reopened = AuditLog(path, 30, clock)
    assert [r["question"] for r in reopened.rows()] == ["recent"]
    reopened.close()


def test_summary_counts_recent_rows(tmp_path: Path) -> None:
    clock = Clock()
    log = AuditLog(tmp_path / "a.sqlite3", 90, clock)
    record(log, refused=True)
    clock.now += 10 * DAY
    up = record(log)
    down = record(log, user=2)
    assert up is not None
    assert down is not None
    log.set_feedback(up, 1, 1)
    log.set_feedback(down, 2, -1)
    assert log.summary(7) == {"questions": 2, "refused": 0, "helpful": 1, "unhelpful": 1}
    assert log.summary(30)["refused"] == 1
    log.close()


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.sqlite3", 90)

    def work(user: int) -> None:
        for _ in range(25):
            row_id = record(log, user=user)
            assert row_id is not None
            log.set_feedback(row_id, user, 1)

    threads = [threading.Thread(target=work, args=(u,)) for u in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = log.rows()
    assert len(rows) == 200
    assert len({r["id"] for r in rows}) == 200
    assert all(r["feedback"] == 1 for r in rows)
    log.close()


def test_from_settings_uses_data_dir_and_can_be_disabled(tmp_path: Path) -> None:
    settings = Settings.model_validate({"storage": {"data_dir": str(tmp_path / "d")}})
    log = AuditLog.from_settings(settings)
    assert log.path == tmp_path / "d" / FILENAME
    record(log)
    assert log.path.exists()
    log.close()
    settings.audit.enabled = False
    off = AuditLog.from_settings(settings)
    assert not off.enabled
    assert record(off) is None
    assert off.rows() == []
    assert off.summary(7)["questions"] == 0
    assert not off.set_feedback(1, 1, 1)


def test_cited_versions_alerts_and_an_older_log_gets_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE questions (id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL,"
        " user_id INTEGER NOT NULL, chat_id INTEGER NOT NULL, question TEXT NOT NULL,"
        " language TEXT NOT NULL DEFAULT '', cited_doc_ids TEXT NOT NULL DEFAULT '[]',"
        " refused INTEGER NOT NULL, latency_ms REAL NOT NULL, feedback INTEGER)"
    )
    old.commit()
    old.close()
    log = AuditLog(path, retention_days=90)
    cited = [{"doc_id": "a.md", "version": "v1", "title": "A", "valid_until": ""}]
    row = log.record(user_id=1, chat_id=1, question="q", cited_doc_ids=["a.md"], refused=False,
                     latency_ms=1.0, cited_versions=cited, as_of="2025-01-01")  # fmt: skip
    assert row is not None
    (pending,) = log.with_citations(pending=True)
    assert pending["cited_versions"] == cited
    assert pending["as_of"] == "2025-01-01"
    assert log.mark_notified(row)
    assert not log.mark_notified(row)  # at most once
    assert log.with_citations(pending=True) == []
    assert log.question_of(row, 1) == {"question": "q", "language": "", "as_of": "2025-01-01"}
    assert log.question_of(row, 2) is None
    assert log.alerts_enabled(1)
    log.set_alerts(1, False)
    assert not log.alerts_enabled(1)
    log.close()
