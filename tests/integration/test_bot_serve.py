"""``regula serve`` itself in a subprocess: polling and webhook mode, /healthz and /metrics, JSON
logs, and a Chroma server outage ridden out."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from testkit import SAMPLE, SAMPLE_FILES, free_port
from testkit.loopback_botapi import TOKEN, LoopbackBotAPI
from tests.integration.bot_harness import (
    ALICE,
    ORAL,
    PROMPTS,
    TITLE_EN,
    u,
    visible,
)
from tests.integration.helpers import regula, start_chroma, stop_process

pytestmark = pytest.mark.timeout(900)

ENGLISH = "ig-2024-07.en.md"  # the one document of the server-mode test


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
    assert (body["status"], body["documents"]) == ("ok", len(SAMPLE_FILES))
    assert body["chunks"] > 0
    assert body["index_revision"]
    assert _metric(after, "regula_questions_total") == len(questions)
    assert _metric(after, "regula_answer_seconds_count") == len(questions)
    assert _metric(after, "regula_telegram_updates_total", type="message", allowed="true") == 3
    assert _metric(after, "regula_documents") == len(SAMPLE_FILES)
    assert "Carmen" not in after
    # The user id as a number of its own: its digits also occur inside the _created timestamps.
    assert not re.search(rf"(?<![\d.]){ALICE}(?![\d.])", after)
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
        shutil.copy(SAMPLE / ENGLISH, corpus / ENGLISH)
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


async def test_regula_serve_runs_the_console_with_console_http_port(
    serve_env: tuple[dict[str, str], LoopbackBotAPI], tmp_path: Path
) -> None:
    """One process owns the embedded index: the bot answers, the console beside it shows the
    question; a link printed by `regula console --login-url` (another process) signs in."""
    env, api = serve_env
    port = free_port()
    env |= {"REGULA_CONSOLE__HTTP_PORT": str(port)}
    proc = _serve(env, tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        await api.wait_for(lambda: api.calls_of("setMyCommands"), within=120)
        await _wait_for_port(port, within=60)
        alice = u.user(ALICE)
        api.push_update(u.message(alice, api.add_chat(u.private_chat(alice)), ORAL))
        await api.wait_for(lambda: len(api.sent_to(ALICE)) >= 1, within=120)
        printed = await asyncio.to_thread(
            regula, "console", "--login-url", "--port", str(port),
            "--data-dir", env["REGULA_STORAGE__DATA_DIR"],
        )  # fmt: skip
        link = printed.stdout.strip()
        assert link.startswith(base + "/signin/"), printed.stderr
        async with httpx.AsyncClient() as client:
            assert (await client.get(base + "/questions")).status_code == 303
            signed = await client.post(link)
            assert signed.status_code == 303
            page = await client.get(base + "/questions", cookies=signed.cookies)
            replay = await client.post(link)
    finally:
        code, err = _terminate(proc)
    assert code == 0, err
    assert page.status_code == 200
    assert ORAL in page.text
    assert replay.status_code == 403
