"""Translation groups kept in step with the store: after an ingest, each changed document is
paired with its nearest documents and those sharing its ``number``, the pairs are scored
(``translations``: passage alignment and shared numbers) and merged into groups."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from retrieval import versions
from retrieval.config import Settings
from retrieval.ingest.translations import (
    GroupMap,
    PairScore,
    alignment,
    length_compatible,
    merge_translations,
    number_overlap,
    number_signature,
    translation_threshold,
)
from retrieval.models import Document
from retrieval.store.index import VectorStore

NEIGHBOURS = 12
"""Nearest documents (by mean vector) a changed document is scored against."""


def _vectors_and_text(store: VectorStore, doc: Document) -> tuple[np.ndarray[Any, Any], str]:
    got = store.chunks_of(doc, with_vectors=True)  # in reading order
    return np.asarray(got["embeddings"], dtype=np.float32), "\n".join(got["documents"])


def score_pair(store: VectorStore, a: Document, b: Document) -> PairScore:
    declared = bool(a.number) and a.number == b.number
    vectors_a, text_a = _vectors_and_text(store, a)
    vectors_b, text_b = _vectors_and_text(store, b)
    if not declared and not length_compatible(len(text_a), len(text_b)):
        return PairScore(a.doc_id, b.doc_id, 0.0, 0.0, declared=False)
    score, _ = alignment(vectors_a, vectors_b)
    reverse, _ = alignment(vectors_b, vectors_a)
    numbers = number_overlap(number_signature(text_a), number_signature(text_b))
    return PairScore(a.doc_id, b.doc_id, min(score, reverse), numbers, declared)


def regroup(store: VectorStore, settings: Settings, changed: Sequence[str]) -> list[PairScore]:
    """Recompute the groups of the ``changed`` documents and store what moved; the pairs
    scored. The caller holds the writer lock."""
    manifest = store.manifest()
    groups = GroupMap({d: doc.group_id or d for d, doc in manifest.items()})
    vectors = store.document_vectors(list(changed))
    pairs: list[PairScore] = []
    by_number: dict[str, set[str]] = {}
    for d, other in manifest.items():
        if other.number:
            by_number.setdefault(other.number, set()).add(d)
    for doc_id in changed:
        groups.detach(doc_id)
    for doc_id in changed:
        doc = manifest.get(doc_id)
        if doc is None or doc_id not in vectors:
            continue
        neighbours = {d for d, _ in store.query_documents(vectors[doc_id], NEIGHBOURS)}
        neighbours |= by_number.get(doc.number, set()) if doc.number else set()
        for other_id in sorted(neighbours - {doc_id}):
            other = manifest[other_id]
            if other.language == doc.language or not versions.may_be_translations(doc, other):
                continue
            pairs.append(score_pair(store, doc, other))
    languages = {d: doc.language for d, doc in manifest.items()}
    merge_translations(groups, pairs, languages, translation_threshold(settings))
    new_groups = groups.as_dict()
    store.update_groups(
        {d: g for d, g in new_groups.items() if manifest.get(d) and manifest[d].group_id != g}
    )
    return pairs
