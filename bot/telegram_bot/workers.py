"""The bounded pool that answers questions: as many workers as cores, first come first served.

Answering is CPU-bound. Given a thread per waiting question, 25 questions asked at once share
the cores round-robin and all finish together at the end, each as late as the last. Here at
most ``workers`` questions run at once and the rest wait their turn in arrival order, so the
answers come out one after another and the event loop stays free to receive updates. A user's
own questions are answered one at a time, in the order sent; a question that must wait behind
many others gets a "queued" notice first (``QuestionPool.run``'s ``on_queued``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class QuestionPool:
    """Runs blocking calls on ``workers`` threads, in arrival order, one at a time per user."""

    def __init__(self, workers: int | None = None, notice_after: int = 8) -> None:
        self.workers = workers or default_workers()
        self.notice_after = notice_after
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="regula-answer")
        self._pending = 0  # running or waiting for a worker
        self._users: dict[int, tuple[asyncio.Lock, int]] = {}  # lock, questions in it

    @property
    def pending(self) -> int:
        """Questions running or waiting for a worker."""
        return self._pending

    async def run(
        self,
        user_id: int,
        call: Callable[[], T],
        on_queued: Callable[[int], Awaitable[None]] | None = None,
    ) -> T:
        """``call()`` on a worker once this user's earlier questions are done. When more than
        ``notice_after`` questions are ahead of it, ``on_queued(ahead)`` is awaited first."""
        lock, count = self._users.get(user_id, (asyncio.Lock(), 0))
        self._users[user_id] = (lock, count + 1)
        try:
            async with lock:
                ahead = self._pending - self.workers + 1
                if on_queued is not None and ahead > self.notice_after:
                    await on_queued(ahead)
                self._pending += 1
                try:
                    return await asyncio.get_running_loop().run_in_executor(self._executor, call)
                finally:
                    self._pending -= 1
        finally:
            lock, count = self._users[user_id]
            if count == 1:
                del self._users[user_id]  # none of this user's questions is waiting
            else:
                self._users[user_id] = (lock, count - 1)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
