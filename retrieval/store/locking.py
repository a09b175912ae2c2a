"""Writer locks: one writer per index at a time.

Two layers. Within one process (the bot's admin upload during ``/reindex``, each in a worker
thread) writers wait their turn on a lock shared by every ``WriterLock`` of the same path: a
second ``flock`` on a new file descriptor in the same process would fail, not wait. Across
processes, the embedded index's file lock gives a second writer a clear error at once.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from typing import IO

from retrieval.errors import IndexLockedError

_IN_PROCESS: dict[Path, threading.Lock] = {}
_REGISTRY = threading.Lock()


def _in_process_lock(path: Path) -> threading.Lock:
    with _REGISTRY:
        return _IN_PROCESS.setdefault(path.resolve(), threading.Lock())


class WriterLock:
    """Writers in this process queue; another process writing an embedded index is an error."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = _in_process_lock(path)
        self._handle: IO[str] | None = None

    def busy(self) -> bool:
        """Whether a writer in this process holds the lock now (``acquire`` would wait)."""
        return self._local.locked()

    def acquire(self, *, file: bool = True) -> None:
        """Wait for writers in this process, then (``file``) take the cross-process lock."""
        self._local.acquire()
        if not file:
            return
        try:
            self._lock_file()
        except BaseException:
            self._local.release()
            raise

    def _lock_file(self) -> None:
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
        try:
            if self._handle is not None:
                fcntl.flock(self._handle, fcntl.LOCK_UN)
                self._handle.close()
                self._handle = None
        finally:
            if self._local.locked():
                self._local.release()
