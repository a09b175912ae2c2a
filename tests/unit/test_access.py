"""Access rules on real ``telegram.Update`` objects, and the gate inside a real Application.

The gate tests feed updates to the Application built by ``build_application`` (the bot's HTTP
calls go to the loopback server) with an assistant that fails the test if it is ever called.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram import Update

from bot.telegram_bot.access import GROUP_ANONYMOUS_BOT, AccessPolicy, addressed_text
from bot.telegram_bot.app import build_application
from retrieval.config import AccessSettings, Settings
from retrieval.prompts import Prompts
from testkit.loopback_botapi import BOT_USER, TOKEN, LoopbackBotAPI, Updates

ALLOWED, ADMIN, STRANGER = 11, 12, 99
GROUP, OTHER_GROUP = -1001, -1002
u = Updates()


def policy(**kw: Any) -> AccessPolicy:
    settings = {"allowed_user_ids": [ALLOWED], "allowed_chat_ids": [GROUP],
                "admin_user_ids": [ADMIN]} | kw  # fmt: skip
    return AccessPolicy(AccessSettings.model_validate(settings))


def update(payload: dict[str, Any]) -> Update:
    return Update.de_json({"update_id": 1, **payload}, None)


def private(user_id: int, text: str = "hello", **kw: Any) -> Update:
    user = u.user(user_id)
    return update(u.message(user, u.private_chat(user), text, **kw))


def in_group(user_id: int, chat_id: int = GROUP, **kw: Any) -> Update:
    return update(u.message(u.user(user_id), u.group_chat(chat_id), "hi @regula_test_bot", **kw))


@pytest.mark.parametrize(
    ("made", "allowed"),
    [
        (lambda: private(ALLOWED), True),
        (lambda: private(ADMIN), True),
        (lambda: private(STRANGER), False),
        (lambda: private(ALLOWED, edited=True), True),
        (lambda: private(STRANGER, edited=True), False),
        (lambda: in_group(STRANGER), True),  # any member of an allowed group
        (lambda: in_group(ALLOWED, OTHER_GROUP), False),  # others there would read answers
        (lambda: in_group(ADMIN, OTHER_GROUP), False),
        (lambda: update(u.inline(u.user(ALLOWED), "petition")), True),
        (lambda: update(u.inline(u.user(STRANGER), "petition")), False),
        (lambda: update(u.inline(u.user(ADMIN), "petition")), True),
    ],
)
def test_allowlists(made: Any, allowed: bool) -> None:
    assert policy().allows(made()) is allowed


def test_anonymous_admins_channels_and_bots_are_strangers() -> None:
    group = u.group_chat(GROUP)
    anonymous = update(u.message(u.user(GROUP_ANONYMOUS_BOT), group, "hi", sender_chat=group))
    as_channel = update(
        u.message(u.user(136817688), group, "hi", sender_chat={"id": -1009, "type": "channel"})
    )
    spoofed = update(u.message(u.user(ALLOWED), group, "hi", sender_chat=group))
    bot = update(u.message({**u.user(ALLOWED), "is_bot": True}, u.private_chat(u.user(ALLOWED))))
    channel_post = update(
        {
            "channel_post": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": GROUP, "type": "channel"},
                "text": "hi",
            }
        }
    )
    p = policy()
    for made in (anonymous, as_channel, spoofed, bot, channel_post):
        assert not p.allows(made)


def test_callbacks_follow_the_chat_of_their_message() -> None:
    bot_message = {"message_id": 5, "date": 0, "chat": u.group_chat(GROUP), "from": BOT_USER}
    assert policy().allows(update(u.callback(u.user(STRANGER), bot_message, "src:x")))
    private_message = {**bot_message, "chat": u.private_chat(u.user(STRANGER))}
    assert not policy().allows(update(u.callback(u.user(STRANGER), private_message, "src:x")))


def test_empty_configuration_refuses_everyone() -> None:
    closed = policy(allowed_user_ids=[], allowed_chat_ids=[], admin_user_ids=[])
    assert closed.closed
    assert not closed.allows(private(ALLOWED))
    assert not closed.allows(in_group(ALLOWED))


def test_refusal_is_remembered_per_key_with_a_cooldown_and_bounded_memory() -> None:
    now = [0.0]
    p = AccessPolicy(AccessSettings(), refusal_cooldown=100, remembered=3, clock=lambda: now[0])
    assert p.first_refusal(1)
    assert not p.first_refusal(1)
    now[0] = 101
    assert p.first_refusal(1)
    for key in (2, 3, 4):
        assert p.first_refusal(key)
    assert len(p._refused) == 3  # the oldest key was forgotten


def test_addressed_text_strips_our_mention_and_ignores_others() -> None:
    group = u.group_chat(GROUP)

    def message(text: str, **kw: Any) -> Any:
        return update(u.message(u.user(ALLOWED), group, text, **kw)).message

    mention = message(
        "@regula_test_bot how is a petition registered?",
        entities=[{"type": "mention", "offset": 0, "length": 16}],
    )
    assert addressed_text(mention, BOT_USER["id"], "regula_test_bot") == (
        "how is a petition registered?"
    )
    other = message("@someone_else hi", entities=[{"type": "mention", "offset": 0, "length": 13}])
    assert addressed_text(other, BOT_USER["id"], "regula_test_bot") is None
    reply = message("and for denunciations?", reply_to_message={
        "message_id": 3, "date": 0, "chat": group, "from": BOT_USER, "text": "…"})  # fmt: skip
    assert addressed_text(reply, BOT_USER["id"], "regula_test_bot") == "and for denunciations?"
    plain = message("just chatting")
    assert addressed_text(plain, BOT_USER["id"], "regula_test_bot") is None


class UntouchableAssistant:
    """Stands in for the assistant; a stranger's update must never reach it."""

    def __init__(self) -> None:
        self.prompts = Prompts()

    def __getattr__(self, name: str) -> Any:
        pytest.fail(f"a refused update reached the assistant ({name})")


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[tuple[Any, LoopbackBotAPI]]:
    with LoopbackBotAPI() as api:
        settings = Settings.model_validate({
            "storage": {"data_dir": str(tmp_path)},
            "telegram": {"api_base_url": api.base_url, "file_base_url": api.file_base_url},
            "access": {"allowed_user_ids": [ALLOWED], "allowed_chat_ids": [GROUP]},
        })  # fmt: skip
        application = build_application(settings, UntouchableAssistant(), TOKEN)  # type: ignore[arg-type]
        async with application:
            yield application, api
        application.bot_data["audit"].close()


async def feed(application: Any, payload: dict[str, Any]) -> None:
    await application.process_update(Update.de_json({"update_id": 1, **payload}, application.bot))


async def test_gate_refuses_once_then_stays_silent(app: tuple[Any, LoopbackBotAPI]) -> None:
    application, api = app
    stranger = u.user(STRANGER, "fr")
    chat = api.add_chat(u.private_chat(stranger))
    for text in ("How is a petition registered?", "/docs", "/start"):
        await feed(application, u.message(stranger, chat, text))
    await feed(application, u.message(stranger, chat, "edited question", edited=True))
    sent = api.sent_to(STRANGER)
    assert [m["text"] for m in sent] == [Prompts().get("bot_denied", "fr")]


async def test_gate_answers_inline_and_callbacks_without_content(
    app: tuple[Any, LoopbackBotAPI],
) -> None:
    application, api = app
    stranger = u.user(STRANGER)
    chat = api.add_chat(u.private_chat(stranger))
    await feed(application, u.inline(stranger, "petition"))
    bot_message = {"message_id": 5, "date": 0, "chat": chat, "from": BOT_USER, "text": "x"}
    await feed(application, u.callback(stranger, bot_message, "src:0123456789ab"))
    [inline] = api.calls_of("answerInlineQuery")
    assert inline.params["results"] == []
    [toast] = api.calls_of("answerCallbackQuery")
    assert toast.params["text"] == Prompts().get("bot_denied", "en")
    assert api.calls_of("sendMessage") == []


async def test_gate_ignores_unaddressed_group_chatter_from_strangers(
    app: tuple[Any, LoopbackBotAPI],
) -> None:
    application, api = app
    chat = api.add_chat(u.group_chat(OTHER_GROUP))
    await feed(application, u.message(u.user(ALLOWED), chat, "chatting among ourselves"))
    assert api.calls_of("sendMessage") == []
    await feed(application, u.message(u.user(ALLOWED), chat, "/ask@regula_test_bot petition?"))
    assert len(api.sent_to(OTHER_GROUP)) == 1


async def test_gate_stops_the_update_even_when_the_refusal_cannot_be_sent(
    app: tuple[Any, LoopbackBotAPI],
) -> None:
    application, api = app
    stranger = u.user(STRANGER)
    chat = u.private_chat(stranger)  # unknown to the server: sendMessage fails "chat not found"
    await feed(application, u.message(stranger, chat, "How is a petition registered?"))
    [failed] = api.calls_of("sendMessage", ok=False)
    assert failed.result is None
    assert api.calls_of("sendMessage") == []  # and no handler ran (the assistant is untouched)
