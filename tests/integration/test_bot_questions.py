"""The bot answers questions end to end: the real Application from ``build_application`` and the
real Assistant over the sample index, talking HTTP to the loopback Bot API server (fixtures in
conftest.py). Answers, refusals, follow-ups, the buttons under an answer, inline mode, groups."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from retrieval.assistant import Assistant
from testkit.corpus import open_assistant
from testkit.loopback_botapi import visible_text
from tests.integration.bot_harness import (
    ALICE,
    BRUNO,
    GROUP,
    ORAL,
    PROMPTS,
    SOURCE_EN,
    TITLE_EN,
    Harness,
    Spy,
    buttons,
    settle,
    u,
    visible,
)

pytestmark = pytest.mark.timeout(900)


# -- answers ------------------------------------------------------------------------------------


async def test_question_is_answered_with_a_citation_of_the_right_document(bot: Harness) -> None:
    [reply] = await bot.say(ALICE, ORAL)
    shown = visible(reply)
    assert reply["parse_mode"] == "HTML"
    assert "Form P-2" in shown
    assert f"[1] {TITLE_EN}, Article 3" in shown
    assert f'<a href="{SOURCE_EN}">{TITLE_EN}</a>' in reply["text"]
    labels = buttons(reply)
    assert {"📚 Sources", "🌐 Other languages", "👍", "👎"} <= set(labels)
    assert bot.api.calls_of("sendChatAction")  # "typing…" while the assistant worked
    assert bot.api.calls_of("editMessageText") == []  # extractive: one message, not streamed
    [row] = bot.audit.rows()
    assert row["user_id"] == ALICE
    assert row["question"] == ORAL
    assert row["cited_doc_ids"][0] == "ig-2024-07.en.md"
    assert row["refused"] is False
    assert row["latency_ms"] > 0


async def test_short_follow_up_carries_the_previous_question(
    bot: Harness, assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(monkeypatch, assistant)
    await bot.say(ALICE, ORAL)
    [reply] = await bot.say(ALICE, "and denunciations?")
    asks = [kw for name, _, kw in spy.calls if name == "ask"]
    assert asks[0]["context"] is None
    assert asks[1]["context"] == ORAL
    assert "[1]" in visible(reply)


async def test_unrelated_question_is_refused_politely(bot: Harness) -> None:
    [reply] = await bot.say(ALICE, "What is the recipe for a chocolate cake with strawberries?")
    assert PROMPTS.get("not_covered", "en") in visible(reply)
    assert "📚 Sources" not in buttons(reply)
    assert bot.audit.rows()[0]["refused"] is True


async def test_closest_passages_are_shown_with_citations_not_as_the_answer(
    make_bot: Callable[..., Awaitable[Harness]], index_dir: Path
) -> None:
    """Between the two thresholds: the closest passages, quoted and cited, never framed as
    the answer (thresholds set so every question lands there)."""
    closest = open_assistant(index_dir, answer={"answer_above": 0.99, "not_covered_below": 0.0})
    try:
        bot = await make_bot(closest)
        [reply] = await bot.say(ALICE, ORAL)
    finally:
        closest.close()
    shown = visible(reply)
    assert shown.startswith(PROMPTS.get("closest_intro", "en"))
    assert PROMPTS.get("answer_intro", "en") not in shown
    assert PROMPTS.get("bot_closest_header", "en") in shown
    assert f"[1] {TITLE_EN}, Article 3" in shown
    assert "📚 Sources" in buttons(reply)
    [row] = bot.audit.rows()
    assert row["refused"] is True
    assert row["cited_doc_ids"][0] == "ig-2024-07.en.md"


async def test_a_question_naming_an_act_no_document_mentions_is_answered_with_the_closest(
    bot: Harness,
) -> None:
    [reply] = await bot.say(ALICE, "Under PSD2, how must an oral petition be recorded?")

    shown = visible(reply)
    assert shown.startswith(PROMPTS.get("closest_intro", "en"))
    assert PROMPTS.get("unknown_names", "en", names="PSD2") in shown
    assert PROMPTS.get("bot_closest_header", "en") in shown
    assert f"[1] {TITLE_EN}, Article 3" in shown
    assert bot.audit.rows()[0]["refused"] is True


# -- buttons ------------------------------------------------------------------------------------


async def test_sources_other_languages_and_feedback_buttons(bot: Harness) -> None:
    await bot.say(ALICE, ORAL)
    answer = bot.sent_message(ALICE)
    data = buttons(answer)
    alice, _ = bot.chat(ALICE)

    [sources] = await bot.send(u.callback(alice, answer, data["📚 Sources"]), ALICE)
    assert "<blockquote expandable>" in sources["text"]
    assert 'Form P-2 "Record of Oral Submission"' in visible(sources)

    [versions] = await bot.send(u.callback(alice, answer, data["🌐 Other languages"]), ALICE)
    assert "French" in visible(versions)
    assert "Procès-verbal de dépôt oral" in visible(versions)

    api = bot.api
    api.push_update(u.callback(alice, answer, data["👍"]))
    await api.wait_for(lambda: api.calls_of("editMessageReplyMarkup"))
    toasts = [c.params.get("text") for c in api.calls_of("answerCallbackQuery")]
    assert toasts[-1] == PROMPTS.get("bot_feedback_thanks", "en")
    [edit] = api.calls_of("editMessageReplyMarkup")
    kept = [b["text"] for row in edit.params["reply_markup"]["inline_keyboard"] for b in row]
    assert kept == ["📚 Sources", "🌐 Other languages"]
    assert bot.audit.rows()[0]["feedback"] == 1

    bruno, bruno_chat = bot.chat(BRUNO)  # a forged vote on Alice's row is not recorded
    api.push_update(u.callback(alice, answer, data["👎"]))
    api.push_update(u.callback(bruno, {**answer, "chat": bruno_chat}, data["👎"]))
    await api.wait_for(lambda: len(api.calls_of("answerCallbackQuery")) == 5)
    unknown = PROMPTS.get("bot_feedback_unknown", "en")
    assert [c.params.get("text") for c in api.calls_of("answerCallbackQuery")][-2:] == [
        unknown,
        unknown,
    ]
    assert bot.audit.rows()[0]["feedback"] == 1


async def test_inline_mode_offers_top_passages(bot: Harness) -> None:
    alice, _ = bot.chat(ALICE)
    bot.api.push_update(u.inline(alice, "oral petition Form P-2"))
    [call] = await bot.api.wait_for(lambda: bot.api.calls_of("answerInlineQuery"))
    results = call.params["results"]
    assert 1 <= len(results) <= 5
    assert results[0]["title"].startswith(TITLE_EN)
    content = results[0]["input_message_content"]
    assert content["parse_mode"] == "HTML"
    assert "P-2" in visible_text(content["message_text"], "HTML")
    assert call.params["is_personal"] is True


# -- groups -------------------------------------------------------------------------------------


async def test_in_groups_only_mentions_replies_and_ask_are_answered(bot: Harness) -> None:
    api = bot.api
    group = api.add_chat(u.group_chat(GROUP))
    member = u.user(4242)  # not individually allowed: the group is
    api.push_update(u.message(member, group, "lunch at noon?"))
    mention = u.message(member, group, "@regula_test_bot " + ORAL,
                        entities=[{"type": "mention", "offset": 0, "length": 16}])  # fmt: skip
    [answered] = await bot.send(mention, GROUP)
    assert "Form P-2" in visible(answered)
    reply = u.message(member, group, "and denunciations?",
                      reply_to_message=bot.sent_message(GROUP))  # fmt: skip
    [followed] = await bot.send(reply, GROUP)
    assert "[1]" in visible(followed)
    [asked] = await bot.send(u.message(member, group, "/ask@regula_test_bot " + ORAL), GROUP)
    assert "Form P-2" in visible(asked)
    await settle()
    assert len(api.sent_to(GROUP)) == 3  # the chatter got nothing
