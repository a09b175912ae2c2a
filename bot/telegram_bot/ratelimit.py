"""Our per-user question limit: one official cannot monopolise the assistant.

The embedding model (and in LLM mode the language model) is shared by everyone, so each user
gets at most ``telegram.rate_limit_per_minute`` questions in any minute. Telegram's limits on
our own messages are handled where messages leave the bot, in ``bot.telegram_bot.sending``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable


class SlidingWindow:
    """At most ``limit`` events per key in any ``window`` seconds.

    Runs on the event loop only, so it needs no lock. Keys idle for a whole window are swept
    so memory stays bounded by the number of recently active users.
    """

    def __init__(
        self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._events: dict[Hashable, deque[float]] = {}
        self._warned: set[Hashable] = set()
        self._last_sweep = clock()

    def hit(self, key: Hashable) -> float:
        """Record an event; 0.0 if allowed, else the seconds until the next one would be."""
        now = self._clock()
        self._sweep(now)
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(events) >= self.limit:
            return max(events[0] + self.window - now, 0.001)
        events.append(now)
        self._warned.discard(key)
        return 0.0

    def first_refusal(self, key: Hashable) -> bool:
        """True once per blocked streak, so the "slow down" message is not itself a flood."""
        if key in self._warned:
            return False
        self._warned.add(key)
        return True

    def _sweep(self, now: float) -> None:
        if now - self._last_sweep < self.window:
            return
        self._last_sweep = now
        idle = [k for k, ev in self._events.items() if not ev or ev[-1] <= now - self.window]
        for key in idle:
            del self._events[key]
            self._warned.discard(key)
