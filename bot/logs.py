"""Logging, configured once by the entry point (``bot.terminal.cli.main``) from the settings.

Two formats: ``text`` (one readable line) and ``json`` (one object per line: ``time``,
``level``, ``logger``, ``message``, plus the answer fields below when a record carries them).
Nothing here ever writes the bot token: ``httpx``/``httpcore`` stay at WARNING because their
INFO lines carry request URLs, and a filter on the handler replaces any secret taken from the
environment that still shows up in a message or traceback.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
from collections.abc import Iterable
from typing import IO, Any

from retrieval.config import LoggingSettings

ANSWER_FIELDS = ("update_id", "language", "outcome", "latency_ms", "question")
"""Extra fields an answer's log record may carry (``question`` only with logging.questions)."""
SECRET_ENVS = (
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_WEBHOOK_SECRET",
    "REGULA_CHROMA_TOKEN",
    "REGULA_LLM_API_KEY",
    "REGULA_EMBEDDINGS_API_KEY",
)
QUIET_LOGGERS = ("httpx", "httpcore", "chromadb", "urllib3")
"""Third-party loggers kept at WARNING: httpx logs URLs that contain the bot token."""
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED = "[redacted]"


class RedactSecrets(logging.Filter):
    """Replace the values of secret environment variables in the formatted message."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 8]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        clean = message
        for secret in self.secrets:
            clean = clean.replace(secret, REDACTED)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            for secret in self.secrets:
                text = text.replace(secret, REDACTED)
            record.exc_text, record.exc_info = text, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; answer fields are copied from the record when present."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ANSWER_FIELDS:
            if name in record.__dict__:
                payload[name] = record.__dict__[name]
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            payload["exception"] = record.exc_text
        return json.dumps(payload, ensure_ascii=False, default=str)


def configure_logging(
    settings: LoggingSettings, *, verbose: bool = False, stream: IO[str] | None = None
) -> logging.Handler:
    """Install the one root handler (replacing any earlier one); returns it."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        JsonFormatter() if settings.format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    handler.addFilter(RedactSecrets(os.environ.get(name, "") for name in SECRET_ENVS))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else settings.level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler
