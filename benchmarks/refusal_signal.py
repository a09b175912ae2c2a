"""How well the refusal signal separates answerable from unanswerable questions, per index.

For one index and a QA file (optionally one half of it, ``--ids``) this prints, for each
``answer.evidence`` signal, the ROC AUC of in-scope against out-of-scope questions, what a
``regula calibrate`` run would pick on that scale, and the rates those thresholds give:

- ``best_cosine``: the best question-passage cosine of the first ``k`` passages (the default);
- ``centred``: the same minus the question's cosine to the passage language's centroid (the
  pull a question has towards text in its own language, whatever the content).

Nothing is written to the index: the calibration is computed, not stored. Run it with the
environment of the model under test (e.g. ``REGULA_EMBEDDINGS__PROVIDER=openai_compatible …``).

    python benchmarks/refusal_signal.py --data-dir D ../shared/eval/eu_dev.jsonl \
        --ids eval/eu_dev_tune.ids
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from retrieval.answer.calibration import calibrate
from retrieval.assistant import Assistant
from retrieval.config import load_settings
from retrieval.evaluation import load_ids, load_qa
from testkit import ROOT


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """P(a random in-scope question scores above a random out-of-scope one)."""
    pairs = [(p > n) + 0.5 * (p == n) for p in positives for n in negatives]
    return float(np.mean(pairs)) if pairs else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("qa_file", type=Path)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--ids", type=Path)
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    settings = load_settings(args.config, data_dir=args.data_dir)
    assistant = Assistant.from_settings(settings)
    assistant.store.write_calibration = lambda record: None  # type: ignore[method-assign]
    items = load_qa(args.qa_file)
    if args.ids is not None:
        wanted = load_ids(args.ids)
        items = [item for item in items if item.id in wanted]
    k = settings.retrieval.k
    assistant.refresh()
    for name in ("best_cosine", "centred"):
        settings.answer.evidence = name
        scores: dict[str, list[float]] = {"in_scope": [], "out_of_scope": []}
        for item in items:
            vector = assistant.embeddings.embed_query_vector(item.question)
            language = assistant.detect_language(item.question)
            passages = assistant.searcher.search(
                item.question, language, k, item.filters(), {}, vector
            )
            scores[item.kind].append(assistant.evidence(passages[:k], vector))
        found = calibrate(assistant).calibration
        inside, outside = np.array(scores["in_scope"]), np.array(scores["out_of_scope"])
        q05 = float(np.quantile(inside, 0.05))
        print(
            f"{name:11} auc {auc(inside.tolist(), outside.tolist()):.3f}"
            f" | calibrated answer_above {found.answer_above:.4f}:"
            f" in-scope not answered {(inside < found.answer_above).mean():.2f},"
            f" out-of-scope handled {(outside < found.answer_above).mean():.2f}"
            f" | cut at in-scope 5 %: out-of-scope handled {(outside < q05).mean():.2f}"
            f" ({len(inside)} + {len(outside)} questions)"
        )


if __name__ == "__main__":
    main()
