"""Questions the process has never seen: what one costs, against one query embedding.

Indexes a corpus (default: the sample corpus; ``--corpus`` another folder, ``--data-dir`` an
existing index), warms the process with one question, then asks every question of a QA file
once, each made unseen by a serial number, so no cache of this process has met it. The
baseline, measured in the same run on the same questions, is the bundled model embedding the
question alone: the least any answer costs.

    python benchmarks/bench_unseen.py
    python benchmarks/bench_unseen.py --corpus benchmarks/.cache/ablate/eu-corpus \\
        --qa ../shared/eval/eu_dev.jsonl --data-dir benchmarks/.cache/ablate/index-eu
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, not an install

from retrieval.assistant import Assistant
from retrieval.config import load_settings
from testkit import CONFIG, ROOT, SAMPLE


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=SAMPLE)
    parser.add_argument("--qa", type=Path, default=ROOT / "eval" / "sample_qa.jsonl")
    parser.add_argument("--data-dir", type=Path, help="an index to reuse (default: a new one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="regula-unseen-") as tmp:
        settings = load_settings(CONFIG, data_dir=args.data_dir or Path(tmp))
        assistant = Assistant.from_settings(settings)
        try:
            report = assistant.ingest([args.corpus], progress=False)
            chunks = assistant.stats()["chunks"]
            print(f"index: {len(assistant.documents())} documents, {chunks} chunks "
                  f"({report.added + report.updated} indexed now)")  # fmt: skip
            questions = [json.loads(line)["question"] for line in args.qa.open(encoding="utf-8")]
            assistant.ask("How must an oral petition be recorded?")  # loads what is lazy
            answers, embeds = [], []
            for i, question in enumerate(questions):
                unseen = f"{question} ({i})"
                started = time.perf_counter()
                assistant.embeddings.bundled.encode([unseen], True)
                embeds.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                assistant.ask(f"{unseen}.")  # not the text just embedded: no cache helps
                answers.append((time.perf_counter() - started) * 1000)
        finally:
            assistant.close()
    a50, a95 = statistics.median(answers), _percentile(answers, 0.95)
    e50 = statistics.median(embeds)
    print(f"{len(questions)} unseen questions: answer p50 {a50:.0f} ms, p95 {a95:.0f} ms; "
          f"one query embedding p50 {e50:.1f} ms; p50 / embedding {a50 / e50:.1f}x, "
          f"p95 / p50 {a95 / a50:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
