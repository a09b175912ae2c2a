"""The answer engine every interface uses: question in, cited answer out.

``Assistant`` wires settings, the embedding model, the stores, search and answer composition
together once; the CLI, the terminal chat and the Telegram bot all call the same methods.
It is synchronous and thread-safe, so the bot runs it in worker threads. In LLM mode ``ask``
can report the verified part of an answer while the model is still writing (``on_progress``).

A question goes one way through ``ask``: retrieve the passages, decide the outcome on their
evidence (``retrieval.answer.refusal``), compose what that outcome calls for — the generated
answer (LLM mode), the quotes (``retrieval.answer.extractive``), or the nearest documents.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from retrieval.answer.calibration import CalibrationReport, calibrate
from retrieval.answer.ended_rules import ended_rule, note_ended_rule
from retrieval.answer.extractive import AnswerComposer
from retrieval.answer.generative import Generator, Progress
from retrieval.answer.named_terms import unknown_terms
from retrieval.answer.refusal import (
    Calibration,
    Thresholds,
    thresholds_configured,
    thresholds_for,
)
from retrieval.config import Settings
from retrieval.embedding.encoders import DenseEmbeddings, build_embeddings
from retrieval.errors import LLMError
from retrieval.followup import FollowUpRule
from retrieval.language import detect_language
from retrieval.library import Library
from retrieval.models import Answer, AnswerOutcome, Document, NearestDocument, Passage
from retrieval.prompts import Prompts, default_prompts
from retrieval.search.fusion import SearchFilters
from retrieval.search.searcher import Searcher
from retrieval.store.index import VectorStore
from retrieval.store.lexical import LexicalIndex
from retrieval.store.lexical_sync import LexicalSync
from retrieval.versions import annotate, today

log = logging.getLogger(__name__)


class Assistant(Library):
    """Regula's core: ingest, search, answer. Knows nothing of Telegram."""

    def __init__(
        self,
        settings: Settings,
        embeddings: DenseEmbeddings,
        store: VectorStore,
        lexical: LexicalIndex,
        prompts: Prompts,
        chat_model: Any | None = None,
    ) -> None:
        """``chat_model`` replaces the configured LangChain chat model (LLM mode only)."""
        self.settings = settings
        self.prompts = prompts
        self.follow_ups = FollowUpRule(prompts)
        self.embeddings = embeddings
        self.store = store
        self.lexical = lexical
        self.searcher = Searcher(settings, store, lexical, embeddings)
        self.lexical_sync = LexicalSync(store, lexical)
        self.composer = AnswerComposer(settings, embeddings, prompts)
        self.generator = (
            Generator(settings, embeddings, prompts, chat_model)
            if settings.answer.mode == "llm"
            else None
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        prompts: Prompts | None = None,
        embeddings: DenseEmbeddings | None = None,
    ) -> Assistant:
        """``embeddings`` reuses a loaded model (benchmarks open several indexes with one)."""
        data_dir = settings.storage.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        if embeddings is None:
            cache = data_dir / "embedding_cache.sqlite3"
            embeddings = build_embeddings(settings.embeddings, cache)
        store = VectorStore(settings, embeddings)
        lexical = LexicalIndex(
            data_dir / "lexical.sqlite3", settings.retrieval.latent_postings_per_term
        )
        return cls(settings, embeddings, store, lexical, prompts or default_prompts())

    def refresh(self, force: bool = False) -> dict[str, Document]:
        """The manifest, reloaded when another writer committed (``force``: after our own
        writes), with this worker's lexical cache brought in step with it before any search:
        another worker's commit, or a deleted cache file, is rebuilt from Chroma here."""
        self.searcher.refresh(force)
        revision, manifest = self.searcher.loaded()
        self.lexical_sync.follow(revision, manifest, force)
        return manifest

    # -- questions ----------------------------------------------------------------------------
    def detect_language(self, text: str) -> str:
        return detect_language(
            text,
            self.settings.languages.candidates,
            default=self.settings.answer.default_language,
        )

    def ask(
        self,
        question: str,
        *,
        language: str | None = None,
        k: int | None = None,
        context: str | None = None,
        filters: SearchFilters | None = None,
        on_progress: Progress | None = None,
        retrieve: int = 0,
    ) -> Answer:
        """Answer ``question`` with citations, or refuse and list the nearest documents.

        ``context`` is the previous question; a follow-up ("and for gifts?") is searched
        together with it (``retrieval.followup`` decides). In LLM mode the model rewrites a
        follow-up as a standalone question, writes the answer, and ``retrieval.answer.generative``
        keeps only what the passages support.

        ``on_progress`` (LLM mode; called in this thread) receives the verified claims written
        so far, or a "writing" status, while the model streams; the answer is the same with or
        without it. Extractive answers never call it.

        ``retrieve`` (evaluation) ranks at least that many passages; the answer still uses the
        first ``k``, and ``answer.retrieved`` holds them all.

        Only the versions in force on ``filters.as_of`` (default: today) are searched; each
        citation carries its version, and one no longer in force today its successor.
        """
        started = time.perf_counter()
        filters = filters or SearchFilters()
        if filters.as_of is None:
            filters = dataclasses.replace(filters, as_of=today())
        question = question.strip()
        language = language or self.detect_language(question)
        query = question
        timings: dict[str, float] = {}
        declined = self.generator.decline(question, language) if self.generator else None
        if declined is not None or not question:
            answer = declined or self.composer.refuse(question, language, [])
            answer.timings_ms = {"total": 0.0}
            answer.as_of = filters.as_of
            return answer
        if context and self.follow_ups.applies(question):
            query = (
                self.generator.condense(question, context, language, timings)
                if self.generator is not None
                else f"{context.strip()} {question}"
            )
        self.refresh()  # an index built by another embedding model fails here, first
        step = time.perf_counter()
        latent = self.settings.retrieval_mode in ("hybrid", "latent")
        query_vector, query_latent = self.embeddings.query_signals(query, latent)
        timings["embed"] = (time.perf_counter() - step) * 1000
        k = k or self.settings.retrieval.k
        retrieved = self.searcher.search(
            query, language, max(k, retrieve), filters, timings, query_vector, query_latent
        )
        passages = retrieved[:k]
        step = time.perf_counter()
        offsets = self.searcher.language_offsets(passages, query_vector)
        relevance = self.composer.relevance(passages, offsets)
        thresholds = self.thresholds()  # read once: from the store when calibrated
        outcome = thresholds.decide(relevance)
        unknown = self._unknown_names(query)
        ended = ended_rule(self.searcher, self.composer, thresholds, query, language,
                           filters, (query_vector, query_latent), relevance, k)  # fmt: skip
        if (unknown or ended) and outcome == "answer":
            outcome = "closest"
        generator = self.generator if outcome == "answer" else None
        if generator is not None:
            answer = self._generate(
                generator, question, query, language, passages, query_vector, timings, on_progress
            )
        elif outcome == "not_covered":
            answer = self._refuse(question, language, query_vector)
        else:
            answer = self._quote(question, language, passages, query_vector, offsets, outcome)
        self.composer.note_unknown_names(answer, unknown)
        if ended is not None:
            note_ended_rule(
                answer, ended, self.searcher.manifest, filters.as_of or today(), self.prompts
            )
        timings["answer"] = (time.perf_counter() - step) * 1000
        timings["total"] = (time.perf_counter() - started) * 1000
        answer.timings_ms = timings
        answer.relevance = round(relevance, 4)
        answer.retrieved = retrieved
        answer.as_of = filters.as_of
        annotate(answer, self.searcher.manifest, today(), self.prompts)
        return answer

    def _unknown_names(self, query: str) -> list[str]:
        """Names the query gives (a follow-up: with its context) that no indexed document
        mentions (``retrieval.answer.named_terms``)."""
        if not self.settings.answer.unknown_names:
            return []
        documents = self.searcher.manifest.values()
        return unknown_terms(query, documents, self.searcher.lexical.known_terms)

    def _generate(
        self,
        generator: Generator,
        question: str,
        query: str,
        language: str,
        passages: list[Passage],
        query_vector: NDArray[np.float32],
        timings: dict[str, float],
        on_progress: Progress | None,
    ) -> Answer:
        """The model's verified answer; a refusal when none of its claims survived; the quotes
        with the ``llm_unavailable`` notice when the model failed."""
        try:
            generated = generator.generate(
                question, query, language, passages, timings, on_progress
            )
        except LLMError:
            log.warning("the language model failed; answering extractively", exc_info=True)
            offsets = self.searcher.language_offsets(passages, query_vector)
            return self._quote(
                question, language, passages, query_vector, offsets, "answer", fallback=True
            )
        if generated.answer is not None:
            return generated.answer
        return self._refuse(question, language, query_vector, generated.verification)

    def _quote(
        self,
        question: str,
        language: str,
        passages: list[Passage],
        query_vector: NDArray[np.float32],
        offsets: Mapping[str, float],
        outcome: AnswerOutcome,
        *,
        fallback: bool = False,
    ) -> Answer:
        """The extractive answer: the passages' best sentences quoted, each language's pull on
        the query (``offsets``) removed; a ``closest`` outcome with no sentence to quote is a
        refusal."""
        scored = self.composer.score_sentences(passages, query_vector, offsets)
        if outcome == "closest" and not scored:
            return self._refuse(question, language, query_vector)
        return self.composer.compose(
            question, language, passages, scored, outcome, fallback=fallback
        )

    def evidence(self, passages: Sequence[Passage], query_vector: NDArray[np.float32]) -> float:
        """The evidence score ``ask`` decides on for these passages (``regula calibrate``)."""
        return self.composer.relevance(
            passages, self.searcher.language_offsets(passages, query_vector)
        )

    def _refuse(
        self,
        question: str,
        language: str,
        query_vector: NDArray[np.float32],
        verification: dict[str, int] | None = None,
    ) -> Answer:
        """Not covered: the documents nearest to the query instead of an answer."""
        nearest = [
            NearestDocument(d.doc_id, d.title, d.language, round(score, 4))
            for d, score in self.searcher.nearest_documents(
                query_vector, self.settings.answer.nearest_documents
            )
        ]
        return self.composer.refuse(question, language, nearest, verification)

    # -- refusal thresholds --------------------------------------------------------------------
    def calibration(self) -> Calibration | None:
        """The calibration ``regula calibrate`` stored with the index, if any."""
        record = self.store.calibration_record()
        signal = self.settings.answer.evidence
        return None if record is None else Calibration.from_record(record, signal)

    def thresholds(self) -> Thresholds:
        """The thresholds ``ask`` decides on: config, else the stored calibration, else default.

        The stored record is read only when the config leaves a threshold to it, so a
        configured deployment pays no store read per question."""
        answer = self.settings.answer
        configured = thresholds_configured(answer)
        return thresholds_for(answer, None if configured else self.calibration())

    def calibrate(self, qa_path: Path | None = None) -> CalibrationReport:
        """Derive the thresholds from this corpus and store them with the index
        (``retrieval.answer.calibration``); ``qa_path``, a labelled QA file, refines them."""
        return calibrate(self, qa_path)

    def search(self, query: str, *, k: int = 5, language: str | None = None) -> list[Passage]:
        """Top passages without composing an answer (inline lookup)."""
        in_force = SearchFilters(as_of=today())
        self.refresh()
        return self.searcher.search(query, language or self.detect_language(query), k, in_force)

    def translations_of(self, chunk_id: str) -> list[Passage]:
        self.refresh()
        return self.searcher.translations_of(chunk_id)

    def close(self) -> None:
        self.lexical.close()
