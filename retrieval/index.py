"""The vector store: the only module that imports chromadb / langchain_chroma.

Three Chroma collections (cosine space, telemetry off):

- ``<name>_chunks``: one record per chunk, id ``doc::version::i``, with its embedding.
- ``<name>_documents``: the manifest, one record per document whose metadata names the live
  ``version``; its embedding is the mean of the document's chunk vectors (used to list the
  nearest documents on refusal and to find translation candidates).
- ``<name>_state``: one record whose ``revision`` changes on every commit, so other processes
  notice and reload cheaply.

A document becomes visible when its manifest record is written, after all its chunks are in:
one upsert of one record is the commit point, so a crash leaves either the old version or the
new one, never half. Chunks of any other version are ignored by search and swept later.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import chromadb
from chromadb.config import Settings as ChromaSettings
from langchain_chroma import Chroma

from retrieval.errors import IndexLockedError, StoreError
from retrieval.models import Document

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from retrieval.config import Settings
    from retrieval.embeddings import E5Embeddings

COSINE = {"hnsw:space": "cosine"}
TOKEN_ENV = "REGULA_CHROMA_TOKEN"  # noqa: S105 - the variable name, not a secret


def _client(settings: Settings) -> Any:
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


class WriterLock:
    """An exclusive advisory lock so two processes never write one embedded index."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            msg = (
                f"the index in {self.path.parent} is being written by {holder}; "
                "wait for it to finish (or stop it), or use vector_store.mode: server"
            )
            raise IndexLockedError(msg) from e
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def _document_metadata(document: Document) -> dict[str, Any]:
    return {k: v for k, v in asdict(document).items() if k != "doc_id"}


def _document_from(doc_id: str, metadata: Mapping[str, Any]) -> Document:
    fields = Document.__dataclass_fields__
    values = {k: metadata[k] for k in fields if k in metadata and k != "doc_id"}
    return Document(doc_id=doc_id, **values)


class VectorStore:
    """Chunk vectors, the document manifest and a revision marker, in Chroma."""

    def __init__(self, settings: Settings, embeddings: E5Embeddings) -> None:
        self.settings = settings
        self.embeddings = embeddings
        self._client = _client(settings)
        name = settings.vector_store.collection
        try:
            self.chunks = Chroma(
                collection_name=f"{name}_chunks", embedding_function=embeddings,
                client=self._client, collection_metadata=COSINE,
            )  # fmt: skip
            self.documents = Chroma(
                collection_name=f"{name}_documents", embedding_function=embeddings,
                client=self._client, collection_metadata=COSINE,
            )  # fmt: skip
            self._state = self._client.get_or_create_collection(f"{name}_state")
            # Raw collections for batch writes with precomputed vectors; typed loosely because
            # chromadb's metadata and filter types are stricter than what they accept.
            self._chunk_records: Any = self.chunks._collection
            self._document_records: Any = self.documents._collection
        except Exception as e:
            msg = f"cannot open the vector store: {e}"
            raise StoreError(msg) from e

    # -- manifest -------------------------------------------------------------------------
    def revision(self) -> str:
        got = self._state.get(ids=["revision"], include=["metadatas"])
        metadatas = got.get("metadatas") or []
        return str(metadatas[0]["value"]) if metadatas and metadatas[0] else ""

    def _bump_revision(self) -> None:
        self._state.upsert(
            ids=["revision"], embeddings=[[1.0]], metadatas=[{"value": uuid.uuid4().hex}]
        )

    def manifest(self) -> dict[str, Document]:
        got = self.documents.get(include=["metadatas"])
        return {
            doc_id: _document_from(doc_id, metadata or {})
            for doc_id, metadata in zip(got["ids"], got["metadatas"], strict=True)
        }

    def document_vectors(self, doc_ids: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        import numpy as np

        if not doc_ids:
            return {}
        got = self.documents.get(ids=list(doc_ids), include=["embeddings"])
        return {
            i: np.asarray(v, dtype=np.float32)
            for i, v in zip(got["ids"], got["embeddings"], strict=True)
        }

    # -- writes ---------------------------------------------------------------------------
    def write_document(
        self,
        document: Document,
        chunk_ids: Sequence[str],
        texts: Sequence[str],
        metadatas: Sequence[dict[str, Any]],
        vectors: NDArray[np.float32],
    ) -> None:
        """Add the chunks of a new version, then commit its manifest record, then sweep."""
        import numpy as np

        collection = self._chunk_records
        for start in range(0, len(chunk_ids), 1000):
            end = start + 1000
            collection.upsert(
                ids=list(chunk_ids[start:end]),
                embeddings=vectors[start:end].tolist(),
                documents=list(texts[start:end]),
                metadatas=list(metadatas[start:end]),
            )
        mean = vectors.mean(axis=0) if len(vectors) else np.ones(self.embeddings.dim)
        mean = mean / (np.linalg.norm(mean) or 1.0)
        self._document_records.upsert(
            ids=[document.doc_id],
            embeddings=[mean.tolist()],
            documents=[document.title],
            metadatas=[_document_metadata(document)],
        )
        self._bump_revision()
        self.sweep(document.doc_id, keep_version=document.version)

    def update_groups(self, groups: Mapping[str, str]) -> None:
        """Set ``group_id`` on manifest records (doc_id -> group id)."""
        if not groups:
            return
        current = self.manifest()
        ids = [d for d in groups if d in current]
        metadatas = [{**_document_metadata(current[d]), "group_id": groups[d]} for d in ids]
        if ids:
            self._document_records.update(ids=ids, metadatas=metadatas)
            self._bump_revision()

    def sweep(self, doc_id: str, keep_version: str | None) -> None:
        """Delete a document's chunks of every version but ``keep_version``."""
        where: dict[str, Any] = {"doc_id": doc_id}
        if keep_version is not None:
            where = {"$and": [{"doc_id": doc_id}, {"version": {"$ne": keep_version}}]}
        self._chunk_records.delete(where=where)

    def remove_documents(self, doc_ids: Iterable[str]) -> None:
        ids = list(doc_ids)
        if not ids:
            return
        self._document_records.delete(ids=ids)
        self._bump_revision()
        for doc_id in ids:
            self.sweep(doc_id, keep_version=None)

    def orphan_doc_ids(self, live: Iterable[str]) -> set[str]:
        """Documents that have chunks but no manifest record (a crashed first ingest)."""
        got = self.chunks.get(include=["metadatas"])
        seen = {str(m["doc_id"]) for m in got["metadatas"] if m}
        return seen - set(live)

    # -- reads ----------------------------------------------------------------------------
    def chunk_records(self) -> Any:
        """The raw chunk collection, for reads that need vectors."""
        return self._chunk_records

    def chunks_of(self, doc_id: str, version: str, with_vectors: bool = False) -> dict[str, Any]:
        """Every chunk of one document version (text, metadata and optionally vectors)."""
        where = {"$and": [{"doc_id": doc_id}, {"version": version}]}
        include = ["documents", "metadatas"] + (["embeddings"] if with_vectors else [])
        return dict(self._chunk_records.get(where=where, include=include))

    def get_chunks(self, chunk_ids: Sequence[str], with_vectors: bool = False) -> dict[str, Any]:
        include = ["documents", "metadatas"] + (["embeddings"] if with_vectors else [])
        return dict(self._chunk_records.get(ids=list(chunk_ids), include=include))

    def query_chunks(
        self, vector: NDArray[np.float32], limit: int, where: dict[str, Any] | None
    ) -> list[tuple[str, str, dict[str, Any], float]]:
        """(chunk_id, text, metadata, cosine similarity) nearest to ``vector``."""
        count = self._chunk_records.count()
        if count == 0:
            return []
        results = self.chunks.similarity_search_by_vector_with_relevance_scores(
            embedding=vector.tolist(), k=min(limit, count), filter=where
        )
        return [
            (str(doc.id), doc.page_content, dict(doc.metadata), 1.0 - float(distance))
            for doc, distance in results
        ]

    def query_documents(self, vector: NDArray[np.float32], limit: int) -> list[tuple[str, float]]:
        count = self._document_records.count()
        if count == 0:
            return []
        results = self.documents.similarity_search_by_vector_with_relevance_scores(
            embedding=vector.tolist(), k=min(limit, count)
        )
        return [(str(doc.id), 1.0 - float(distance)) for doc, distance in results]

    def count_chunks(self) -> int:
        return int(self._chunk_records.count())
