"""Admin operations in one process are serialised: an upload during /reindex is queued, and the
admin is told so, instead of failing with IndexLockedError. A real Application, fed real
updates; the assistant is a stand-in whose reindex blocks until the test lets it finish."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram import Update

from bot.telegram_bot.app import build_application
from retrieval.config import Settings
from retrieval.models import IngestReport
from retrieval.prompts import Prompts
from testkit.loopback_botapi import TOKEN, LoopbackBotAPI, Updates

ADMIN = 12
PROMPTS = Prompts()
u = Updates()


class SlowAssistant:
    """Records the order of index writes; ``reindex`` waits for ``release``."""

    def __init__(self) -> None:
        self.prompts = PROMPTS
        self.release = threading.Event()
        self.running = 0
        self.overlapped = False
        self.order: list[str] = []

    def _write(self, name: str, wait: bool = False) -> IngestReport:
        self.running += 1
        self.overlapped |= self.running > 1
        self.order.append(f"{name} started")
        if wait:
            assert self.release.wait(30)
        self.order.append(f"{name} done")
        self.running -= 1
        return IngestReport(added=1, chunks=3)

    def reindex(self) -> IngestReport:
        return self._write("reindex", wait=True)

    def ingest_bytes(
        self, data: bytes, filename: str, metadata: dict[str, str] | None = None
    ) -> IngestReport:
        return self._write("upload")


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[tuple[Any, LoopbackBotAPI, SlowAssistant]]:
    assistant = SlowAssistant()
    with LoopbackBotAPI() as api:
        settings = Settings.model_validate({
            "storage": {"data_dir": str(tmp_path)},
            "telegram": {"api_base_url": api.base_url, "file_base_url": api.file_base_url},
            "access": {"admin_user_ids": [ADMIN]},
        })  # fmt: skip
        application = build_application(settings, assistant, TOKEN)  # type: ignore[arg-type]
        async with application:
            yield application, api, assistant
        application.bot_data["audit"].close()


async def test_an_upload_during_reindex_is_queued_not_failed(
    app: tuple[Any, LoopbackBotAPI, SlowAssistant],
) -> None:
    application, api, assistant = app
    admin = u.user(ADMIN)
    chat = api.add_chat(u.private_chat(admin))

    async def feed(payload: dict[str, Any]) -> None:
        update = Update.de_json({"update_id": 1, **payload}, application.bot)
        await application.process_update(update)

    reindex = asyncio.create_task(feed(u.message(admin, chat, "/reindex")))
    await api.wait_for(lambda: assistant.order == ["reindex started"], within=30)
    file = api.add_file("f1", b"# Memo\n\nArticle 1\n\nText.\n", "memo.md")
    upload = asyncio.create_task(feed(u.document(admin, chat, file, "memo.md")))
    busy = PROMPTS.get("bot_admin_busy", "en")
    await api.wait_for(lambda: any(m["text"] == busy for m in api.sent_to(ADMIN)), within=30)
    assert assistant.order == ["reindex started"]  # the upload waits its turn
    assistant.release.set()
    await asyncio.wait_for(asyncio.gather(reindex, upload), 30)
    assert assistant.order == ["reindex started", "reindex done", "upload started", "upload done"]
    assert not assistant.overlapped
    texts = [m["text"] for m in api.sent_to(ADMIN)]
    assert texts[-1] == PROMPTS.get("bot_upload_done", "en", filename="memo.md",
                                    **IngestReport(added=1, chunks=3).to_json())  # fmt: skip
    metrics = application.bot_data["metrics"].exposition().decode()
    assert 'regula_ingest_files_total{result="added"} 2.0' in metrics
