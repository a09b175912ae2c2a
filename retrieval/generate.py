"""Generative answers (``answer.mode: llm``) with any LangChain chat model, verified in code.

The model sees the retrieved passages as numbered, delimited data and is told to cite ``[n]``
after each sentence; what it writes is then checked claim by claim (``retrieval.verify``):
markers pointing nowhere are dropped, unsupported or uncited claims are removed, and when
nothing verifiable remains Regula refuses as in extractive mode. Citations under the answer
are only the passages kept claims cite, with metadata from the index, never from the model.

Errors: any exception from the model (connection refused, timeout, bad response) is logged
and turned into the extractive answer with the ``llm_unavailable`` notice; nothing propagates.
"""

from __future__ import annotations

import html
import logging
import os
import time
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any

import numpy as np

from retrieval.chunking import paragraph_of
from retrieval.citations import split_sentences
from retrieval.config import LLMSettings, Settings
from retrieval.embeddings import E5Embeddings
from retrieval.models import Answer, Citation, Passage
from retrieval.prompts import Prompts
from retrieval.verify import Source, Verification, declines, overlap, render, verify

log = logging.getLogger(__name__)

API_KEY_ENV = "REGULA_LLM_API_KEY"
NO_ANSWER = "NO_ANSWER"


def build_chat_model(settings: LLMSettings) -> Any:
    """The configured LangChain chat model; the API key comes from ``REGULA_LLM_API_KEY`` only."""
    api_key = os.environ.get(API_KEY_ENV, "")
    if settings.provider == "ollama":
        from langchain_ollama import ChatOllama

        headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
        return ChatOllama(
            model=settings.model,
            base_url=settings.base_url,
            temperature=0,
            num_predict=settings.max_tokens,
            client_kwargs={"timeout": settings.timeout_s, "headers": headers},
        )
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    return ChatOpenAI(
        model=settings.model,
        base_url=settings.base_url,
        api_key=SecretStr(api_key or "unused"),  # local servers ignore it; never OPENAI_API_KEY
        temperature=0,
        # ChatOpenAI sends only ``max_completion_tokens``, which llama.cpp and other
        # OpenAI-compatible servers ignore; ``max_tokens`` is the field they all read.
        extra_body={"max_tokens": settings.max_tokens},
        timeout=settings.timeout_s,
        max_retries=0,
    )


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


def _locator(passage: Passage, start: int) -> str:
    paragraph = paragraph_of(passage.text, start)
    base = passage.locator.split("(")[0]
    if paragraph and base and not base.startswith("¶"):
        return f"{base}({paragraph})"
    return passage.locator


def _citation(n: int, passage: Passage, claims: Sequence[str], language: str) -> Citation:
    """Quote the passage sentence that shares most words with the claims citing it."""
    sentences = split_sentences(passage.text)
    best = max(
        sentences,
        key=lambda s: sum(overlap(c, language, Source(s.text, passage.language)) for c in claims),
        default=None,
    )
    quote, start = (best.text, best.start) if best else (passage.text.strip(), 0)
    return Citation(
        n=n,
        chunk_id=passage.chunk_id,
        doc_id=passage.doc_id,
        title=passage.title,
        locator=_locator(passage, start),
        source=passage.source,
        date=passage.date,
        language=passage.language,
        quote=quote,
        text=passage.text,
        score=round(passage.dense_score, 4),
        translations=passage.translations,
    )


class Generator:
    """Condenses follow-ups, generates cited answers and verifies them."""

    def __init__(
        self,
        settings: Settings,
        embeddings: E5Embeddings,
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

    def _invoke(self, system: str, user: str, timings: dict[str, float]) -> str:
        started = time.perf_counter()
        try:
            reply = self.model.invoke([("system", system), ("human", user)])
        finally:
            timings["llm"] = timings.get("llm", 0.0) + (time.perf_counter() - started) * 1000
        content = reply.content
        return content if isinstance(content, str) else str(content)

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
        try:
            text = self._invoke(
                self.prompts.get("llm_condense_system", language),
                self.prompts.get(
                    "llm_condense_user", language, context=context.strip(), question=question
                ),
                timings,
            )
        except Exception:
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
        language: str,
        passages: Sequence[Passage],
        extractive: Answer,
        refuse: Callable[[], Answer],
        timings: dict[str, float],
    ) -> Answer:
        """The verified generative answer, the extractive one on model failure, or a refusal."""
        name = self._language_name(language)
        try:
            text = self._invoke(
                self.prompts.get("llm_system", language, language_name=name),
                self.prompts.get(
                    "llm_user",
                    language,
                    passages=format_passages(passages),
                    question=question,
                    language_name=name,
                ),
                timings,
            )
        except Exception:
            log.warning("the language model failed; answering extractively", exc_info=True)
            notice = self.prompts.get("llm_unavailable", language)
            extractive.answer = f"{notice}\n{extractive.answer}"
            return extractive
        checked = self.check(text, language, passages)
        if not checked.kept:
            answer = refuse()
        else:
            answer = self._compose(question, language, passages, checked)
        answer.verification = checked.counts()
        return answer

    def check(self, text: str, language: str, passages: Sequence[Passage]) -> Verification:
        """Verify ``text`` against ``passages``, with E5 similarity for cross-language claims."""
        if text.strip().startswith(NO_ANSWER):
            return Verification([])
        sources = [Source(p.text, p.language, p.locator) for p in passages]
        sentence_vectors: dict[int, Any] = {}

        def similarity(claim: str, n: int) -> float:
            if n not in sentence_vectors:
                sentences = [s.text for s in split_sentences(passages[n - 1].text)]
                sentence_vectors[n] = self.embeddings.embed_queries(
                    sentences or [passages[n - 1].text]
                )
            vector = self.embeddings.embed_queries([claim])[0]
            return float(np.max(sentence_vectors[n] @ vector))

        llm = self.settings.llm
        return verify(
            text,
            sources,
            language,
            similarity,
            min_overlap=llm.min_overlap,
            min_similarity=llm.min_similarity,
        )

    def _compose(
        self, question: str, language: str, passages: Sequence[Passage], checked: Verification
    ) -> Answer:
        body, numbering = render(checked)
        citations = [
            _citation(
                new,
                passages[old - 1],
                [c.text for c in checked.kept if old in c.cited],
                language,
            )
            for old, new in numbering.items()
        ]
        return Answer(question, language, body, refused=False, citations=citations)
