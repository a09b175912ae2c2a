"""Chunk records the searcher has read, kept in memory until the index changes.

A passage that only the lexical or latent search found arrives without its text, metadata
and vector, and fetching them costs a call to the vector store per language on every
question (about a quarter of a question's time on the sample index). The same passages come
back question after question, so their records are kept here, most recently used first, and
dropped whenever the index revision changes (``Searcher.refresh``): a record is never older
than the index it was read from.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

CAPACITY = 20_000
"""Records kept (about 4 KB each with a 384-dimension vector: ~80 MB at most)."""


@dataclass(frozen=True)
class ChunkRecord:
    text: str
    metadata: Mapping[str, Any]
    vector: NDArray[np.float32] | None


class ChunkRecords:
    """A bounded, thread-safe map of chunk id to its record."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._records: OrderedDict[str, ChunkRecord] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def get_many(self, chunk_ids: Iterable[str]) -> dict[str, ChunkRecord]:
        found = {}
        with self._lock:
            for chunk_id in chunk_ids:
                record = self._records.get(chunk_id)
                if record is not None:
                    self._records.move_to_end(chunk_id)
                    found[chunk_id] = record
        return found

    def put_many(self, records: Mapping[str, ChunkRecord]) -> None:
        with self._lock:
            for chunk_id, record in records.items():
                self._records[chunk_id] = record
                self._records.move_to_end(chunk_id)
            while len(self._records) > self.capacity:
                self._records.popitem(last=False)
