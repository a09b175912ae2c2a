"""Who asked what, what was cited, and whether it helped: an SQLite log for accountability.

One row per question (``record``), with the exact versions it cited and the as-of date; 👍/👎
update that row (``set_feedback``), only for the user who asked. ``with_citations`` and
``mark_notified`` let the bot tell a user, once per answer, that a cited rule changed;
``alerts_enabled`` holds each user's ``/alerts on|off``. Rows older than
``audit.retention_days`` are deleted when the log opens, so the bot never keeps questions
longer than the configured period. The bot calls it only from its event loop (a write takes
microseconds, less than the hop to a worker thread would); the one connection is still guarded
by a lock, so a caller on another thread stays safe.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from retrieval.config import Settings
from retrieval.models import Document
from retrieval.versions import changes

FILENAME = "audit.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    user_id INTEGER NOT NULL,
    chat_id INTEGER NOT NULL,
    question TEXT NOT NULL,
    language TEXT NOT NULL DEFAULT '',
    cited_doc_ids TEXT NOT NULL DEFAULT '[]',
    refused INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    feedback INTEGER
);
CREATE INDEX IF NOT EXISTS questions_ts ON questions (ts);
CREATE TABLE IF NOT EXISTS alert_settings (
    user_id INTEGER PRIMARY KEY,
    enabled INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS admin_actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    who TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
"""
OUTCOMES = ("answer", "closest", "not_covered")
# Columns added after the first schema: (name, definition), added to an older log on open.
_ADDED_COLUMNS = (
    ("cited_versions", "TEXT NOT NULL DEFAULT '[]'"),
    ("as_of", "TEXT NOT NULL DEFAULT ''"),
    ("notified", "INTEGER NOT NULL DEFAULT 0"),
    ("outcome", "TEXT NOT NULL DEFAULT ''"),
)
# Rows written before ``outcome`` was recorded: a refusal was "not covered", the rest answers.
_OUTCOME_SQL = (
    "CASE WHEN outcome != '' THEN outcome WHEN refused THEN 'not_covered' ELSE 'answer' END"
)


class AuditLog:
    """The audit table; a disabled log (``path=None``) accepts every call and stores nothing."""

    def __init__(
        self,
        path: Path | None,
        retention_days: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.retention_days = retention_days
        self._clock = clock
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            # No fsync per row: a crash may lose the last rows, never corrupt the file; this
            # keeps each write cheap enough to run on the bot's event loop.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            present = {row[1] for row in self._db.execute("PRAGMA table_info(questions)")}
            for name, definition in _ADDED_COLUMNS:
                if name not in present:
                    self._db.execute(f"ALTER TABLE questions ADD COLUMN {name} {definition}")
            self.prune()

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditLog:
        path = settings.storage.data_dir / FILENAME if settings.audit.enabled else None
        return cls(path, settings.audit.retention_days)

    @property
    def enabled(self) -> bool:
        return self._db is not None

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> tuple[int, int | None]:
        """Run a write; (rowcount, lastrowid), or (0, None) when disabled."""
        with self._lock:
            if self._db is None:
                return 0, None
            cur = self._db.execute(sql, params)
            return cur.rowcount, cur.lastrowid

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            if self._db is None:
                return []
            cur = self._db.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, values, strict=True)) for values in cur.fetchall()]

    def prune(self) -> int:
        """Delete rows past the retention period; returns how many went."""
        cutoff = self._clock() - self.retention_days * 86400
        return self._execute("DELETE FROM questions WHERE ts < ?", (cutoff,))[0]

    def record(
        self,
        *,
        user_id: int,
        chat_id: int,
        question: str,
        cited_doc_ids: Sequence[str],
        refused: bool,
        latency_ms: float,
        language: str = "",
        cited_versions: Sequence[Mapping[str, str]] = (),
        as_of: str = "",
        outcome: str = "",
    ) -> int | None:
        """Store one answered question; returns its row id (None when the log is disabled).

        ``cited_versions`` (``retrieval.versions.cited_versions``) are the exact versions
        quoted, compared later with the index to tell the user when one changed.
        """
        _, row_id = self._execute(
            "INSERT INTO questions (ts, user_id, chat_id, question, language, cited_doc_ids,"
            " refused, latency_ms, cited_versions, as_of, outcome)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self._clock(),
                user_id,
                chat_id,
                question,
                language,
                json.dumps(list(dict.fromkeys(cited_doc_ids))),
                int(refused),
                round(latency_ms, 1),
                json.dumps([dict(v) for v in cited_versions], ensure_ascii=False),
                as_of,
                outcome or ("not_covered" if refused else "answer"),
            ),
        )
        return row_id

    def with_citations(self, since: float = 0.0, pending: bool = False) -> list[dict[str, Any]]:
        """Rows that cited something, since ``since`` (epoch seconds), oldest first,
        ``cited_versions`` decoded; ``pending``: only those not yet notified."""
        rows = self._query(
            "SELECT id, ts, user_id, chat_id, question, language, as_of, cited_versions,"
            " notified FROM questions WHERE cited_versions != '[]' AND ts >= ?"
            + (" AND notified = 0" if pending else "")
            + " ORDER BY id",
            (since,),
        )
        for row in rows:
            row["cited_versions"] = json.loads(row["cited_versions"])
        return rows

    def mark_notified(self, row_id: int) -> bool:
        """Claim a row for its change notice; False when it was already claimed (at most once)."""
        changed, _ = self._execute(
            "UPDATE questions SET notified = 1 WHERE id = ? AND notified = 0", (row_id,)
        )
        return changed == 1

    def question_of(self, row_id: int, user_id: int) -> dict[str, Any] | None:
        """The asker's own row (question, language, as_of) for "ask again"."""
        rows = self._query(
            "SELECT question, language, as_of FROM questions WHERE id = ? AND user_id = ?",
            (row_id, user_id),
        )
        return rows[0] if rows else None

    def set_alerts(self, user_id: int, enabled: bool) -> None:
        self._execute(
            "INSERT INTO alert_settings VALUES (?, ?) ON CONFLICT (user_id)"
            " DO UPDATE SET enabled = excluded.enabled",
            (user_id, int(enabled)),
        )

    def alerts_enabled(self, user_id: int) -> bool:
        rows = self._query("SELECT enabled FROM alert_settings WHERE user_id = ?", (user_id,))
        return bool(rows[0]["enabled"]) if rows else True

    def set_feedback(self, row_id: int, user_id: int, value: int) -> bool:
        """Record 👍 (+1) or 👎 (-1) on a row; only the asker may, and only once."""
        if value not in (1, -1):
            msg = f"feedback must be +1 or -1, not {value}"
            raise ValueError(msg)
        changed, _ = self._execute(
            "UPDATE questions SET feedback = ? WHERE id = ? AND user_id = ? AND feedback IS NULL",
            (value, row_id, user_id),
        )
        return changed == 1

    def rows(self) -> list[dict[str, Any]]:
        """Every row, oldest first, ``cited_doc_ids`` decoded (for tests and exports)."""
        rows = self._query("SELECT * FROM questions ORDER BY id")
        for row in rows:
            row["cited_doc_ids"] = json.loads(row["cited_doc_ids"])
            row["cited_versions"] = json.loads(row["cited_versions"])
            row["refused"] = bool(row["refused"])
        return rows

    def summary(self, days: int) -> dict[str, int]:
        """Counts over the last ``days`` days, for ``/stats``."""
        since = self._clock() - days * 86400
        rows = self._query(
            "SELECT COUNT(*) AS questions, COALESCE(SUM(refused), 0) AS refused,"
            " COALESCE(SUM(feedback = 1), 0) AS helpful,"
            " COALESCE(SUM(feedback = -1), 0) AS unhelpful"
            " FROM questions WHERE ts >= ?",
            (since,),
        )
        return (
            {k: int(v) for k, v in rows[0].items()}
            if rows
            else dict.fromkeys(("questions", "refused", "helpful", "unhelpful"), 0)
        )

    def questions(
        self,
        *,
        since: float = 0.0,
        language: str = "",
        outcome: str = "",
        text: str = "",
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Rows asked since ``since`` (epoch seconds), newest first, filtered by language,
        outcome and a case-insensitive substring of the question, with ``outcome`` filled in
        and ``cited_versions`` decoded: the console's questions table and its CSV."""
        clauses: list[str] = ["ts >= ?"]
        params: list[Any] = [since]
        if language:
            clauses.append("language = ?")
            params.append(language)
        if outcome:
            clauses.append(f"{_OUTCOME_SQL} = ?")
            params.append(outcome)
        if text:
            clauses.append("instr(lower(question), lower(?)) > 0")
            params.append(text)
        rows = self._query(
            "SELECT id, ts, user_id, chat_id, question, language, as_of, latency_ms, feedback,"
            f" notified, cited_versions, {_OUTCOME_SQL} AS outcome FROM questions"
            f" WHERE {' AND '.join(clauses)} ORDER BY id DESC"
            + (" LIMIT ?" if limit is not None else ""),
            [*params, limit] if limit is not None else params,
        )
        for row in rows:
            row["cited_versions"] = json.loads(row["cited_versions"])
        return rows

    def record_action(self, who: str, action: str, target: str = "", detail: str = "") -> None:
        """An administrator's action (console or bot), with who did it."""
        self._execute(
            "INSERT INTO admin_actions (ts, who, action, target, detail) VALUES (?, ?, ?, ?, ?)",
            (self._clock(), who, action, target, detail),
        )

    def actions(self, limit: int = 100) -> list[dict[str, Any]]:
        """The latest administrator actions, newest first."""
        return self._query("SELECT * FROM admin_actions ORDER BY id DESC LIMIT ?", (limit,))

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def changed_answers(
    audit: AuditLog, manifest: Mapping[str, Document], since: float = 0.0
) -> list[dict[str, Any]]:
    """Answers whose cited text was since edited, superseded, repealed or removed, oldest
    first, with whether the asker was alerted (``regula audit changed`` and the console)."""
    found = []
    for row in audit.with_citations(since):
        changed = changes(row["cited_versions"], manifest)
        if changed:
            asked = dt.datetime.fromtimestamp(row["ts"], dt.UTC).isoformat(timespec="seconds")
            found.append({"id": row["id"], "asked_at": asked, "user_id": row["user_id"],
                          "question": row["question"], "as_of": row["as_of"] or None,
                          "notified": bool(row["notified"]),
                          "changes": [c.to_json() for c in changed]})  # fmt: skip
    return found
