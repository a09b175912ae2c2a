"""Refusal thresholds measured on the index itself: after every ingest that changed it, and by
``regula calibrate``.

The bundled background questions (``retrieval.answer.background``) are asked of the index; the
thresholds are quantiles of their scores (``refusal.pick_thresholds``). No labels are needed.
A labelled QA file (``regula calibrate --qa``) refines them; its path is stored with the
calibration, so the recalibration after the next ingest uses it again while it exists.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.answer.background import background_scores
from retrieval.answer.refusal import Calibration, pick_thresholds
from retrieval.errors import RegulaError
from retrieval.evaluation import load_qa
from retrieval.search.fusion import SearchFilters

if TYPE_CHECKING:
    from retrieval.assistant import Assistant


@dataclass
class CalibrationReport:
    """What ``regula calibrate`` prints: the stored calibration and the labelled file's rates."""

    calibration: Calibration
    qa: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        payload = self.calibration.record()
        if self.qa:
            payload["qa"] = self.qa
        return payload


def _score(
    assistant: Assistant, text: str, language: str, filters: SearchFilters | None = None
) -> float:
    """The evidence score ``Assistant.ask`` would decide on for ``text``."""
    vector = assistant.embeddings.embed_query_vector(text)
    k = assistant.settings.retrieval.k
    passages = assistant.searcher.search(text, language, k, filters, {}, vector)
    return assistant.evidence(passages[:k], vector)


def needs_calibration(calibration: Calibration | None, revision: str) -> bool:
    """An index whose thresholds were never measured, were measured on another revision of
    the corpus, or by the earlier pseudo-question method."""
    return (
        calibration is None
        or calibration.revision != revision
        or not calibration.method.startswith("background")
    )


def calibrate(assistant: Assistant, qa_path: Path | None = None) -> CalibrationReport:
    """Measure the index, store the thresholds with it and return what was found."""
    started = time.perf_counter()
    manifest = assistant.refresh()  # reloads only if the index changed since it was read
    if not manifest:
        msg = "the index holds no document: ingest some before calibrating"
        raise RegulaError(msg)
    revision = assistant.store.revision()
    by_language = background_scores(assistant)
    background = [score for scores in by_language.values() for score in scores]
    in_scope: list[float] = []
    out_of_scope: list[float] = []
    if qa_path is not None:
        for item in load_qa(qa_path):
            score = _score(assistant, item.question, assistant.detect_language(item.question))
            (out_of_scope if item.kind == "out_of_scope" else in_scope).append(score)
    answer_above, not_covered_below = pick_thresholds(background, in_scope)
    calibration = Calibration(
        answer_above=answer_above,
        not_covered_below=not_covered_below,
        made_at=datetime.now(UTC).isoformat(timespec="seconds"),
        revision=revision,
        signal=assistant.settings.answer.evidence,
        method="background+qa" if in_scope else "background",
        background_questions=len(background),
        background_median=round(statistics.median(background), 4),
        background_max=round(max(background), 4),
        qa_questions=len(in_scope) + len(out_of_scope),
        qa_file=str(qa_path.resolve()) if qa_path is not None and in_scope else "",
        seconds=round(time.perf_counter() - started, 1),
    )
    assistant.store.write_calibration(calibration.record())
    qa: dict[str, Any] = {}
    if in_scope or out_of_scope:
        qa = _rates(in_scope, out_of_scope, answer_above, not_covered_below)
    return CalibrationReport(calibration, qa)


def _rates(
    in_scope: list[float], out_of_scope: list[float], answer_above: float, below: float
) -> dict[str, Any]:
    """The labelled file at the chosen thresholds (the same questions that refined them)."""

    def share(values: list[float], test: Any) -> float | None:
        return round(sum(bool(test(v)) for v in values) / len(values), 3) if values else None

    return {
        "in_scope": len(in_scope),
        "out_of_scope": len(out_of_scope),
        "false_refusals": share(in_scope, lambda v: v < answer_above),
        "false_not_covered": share(in_scope, lambda v: v < below),
        "oos_handled": share(out_of_scope, lambda v: v < answer_above),
        "oos_not_covered": share(out_of_scope, lambda v: v < below),
    }
