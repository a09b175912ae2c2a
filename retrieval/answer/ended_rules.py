"""A question whose best evidence is a rule that no longer applies.

Only the rules in force on the as-of date are searched, so when the one rule on a matter was
repealed (or expired, with nothing after it), the nearest rule in force is all that is found
and would be given as the answer: a petition deadline for a question on gifts. So the texts no
longer in force on that date, whose work has nothing in force then (``versions.gone``), are
searched too; when one of them backs the question better than anything in force, and well
enough to be an answer by the same thresholds, the reply says which rule it was and when it
stopped applying, and an answer from the rules in force is only ``closest``. The comparison
uses the evidence score and thresholds the outcome already uses: nothing new to tune.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING

from numpy.typing import NDArray

from retrieval.answer.citations import source_label
from retrieval.models import Answer, Document, Passage
from retrieval.search.fusion import SearchFilters
from retrieval.versions import day_after, successor

if TYPE_CHECKING:
    import numpy as np

    from retrieval.answer.extractive import AnswerComposer
    from retrieval.answer.refusal import Thresholds
    from retrieval.embedding.bundled import LatentTerms
    from retrieval.prompts import Prompts
    from retrieval.search.searcher import Searcher


def ended_rule(
    searcher: Searcher,
    composer: AnswerComposer,
    thresholds: Thresholds,
    query: str,
    language: str,
    filters: SearchFilters,
    signals: tuple[NDArray[np.float32], LatentTerms | None],
    in_force_evidence: float,
    k: int,
) -> Passage | None:
    """The passage of a rule no longer in force on ``filters.as_of`` that backs the query
    better than the rules in force (``in_force_evidence``) and would be an answer itself.
    ``signals``: the query's vector and latent terms, as the first search had them."""
    if filters.as_of is None:
        return None
    candidates = searcher.gone_on(filters.as_of)
    if filters.doc_ids:
        candidates = [d for d in candidates if d in filters.doc_ids]
    if not candidates:
        return None
    scope = dataclasses.replace(filters, doc_ids=candidates, as_of=None)
    query_vector, query_latent = signals
    passages = searcher.search(query, language, k, scope, {}, query_vector, query_latent)
    if not passages:
        return None
    evidence = composer.relevance(passages, searcher.language_offsets(passages, query_vector))
    if evidence <= in_force_evidence or thresholds.decide(evidence) != "answer":
        return None
    return passages[0]


def note_ended_rule(
    answer: Answer,
    passage: Passage,
    manifest: Mapping[str, Document],
    as_of: str,
    prompts: Prompts,
) -> None:
    """Say, under the opening line, which rule answered this and when it stopped applying."""
    doc = manifest.get(passage.doc_id)
    if doc is None:
        return
    rule = source_label(passage.title, passage.locator)
    date = day_after(doc.valid_until) if doc.valid_until else ""
    later = successor(doc, manifest, as_of)
    if later is not None:
        note = prompts.get("rule_repealed_by", answer.language, rule=rule, by=later.title,
                           date=later.valid_from, as_of=as_of)  # fmt: skip
    elif date:
        note = prompts.get("rule_ended", answer.language, rule=rule, date=date, as_of=as_of)
    else:
        note = prompts.get("rule_repealed", answer.language, rule=rule, as_of=as_of)
    first, _, rest = answer.answer.partition("\n")
    answer.answer = "\n".join(part for part in (first, note, rest) if part)
    answer.ended_rule = {"doc_id": doc.doc_id, "locator": passage.locator,
                         "valid_until": doc.valid_until or None, "status": doc.status}  # fmt: skip
