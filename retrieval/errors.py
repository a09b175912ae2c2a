"""Regula's exceptions.

    RegulaError                 anything the interfaces should show as a clear message
     ├── ConfigError            config.yaml or a REGULA_* variable is invalid (names the key)
     ├── LoaderError            one file could not be read; ingest reports it and goes on
     ├── IndexLockedError       another process is writing the embedded index
     ├── StoreError             the index is missing, corrupt or unreachable
     │    └── EmbeddingMismatchError  the index was built by another embedding model
     ├── EmbeddingError         the embeddings endpoint failed or answered nonsense
     └── LLMError               the language model failed or timed out (LLM mode falls back)

``LLMError`` never reaches the interfaces: ``Assistant.ask`` catches what the generator raises
and answers extractively instead.
The CLI turns these into one-line messages and an exit status; the bot logs them and tells the
user something went wrong, never the details.
"""

from __future__ import annotations


class RegulaError(Exception):
    """Base class: a failure with a message fit for the user."""


class ConfigError(RegulaError):
    """The configuration is invalid."""


class LoaderError(RegulaError):
    """A file could not be turned into a document."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class IndexLockedError(RegulaError):
    """A second writer tried to open the embedded index."""


class StoreError(RegulaError):
    """The index cannot be used."""


class EmbeddingMismatchError(StoreError):
    """The configured embedding model is not the one that built the index (names both)."""


class EmbeddingError(RegulaError):
    """The embedding provider failed (connection, timeout, bad response); raised from the cause."""


class LLMError(RegulaError):
    """The chat model failed (connection, timeout, bad response); raised from the cause."""
