"""Shared, expensive fixtures for the integration tests.

Embedding is the slow part (the real bundled model on CPU), so the sample corpus is indexed
once per session, one way: by the CLI itself, ``regula ingest corpus/sample --json`` in a
subprocess, which reads the repository's ``config.yaml``. Its report is kept for test_cli; the
index is reused read-only by the CLI, ingest and evaluation tests, and copied once for the bot
tests, which write to it (uploads, /forget, /reindex). Tests that need another index build their
own tiny corpus in ``tmp_path``.
"""

from __future__ import annotations

import datetime as dtm
import json
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.telegram_bot.app import build_application
from retrieval.assistant import Assistant
from retrieval.config import Settings
from testkit.corpus import open_assistant
from testkit.loopback_botapi import TOKEN, LoopbackBotAPI
from tests.integration.bot_harness import ADMIN, ALICE, BRUNO, BURST, GROUP, Harness
from tests.integration.helpers import IngestedCorpus, regula


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory) -> IngestedCorpus:
    """The sample corpus, indexed once by ``regula ingest corpus/sample --json``."""
    data_dir = tmp_path_factory.mktemp("sample") / "data"
    process = regula("ingest", "corpus/sample", "--json", "--data-dir", data_dir)
    assert process.returncode == 0, process.stderr
    return IngestedCorpus(data_dir, json.loads(process.stdout), process)


@pytest.fixture(scope="session")
def sample_assistant(sample_index: IngestedCorpus) -> Iterator[Assistant]:
    """An in-process Assistant over the session's sample index; tests must not write to it."""
    assistant = open_assistant(sample_index.data_dir)
    yield assistant
    assistant.close()


# -- the bot ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def index_dir(sample_index: IngestedCorpus, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bot tests' copy of the sample index: they may write to it."""
    data_dir = tmp_path_factory.mktemp("bot_index") / "data"
    shutil.copytree(sample_index.data_dir, data_dir)
    return data_dir


@pytest.fixture(scope="session")
def assistant(index_dir: Path) -> Iterator[Assistant]:
    a = open_assistant(index_dir)
    yield a
    a.close()


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
