"""Burst benchmark: N users ask at the same moment; how long until each gets the answer?

Runs the real Application (``build_application``) and the real Assistant over the sample
corpus, with Telegram replaced by the loopback Bot API server, so the figures are the bot's own
latency (queueing, worker threads, retrieval, formatting, HTTP) without Telegram's network.

    python benchmarks/bench_bot.py --users 30
    python benchmarks/bench_bot.py --data-dir data   # reuse an existing index
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dtm
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
from testkit import SAMPLE
from testkit.loopback_botapi import TOKEN, LoopbackBotAPI, Updates

QUESTIONS = (
    "How must an oral petition be recorded?",
    "Who registers petitions and denunciations?",
    "Can a denunciation be anonymous?",
    "Within how many days must a petition be answered?",
    "Comment une pétition orale est-elle consignée ?",
)
SAMPLES = ("ig-2024-07.en.md", "ig-2024-07.fr.md", "ig-2024-07.ar.md")


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


async def _burst(data_dir: Path, work: Path, users: int) -> None:
    assistant = Assistant.from_settings(
        Settings.model_validate({"storage": {"data_dir": str(data_dir)}})
    )
    user_ids = list(range(10_000, 10_000 + users + 1))
    with LoopbackBotAPI() as api:
        settings = Settings.model_validate({
            "storage": {"data_dir": str(work / "bot")},
            "telegram": {"api_base_url": api.base_url, "file_base_url": api.file_base_url},
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
            api.push_update(u.message(*chats[warm], QUESTIONS[0]))
            await api.wait_for(lambda: api.sent_to(warm), within=300)
            sent_at = time.monotonic()
            for i, uid in enumerate(burst):
                api.push_update(u.message(*chats[uid], QUESTIONS[i % len(QUESTIONS)]))
            await api.wait_for(lambda: all(api.sent_to(uid) for uid in burst), within=1800)
            await app.updater.stop()
            await app.stop()
        app.bot_data["audit"].close()
    assistant.close()
    replies = {
        c.params["chat_id"]: c.at
        for c in api.calls_of("sendMessage")
        if c.params["chat_id"] != warm
    }
    latencies = sorted((replies[uid] - sent_at) * 1000 for uid in burst)
    elapsed = max(replies.values()) - sent_at
    p50 = statistics.median(latencies)
    p95 = statistics.quantiles(latencies, n=20, method="inclusive")[18] if users > 1 else p50
    print(f"users {users}: reply latency p50 {p50:.0f} ms, p95 {p95:.0f} ms, "
          f"max {latencies[-1]:.0f} ms; throughput {users / elapsed:.1f} answers/s "
          f"({elapsed:.2f} s for the burst)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=30, help="users asking at once")
    parser.add_argument("--data-dir", type=Path, help="existing index (default: sample corpus)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="regula-bench-") as tmp:
        work = Path(tmp)
        data_dir = args.data_dir or _index(work)
        asyncio.run(_burst(data_dir, work, args.users))


if __name__ == "__main__":
    main()
