"""The configured LangChain chat model: the provider's class, its server and our key.

``llm.provider`` picks ``ChatOllama`` (Ollama's native API) or ``ChatOpenAI`` with
``base_url`` (llama.cpp, vLLM and other OpenAI-compatible servers). The API key comes from
``REGULA_LLM_API_KEY`` only, never from ``OPENAI_API_KEY`` or ``OLLAMA_API_KEY``.
"""

from __future__ import annotations

import os
from typing import Any

from retrieval.adapters.ollama_client import ollama_client_kwargs
from retrieval.config import LLMSettings

API_KEY_ENV = "REGULA_LLM_API_KEY"


def build_chat_model(settings: LLMSettings) -> Any:
    """The configured LangChain chat model; the API key comes from ``REGULA_LLM_API_KEY`` only."""
    api_key = os.environ.get(API_KEY_ENV, "")
    if settings.provider == "ollama":
        from langchain_ollama import ChatOllama

        return ChatOllama(
            model=settings.model,
            base_url=settings.base_url,
            temperature=0,
            num_predict=settings.max_tokens,
            client_kwargs=ollama_client_kwargs(api_key, settings.timeout_s),
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
