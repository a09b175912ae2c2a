"""The corpus's gaps: questions it did not answer, grouped by topic.

Questions are grouped greedily in the order given: each joins the group whose
centroid it is closest to, if at least ``similarity`` (cosine on unit vectors from the index's
embedding model), else starts a new one. Groups come out largest first, so the keeper sees the
topic asked about most. The threshold is a display choice (``console.gap_similarity``) on the
bundled model's scale: on ten trial questions (wages, passports, gifts, parental leave, taxes,
in four languages) its rephrasings and translations of one question scored 0.88-0.97 and
different matters at most 0.83, so 0.86 keeps them apart. Another model needs its own value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray


@dataclass
class Topic:
    """Questions (indices into the input) about one matter; ``label`` is the first asked."""

    members: list[int] = field(default_factory=list)
    centroid: NDArray[np.float32] | None = None

    @property
    def label(self) -> int:
        return self.members[0]


def group_by_topic(vectors: NDArray[np.float32], similarity: float) -> list[Topic]:
    """Greedy single-pass grouping of unit ``vectors``; largest topic first."""
    topics: list[Topic] = []
    for i, vector in enumerate(vectors):
        best, best_score = None, similarity
        for topic in topics:
            assert topic.centroid is not None
            score = float(topic.centroid @ vector) / float(np.linalg.norm(topic.centroid))
            if score >= best_score:
                best, best_score = topic, score
        if best is None:
            topics.append(Topic([i], vector.astype(np.float32)))
        else:
            best.members.append(i)
            assert best.centroid is not None
            best.centroid = best.centroid + vector
    return sorted(topics, key=lambda t: (-len(t.members), t.label))


def topics_of(
    questions: Sequence[str], vectors: NDArray[np.float32], similarity: float
) -> list[list[str]]:
    """``questions`` grouped by topic (each group's first question first)."""
    return [[questions[i] for i in t.members] for t in group_by_topic(vectors, similarity)]
