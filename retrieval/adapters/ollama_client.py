"""How Regula talks to an Ollama daemon, for chat models and embeddings alike.

langchain-ollama passes ``client_kwargs`` to its httpx client; both adapters send the same
ones, so the key rule lives here once: our own key as a bearer token, never ollama-python's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def ollama_auth(api_key: str) -> Callable[[Any], Any]:
    """An httpx auth hook: our key as a bearer token, and never ollama-python's own.

    Without it ollama-python sends ``OLLAMA_API_KEY`` from the environment whenever no
    Authorization header is set; credentials in the base URL (Basic) are left alone.
    """

    def apply(request: Any) -> Any:
        if api_key:
            request.headers["Authorization"] = f"Bearer {api_key}"
        elif request.headers.get("Authorization", "").startswith("Bearer "):
            del request.headers["Authorization"]
        return request

    return apply


def ollama_client_kwargs(api_key: str, timeout_s: float) -> dict[str, Any]:
    """``client_kwargs`` for ``ChatOllama`` and ``OllamaEmbeddings``."""
    return {
        "timeout": timeout_s,
        "headers": {},  # langchain-ollama merges user:password@ credentials into it
        "auth": ollama_auth(api_key),
    }
