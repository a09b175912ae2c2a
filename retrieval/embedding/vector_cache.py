"""Vectors kept on disk, so re-ingesting an edited corpus embeds only text it has not seen."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray


class EmbeddingCache:
    """SQLite map of (model cache key, sha256(text)) -> float32 vector bytes."""

    def __init__(self, path: Path, key_prefix: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)"
        )
        self._prefix = key_prefix
        self._lock = threading.Lock()

    def _key(self, text: str) -> str:
        return self._prefix + hashlib.sha256(text.encode("utf-8")).hexdigest()

    def get_many(self, texts: Sequence[str]) -> dict[int, NDArray[np.float32]]:
        keys = [self._key(t) for t in texts]
        found: dict[str, bytes] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                part = keys[start : start + 500]
                marks = ",".join("?" * len(part))
                rows = self._conn.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({marks})", part
                )
                found.update(rows.fetchall())
        return {
            i: np.frombuffer(found[k], dtype=np.float32)
            for i, k in enumerate(keys)
            if k in found and len(found[k]) % 4 == 0
        }

    def put_many(self, texts: Sequence[str], vectors: NDArray[np.float32]) -> None:
        rows = [
            (self._key(t), np.asarray(v, dtype=np.float32).tobytes())
            for t, v in zip(texts, vectors, strict=True)
        ]
        with self._lock, self._conn:
            self._conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
