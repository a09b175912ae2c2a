"""When the corpus does not answer: the evidence score, two thresholds and three outcomes.

The evidence score of a question is the best question-passage cosine among the passages
retrieved for it (``evidence_score``). Two thresholds split it into three outcomes:

- ``score >= answer_above``: ``answer`` (the quotes, framed as the answer);
- ``not_covered_below <= score < answer_above``: ``closest`` (the closest passages, quoted with
  their citations, and said not to answer the question directly);
- ``score < not_covered_below``: ``not_covered`` (the nearest documents only).

Where the thresholds come from, each on its own: the ``answer`` setting when set (the legacy
``min_relevance`` fills both), else the ``Calibration`` that ``regula calibrate`` stored with the
index (``retrieval.answer.calibration``; ``regula ingest`` keeps it current), else
``DEFAULT_THRESHOLD`` (the old single cut-off, for an index never calibrated). This module is
pure: no store, no model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from retrieval.config import AnswerSettings
from retrieval.models import AnswerOutcome, Passage

DEFAULT_THRESHOLD = 0.785
"""Uncalibrated fallback: between the seed reports' answerable (>= 0.801) and unanswerable
(<= 0.772) questions."""

SIGNAL = "best_cosine"
"""The default evidence score's name (``answer.evidence``), stored with a calibration so
thresholds made on one signal are never read as another's."""

# Quantiles of the background questions' scores (``retrieval.answer.background``). The 0.97
# was chosen on the EU development set's tuning half and the sample set (the least
# out-of-scope questions answered among the quantiles that keep half of both sets' in-scope
# questions answered; README, "Refusal"); the 0.5 is the median, not tuned.
ANSWER_QUANTILE = 0.97
NOT_COVERED_QUANTILE = 0.5
# With a labelled QA file: at most this share of its in-scope questions may score below
# ``answer_above``.
QA_FALSE_REFUSALS = 0.05


def evidence_score(
    passages: Sequence[Passage], language_offsets: Mapping[str, float] | None = None
) -> float:
    """The best question-passage cosine among ``passages`` (0.0 when there are none).

    With ``language_offsets`` (``answer.evidence: centred``) each cosine first loses the
    question's pull towards text in the passage's language (its cosine to that language's
    centroid), whatever the text says. Measured on the EU development set's tuning half (one
    language), that separates answerable questions better with EmbeddingGemma (AUC 0.83 ->
    0.88) and not with the bundled model (0.67 -> 0.65); on the multilingual sample corpus it
    separates worse with EmbeddingGemma too. So it is an option, not the default. Other alternatives
    (margins over the other passages, z-scores against the documents, sentence cosines,
    latent-term coverage, agreement between the retrieval parts) did not separate near-topic
    unanswerable questions better on the tuning data (README, 'Refusal').
    """
    offsets = language_offsets or {}
    return max((p.dense_score - offsets.get(p.language, 0.0) for p in passages), default=0.0)


@dataclass(frozen=True)
class Thresholds:
    answer_above: float
    not_covered_below: float
    source: str
    """Where each came from: ``config``, ``calibration`` or ``default`` (``a/b`` if they differ)."""

    def decide(self, score: float) -> AnswerOutcome:
        if score >= self.answer_above:
            return "answer"
        if score >= self.not_covered_below:
            return "closest"
        return "not_covered"


@dataclass(frozen=True)
class Calibration:
    """Thresholds derived from the corpus, stored with the index (``VectorStore``)."""

    answer_above: float
    not_covered_below: float
    made_at: str
    """UTC time, ISO 8601."""
    revision: str
    """The index revision it was made on: another revision means the corpus changed since."""
    signal: str = SIGNAL
    method: str = "background"
    """``background`` (the bundled background questions) or ``background+qa`` (refined by a
    labelled file, ``qa_file``, which a recalibration after an ingest uses again)."""
    background_questions: int = 0
    background_median: float = 0.0
    background_max: float = 0.0
    qa_questions: int = 0
    qa_file: str = ""
    seconds: float = 0.0

    def record(self) -> dict[str, Any]:
        """As Chroma metadata (flat scalars)."""
        return asdict(self)

    @classmethod
    def from_record(cls, record: Mapping[str, Any], signal: str = SIGNAL) -> Calibration | None:
        """The stored calibration, if it was made on ``signal`` (the configured evidence)."""
        fields = cls.__dataclass_fields__
        values = {k: record[k] for k in fields if k in record}
        try:
            calibration = cls(**values)
        except TypeError:  # a record from another version, missing a field
            return None
        return calibration if calibration.signal == signal else None


def thresholds_configured(settings: AnswerSettings) -> bool:
    """Both thresholds come from the config, so a stored calibration would not be read."""
    return settings.min_relevance is not None or (
        settings.answer_above is not None and settings.not_covered_below is not None
    )


def thresholds_for(settings: AnswerSettings, calibration: Calibration | None) -> Thresholds:
    """Config first (each threshold on its own), then the calibration, then the default."""
    legacy = settings.min_relevance

    def pick(configured: float | None, calibrated: float | None) -> tuple[float, str]:
        if configured is not None:
            return configured, "config"
        if legacy is not None:
            return legacy, "config"
        if calibrated is not None:
            return calibrated, "calibration"
        return DEFAULT_THRESHOLD, "default"

    answer, answer_source = pick(
        settings.answer_above, calibration.answer_above if calibration else None
    )
    below, below_source = pick(
        settings.not_covered_below, calibration.not_covered_below if calibration else None
    )
    source = answer_source if answer_source == below_source else f"{answer_source}/{below_source}"
    return Thresholds(answer, min(below, answer), source)


def quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile of ``values`` (non-empty)."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def pick_thresholds(
    background: Sequence[float],
    in_scope: Sequence[float] = (),
) -> tuple[float, float]:
    """``(answer_above, not_covered_below)`` from score distributions.

    ``background``: scores of the background questions, which the corpus is not meant to
    answer: ``answer_above`` is their ``ANSWER_QUANTILE`` (an answer must score above 97 in 100
    of them), ``not_covered_below`` their median (a question further from the corpus than half
    of them gets only the nearest documents).

    ``in_scope`` (a labelled QA file's answerable questions, optional) refines this:
    ``answer_above`` becomes the highest value that leaves at most ``QA_FALSE_REFUSALS`` of
    them below it, and ``not_covered_below`` is lowered below every one of them.
    """
    if not background and not in_scope:
        return DEFAULT_THRESHOLD, DEFAULT_THRESHOLD
    if background:
        answer = quantile(background, ANSWER_QUANTILE)
        below = quantile(background, NOT_COVERED_QUANTILE)
    else:
        answer = below = DEFAULT_THRESHOLD
    if in_scope:
        ordered = sorted(in_scope)
        allowed = math.floor(QA_FALSE_REFUSALS * len(ordered))
        answer = ordered[allowed]
        below = min(below, ordered[0] - 0.001)
    return round(answer, 4), round(min(below, answer), 4)


def refusal_stats(
    settings: AnswerSettings, calibration: Calibration | None, revision: Callable[[], str]
) -> dict[str, Any]:
    """What ``regula stats`` shows of refusal: the thresholds in use, where they came from, the
    evidence signal, and the stored calibration (``stale`` once the index changed since; the
    index ``revision`` is read only then, a round trip in server mode)."""
    thresholds = thresholds_for(settings, calibration)
    stats: dict[str, Any] = {
        "answer_above": thresholds.answer_above,
        "not_covered_below": thresholds.not_covered_below,
        "source": thresholds.source,
        "evidence": settings.evidence,
        "calibrated_at": calibration.made_at if calibration else None,
    }
    if calibration is not None:
        stats["calibration"] = {
            "answer_above": calibration.answer_above,
            "not_covered_below": calibration.not_covered_below,
            "method": calibration.method,
            "background_questions": calibration.background_questions,
            "qa_questions": calibration.qa_questions,
            "stale": calibration.revision != revision(),
        }
    return stats
