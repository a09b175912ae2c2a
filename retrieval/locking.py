"""The writer lock of an embedded index: one writing process at a time, a clear error otherwise."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from retrieval.errors import IndexLockedError


class WriterLock:
    """An exclusive advisory lock so two processes never write one embedded index."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            msg = (
                f"the index in {self.path.parent} is being written by {holder}; "
                "wait for it to finish (or stop it), or use vector_store.mode: server"
            )
            raise IndexLockedError(msg) from e
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
