"""The bot's question pool: bounded, first come first served, one question at a time per user."""

from __future__ import annotations

import asyncio
import threading
import time

from bot.telegram_bot.workers import QuestionPool


async def test_at_most_workers_run_at_once_and_in_arrival_order() -> None:
    pool = QuestionPool(workers=2, notice_after=100)
    running = 0
    peak = 0
    started: list[int] = []
    lock = threading.Lock()

    def work(n: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            started.append(n)
        time.sleep(0.02)
        with lock:
            running -= 1
        return n

    results = await asyncio.gather(*(pool.run(user, lambda n=user: work(n)) for user in range(10)))
    pool.shutdown()
    assert results == list(range(10))
    assert peak == 2
    assert started == list(range(10))


async def test_a_users_questions_keep_their_order_and_others_pass_meanwhile() -> None:
    pool = QuestionPool(workers=2, notice_after=100)
    finished: list[str] = []
    release_first = threading.Event()

    def slow() -> None:
        release_first.wait(5)
        finished.append("alice-1")

    def quick(name: str) -> None:
        finished.append(name)

    alice_1 = asyncio.create_task(pool.run(1, slow))
    await asyncio.sleep(0.01)
    alice_2 = asyncio.create_task(pool.run(1, lambda: quick("alice-2")))
    await pool.run(2, lambda: quick("bob"))  # not held up by Alice's slow question
    assert finished == ["bob"]
    release_first.set()
    await asyncio.gather(alice_1, alice_2)
    assert finished == ["bob", "alice-1", "alice-2"]
    pool.shutdown()


async def test_a_question_far_back_in_the_queue_is_told_so() -> None:
    pool = QuestionPool(workers=1, notice_after=2)
    gate = threading.Event()
    told: dict[int, int] = {}

    def notice(user: int):  # type: ignore[no-untyped-def]
        async def say(ahead: int) -> None:
            told[user] = ahead

        return say

    tasks = [asyncio.create_task(pool.run(u, lambda: gate.wait(5), notice(u))) for u in range(6)]
    await asyncio.sleep(0.05)
    assert pool.pending == 6
    gate.set()
    await asyncio.gather(*tasks)
    assert told == {3: 3, 4: 4, 5: 5}  # more than two questions ahead of them
    assert pool.pending == 0
    pool.shutdown()
