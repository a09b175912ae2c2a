"""Generative answers (``answer.mode: llm``) with any LangChain chat model, verified in code.

The model comes built (``retrieval.adapters.chat_models``); this module only talks to it.

The model sees the retrieved passages as numbered, delimited data and is told to cite ``[n]``
after each sentence; what it writes is then checked claim by claim (``retrieval.answer.verify``):
markers pointing nowhere are dropped, unsupported or uncited claims are removed, and when
nothing verifiable remains ``generate`` gives no answer (``Assistant.ask`` refuses as in
extractive mode). Citations under the answer are only the passages kept claims cite, built by
``retrieval.answer.citations.cite`` with metadata from the index, never from the model.

Streaming: given ``on_progress``, the reply is streamed (``model.stream``) and, each time a
sentence is complete, the text so far goes through the same verification; ``on_progress``
receives the kept claims rendered as in the final answer, or the ``llm_writing`` status while
none is kept. Unverified text is never reported. What ``generate`` returns is what it gives
without streaming for the same model text. A model that cannot stream is invoked.

Errors: any exception from the model (connection refused, timeout, bad response, also in the
middle of a stream) is raised as an ``LLMError``; ``Assistant.ask`` then answers extractively
with the ``llm_unavailable`` notice, so it never reaches the interfaces.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from retrieval.adapters.chat_models import build_chat_model
from retrieval.answer.citations import cite, quotable_sentences, split_sentences
from retrieval.answer.verify import (
    Source,
    Verification,
    declines,
    overlap,
    render,
    settled_length,
    verify,
)
from retrieval.config import Settings
from retrieval.embedding.encoders import DenseEmbeddings
from retrieval.errors import LLMError
from retrieval.models import Answer, Citation, Passage
from retrieval.prompts import Prompts

log = logging.getLogger(__name__)

NO_ANSWER = "NO_ANSWER"

Progress = Callable[[str], None]
"""Receives what may be shown of an answer being written: verified claims, or a status."""
Similarity = Callable[[str, int], float]
Messages = list[tuple[str, str]]


@dataclass(frozen=True)
class Generated:
    """The model's reply once verified: the answer its kept claims make, and the counts."""

    answer: Answer | None
    """``None`` when no claim survived verification (or the model said NO_ANSWER): refuse."""
    verification: dict[str, int]
    """``{claims, kept, unknown_markers}`` (``Verification.counts``)."""


def format_passages(passages: Sequence[Passage]) -> str:
    """Passages as numbered, escaped ``<passage>`` elements, so none can close the block."""
    blocks = []
    for n, p in enumerate(passages, start=1):
        attrs = " ".join(
            f'{name}="{html.escape(value, quote=True)}"'
            for name, value in (
                ("n", str(n)),
                ("doc", p.title or p.doc_id),
                ("locator", p.locator),
                ("language", p.language),
            )
        )
        blocks.append(f"<passage {attrs}>\n{html.escape(p.text, quote=False)}\n</passage>")
    return "\n".join(blocks)


def claim_citation(n: int, passage: Passage, claims: Sequence[str], language: str) -> Citation:
    """Quote the passage sentence that shares most words with the claims citing it (never an
    article's heading line: the extractive answer's rule, ``quotable_sentences``)."""
    best = max(
        quotable_sentences(passage),
        key=lambda s: sum(overlap(c, language, Source(s.text, passage.language)) for c in claims),
        default=None,
    )
    return cite(n, passage, [best] if best else [], passage.dense_score)


def _reply_text(message: Any) -> str:
    """The text of a chat model's message or message chunk."""
    content = message.content
    return content if isinstance(content, str) else str(message.text)


class _Progress:
    """Turns the text streamed so far into what may be shown: its verified claims, or a status.

    Only complete sentences are checked, once each time one more is complete, and a report is
    made only when what may be shown changed.
    """

    def __init__(self, check: Callable[[str], Verification], status: str, report: Progress) -> None:
        self._check = check
        self._status = status
        self._report = report
        self._settled = 0
        self._shown = status
        report(status)

    def __call__(self, text: str) -> None:
        settled = settled_length(text)
        if settled <= self._settled:
            return
        self._settled = settled
        checked = self._check(text[:settled])
        shown = render(checked)[0] if checked.kept else self._status
        if shown != self._shown:
            self._shown = shown
            self._report(shown)


class Generator:
    """Condenses follow-ups, generates cited answers and verifies them."""

    def __init__(
        self,
        settings: Settings,
        embeddings: DenseEmbeddings,
        prompts: Prompts,
        model: Any | None = None,
    ) -> None:
        self.settings = settings
        self.embeddings = embeddings
        self.prompts = prompts
        self._model = model

    @cached_property
    def model(self) -> Any:
        return self._model if self._model is not None else build_chat_model(self.settings.llm)

    def _language_name(self, language: str) -> str:
        return self.prompts.language_name(language, language)

    def _call(self, call: Callable[[], Any], timings: dict[str, float]) -> Any:
        """``call()`` timed into ``timings["llm"]``; any failure of the model is an LLMError."""
        started = time.perf_counter()
        try:
            return call()
        except Exception as e:
            msg = f"the language model failed: {type(e).__name__}: {e}"
            raise LLMError(msg) from e
        finally:
            timings["llm"] = timings.get("llm", 0.0) + (time.perf_counter() - started) * 1000

    def _invoke(self, messages: Messages, timings: dict[str, float]) -> str:
        return _reply_text(self._call(lambda: self.model.invoke(messages), timings))

    def _stream(self, messages: Messages, timings: dict[str, float], on_text: Progress) -> str:
        """The reply, chunk by chunk; ``on_text`` sees the text so far after each chunk.

        Falls back to one ``invoke`` when the model has no ``stream`` or raises
        NotImplementedError (LangChain chat models that cannot stream already yield the whole
        reply as one chunk).
        """
        model = self._call(lambda: self.model, timings)  # building it may fail too
        if not callable(getattr(model, "stream", None)):
            return self._invoke(messages, timings)
        text = ""
        try:
            chunks = iter(self._call(lambda: model.stream(messages), timings))
            while (chunk := self._call(lambda: next(chunks, None), timings)) is not None:
                text += _reply_text(chunk)
                on_text(text)
        except LLMError as e:
            if not isinstance(e.__cause__, NotImplementedError):
                raise
            log.info("the chat model cannot stream; waiting for the whole reply")
            return self._invoke(messages, timings)
        return text

    def decline(self, question: str, language: str) -> Answer | None:
        """A refusal for questions asking for the instructions or the whole corpus."""
        if not declines(question):
            return None
        answer = Answer(question, language, self.prompts.get("llm_declined", language), True)
        answer.verification = {"claims": 0, "kept": 0, "unknown_markers": 0}
        return answer

    def condense(
        self, question: str, context: str, language: str, timings: dict[str, float]
    ) -> str:
        """A standalone question from a follow-up and the previous one (both joined on failure)."""
        messages = [
            ("system", self.prompts.get("llm_condense_system", language)),
            (
                "human",
                self.prompts.get(
                    "llm_condense_user", language, context=context.strip(), question=question
                ),
            ),
        ]
        try:
            text = self._invoke(messages, timings)
        except LLMError:
            log.warning(
                "condensing the follow-up failed; searching it with its context", exc_info=True
            )
            return f"{context.strip()} {question}"
        standalone = " ".join(text.strip().strip('"').split())
        if 0 < len(standalone) <= 4 * (len(context) + len(question)):
            return standalone
        return f"{context.strip()} {question}"

    def generate(
        self,
        question: str,
        query: str,
        language: str,
        passages: Sequence[Passage],
        timings: dict[str, float],
        on_progress: Progress | None = None,
    ) -> Generated:
        """The model's answer to ``query`` from ``passages``, verified; raises ``LLMError``.

        ``query`` is what the model is asked: the question as searched, a follow-up already
        made standalone (``condense``); ``question``, as the asker wrote it, is what the
        answer records. With ``on_progress`` the reply is streamed and ``on_progress``
        (called in this thread) receives the verified part written so far; the result is the
        same.
        """
        name = self._language_name(language)
        messages = [
            ("system", self.prompts.get("llm_system", language, language_name=name)),
            (
                "human",
                self.prompts.get(
                    "llm_user",
                    language,
                    passages=format_passages(passages),
                    question=query,
                    language_name=name,
                ),
            ),
        ]
        similarity = self._similarity(passages)
        if on_progress is None:
            text = self._invoke(messages, timings)
        else:
            progress = _Progress(
                lambda so_far: self.check(so_far, language, passages, similarity),
                self.prompts.get("llm_writing", language),
                on_progress,
            )
            text = self._stream(messages, timings, progress)
        checked = self.check(text, language, passages, similarity)
        if not checked.kept:
            return Generated(None, checked.counts())
        return Generated(self._compose(question, language, passages, checked), checked.counts())

    def _similarity(self, passages: Sequence[Passage]) -> Similarity:
        """E5 similarity of a claim to passage n's closest sentence; vectors kept per answer."""
        sentence_vectors: dict[int, Any] = {}
        claim_vectors: dict[str, Any] = {}

        def similarity(claim: str, n: int) -> float:
            if n not in sentence_vectors:
                sentences = [s.text for s in split_sentences(passages[n - 1].text)]
                sentence_vectors[n] = self.embeddings.embed_queries(
                    sentences or [passages[n - 1].text]
                )
            if claim not in claim_vectors:
                claim_vectors[claim] = self.embeddings.embed_queries([claim])[0]
            return float(np.max(sentence_vectors[n] @ claim_vectors[claim]))

        return similarity

    def check(
        self,
        text: str,
        language: str,
        passages: Sequence[Passage],
        similarity: Similarity | None = None,
    ) -> Verification:
        """Verify ``text`` against ``passages``, with E5 similarity for cross-language claims."""
        if text.strip().startswith(NO_ANSWER):
            return Verification([])
        sources = [Source(p.text, p.language, p.locator) for p in passages]
        llm = self.settings.llm
        return verify(
            text,
            sources,
            language,
            similarity or self._similarity(passages),
            min_overlap=llm.min_overlap,
            min_similarity=llm.min_similarity,
        )

    def _compose(
        self, question: str, language: str, passages: Sequence[Passage], checked: Verification
    ) -> Answer:
        body, numbering = render(checked)
        citations = [
            claim_citation(
                new,
                passages[old - 1],
                [c.text for c in checked.kept if old in c.cited],
                language,
            )
            for old, new in numbering.items()
        ]
        counts = checked.counts()
        return Answer(question, language, body, False, citations, verification=counts)
