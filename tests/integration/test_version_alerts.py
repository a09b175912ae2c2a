"""Change notices end to end: the real Application over the loopback Bot API server, and a
separate ``regula ingest`` process that adds a new version of a rule the bot quoted.

Alice asks (/asof set, then reset), a second process ingests DEC-7/2024 (15 days instead of 30,
from 2024-07-01) into the same index, and the running bot tells her once, within a minute,
with a button that asks the question again; Bruno, who sent ``/alerts off``, hears nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.telegram_bot.app import build_application
from retrieval.assistant import Assistant
from retrieval.config import Settings
from testkit.corpus import write_files
from testkit.loopback_botapi import TOKEN, LoopbackBotAPI, Updates, visible_text
from tests.integration import versions_corpus as vc
from tests.integration.helpers import regula

pytestmark = pytest.mark.timeout(600)

ALICE, BRUNO = 201, 202
u = Updates()


def visible(message: dict[str, Any]) -> str:
    return visible_text(message["text"], message.get("parse_mode"))


def buttons(message: dict[str, Any]) -> dict[str, str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return {b["text"]: b["callback_data"] for row in rows for b in row}


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[LoopbackBotAPI, Path, Any]]:
    corpus, data_dir = tmp_path / "corpus", tmp_path / "data"
    write_files(corpus, {"dec7-2020.en.md": vc.DEADLINE_2020})
    api = LoopbackBotAPI().start()
    settings = Settings.model_validate({
        "storage": {"data_dir": str(data_dir)},
        "telegram": {"api_base_url": api.base_url, "file_base_url": api.file_base_url},
        "access": {"allowed_user_ids": [ALICE, BRUNO]},
        "audit": {"notify_changes": True, "notify_interval_s": 1},
    })  # fmt: skip
    assistant = Assistant.from_settings(settings)
    assert assistant.ingest([corpus], progress=False).added == 1
    app = build_application(settings, assistant, TOKEN)
    await app.initialize()
    await app.post_init(app)
    await app.start()
    await app.updater.start_polling(poll_interval=0, timeout=dtm.timedelta(seconds=1))
    yield api, corpus, app
    await app.updater.stop()
    await app.stop()
    await app.post_shutdown(app)
    await app.shutdown()
    assistant.close()
    api.stop()


async def send(api: LoopbackBotAPI, update: dict[str, Any], chat_id: int) -> dict[str, Any]:
    before = len(api.sent_to(chat_id))
    api.push_update(update)
    await api.wait_for(lambda: len(api.sent_to(chat_id)) > before, 180)
    return api.sent_to(chat_id)[-1]


async def test_a_new_version_ingested_elsewhere_is_notified_once(
    running: tuple[LoopbackBotAPI, Path, Any],
) -> None:
    api, corpus, app = running
    alice, bruno = u.user(ALICE), u.user(BRUNO)
    alice_chat = api.add_chat(u.private_chat(alice))
    bruno_chat = api.add_chat(u.private_chat(bruno))

    reply = await send(api, u.message(alice, alice_chat, "/asof 2021-01-01"), ALICE)
    assert "2021-01-01" in visible(reply)
    reply = await send(api, u.message(alice, alice_chat, "/asof"), ALICE)
    assert "today" in visible(reply)
    reply = await send(api, u.message(bruno, bruno_chat, "/alerts off"), BRUNO)
    assert "off" in visible(reply)
    answer = await send(api, u.message(alice, alice_chat, vc.DEADLINE_Q), ALICE)
    assert "30 days" in visible(answer)
    answer = await send(api, u.message(bruno, bruno_chat, vc.DEADLINE_Q), BRUNO)
    assert "30 days" in visible(answer)
    sent_before = len(api.sent_to(ALICE))

    write_files(corpus, {"dec7-2024.en.md": vc.DEADLINE_2024})
    process = await asyncio.to_thread(regula, "ingest", corpus, "--json", "--data-dir",
                                      app.bot_data["settings"].storage.data_dir)  # fmt: skip
    assert process.returncode == 0, process.stderr
    ingested = asyncio.get_running_loop().time()

    await api.wait_for(lambda: len(api.sent_to(ALICE)) > sent_before, 60)
    assert asyncio.get_running_loop().time() - ingested < 60
    notice = api.sent_to(ALICE)[-1]
    text = visible(notice)
    assert vc.DEADLINE_Q in text
    assert "superseded by dec7-2024.en.md from 2024-07-01" in text
    again = buttons(notice)["🔁 Ask again"]

    # another index change later: the same answer is not notified a second time
    write_files(corpus, {"circ3.en.md": vc.LAMPS_2018})
    process = await asyncio.to_thread(regula, "ingest", corpus, "--json", "--data-dir",
                                      app.bot_data["settings"].storage.data_dir)  # fmt: skip
    assert process.returncode == 0, process.stderr
    await asyncio.sleep(4)
    assert len(api.sent_to(ALICE)) == sent_before + 1
    assert len([m for m in api.sent_to(BRUNO) if "superseded" in visible(m)]) == 0

    # "Ask again" answers from the version in force today
    message = next(
        dict(c.result) for c in api.calls_of("sendMessage")
        if c.params["chat_id"] == ALICE and "superseded" in str(c.params.get("text"))
    )  # fmt: skip
    fresh = await send(api, u.callback(alice, message, again), ALICE)
    assert "15 days" in visible(fresh)
    process = await asyncio.to_thread(regula, "audit", "changed", "--json", "--data-dir",
                                      app.bot_data["settings"].storage.data_dir)  # fmt: skip
    assert process.returncode == 0, process.stderr
    changed = json.loads(process.stdout)
    assert {c["question"] for c in changed} == {vc.DEADLINE_Q}
    assert len(changed) == 2  # Alice's (notified) and Bruno's (alerts off)
    assert changed[0]["changes"] == [
        {"doc_id": "dec7-2020.en.md", "title": "Decision on Permit Requests",
         "kind": "superseded", "since": "2024-07-01", "by": "dec7-2024.en.md"}
    ]  # fmt: skip
    rows = app.bot_data["audit"].rows()
    assert rows[0]["cited_versions"][0]["doc_id"] == "dec7-2020.en.md"
    assert rows[0]["notified"] == 1
