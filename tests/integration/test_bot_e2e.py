"""The bot end to end: the real Application from ``build_application`` and the real Assistant
over two sample directives (English and French), talking HTTP to the loopback Bot API server.

The last tests run ``regula serve`` itself in a subprocess, in polling and in webhook mode.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.telegram_bot import telegram_html
from bot.telegram_bot.app import build_application
from bot.telegram_bot.audit import AuditLog
from retrieval.assistant import Assistant
from retrieval.config import Settings
from retrieval.prompts import Prompts
from tests.chat_models import RecordedChatModel
from tests.integration.helpers import free_port, regula, start_chroma, stop_process
from tests.loopback_botapi import TOKEN, LoopbackBotAPI, Updates, visible_text

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(900)

ALICE, BRUNO, ADMIN, STRANGER = 101, 102, 103, 666
GROUP = -100200
BURST = list(range(1000, 1030))
SAMPLES = ("ig-2024-07.en.md", "ig-2024-07.fr.md")
TITLE_EN = "Directive on the Handling of Petitions and Denunciations"
SOURCE_EN = "https://lex.valdoria.example/ig-2024-07/en"
ORAL = "How must an oral petition be recorded?"
CORPUS_WORDS = ("Directive", "Petition", "petition", "Article", "P-2", "Inspectorate")
PROMPTS = Prompts()
u = Updates()

VEHICLES = b"""---
title: "Directive on the Use of Official Vehicles"
date: "2024-05-02"
language: en
---

# Directive on the Use of Official Vehicles

## Article 1 - Return of vehicles

1. Official vehicles shall be returned to the central motor pool by 19:00 on the day of use.
2. The driver shall record the odometer reading in the vehicle logbook when returning the vehicle.

## Article 2 - Fuel cards

1. Fuel cards may be used only for vehicles registered to the Inspectorate General.
"""


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two sample directives, ingested once for the whole session."""
    corpus = tmp_path_factory.mktemp("corpus")
    for name in SAMPLES:
        shutil.copy(ROOT / "corpus" / "sample" / name, corpus / name)
    data_dir = tmp_path_factory.mktemp("index")
    assistant = Assistant.from_settings(
        Settings.model_validate({"storage": {"data_dir": str(data_dir)}})
    )
    report = assistant.ingest([corpus / name for name in SAMPLES])
    assistant.close()
    assert report.failed == []
    assert report.added == 2
    return data_dir


@pytest.fixture(scope="session")
def assistant(index_dir: Path) -> Iterator[Assistant]:
    a = Assistant.from_settings(Settings.model_validate({"storage": {"data_dir": str(index_dir)}}))
    yield a
    a.close()


@dataclass
class Harness:
    api: LoopbackBotAPI
    app: Any
    audit: AuditLog

    def chat(self, user_id: int, language: str = "en") -> tuple[dict[str, Any], dict[str, Any]]:
        user = u.user(user_id, language)
        return user, self.api.add_chat(u.private_chat(user))

    async def send(
        self, update: dict[str, Any], chat_id: int, expect: int = 1, within: float = 180
    ) -> list[dict[str, Any]]:
        """Push an update; return the next ``expect`` messages the bot sends to ``chat_id``."""
        before = len(self.api.sent_to(chat_id))
        self.api.push_update(update)
        await self.api.wait_for(lambda: len(self.api.sent_to(chat_id)) >= before + expect, within)
        return self.api.sent_to(chat_id)[before:]

    async def say(self, user_id: int, text: str, expect: int = 1) -> list[dict[str, Any]]:
        user, chat = self.chat(user_id)
        return await self.send(u.message(user, chat, text), user_id, expect)

    def sent_message(self, chat_id: int, index: int = -1) -> dict[str, Any]:
        """The Message object Telegram returned for a sendMessage (for callbacks)."""
        calls = [c for c in self.api.calls_of("sendMessage") if c.params["chat_id"] == chat_id]
        return dict(calls[index].result)


@pytest.fixture
async def make_bot(
    assistant: Assistant, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[Harness]]]:
    """Start the real Application against a fresh loopback server; stop both afterwards."""
    started: list[Harness] = []

    async def start(answerer: Assistant | None = None, **telegram: Any) -> Harness:
        api = LoopbackBotAPI().start()
        settings = Settings.model_validate({
            "storage": {"data_dir": str(tmp_path / "bot")},
            "telegram": {"api_base_url": api.base_url, "file_base_url": api.file_base_url,
                         **telegram},
            "access": {"allowed_user_ids": [ALICE, BRUNO, *BURST], "admin_user_ids": [ADMIN],
                       "allowed_chat_ids": [GROUP]},
        })  # fmt: skip
        app = build_application(settings, answerer or assistant, TOKEN)
        harness = Harness(api, app, app.bot_data["audit"])
        started.append(harness)
        await app.initialize()
        await app.post_init(app)
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=dtm.timedelta(seconds=1))
        return harness

    yield start
    for harness in started:
        app = harness.app
        if app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.post_shutdown(app)
        await app.shutdown()
        harness.api.stop()


@pytest.fixture
async def bot(make_bot: Callable[..., Awaitable[Harness]]) -> Harness:
    return await make_bot()


def visible(message: dict[str, Any]) -> str:
    return visible_text(message["text"], message.get("parse_mode"))


def buttons(message: dict[str, Any]) -> dict[str, str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return {b["text"]: b["callback_data"] for row in rows for b in row}


async def settle(seconds: float = 1.0) -> None:
    """Give the bot time to send anything it should not have sent."""
    await asyncio.sleep(seconds)


class Spy:
    """Counts calls to the assistant's methods (wrapping the real ones)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, assistant: Assistant) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        for name in ("ask", "search", "translations_of", "documents", "ingest_bytes", "stats"):
            real = getattr(assistant, name)
            monkeypatch.setattr(assistant, name, self._wrap(name, real))

    def _wrap(self, name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args, kwargs))
            return real(*args, **kwargs)

        return wrapper


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
    closest = Assistant.from_settings(Settings.model_validate({
        "storage": {"data_dir": str(index_dir)},
        "answer": {"answer_above": 0.99, "not_covered_below": 0.0},
    }))  # fmt: skip
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


# -- access -------------------------------------------------------------------------------------


async def test_stranger_is_denied_on_every_update_type_and_learns_nothing(
    bot: Harness, assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    [answer] = await bot.say(ALICE, ORAL)  # a real answer whose buttons the stranger replays
    spy = Spy(monkeypatch, assistant)
    stranger, chat = bot.chat(STRANGER)
    api = bot.api
    mark = len(api.calls)
    denied = PROMPTS.get("bot_denied", "en")
    replies = await bot.send(u.message(stranger, chat, ORAL), STRANGER)
    assert [visible(m) for m in replies] == [denied]
    api.push_update(u.message(stranger, chat, "/docs"))
    api.push_update(u.message(stranger, chat, ORAL + "!", edited=True))
    forged = {**bot.sent_message(ALICE), "chat": chat}
    for data in buttons(answer).values():
        api.push_update(u.callback(stranger, forged, data))
    api.push_update(u.inline(stranger, "oral petition"))
    file = api.add_file("stranger-file", VEHICLES, "vehicles.md")
    api.push_update(u.document(stranger, chat, file, "vehicles.md"))
    group = api.add_chat(u.group_chat(GROUP))
    anonymous = u.message(u.user(1087968824), group, "/ask@regula_test_bot " + ORAL,
                          sender_chat=group)  # fmt: skip
    api.push_update(anonymous)
    await api.wait_for(lambda: len(api.calls_of("answerCallbackQuery")) == len(buttons(answer)))
    await api.wait_for(lambda: api.calls_of("answerInlineQuery") and api.sent_to(GROUP))
    await settle()
    assert [visible(m) for m in api.sent_to(STRANGER)] == [denied]  # once, then silence
    assert [visible(m) for m in api.sent_to(GROUP)] == [denied]  # the anonymous admin
    assert all(c.params["text"] == denied for c in api.calls_of("answerCallbackQuery"))
    assert [c.params["results"] for c in api.calls_of("answerInlineQuery")] == [[]]
    assert api.calls_of("getFile") == []
    assert api.calls_of("editMessageReplyMarkup") == []
    assert spy.calls == []  # nothing reached the assistant
    for call in api.calls[mark:]:
        if call.method in ("sendMessage", "answerCallbackQuery"):
            assert not any(w in call.params.get("text", "") for w in CORPUS_WORDS)
    assert [r["user_id"] for r in bot.audit.rows()] == [ALICE]


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


# -- administration -----------------------------------------------------------------------------


async def test_admin_uploads_a_document_then_it_answers_from_it(
    bot: Harness, assistant: Assistant
) -> None:
    api = bot.api
    admin, admin_chat = bot.chat(ADMIN)
    alice, alice_chat = bot.chat(ALICE)
    file = api.add_file("vehicles", VEHICLES, "vehicles.md")
    refused = await bot.send(u.document(alice, alice_chat, file, "vehicles.md"), ALICE)
    assert visible(refused[0]) == PROMPTS.get("bot_admin_only", "en")
    huge = {"file_id": "huge", "file_unique_id": "uhuge", "file_size": 50 * 1024 * 1024}
    [too_large] = await bot.send(u.document(admin, admin_chat, huge, "big.pdf"), ADMIN)
    assert "50.0 MB" in visible(too_large)
    [bad_type] = await bot.send(u.document(admin, admin_chat, file, "tool.exe"), ADMIN)
    assert ".pdf" in visible(bad_type)
    assert api.calls_of("getFile") == []  # all three refused before any download

    started, done = await bot.send(u.document(admin, admin_chat, file, "vehicles.md"), ADMIN, 2)
    assert visible(started) == PROMPTS.get("bot_upload_started", "en", filename="vehicles.md")
    assert visible(done).startswith("Indexed vehicles.md: 1 added")
    [reply] = await bot.say(
        ALICE, "By what time must official vehicles be returned to the motor pool?"
    )
    assert "19:00" in visible(reply)
    assert "[1] Directive on the Use of Official Vehicles" in visible(reply)

    doc_id = next(d.doc_id for d in assistant.documents() if "Vehicles" in d.title)
    [forgotten] = await bot.say(ADMIN, f"/forget {doc_id}")
    assert visible(forgotten) == PROMPTS.get("bot_forget_done", "en", doc_id=doc_id)
    [docs] = await bot.say(ADMIN, "/docs")
    assert "Vehicles" not in visible(docs)
    assert TITLE_EN in visible(docs)


async def test_commands_help_language_docs_stats_and_reindex(bot: Harness) -> None:
    [start] = await bot.say(ALICE, "/start")
    assert visible(start) == PROMPTS.get("bot_welcome", "en", name=f"User{ALICE}")
    [help_user] = await bot.say(ALICE, "/help")
    [help_admin] = await bot.say(ADMIN, "/help")
    assert "/reindex" not in visible(help_user)
    assert "/reindex" in visible(help_admin)
    [lang] = await bot.say(ALICE, "/lang fr")
    assert visible(lang) == PROMPTS.get("bot_lang_set", "fr", language="français")
    [help_fr] = await bot.say(ALICE, "/help")
    assert visible(help_fr).startswith("Posez votre question")
    [unknown] = await bot.say(ALICE, "/lang xx")
    assert "xx" in visible(unknown)
    [docs] = await bot.say(ALICE, "/docs")
    assert visible(docs).count("•") == 2
    [denied] = await bot.say(ALICE, "/stats")
    assert visible(denied) == PROMPTS.get("bot_admin_only", "fr")
    [stats] = await bot.say(ADMIN, "/stats")
    assert "documents: 2" in visible(stats)
    started, done = await bot.say(ADMIN, "/reindex", expect=2)
    assert visible(started) == PROMPTS.get("bot_reindex_started", "en")
    assert "2 unchanged" in visible(done)
    commands = bot.api.calls_of("setMyCommands")
    assert len(commands) == 1 + len(PROMPTS.languages)


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


# -- reliability --------------------------------------------------------------------------------


async def test_thirty_users_at_once_each_get_exactly_one_answer(bot: Harness) -> None:
    questions = [ORAL, "Who registers petitions?", "Can a denunciation be anonymous?"]
    for i, user_id in enumerate(BURST):
        user, chat = bot.chat(user_id)
        bot.api.push_update(u.message(user, chat, questions[i % 3]))
    await bot.api.wait_for(lambda: all(bot.api.sent_to(uid) for uid in BURST), within=600)
    await settle()
    for user_id in BURST:
        [reply] = bot.api.sent_to(user_id)
        assert "[1]" in visible(reply) or PROMPTS.get("not_covered", "en") in visible(reply)
    assert len(bot.audit.rows()) == len(BURST)


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


# -- `regula serve` -----------------------------------------------------------------------------


def _serve_environment(api: LoopbackBotAPI, data_dir: Path, **extra: str) -> dict[str, str]:
    """What ``regula serve`` needs to talk to ``api`` with ALICE allowed, plus ``extra``."""
    return {
        **os.environ,
        **extra,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "REGULA_STORAGE__DATA_DIR": str(data_dir),
        "REGULA_TELEGRAM__API_BASE_URL": api.base_url,
        "REGULA_TELEGRAM__FILE_BASE_URL": api.file_base_url,
        "REGULA_ACCESS__ALLOWED_USER_IDS": f"[{ALICE}]",
    }


@pytest.fixture
def serve_env(index_dir: Path, tmp_path: Path) -> Iterator[tuple[dict[str, str], LoopbackBotAPI]]:
    data_dir = tmp_path / "data"
    shutil.copytree(index_dir, data_dir)
    with LoopbackBotAPI() as api:
        yield _serve_environment(api, data_dir), api


def _serve(env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.terminal.cli", "serve",
         "--data-dir", env["REGULA_STORAGE__DATA_DIR"]],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _terminate(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"serve did not stop on SIGTERM:\n{err}")
    return proc.returncode, err


async def test_regula_serve_polls_answers_and_stops_on_sigterm(
    serve_env: tuple[dict[str, str], LoopbackBotAPI], tmp_path: Path
) -> None:
    env, api = serve_env
    proc = _serve(env, tmp_path)
    try:
        await api.wait_for(lambda: api.calls_of("setMyCommands"), within=120)
        alice = u.user(ALICE)
        chat = api.add_chat(u.private_chat(alice))
        api.push_update(u.message(alice, chat, ORAL))
        [reply] = await api.wait_for(lambda: api.sent_to(ALICE), within=120)
        assert f"[1] {TITLE_EN}, Article 3" in visible(reply)
    finally:
        code, err = _terminate(proc)
    assert code == 0, err
    assert TOKEN not in err


async def _wait_for_port(port: int, within: float) -> None:
    """Return once 127.0.0.1:port accepts connections; fail after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)
        else:
            writer.close()
            await writer.wait_closed()
            return


async def test_regula_serve_webhook_checks_the_secret_token(
    serve_env: tuple[dict[str, str], LoopbackBotAPI], tmp_path: Path
) -> None:
    env, api = serve_env
    port = free_port()
    env |= {
        "REGULA_TELEGRAM__MODE": "webhook",
        "REGULA_TELEGRAM__WEBHOOK_URL": f"http://127.0.0.1:{port}/hook",
        "REGULA_TELEGRAM__WEBHOOK_LISTEN": "127.0.0.1",
        "REGULA_TELEGRAM__WEBHOOK_PORT": str(port),
        "TELEGRAM_WEBHOOK_SECRET": "s3cret-value",
    }
    proc = _serve(env, tmp_path)
    try:
        await api.wait_for(lambda: api.webhook, within=120)
        assert api.webhook["url"] == f"http://127.0.0.1:{port}/hook"
        assert api.webhook["secret_token"] == "s3cret-value"
        # PTB registers the webhook before its server listens (Telegram retries; we wait).
        await _wait_for_port(port, within=60)
        alice = u.user(ALICE)
        chat = api.add_chat(u.private_chat(alice))
        update = {"update_id": 1, **u.message(alice, chat, ORAL)}
        async with httpx.AsyncClient() as client:
            hook = f"http://127.0.0.1:{port}/hook"
            forged = await client.post(hook, json=update)
            assert forged.status_code == 403
            real = await client.post(
                hook, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-value"}
            )
            assert real.status_code == 200
        [reply] = await api.wait_for(lambda: api.sent_to(ALICE), within=120)
        assert f"[1] {TITLE_EN}, Article 3" in visible(reply)
    finally:
        code, err = _terminate(proc)
    assert code == 0, err


def test_regula_serve_without_a_token_says_so(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    proc = subprocess.run(
        [sys.executable, "-m", "bot.terminal.cli", "serve", "--data-dir", str(tmp_path / "data")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "TELEGRAM_BOT_TOKEN is not set" in proc.stderr


def _metric(text: str, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


async def test_regula_serve_health_metrics_and_json_logs(
    serve_env: tuple[dict[str, str], LoopbackBotAPI], tmp_path: Path
) -> None:
    env, api = serve_env
    port = free_port()
    env |= {"REGULA_OPS__HTTP_PORT": str(port), "REGULA_LOGGING__FORMAT": "json"}
    proc = _serve(env, tmp_path)
    base = f"http://127.0.0.1:{port}"
    questions = [
        ORAL,
        "Who wrote the opera Carmen?",
        "Wie muss eine mündliche Petition erfasst werden?",
    ]
    try:
        await api.wait_for(lambda: api.calls_of("setMyCommands"), within=120)
        await _wait_for_port(port, within=60)
        async with httpx.AsyncClient() as client:
            before = (await client.get(base + "/metrics")).text
            assert _metric(before, "regula_questions_total") == 0
            alice = u.user(ALICE)
            chat = api.add_chat(u.private_chat(alice))
            for n, question in enumerate(questions, start=1):
                api.push_update(u.message(alice, chat, question))
                await api.wait_for(lambda n=n: len(api.sent_to(ALICE)) >= n, within=120)
            health = await client.get(base + "/healthz")
            after = (await client.get(base + "/metrics")).text
    finally:
        code, err = _terminate(proc)
    assert code == 0, err
    assert health.status_code == 200
    body = health.json()
    assert (body["status"], body["documents"]) == ("ok", 2)
    assert body["chunks"] > 0
    assert body["index_revision"]
    assert _metric(after, "regula_questions_total") == len(questions)
    assert _metric(after, "regula_answer_seconds_count") == len(questions)
    assert _metric(after, "regula_telegram_updates_total", type="message", allowed="true") == 3
    assert _metric(after, "regula_documents") == 2
    assert "Carmen" not in after
    assert str(ALICE) not in after
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(r["message"].startswith("bot @") and r["level"] == "INFO" for r in records)
    answers = [r for r in records if "outcome" in r]
    assert len(answers) == len(questions)
    for outcome in {r["outcome"] for r in answers}:  # the log and the metrics tell one story
        logged = [r["outcome"] for r in answers].count(outcome)
        assert _metric(after, "regula_questions_total", outcome=outcome) == logged
    assert all({"update_id", "language", "latency_ms"} <= r.keys() for r in answers)
    assert "Carmen" not in err  # questions are not logged by default
    assert TOKEN not in err


async def _health(client: httpx.AsyncClient, base: str) -> tuple[int, dict[str, Any]]:
    response = await client.get(base + "/healthz", timeout=30)
    return response.status_code, dict(response.json())


async def _wait_for_health(
    client: httpx.AsyncClient, base: str, status: int, within: float
) -> dict[str, Any]:
    """Poll /healthz until it answers ``status``; fail after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    seen: tuple[int, dict[str, Any]] | None = None
    while asyncio.get_running_loop().time() < deadline:
        seen = await _health(client, base)
        if seen[0] == status:
            return seen[1]
        await asyncio.sleep(0.5)
    pytest.fail(f"/healthz did not turn {status} within {within:.0f} s; last: {seen}")


async def test_regula_serve_in_server_mode_rides_out_a_chroma_outage(tmp_path: Path) -> None:
    """``regula serve`` on a real ``chroma run``: answers; with Chroma stopped, /healthz says 503
    and users are told the index is temporarily unavailable (the bot lives on); once Chroma is
    back on the same port and path, both recover by themselves."""
    chroma_port, ops_port = free_port(), free_port()
    chroma_path, chroma_log = tmp_path / "chroma", tmp_path / "chroma.log"
    data_dir = tmp_path / "data"
    server_mode = {"REGULA_VECTOR_STORE__MODE": "server",
                   "REGULA_VECTOR_STORE__PORT": str(chroma_port)}  # fmt: skip
    question_5 = "Where is an anonymous denunciation registered?"
    chroma = start_chroma(chroma_path, chroma_port, chroma_log)
    try:
        corpus = tmp_path / "corpus"
        corpus.mkdir()
        shutil.copy(ROOT / "corpus" / "sample" / SAMPLES[0], corpus / SAMPLES[0])
        ingested = regula("ingest", corpus, "--json", "--data-dir", data_dir, env=server_mode)
        assert ingested.returncode == 0, ingested.stderr
        assert json.loads(ingested.stdout)["added"] == 1
        assert not (data_dir / "chroma").exists()  # the documents are on the server
        with LoopbackBotAPI() as api:
            env = _serve_environment(
                api, data_dir, **server_mode, REGULA_OPS__HTTP_PORT=str(ops_port)
            )
            alice = u.user(ALICE)
            chat = api.add_chat(u.private_chat(alice))

            async def ask(question: str) -> str:
                before = len(api.sent_to(ALICE))
                api.push_update(u.message(alice, chat, question))
                await api.wait_for(lambda: len(api.sent_to(ALICE)) > before, within=120)
                [reply] = api.sent_to(ALICE)[before:]
                return visible(reply)

            proc = _serve(env, tmp_path)
            base = f"http://127.0.0.1:{ops_port}"
            try:  # the bot stops before the loopback API does (no polling errors at exit)
                await api.wait_for(lambda: api.calls_of("setMyCommands"), within=120)
                await _wait_for_port(ops_port, within=60)
                async with httpx.AsyncClient() as client:
                    assert f"[1] {TITLE_EN}, Article 3" in await ask(ORAL)
                    status, up = await _health(client, base)
                    assert (status, up["status"], up["documents"]) == (200, "ok", 1), up

                    stop_process(chroma)  # the Chroma server goes away
                    down = await _wait_for_health(client, base, 503, within=60)
                    assert down["status"] == "unavailable"
                    assert down["reason"]
                    assert await ask(question_5) == PROMPTS.get("bot_unavailable", "en")
                    assert proc.poll() is None  # the bot lives on

                    chroma = start_chroma(chroma_path, chroma_port, chroma_log)  # same place
                    back = await _wait_for_health(client, base, 200, within=60)
                    assert (back["documents"], back["index_revision"]) == (
                        1, up["index_revision"])  # fmt: skip
                    reply = await ask(question_5)
                    assert f"[1] {TITLE_EN}, Article 5" in reply, reply
                    metrics = (await client.get(base + "/metrics")).text
                assert proc.poll() is None
            finally:
                code, err = _terminate(proc)
    finally:
        stop_process(chroma)
    assert code == 0, err
    assert "Traceback" not in err, err  # the outage was handled, not crashed through
    assert "WARNING bot.telegram_bot.handlers: index unavailable for update" in err
    assert "WARNING bot.telegram_bot.ops: health check failed:" in err
    assert TOKEN not in err
    assert _metric(metrics, "regula_questions_total") == 3
    assert _metric(metrics, "regula_questions_total", outcome="unavailable") == 1
    assert _metric(metrics, "regula_errors_total") == 0
    assert _metric(metrics, "regula_documents") == 1
