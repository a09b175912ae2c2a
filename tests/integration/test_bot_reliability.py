"""The bot under load and failure: a burst of users, Telegram's flood control, over-long answers,
markup Telegram refuses, a failing assistant, the per-user rate limit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bot.telegram_bot import telegram_html
from retrieval.assistant import Assistant
from testkit.loopback_botapi import TOKEN
from tests.integration.bot_harness import (
    ALICE,
    BRUNO,
    BURST,
    ORAL,
    PROMPTS,
    SOURCE_EN,
    TITLE_EN,
    Harness,
    buttons,
    settle,
    u,
    visible,
)

pytestmark = pytest.mark.timeout(900)


# -- reliability --------------------------------------------------------------------------------


async def test_thirty_users_at_once_each_get_exactly_one_answer(
    make_bot: Callable[..., Awaitable[Harness]],
) -> None:
    bot = await make_bot(workers=2, queue_notice_after=8)
    questions = [ORAL, "Who registers petitions?", "Can a denunciation be anonymous?"]
    queued = PROMPTS.get("bot_queued", "en", ahead=0).split("(")[0]

    def answers(user_id: int) -> list[str]:
        return [visible(m) for m in bot.api.sent_to(user_id) if not visible(m).startswith(queued)]

    for i, user_id in enumerate(BURST):
        user, chat = bot.chat(user_id)
        bot.api.push_update(u.message(user, chat, questions[i % 3]))
    await bot.api.wait_for(lambda: all(answers(uid) for uid in BURST), within=600)
    await settle()
    told = []
    for user_id in BURST:
        [reply] = answers(user_id)
        assert "[1]" in reply or PROMPTS.get("not_covered", "en") in reply
        *notices, last = [visible(m) for m in bot.api.sent_to(user_id)]
        assert last == reply  # a queued notice, if any, comes before the answer
        told.extend(user_id for notice in notices if notice.startswith(queued))
    # the pool answers at most one question per core at once: the last to arrive are told
    # that theirs is queued, the first are not
    assert told
    assert BURST[0] not in told
    assert len(bot.audit.rows()) == len(BURST)


async def test_a_connection_broken_under_the_answer_is_retried_and_the_answer_delivered(
    bot: Harness,
) -> None:
    bot.api.drop_next("sendMessage", 1, containing="Form P-2")
    [reply] = await bot.say(ALICE, ORAL)
    assert "Form P-2" in visible(reply)
    [dropped] = bot.api.calls_of("sendMessage", ok=False)
    assert dropped.status == 0  # the server closed the connection without an answer
    assert dropped.params["text"] == reply["text"]


async def test_a_queued_notice_that_cannot_be_sent_costs_no_answer(
    make_bot: Callable[..., Awaitable[Harness]],
) -> None:
    bot = await make_bot(workers=1, queue_notice_after=0)
    queued = PROMPTS.get("bot_queued", "en", ahead=0).split("(")[0]
    bot.api.drop_next("sendMessage", 10, containing=queued)  # more than any retry
    for user_id in (ALICE, BRUNO):
        user, chat = bot.chat(user_id)
        bot.api.push_update(u.message(user, chat, ORAL))
    await bot.api.wait_for(lambda: bot.api.sent_to(ALICE) and bot.api.sent_to(BRUNO), within=120)
    await settle()
    for user_id in (ALICE, BRUNO):
        [answer] = [visible(m) for m in bot.api.sent_to(user_id)]
        assert "Form P-2" in answer
    assert any(queued in c.params["text"] for c in bot.api.calls_of("sendMessage", ok=False))


async def test_flood_control_429_is_waited_out_and_the_answer_delivered(bot: Harness) -> None:
    bot.api.fail_next("sendMessage", 1)
    [reply] = await bot.say(ALICE, ORAL)
    assert "Form P-2" in visible(reply)
    [flooded] = bot.api.calls_of("sendMessage", ok=False)
    assert flooded.status == 429
    delivered = bot.api.calls_of("sendMessage")[-1]
    assert delivered.at - flooded.at >= 1.0


async def test_over_long_answer_is_split_into_valid_messages(
    bot: Harness, assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_ask = assistant.ask

    def long_ask(*args: Any, **kwargs: Any) -> Any:
        answer = real_ask(*args, **kwargs)
        answer.answer = "\n\n".join([answer.answer] * 25)
        return answer

    monkeypatch.setattr(assistant, "ask", long_ask)
    before = len(bot.api.sent_to(ALICE))
    bot.api.push_update(u.message(*bot.chat(ALICE), ORAL))
    await bot.api.wait_for(
        lambda: bot.api.sent_to(ALICE)[before:] and buttons(bot.api.sent_to(ALICE)[-1])
    )
    pieces = bot.api.sent_to(ALICE)[before:]
    assert len(pieces) >= 2
    assert bot.api.calls_of("sendMessage", ok=False) == []  # every piece accepted
    assert all(len(visible(p)) <= 4096 for p in pieces)
    assert [bool(buttons(p)) for p in pieces] == [False] * (len(pieces) - 1) + [True]
    assert f"[1] {TITLE_EN}, Article 3" in visible(pieces[-1])


async def test_markup_refused_by_telegram_is_resent_as_plain_text(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = telegram_html.render_answer
    monkeypatch.setattr(
        telegram_html, "render_answer", lambda a, p: real(a, p) + "<blink>!</blink>"
    )
    [reply] = await bot.say(ALICE, ORAL)
    [refused] = bot.api.calls_of("sendMessage", ok=False)
    assert refused.status == 400
    assert "parse_mode" not in reply
    assert "Form P-2" in reply["text"]
    assert f"{TITLE_EN} ({SOURCE_EN})" in reply["text"]
    assert buttons(reply)


async def test_a_failing_assistant_yields_an_apology_not_a_traceback(
    bot: Harness, assistant: Assistant, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"index exploded near {TOKEN}")

    monkeypatch.setattr(assistant, "ask", broken)
    [reply] = await bot.say(ALICE, ORAL)
    assert visible(reply) == PROMPTS.get("bot_error", "en")
    assert any(r.exc_info and "index exploded" in str(r.exc_info[1]) for r in caplog.records)


async def test_rate_limit_answers_a_friendly_message_once(
    make_bot: Callable[..., Awaitable[Harness]],
) -> None:
    bot = await make_bot(rate_limit_per_minute=2)
    user, chat = bot.chat(ALICE)
    for text in (ORAL, "Who registers petitions?", "third question", "fourth question"):
        bot.api.push_update(u.message(user, chat, text))
    await bot.api.wait_for(lambda: len(bot.api.sent_to(ALICE)) >= 3)
    await settle()
    texts = [visible(m) for m in bot.api.sent_to(ALICE)]
    assert len(texts) == 3
    assert sum(t.startswith("You are asking faster") for t in texts) == 1
