"""Generative answers in the bot, streamed into one edited message: a recorded chat model stands
in for the LLM; the loopback server refuses edits as Telegram does."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from retrieval.assistant import Assistant
from retrieval.config import Settings
from testkit.loopback_botapi import TOKEN, LoopbackBotAPI
from tests.chat_models import RecordedChatModel
from tests.integration.bot_harness import (
    ALICE,
    ORAL,
    PROMPTS,
    TITLE_EN,
    Harness,
    buttons,
    settle,
    u,
    visible,
)

pytestmark = pytest.mark.timeout(900)


# -- generative answers, streamed ----------------------------------------------------------------

# What a model might write for ORAL: two sentences of Article 3(2) and one invented between
# them. The markers cite every passage; verification keeps the ones that support each claim.
ORAL_REPLY = (
    "An oral petition or denunciation shall be recorded by the receiving official on Form P-2 "
    '"Record of Oral Submission" [1][2][3][4]. '
    "An oral petition must be recorded within 99 days of the visit [1][2][3][4]. "
    "The petitioner shall receive a copy of the form [1][2][3][4]."
)


@pytest.fixture
def llm_assistant(assistant: Assistant) -> Callable[[RecordedChatModel], Assistant]:
    """An LLM-mode Assistant over the session's index, with a recorded model as its LLM."""

    def build(model: RecordedChatModel) -> Assistant:
        settings = assistant.settings.model_dump()
        settings["answer"]["mode"] = "llm"
        return Assistant(Settings.model_validate(settings), assistant.embeddings,
                         assistant.store, assistant.lexical, assistant.prompts,
                         chat_model=model)  # fmt: skip

    return build


async def streamed_answer(bot: Harness, question: str = ORAL) -> tuple[int, list[Any]]:
    """Ask; return the placeholder's id and its edits once the final one (with buttons) is in."""
    [placeholder] = await bot.say(ALICE, question)
    assert visible(placeholder) == PROMPTS.get("bot_searching", "en")
    message_id = bot.sent_message(ALICE)["message_id"]
    await bot.api.wait_for(
        lambda: any(e.params.get("reply_markup") for e in bot.api.edits_of(ALICE, message_id)),
        within=300,
    )
    await settle()
    return message_id, bot.api.edits_of(ALICE, message_id, ok=None)


async def test_an_llm_answer_is_streamed_into_one_message_verified_claims_only(
    make_bot: Callable[..., Awaitable[Harness]],
    llm_assistant: Callable[[RecordedChatModel], Assistant],
) -> None:
    model = RecordedChatModel(replies=[ORAL_REPLY], chunk_chars=4, delay_s=0.05)
    bot = await make_bot(llm_assistant(model))

    message_id, edits = await streamed_answer(bot)

    assert model.calls == ["stream"]
    assert len(bot.api.sent_to(ALICE)) == 1  # the placeholder; everything else is an edit
    assert all(e.status == 200 for e in edits)
    *progress, final = edits
    shown = [visible(e.params) for e in progress]
    assert shown[0] == PROMPTS.get("llm_writing", "en")
    assert any("Form P-2" in text for text in shown)  # a verified claim shown before the end
    assert all(not e.params.get("reply_markup") for e in progress)
    assert all(a != b for a, b in itertools.pairwise(shown))  # only when it changed
    sent = bot.api.calls_of("sendMessage")[-1]
    gaps = [b.at - a.at for a, b in itertools.pairwise([sent, *progress])]
    assert all(gap >= 0.9 for gap in gaps), gaps  # at most about once per second
    assert not any("99 days" in str(c.params) for c in bot.api.calls)  # never unverified text
    answer = visible(final.params)
    assert answer.startswith("An oral petition or denunciation shall be recorded")
    assert "The petitioner shall receive a copy of the form" in answer
    assert f"{TITLE_EN}, Article 3(2)" in answer
    assert {"📚 Sources", "👍", "👎"} <= set(buttons(final.params))
    for text in shown[1:]:  # progress is a beginning of the answer's own verified lines
        assert answer.startswith(text)
    assert bot.api.messages[(ALICE, message_id)]["text"] == answer
    [row] = bot.audit.rows()
    assert row["refused"] is False
    assert set(row["cited_doc_ids"]) == {"ig-2024-07.en.md"}


async def test_a_model_failing_mid_stream_and_refused_edits_still_deliver_an_answer(
    make_bot: Callable[..., Awaitable[Harness]],
    llm_assistant: Callable[[RecordedChatModel], Assistant],
) -> None:
    model = RecordedChatModel(replies=[ORAL_REPLY], chunk_chars=4, delay_s=0.02, fail_after=40)
    bot = await make_bot(llm_assistant(model))
    bot.api.fail_next("editMessageText", 1)  # flood control on the first progress edit

    _, edits = await streamed_answer(bot)

    assert edits[0].status == 429
    final = visible(edits[-1].params)
    assert final.startswith(PROMPTS.get("llm_unavailable", "en"))
    assert "Form P-2" in final
    assert f"[1] {TITLE_EN}, Article 3" in final
    assert len(bot.api.sent_to(ALICE)) == 1


async def test_an_answer_whose_placeholder_was_deleted_arrives_as_a_new_message(
    make_bot: Callable[..., Awaitable[Harness]],
    llm_assistant: Callable[[RecordedChatModel], Assistant],
) -> None:
    model = RecordedChatModel(replies=[ORAL_REPLY], chunk_chars=4, delay_s=0.03)
    bot = await make_bot(llm_assistant(model))
    user, chat = bot.chat(ALICE)
    bot.api.push_update(u.message(user, chat, ORAL))
    [placeholder] = await bot.api.wait_for(lambda: bot.api.sent_to(ALICE))
    bot.api.messages.clear()  # the user deleted it while the model was writing

    await bot.api.wait_for(lambda: len(bot.api.sent_to(ALICE)) == 2, within=300)
    answer = bot.api.sent_to(ALICE)[-1]
    assert visible(placeholder) == PROMPTS.get("bot_searching", "en")
    assert visible(answer).startswith("An oral petition or denunciation shall be recorded")
    assert "📚 Sources" in buttons(answer)
    refused = bot.api.calls_of("editMessageText", ok=False)
    assert refused
    assert all(c.status == 400 for c in refused)


async def test_a_long_streamed_answer_fills_the_placeholder_then_new_messages(
    make_bot: Callable[..., Awaitable[Harness]],
    llm_assistant: Callable[[RecordedChatModel], Assistant],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answerer = llm_assistant(RecordedChatModel(replies=[ORAL_REPLY]))
    real_ask = answerer.ask

    def long_ask(*args: Any, **kwargs: Any) -> Any:
        answer = real_ask(*args, **kwargs)
        answer.answer = "\n\n".join([answer.answer] * 40)
        return answer

    monkeypatch.setattr(answerer, "ask", long_ask)
    bot = await make_bot(answerer)
    user, chat = bot.chat(ALICE)
    bot.api.push_update(u.message(user, chat, ORAL))
    await bot.api.wait_for(
        lambda: bot.api.sent_to(ALICE) and buttons(bot.api.sent_to(ALICE)[-1]), within=300
    )

    _, *rest = bot.api.sent_to(ALICE)
    first = bot.api.messages[(ALICE, bot.sent_message(ALICE, 0)["message_id"])]
    assert rest
    assert not buttons(first)
    assert first["text"].startswith("An oral petition or denunciation shall be recorded")
    assert [bool(buttons(m)) for m in rest] == [False] * (len(rest) - 1) + [True]
    assert all(len(visible(m)) <= 4096 for m in rest)
    assert f"[1] {TITLE_EN}, Article 3" in visible(rest[-1])


async def test_a_failing_llm_assistant_removes_the_placeholder_and_apologises(
    make_bot: Callable[..., Awaitable[Harness]],
    llm_assistant: Callable[[RecordedChatModel], Assistant],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answerer = llm_assistant(RecordedChatModel(replies=[ORAL_REPLY]))

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("index exploded")

    monkeypatch.setattr(answerer, "ask", broken)
    bot = await make_bot(answerer)
    placeholder, apology = await bot.say(ALICE, ORAL, expect=2)
    assert visible(placeholder) == PROMPTS.get("bot_searching", "en")
    assert visible(apology) == PROMPTS.get("bot_error", "en")
    [deleted] = bot.api.calls_of("deleteMessage")
    assert deleted.params["message_id"] == bot.sent_message(ALICE, 0)["message_id"]


async def test_the_loopback_server_validates_edits_like_telegram() -> None:
    with LoopbackBotAPI() as api:
        api.add_chat(u.private_chat(u.user(ALICE)))
        async with httpx.AsyncClient(base_url=f"{api.base_url}{TOKEN}/") as client:

            async def call(method: str, **params: Any) -> dict[str, Any]:
                return dict((await client.post(method, json=params)).json())

            sent = await call("sendMessage", chat_id=ALICE, text="<b>Draft</b>", parse_mode="HTML")
            ids = {"chat_id": ALICE, "message_id": sent["result"]["message_id"]}
            same = await call("editMessageText", **ids, text="<b>Draft</b>", parse_mode="HTML")
            assert same["description"].startswith("Bad Request: message is not modified")
            plain = await call("editMessageText", **ids, text="Draft")  # entities differ
            assert plain["ok"]
            missing = await call("editMessageText", chat_id=ALICE, message_id=1, text="x")
            assert missing["description"] == "Bad Request: message to edit not found"
            assert (await call("deleteMessage", **ids))["ok"]
            assert not (await call("deleteMessage", **ids))["ok"]
            assert api.messages == {}
