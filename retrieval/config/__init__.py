"""Regula's configuration: one typed schema (``schema.py``) and its loader (``loading.py``).

``load_settings(path, env)`` reads ``config.yaml``, applies ``REGULA_<SECTION>__<KEY>``
environment overrides and validates the result; callers import from here.
"""

from retrieval.config.base import Section
from retrieval.config.loading import ENV_PREFIX, RETIRED_KEYS, load_settings
from retrieval.config.schema import (
    AccessSettings,
    AnswerSettings,
    AuditSettings,
    EmbeddingSettings,
    IngestSettings,
    LanguageSettings,
    LLMSettings,
    RetrievalSettings,
    Settings,
    StorageSettings,
    TelegramSettings,
    VectorStoreSettings,
)
from retrieval.config.service import ConsoleSettings, LoggingSettings, OpsSettings

__all__ = [
    "ENV_PREFIX",
    "RETIRED_KEYS",
    "AccessSettings",
    "AnswerSettings",
    "AuditSettings",
    "ConsoleSettings",
    "EmbeddingSettings",
    "IngestSettings",
    "LLMSettings",
    "LanguageSettings",
    "LoggingSettings",
    "OpsSettings",
    "RetrievalSettings",
    "Section",
    "Settings",
    "StorageSettings",
    "TelegramSettings",
    "VectorStoreSettings",
    "load_settings",
]
