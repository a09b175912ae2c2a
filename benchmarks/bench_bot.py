"""Burst benchmark: N users ask at the same moment; how long until each gets the answer?

Runs the real Application (``build_application``) and the real Assistant over the sample
corpus, with Telegram replaced by the loopback Bot API server, so the figures are the bot's own
latency (queueing, worker threads, retrieval, formatting, HTTP) without Telegram's network.
Every user asks a different question the process has not seen (the sample's QA questions, then
the same with a serial number). Each burst runs twice in one process: first a naive bot that
answers one question at a time (``telegram.workers: 1``, the baseline), then the bot as
configured (one worker per core by default); the ratio of the two is printed.

    python benchmarks/bench_bot.py --users 25,50
    python benchmarks/bench_bot.py --data-dir data   # reuse an existing index
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dtm
import json
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, not an install

from bot.telegram_bot.app import build_application
from retrieval.assistant import Assistant
from retrieval.config import Settings
from testkit import ROOT, SAMPLE
from testkit.loopback_botapi import TOKEN, LoopbackBotAPI, Updates

SAMPLES = ("ig-2024-07.en.md", "ig-2024-07.fr.md", "ig-2024-07.ar.md")
WARM_UP = "How must an oral petition be recorded?"


def questions(count: int, round_: int) -> list[str]:
    """``count`` questions never asked before in this process (``round_`` tells bursts apart)."""
    base = [json.loads(line)["question"] for line in (ROOT / "eval" / "sample_qa.jsonl").open()]
    return [f"{base[i % len(base)]} ({round_}.{i})" for i in range(count)]


def _index(work: Path) -> Path:
    corpus = work / "corpus"
    corpus.mkdir()
    for name in SAMPLES:
        shutil.copy(SAMPLE / name, corpus / name)
    data_dir = work / "index"
    assistant = Assistant.from_settings(
        Settings.model_validate({"storage": {"data_dir": str(data_dir)}})
    )
    started = time.perf_counter()
    report = assistant.ingest(sorted(corpus.iterdir()))
    assistant.close()
    print(f"indexed {report.added} documents, {report.chunks} passages "
          f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
    return data_dir


async def _burst(
    assistant: Assistant, work: Path, users: int, workers: int | None, round_: int
) -> list[float]:
    """Reply latencies (ms, sorted) of ``users`` questions sent at once."""
    user_ids = list(range(10_000, 10_000 + users + 1))
    with LoopbackBotAPI() as api:
        settings = Settings.model_validate({
            "storage": {"data_dir": str(work / f"bot-{round_}")},
            "telegram": {"api_base_url": api.base_url, "file_base_url": api.file_base_url,
                         "workers": workers},
            "access": {"allowed_user_ids": user_ids},
        })  # fmt: skip
        app = build_application(settings, assistant, TOKEN)
        u = Updates()
        chats = {}
        for uid in user_ids:
            user = u.user(uid)
            chats[uid] = (user, api.add_chat(u.private_chat(user)))
        async with app:
            await app.start()
            await app.updater.start_polling(poll_interval=0, timeout=dtm.timedelta(seconds=1))
            warm, *burst = user_ids  # the first question loads the model's lazy parts
            api.push_update(u.message(*chats[warm], f"{WARM_UP} ({round_})"))
            await api.wait_for(lambda: api.sent_to(warm), within=300)
            sent_at = time.monotonic()
            for uid, question in zip(burst, questions(users, round_), strict=True):
                api.push_update(u.message(*chats[uid], question))

            queued = assistant.prompts.get("bot_queued", "en", ahead=0).split("(")[0]

            def answered(uid: int) -> bool:  # a "queued" notice is not the answer
                return any(not m["text"].startswith(queued) for m in api.sent_to(uid))

            await api.wait_for(lambda: all(answered(uid) for uid in burst), within=1800)
            await app.updater.stop()
            await app.stop()
        app.bot_data["audit"].close()
    replies = {  # the last message to each chat is its answer
        c.params["chat_id"]: c.at
        for c in api.calls_of("sendMessage")
        if c.params["chat_id"] != warm
    }
    return sorted((replies[uid] - sent_at) * 1000 for uid in burst)


def _summary(latencies: list[float]) -> tuple[float, float, str]:
    p50 = statistics.median(latencies)
    p95 = statistics.quantiles(latencies, n=20, method="inclusive")[18]
    return (
        p50,
        p95,
        (
            f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {latencies[-1]:.0f} ms; "
            f"{len(latencies) / (latencies[-1] / 1000):.1f} answers/s"
        ),
    )


async def _bursts(data_dir: Path, work: Path, sizes: list[int], instances: int | None) -> None:
    assistant = Assistant.from_settings(
        Settings.model_validate(
            {"storage": {"data_dir": str(data_dir)}, "embeddings": {"instances": instances}}
        )
    )
    round_ = 0
    try:
        for users in sizes:
            results = {}
            for label, workers in (("one at a time (baseline)", 1), ("pool", None)):
                round_ += 1
                results[label] = _summary(await _burst(assistant, work, users, workers, round_))
                print(f"users {users}, {label}: {results[label][2]}", flush=True)
            (b50, b95, _), (p50, p95, _) = results.values()
            print(f"users {users}: pool / baseline p50 {p50 / b50:.2f}, p95 {p95 / b95:.2f}")
    finally:
        assistant.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="25,50", help="users asking at once, per burst")
    parser.add_argument(
        "--instances", type=int, default=None,
        help="embeddings.instances (default: the product's, one model copy per core)",
    )  # fmt: skip
    parser.add_argument("--data-dir", type=Path, help="existing index (default: sample corpus)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="regula-bench-") as tmp:
        work = Path(tmp)
        data_dir = args.data_dir or _index(work)
        sizes = [int(n) for n in args.users.split(",")]
        asyncio.run(_bursts(data_dir, work, sizes, args.instances))


if __name__ == "__main__":
    main()
