"""Connecting to Chroma: the embedded store in the data dir, or a Chroma server (HttpClient).

Telemetry is off in both. In server mode the token comes from ``REGULA_CHROMA_TOKEN`` only,
and a refused token or an unreachable server becomes a ``StoreError`` that says which.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import chromadb
from chromadb.config import Settings as ChromaSettings

from retrieval.errors import StoreError

if TYPE_CHECKING:
    from retrieval.config import Settings

TOKEN_ENV = "REGULA_CHROMA_TOKEN"  # noqa: S105 - the variable name, not a secret


def connect(settings: Settings) -> Any:
    """A Chroma client: the Chroma server of ``vector_store``, or the data dir's own store."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    store = settings.vector_store
    if store.mode == "server":
        headers = {}
        token = os.environ.get(TOKEN_ENV)
        if token:
            value = token if store.auth_header.lower() != "authorization" else f"Bearer {token}"
            headers[store.auth_header] = value
        try:
            return chromadb.HttpClient(
                host=store.host, port=store.port, ssl=store.ssl, headers=headers,
                settings=chroma_settings,
            )  # fmt: skip
        except Exception as e:
            where = f"{store.host}:{store.port}"
            if _refused_credentials(e):
                sent = f"sent in the {store.auth_header} header" if token else "not set"
                msg = (
                    f"the Chroma server at {where} refused the credentials: check "
                    f"{TOKEN_ENV} ({sent}) and vector_store.auth_header"
                )
            else:
                msg = f"cannot reach the Chroma server at {where}: {e}"
            raise StoreError(msg) from e
    path = settings.storage.data_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def _refused_credentials(error: Exception) -> bool:
    """Whether the server answered 401/403 (a wrong or missing token), not a network error."""
    from chromadb.errors import AuthorizationError, ChromaAuthError

    if isinstance(error, AuthorizationError | ChromaAuthError):
        return True
    response = getattr(error, "response", None)
    return getattr(response, "status_code", None) in (401, 403)


def reconnect(settings: Settings, client: Any) -> Any:
    """A fresh embedded client over the same folder, for after another process wrote to it.

    The embedded store keeps its vector index in memory per process, so after a foreign write
    it lags the metadata (queries and reads by id fail with "Error finding id"). Chroma shares
    one system per folder within a process; dropping this folder's entry makes the next client
    load the store from disk (clients of other folders are left alone).
    """
    from chromadb.api.shared_system_client import SharedSystemClient

    identifier = getattr(client, "_identifier", None)
    if identifier is not None:
        SharedSystemClient._identifier_to_system.pop(identifier, None)
        SharedSystemClient._identifier_to_refcount.pop(identifier, None)
    return connect(settings)
