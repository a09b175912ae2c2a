"""Who may use the bot, and what its admins can do: strangers are denied on every update type;
uploads, /forget, /docs, /stats, /reindex, /help and /lang."""

from __future__ import annotations

import pytest

from retrieval.assistant import Assistant
from testkit import SAMPLE_FILES
from tests.integration.bot_harness import (
    ADMIN,
    ALICE,
    CORPUS_WORDS,
    GROUP,
    ORAL,
    PROMPTS,
    STRANGER,
    TITLE_EN,
    VEHICLES,
    Harness,
    Spy,
    buttons,
    settle,
    u,
    visible,
)

pytestmark = pytest.mark.timeout(900)


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

    started, done, found = await bot.send(
        u.document(admin, admin_chat, file, "vehicles.md"), ADMIN, 3
    )
    assert visible(started) == PROMPTS.get("bot_upload_started", "en", filename="vehicles.md")
    assert visible(done).startswith("Indexed vehicles.md: 1 added")
    assert visible(found) == "Articles found: 1–2."  # what the reader found, at once
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


MISORDERED = b"""# Circular on Archive Loans

## Article 1 - Loans

1. Files may be lent from the central archive for at most ten working days.
2. A file marked confidential may be lent only to an official cleared for its level.

## Article 3 - Returns

1. A lent file shall be returned to the archive desk in person.
2. The archivist shall check that every page is present before signing the loan off.

## Article 2 - Requests

1. A loan shall be requested on form AR-2 signed by the head of unit.
2. The request shall name the file, the purpose of the loan and the expected return date.
"""


async def test_an_upload_whose_article_headings_go_back_is_flagged_to_the_admin(
    bot: Harness, assistant: Assistant
) -> None:
    admin, admin_chat = bot.chat(ADMIN)
    file = bot.api.add_file("loans", MISORDERED, "loans.md")

    *_, found, warning = await bot.send(u.document(admin, admin_chat, file, "loans.md"), ADMIN, 4)

    assert visible(found) == "Articles found: 1, 3."  # Article 2 read as part of Article 3
    assert visible(warning) == PROMPTS.get("bot_upload_out_of_order", "en", headings="3 → 2")
    doc_id = next(d.doc_id for d in assistant.documents() if "Archive Loans" in d.title)
    [forgotten] = await bot.say(ADMIN, f"/forget {doc_id}")  # the shared index as it was
    assert visible(forgotten) == PROMPTS.get("bot_forget_done", "en", doc_id=doc_id)


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
    assert visible(docs).count("•") == len(SAMPLE_FILES)
    [denied] = await bot.say(ALICE, "/stats")
    assert visible(denied) == PROMPTS.get("bot_admin_only", "fr")
    [stats] = await bot.say(ADMIN, "/stats")
    assert f"documents: {len(SAMPLE_FILES)}" in visible(stats)
    started, done = await bot.say(ADMIN, "/reindex", expect=2)
    assert visible(started) == PROMPTS.get("bot_reindex_started", "en")
    assert f"{len(SAMPLE_FILES)} unchanged" in visible(done)
    commands = bot.api.calls_of("setMyCommands")
    assert len(commands) == 1 + len(PROMPTS.languages)


async def test_uploaded_parts_of_one_act_are_listed_under_it_and_a_doubt_is_said(
    bot: Harness, assistant: Assistant
) -> None:
    from tests.integration.test_parts import PER_ARTICLE, UNTOLD

    api = bot.api
    admin, admin_chat = bot.chat(ADMIN)
    uploads = {name: PER_ARTICLE[name] for name in ("cs-art-001.md", "cs-art-002.md")} | UNTOLD
    replies = {}
    for name, text in uploads.items():
        file = api.add_file(name, text.encode(), name)
        expected = 4 if name == "notice-b.md" else 3  # started, done, found (and the doubt)
        replies[name] = await bot.send(u.document(admin, admin_chat, file, name), ADMIN, expected)
    assert all(visible(r[1]).startswith(f"Indexed {n}: 1 added") for n, r in replies.items())
    assert visible(replies["cs-art-001.md"][2]) == "Articles found: 1."
    assert visible(replies["notice-a.md"][2]) == PROMPTS.get("bot_upload_no_articles", "en")
    doubt = visible(replies["notice-b.md"][3])
    assert doubt == PROMPTS.get(
        "bot_upload_doubt", "en", count=2, work="N-7", files="notice-a.md, notice-b.md"
    )
    [docs] = await bot.say(ADMIN, "/docs")
    act_line = PROMPTS.get("bot_docs_act", "en", count=2, articles="1–2", work="45/2019/CS")
    assert f"• Civil Service Code 2019: {act_line}" in visible(docs)
    assert "cs-art-001.md" not in visible(docs)
    [parts] = await bot.say(ADMIN, "/docs 45/2019/CS")
    assert visible(parts).index("cs-art-001.md") < visible(parts).index("cs-art-002.md")
    [snow] = await bot.say(ALICE, "By what time must sidewalks be cleared of snow?")
    [leave] = await bot.say(ALICE, "How many days of paid annual leave does an official get?")
    assert "seven in the morning" in visible(snow)
    assert "twenty-four working days" in visible(leave)
    for name in uploads:
        assistant.forget(name)


async def test_console_links_go_to_admins_in_private_chats_only(bot: Harness) -> None:
    [not_admin] = await bot.say(ALICE, "/console")
    assert visible(not_admin) == PROMPTS.get("bot_admin_only", "en")
    [off] = await bot.say(ADMIN, "/console")  # this bot serves no console (console.http_port)
    assert visible(off) == PROMPTS.get("bot_console_off", "en")
    admin = u.user(ADMIN)
    group = bot.api.add_chat(u.group_chat(GROUP))
    [in_group] = await bot.send(u.message(admin, group, "/console"), GROUP)
    assert visible(in_group) == PROMPTS.get("bot_console_private", "en")
    assert "/signin/" not in visible(in_group)
