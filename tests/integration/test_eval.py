"""Answer quality on the evaluation sets, through ``retrieval.evaluation`` and ``Assistant.ask``.

- seeds: five real news reports in five languages (``../shared/corpus/seeds``) and
  ``../shared/eval/seeds_qa.jsonl``; the bar is fixed: hit >= 0.9, every out-of-scope question
  refused, no in-scope question refused.
- sample: the ten fictional directives and ``eval/sample_qa.jsonl``; thresholds below are set
  by the lead while retrieval is being tuned.

Run with ``-s`` to see the summary tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from retrieval.answer.citations import check_markers, verify_quote
from retrieval.assistant import Assistant
from retrieval.evaluation import Outcome, evaluate, load_qa
from testkit import ROOT, SHARED
from testkit.corpus import open_assistant

pytestmark = pytest.mark.slow

SEEDS_CORPUS = SHARED / "corpus" / "seeds"
SEEDS_QA = SHARED / "eval" / "seeds_qa.jsonl"
SAMPLE_QA = ROOT / "eval" / "sample_qa.jsonl"

SEEDS_MIN_HIT = 0.9

# The sample set with the thresholds measured at ingest (README, "Calibration, at every
# ingest"): 0.947 / 0.559 / 1 of 7 out-of-scope answered / 0.765 shown when measured.
SAMPLE_MIN_PRECISION = 0.9
SAMPLE_MIN_COVERAGE = 0.5
SAMPLE_MAX_OOS_ANSWERED = 2
SAMPLE_MIN_SHOWN = 0.7


def run(assistant: Assistant, qa_file: Path) -> tuple[list[Outcome], dict[str, Any]]:
    """Evaluate as ``regula eval`` does; print the table and the misses; return the 'all' row."""
    outcomes, rows = evaluate(
        load_qa(qa_file), lambda item: assistant.ask(item.question, filters=item.filters())
    )
    print(f"\n{qa_file.name}")
    headers = list(rows[0])
    print("  ".join(f"{h:>14}" if h != "lang" else f"{h:4}" for h in headers))
    for row in rows:
        print("  ".join(f"{row[h]!s:>14}" if h != "lang" else f"{row[h]:4}" for h in headers))
    for o in outcomes:
        wrong = o.answer.refused != (o.item.kind == "out_of_scope") or (
            o.item.kind == "in_scope" and not o.hit
        )
        if wrong:
            verdict = "refused" if o.answer.refused else "answered"
            cited = ",".join(f"{c.doc_id} {c.locator}" for c in o.answer.citations) or "-"
            print(
                f"  MISS {o.item.id} {o.item.lang} {o.item.kind} {verdict} "
                f"rel={o.answer.relevance:.3f} cited={cited}: {o.item.question}"
            )
    overall = rows[-1]
    assert overall["lang"] == "all"
    return outcomes, overall


@pytest.fixture(scope="module")
def seeds_assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    if not SEEDS_CORPUS.is_dir() or not SEEDS_QA.is_file():
        pytest.skip(f"seed corpus not found: {SHARED} (the 'shared' folder beside the repo)")
    assistant = open_assistant(tmp_path_factory.mktemp("seeds") / "data")
    report = assistant.ingest([SEEDS_CORPUS], progress=False)
    assert report.failed == []
    assert report.added == len(list(SEEDS_CORPUS.iterdir()))
    yield assistant
    assistant.close()


@pytest.fixture(scope="module")
def seeds_run(seeds_assistant: Assistant) -> tuple[list[Outcome], dict[str, Any]]:
    return run(seeds_assistant, SEEDS_QA)


@pytest.fixture(scope="module")
def sample_run(sample_assistant: Assistant) -> tuple[list[Outcome], dict[str, Any]]:
    return run(sample_assistant, SAMPLE_QA)


def test_seeds_evaluation(seeds_run: tuple[list[Outcome], dict[str, Any]]) -> None:
    outcomes, overall = seeds_run

    out_of_scope = [o for o in outcomes if o.item.kind == "out_of_scope"]
    assert out_of_scope, "the seed set has out-of-scope questions"
    assert overall["hit"] >= SEEDS_MIN_HIT
    assert [o.item.id for o in out_of_scope if not o.answer.refused] == []
    assert overall["false_refusals"] == 0


def test_sample_evaluation(sample_run: tuple[list[Outcome], dict[str, Any]]) -> None:
    outcomes, overall = sample_run
    out_of_scope_answered = [
        o.item.id
        for o in outcomes
        if o.item.kind == "out_of_scope" and o.answer.outcome == "answer"
    ]

    # What is labelled an answer is right; the price is coverage: in-scope questions near
    # out-of-scope ones (a VAT deadline beside the asset-declaration deadline) are `closest`,
    # their passages still quoted ("shown").
    assert overall["precision"] >= SAMPLE_MIN_PRECISION
    assert overall["coverage"] >= SAMPLE_MIN_COVERAGE
    assert len(out_of_scope_answered) <= SAMPLE_MAX_OOS_ANSWERED, out_of_scope_answered
    assert overall["shown"] >= SAMPLE_MIN_SHOWN


@pytest.mark.parametrize("qa_set", ["seeds_run", "sample_run"])
def test_every_answer_quotes_verbatim_and_resolves_its_markers(
    qa_set: str, request: pytest.FixtureRequest
) -> None:
    outcomes, _ = request.getfixturevalue(qa_set)
    problems = []
    for o in outcomes:
        numbers = {c.n for c in o.answer.citations}
        if unresolved := check_markers(o.answer.answer, numbers):
            problems.append(f"{o.item.id}: markers {unresolved} cite nothing")
        problems.extend(
            f"{o.item.id} [{c.n}]: quote is not verbatim in its passage: {c.quote!r}"
            for c in o.answer.citations
            if not verify_quote(c.quote, c.text)
        )
        if o.answer.outcome == "not_covered" and o.answer.citations:
            problems.append(f"{o.item.id}: not covered but cites sources")  # closest cites

    assert problems == []
