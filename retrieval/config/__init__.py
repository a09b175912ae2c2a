"""Regula's configuration: one typed schema (``schema.py``) and its loader (``loading.py``).

``load_settings(path, env)`` reads ``config.yaml``, applies ``REGULA_<SECTION>__<KEY>``
environment overrides and validates the result; callers import from here.
"""

from retrieval.config.loading import ENV_PREFIX, RETIRED_KEYS, load_settings
from retrieval.config.schema import (
    AccessSettings,
    AnswerSettings,
    AuditSettings,
    EmbeddingSettings,
    IngestSettings,
    LanguageSettings,
    LLMSettings,
    LoggingSettings,
    OpsSettings,
    RetrievalSettings,
    Section,
    Settings,
    StorageSettings,
    TelegramSettings,
    VectorStoreSettings,
)

__all__ = [
    "ENV_PREFIX",
    "RETIRED_KEYS",
    "AccessSettings",
    "AnswerSettings",
    "AuditSettings",
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
