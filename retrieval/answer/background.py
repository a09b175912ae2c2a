"""Where an ``answer`` starts on this index, measured without labels.

A cosine means different things in different corpora and with different models, so the
refusal thresholds are measured on each index. Every index is asked the bundled background
questions (``background_questions.yaml``): what officials ask about matters of public
administration that one regulation corpus seldom covers, the same 30 in each prompt language.
How high they score there is how high a question the corpus does not answer can score, in
that language, with that model. ``answer_above`` is a high quantile of those scores and
``not_covered_below`` their median (``refusal.pick_thresholds``); a corpus that does cover a
few of the matters moves only the top of the distribution, which the quantile leaves out.

It needs no labels and runs after every ingest that changed the index
(``Library``): the questions' vectors are computed in batches (and kept in the embedding
cache), then one search each.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.errors import RegulaError
from retrieval.prompts import load_bundled_yaml

if TYPE_CHECKING:
    from retrieval.assistant import Assistant

QUESTIONS_FILE = Path(__file__).with_name("background_questions.yaml")


@functools.cache
def background_questions() -> Mapping[str, tuple[str, ...]]:
    """The bundled questions by language."""
    data = load_bundled_yaml(QUESTIONS_FILE.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        msg = f"{QUESTIONS_FILE} must map each language to a list of questions"
        raise RegulaError(msg)
    return {str(lang): tuple(str(q) for q in questions) for lang, questions in data.items()}


def background_scores(assistant: Assistant) -> dict[str, list[float]]:
    """Each background question's evidence score on this index (what ``ask`` decides on), by
    the question's language."""
    pairs = [(lang, q) for lang, questions in background_questions().items() for q in questions]
    texts = [q for _, q in pairs]
    embeddings = assistant.embeddings
    vectors = embeddings.embed_recurring_queries(texts)
    latent = assistant.settings.retrieval_mode in ("hybrid", "latent")
    terms = embeddings.latent_terms(texts) if latent else [None] * len(texts)
    k = assistant.settings.retrieval.k
    scores: dict[str, list[float]] = {}
    for (language, text), vector, text_terms in zip(pairs, vectors, terms, strict=True):
        passages = assistant.searcher.search(text, language, k, None, {}, vector, text_terms)
        scores.setdefault(language, []).append(assistant.evidence(passages[:k], vector))
    return scores
