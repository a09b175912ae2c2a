"""``make ablate``: every quality figure the README states, per retrieval part and combined.

For each evaluation set the corpus is indexed once (under ``benchmarks/.cache/ablate/<set>``;
an unchanged corpus is not re-embedded), then every ``retrieval.mode`` answers every question:

    python benchmarks/ablate.py                        # all sets, all modes
    python benchmarks/ablate.py --sets eu-test --modes hybrid,dense
    python benchmarks/ablate.py --json > ablation.json
    python benchmarks/ablate.py --config egemma.yaml --tag egemma   # another model's indexes

Sets: ``seeds`` (../shared/corpus/seeds, seeds_qa.jsonl), ``sample`` (corpus/sample,
eval/sample_qa.jsonl), ``eu-tune`` and ``eu-test`` (the EU regulations exported by
../shared/eval/export_eu_corpus.py, eu_dev.jsonl split by eval/split_eu_dev.py). Settings come
from config.yaml and ``REGULA_*`` environment overrides, so another embedding provider or
weight is measured the same way. Every choice of threshold, weight or top-k is made on
``eu-tune``; ``eu-test`` is the held-out half the README reports.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, not an install

from retrieval.assistant import Assistant
from retrieval.config import load_settings
from retrieval.evaluation import (
    RECALL_AT,
    evaluate,
    load_ids,
    load_qa,
    stage_timings,
)
from testkit import ROOT, SHARED

CACHE = ROOT / "benchmarks" / ".cache" / "ablate"
EU_CORPUS = CACHE / "eu-corpus"
MODES = ("dense", "latent", "lexical", "hybrid")


@dataclass(frozen=True)
class EvalSet:
    name: str
    corpus: Path
    qa: Path
    ids: Path | None = None

    @property
    def index(self) -> str:
        return "eu" if self.name.startswith("eu") else self.name


SETS = {
    s.name: s
    for s in (
        EvalSet("seeds", SHARED / "corpus" / "seeds", SHARED / "eval" / "seeds_qa.jsonl"),
        EvalSet("sample", ROOT / "corpus" / "sample", ROOT / "eval" / "sample_qa.jsonl"),
        EvalSet(
            "eu-tune", EU_CORPUS, SHARED / "eval" / "eu_dev.jsonl", ROOT / "eval/eu_dev_tune.ids"
        ),
        EvalSet(
            "eu-test", EU_CORPUS, SHARED / "eval" / "eu_dev.jsonl", ROOT / "eval/eu_dev_test.ids"
        ),
    )
}


def export_eu_corpus() -> None:
    if EU_CORPUS.is_dir() and len(list(EU_CORPUS.glob("*.md"))) >= 404:
        return
    script = SHARED / "eval" / "export_eu_corpus.py"
    subprocess.run([sys.executable, str(script), "--out", str(EU_CORPUS)], check=True)


def run_set(
    eval_set: EvalSet, modes: list[str], config: Path, tag: str = ""
) -> list[dict[str, Any]]:
    if eval_set.index == "eu":
        export_eu_corpus()
    index = f"index-{eval_set.index}" + (f"-{tag}" if tag else "")
    settings = load_settings(config, data_dir=CACHE / index)
    assistant = Assistant.from_settings(settings)
    rows: list[dict[str, Any]] = []
    try:
        started = time.perf_counter()
        report = assistant.ingest([eval_set.corpus], progress=False)
        if report.failed:
            print(f"{eval_set.name}: {len(report.failed)} files failed to ingest", file=sys.stderr)
        ingest_s = time.perf_counter() - started
        items = load_qa(eval_set.qa)
        if eval_set.ids is not None:
            wanted = load_ids(eval_set.ids)
            items = [item for item in items if item.id in wanted]
        for mode in modes:
            settings.retrieval.mode = mode  # type: ignore[assignment]
            outcomes, summary = evaluate(
                items, lambda item: assistant.ask(item.question, retrieve=max(RECALL_AT))
            )
            overall = summary[-1]
            rows.append(
                {
                    "set": eval_set.name,
                    "mode": mode,
                    **{k: v for k, v in overall.items() if k != "lang"},
                    "by_language": {r["lang"]: r["hit"] for r in summary[:-1] if r["in_scope"]},
                    "stage_ms": stage_timings(outcomes),
                    "ingest_s": round(ingest_s, 1),
                }
            )
            print(_line(rows[-1]), file=sys.stderr, flush=True)
    finally:
        assistant.close()
    return rows


COLUMNS = ("set", "mode", "in_scope", "r@1", "r@4", "r@10", "hit", "quote_hit", "top1",
           "quote_p50", "quote_p95", "false_refusals", "oos_refused", "precision", "coverage",
           "oos_answered", "shown", "p50_ms")  # fmt: skip


def _line(row: dict[str, Any]) -> str:
    return "  ".join(f"{c}={row[c]}" for c in COLUMNS)


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " | worst language (hit) |"]
    lines.append("|" + "---|" * (len(COLUMNS) + 1))
    for row in rows:
        langs = {k: v for k, v in row["by_language"].items() if v is not None}
        worst = min(langs.items(), key=lambda kv: kv[1]) if langs else ("-", None)
        cells = ["-" if row[c] is None else str(row[c]) for c in COLUMNS]
        lines.append("| " + " | ".join(cells) + f" | {worst[0]} {worst[1]} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="seeds,sample,eu-tune,eu-test")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument(
        "--tag", default="", help="index folders index-<set>-<tag>: for another embedding model"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    for name in args.sets.split(","):
        eval_set = SETS[name]
        if not eval_set.qa.exists():
            print(f"{name}: skipped, {eval_set.qa} not found", file=sys.stderr)
            continue
        rows.extend(run_set(eval_set, args.modes.split(","), args.config, args.tag))
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        print(table(rows))
        for row in rows:
            by_lang = ", ".join(f"{k} {v}" for k, v in sorted(row["by_language"].items()))
            print(f"{row['set']} {row['mode']}: hit by language: {by_lang}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
