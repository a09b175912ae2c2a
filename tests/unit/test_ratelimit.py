"""The per-user sliding window."""

from __future__ import annotations

import pytest

from bot.telegram_bot.ratelimit import SlidingWindow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_allows_limit_per_window_then_reports_the_wait() -> None:
    clock = Clock()
    window = SlidingWindow(3, 60.0, clock)
    assert [window.hit(1) for _ in range(3)] == [0.0, 0.0, 0.0]
    clock.now += 20
    assert window.hit(1) == pytest.approx(40.0)
    assert window.hit(2) == 0.0  # other users are not affected


def test_window_slides_rather_than_resetting() -> None:
    clock = Clock()
    window = SlidingWindow(2, 60.0, clock)
    window.hit(1)
    clock.now += 30
    window.hit(1)
    clock.now += 31  # the first event left the window, the second has not
    assert window.hit(1) == 0.0
    assert window.hit(1) == pytest.approx(29.0)


def test_refusal_message_once_per_blocked_streak() -> None:
    clock = Clock()
    window = SlidingWindow(1, 60.0, clock)
    window.hit(1)
    assert window.hit(1) > 0
    assert window.first_refusal(1)
    assert window.hit(1) > 0
    assert not window.first_refusal(1)
    clock.now += 61
    assert window.hit(1) == 0.0  # allowed again: the next streak warns again
    assert window.hit(1) > 0
    assert window.first_refusal(1)


def test_idle_users_are_swept() -> None:
    clock = Clock()
    window = SlidingWindow(5, 60.0, clock)
    for user in range(100):
        window.hit(user)
    clock.now += 120
    window.hit("new")
    assert set(window._events) == {"new"}
