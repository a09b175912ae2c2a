"""When the corpus does not answer: the evidence score, two thresholds and three outcomes.

The evidence score of a question is the best question-passage cosine among the passages
retrieved for it (``evidence_score``). Two thresholds split it into three outcomes:

- ``score >= answer_above``: ``answer`` (the quotes, framed as the answer);
- ``not_covered_below <= score < answer_above``: ``closest`` (the closest passages, quoted with
  their citations, and said not to answer the question directly);
- ``score < not_covered_below``: ``not_covered`` (the nearest documents only).

Where the thresholds come from, each on its own: the ``answer`` setting when set (the legacy
``min_relevance`` fills both), else the ``Calibration`` that ``regula calibrate`` stored with the
index (``retrieval.answer.calibration``), else ``DEFAULT_THRESHOLD`` (today's single cut-off, so an
uncalibrated index behaves as before). This module is pure: no store, no model.
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

# Quantiles of the leave-one-document-out (unanswerable) pseudo-question scores.
ANSWER_QUANTILE = 0.9
NOT_COVERED_QUANTILE = 0.1
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
    method: str = "pseudo"
    """``pseudo`` (the corpus's own passages) or ``pseudo+qa`` (refined by a labelled file)."""
    pseudo_questions: int = 0
    answerable_median: float = 0.0
    answerable_answered: float = 0.0
    """Share of the pseudo-questions asked with their source document that score
    ``>= answer_above`` (a sanity check: pseudo-questions quote their passage, so it is high)."""
    unanswerable_median: float = 0.0
    unanswerable_q90: float = 0.0
    qa_questions: int = 0
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
    unanswerable: Sequence[float],
    in_scope: Sequence[float] = (),
) -> tuple[float, float]:
    """``(answer_above, not_covered_below)`` from score distributions.

    ``unanswerable``: scores of questions the corpus cannot answer although it is near their
    topic (leave-one-document-out pseudo-questions): ``answer_above`` is their 0.9 quantile
    (nine in ten such questions are not given as answered), ``not_covered_below`` their 0.1
    quantile (a question further from the corpus than nine in ten near-topic unanswerable
    ones gets only the nearest documents). The 0.1 was chosen on the sample set (tuning
    data): 0.25 sent 6 of its 30 in-scope questions to ``not_covered``, 0.1 sends 3, and the
    out-of-scope ones sent there stay 2 of 6.

    ``in_scope`` (a labelled QA file's answerable questions, optional) refines this:
    ``answer_above`` becomes the highest value that leaves at most ``QA_FALSE_REFUSALS`` of
    them below it, and ``not_covered_below`` is lowered below every one of them.
    """
    if not unanswerable and not in_scope:
        return DEFAULT_THRESHOLD, DEFAULT_THRESHOLD
    if unanswerable:
        answer = quantile(unanswerable, ANSWER_QUANTILE)
        below = quantile(unanswerable, NOT_COVERED_QUANTILE)
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
            "pseudo_questions": calibration.pseudo_questions,
            "qa_questions": calibration.qa_questions,
            "stale": calibration.revision != revision(),
        }
    return stats
