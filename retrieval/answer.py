"""Extractive answers: the sentences that answer the question, each with its ``[n]``.

Nothing is generated: every sentence of an answer is a verbatim quote from a retrieved
passage, so the answer cannot state a rule the corpus does not contain. When even the best
sentence is not close enough to the question (``answer.min_relevance``, calibrated on the
evaluation sets), Regula refuses and lists the nearest documents instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from retrieval.chunking import paragraph_of
from retrieval.citations import Sentence, split_sentences
from retrieval.config import Settings
from retrieval.embeddings import E5Embeddings
from retrieval.models import Answer, Citation, NearestDocument, Passage
from retrieval.prompts import Prompts

MAX_SENTENCES_PER_PASSAGE = 2


@dataclass(frozen=True)
class ScoredSentence:
    passage_index: int
    sentence: Sentence
    score: float


def _locator_for(passage: Passage, sentence: Sentence) -> str:
    """Refine "Article 5" to "Article 5(2)" when the quote sits in numbered paragraph 2."""
    paragraph = paragraph_of(passage.text, sentence.start)
    base = passage.locator.split("(")[0]
    if paragraph and base and not base.startswith("¶"):
        return f"{base}({paragraph})"
    return passage.locator


class AnswerComposer:
    """Chooses sentences from passages and words the answer in the asker's language."""

    def __init__(self, settings: Settings, embeddings: E5Embeddings, prompts: Prompts) -> None:
        self.settings = settings
        self.embeddings = embeddings
        self.prompts = prompts

    def score_sentences(
        self, passages: Sequence[Passage], query_vector: NDArray[np.float32]
    ) -> list[ScoredSentence]:
        items = [(i, s) for i, p in enumerate(passages) for s in split_sentences(p.text)]
        if not items:
            return []
        vectors = self.embeddings.embed_passages([s.text for _, s in items])
        scores = vectors @ query_vector
        return [
            ScoredSentence(i, s, float(score)) for (i, s), score in zip(items, scores, strict=True)
        ]

    def relevance(self, scored: Sequence[ScoredSentence]) -> float:
        return max((s.score for s in scored), default=0.0)

    def select(self, scored: Sequence[ScoredSentence]) -> list[ScoredSentence]:
        """The best sentence, plus near-equals (within ``sentence_margin``), in reading order."""
        settings = self.settings.answer
        ranked = sorted(scored, key=lambda s: s.score, reverse=True)
        if not ranked:
            return []
        chosen: list[ScoredSentence] = []
        per_passage: dict[int, int] = {}
        for candidate in ranked:
            if len(chosen) >= settings.max_sentences:
                break
            if candidate.score < ranked[0].score - settings.sentence_margin:
                break
            if per_passage.get(candidate.passage_index, 0) >= MAX_SENTENCES_PER_PASSAGE:
                continue
            per_passage[candidate.passage_index] = per_passage.get(candidate.passage_index, 0) + 1
            chosen.append(candidate)
        return sorted(chosen, key=lambda s: (s.passage_index, s.sentence.start))

    def compose(
        self,
        question: str,
        language: str,
        passages: Sequence[Passage],
        scored: Sequence[ScoredSentence],
    ) -> Answer:
        chosen = self.select(scored)
        numbers: dict[int, int] = {}
        quotes: dict[int, list[ScoredSentence]] = {}
        for item in chosen:
            numbers.setdefault(item.passage_index, len(numbers) + 1)
            quotes.setdefault(item.passage_index, []).append(item)
        citations = []
        for index, n in numbers.items():
            passage = passages[index]
            sentences = quotes[index]
            citations.append(
                Citation(
                    n=n,
                    chunk_id=passage.chunk_id,
                    doc_id=passage.doc_id,
                    title=passage.title,
                    locator=_locator_for(passage, sentences[0].sentence),
                    source=passage.source,
                    date=passage.date,
                    language=passage.language,
                    quote=" … ".join(s.sentence.text for s in sentences),
                    text=passage.text,
                    score=round(max(s.score for s in sentences), 4),
                    translations=passage.translations,
                )
            )
        lines = [self.prompts.get("answer_intro", language)]
        for item in chosen:
            lines.append(f"{item.sentence.text} [{numbers[item.passage_index]}]")
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
            refused=False,
            citations=citations,
        )

    def refuse(self, question: str, language: str, nearest: Sequence[NearestDocument]) -> Answer:
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
        )
