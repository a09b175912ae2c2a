"""The vector store: every read and write of Chroma (connecting is ``store.chroma_client``).

Chroma collections (cosine space, telemetry off):

- ``<name>_chunks_<language>``: one per document language, one record per chunk, id
  ``doc::version::i``, with its embedding. Search ranks every language separately (scores are
  centred per language), and a metadata filter makes Chroma scan the metadata of the whole
  collection; a collection per language lets each per-language query use its HNSW index
  alone, so a query does not grow with the corpus (10k -> 50k chunks: 27 -> 80-110 ms per
  filtered query, 7-8 ms unfiltered).
- ``<name>_documents``: the manifest, one record per document whose metadata names the live
  ``version``, its language and chunk count (so every chunk id of a document is known without
  a scan); its embedding is the mean of the document's chunk vectors (nearest documents on
  refusal, translation candidates).
- ``<name>_state``: the ``revision`` record, which changes on every commit so other processes
  notice and reload cheaply, and one record per document written: ``pending`` from before
  its chunks are written until its commit is announced, then ``done`` (kept, so closing it
  shares the revision's write), and the ``embedding_model`` record: provider, model name and
  dimension of the vectors, written with every commit and checked before every search and
  ingest (``EmbeddingMismatchError`` names both models; ``reset`` empties the index for
  ``regula ingest --rebuild``), and the ``calibration`` record: the refusal thresholds
  ``regula calibrate`` derived from this corpus (``retrieval.answer.refusal.Calibration``).

A document becomes visible when its manifest record is written, after all its chunks are in:
one upsert of one record is the commit point, so a crash leaves either the old version or the
new one, never half. The pending record, written before the chunks, names both versions, so
``recover`` deletes exactly the chunks of the version that lost, by id.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np
from chromadb.errors import InternalError as ChromaInternalError
from langchain_chroma import Chroma

from retrieval.embedding.encoders import EmbeddingModel, require_model
from retrieval.errors import StoreError
from retrieval.models import Document, chunk_ids
from retrieval.store.chroma_client import connect, reconnect

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from retrieval.config import Settings
    from retrieval.embedding.encoders import DenseEmbeddings

logger = logging.getLogger(__name__)

COSINE = {"hnsw:space": "cosine"}
WRITE_BATCH = 1000  # records per Chroma call
MODEL_RECORD = "embedding_model"  # state record: provider, name and dimension of the vectors
CALIBRATION_RECORD = "calibration"  # state record: refusal thresholds (``regula calibrate``)


def _document_metadata(document: Document) -> dict[str, Any]:
    return {k: v for k, v in asdict(document).items() if k != "doc_id"}


def _document_from(doc_id: str, metadata: Mapping[str, Any]) -> Document:
    fields = Document.__dataclass_fields__
    values = {k: metadata[k] for k in fields if k in metadata and k != "doc_id"}
    return Document(doc_id=doc_id, **values)


VECTOR_KEY = "_vector"  # get_chunks(with_vectors=True) puts the stored vector here


def _language_slug(language: str) -> str:
    return re.sub(r"[^a-z0-9]", "", language.lower()) or "und"


class VectorStore:
    """Chunk vectors per language, the document manifest and a revision marker, in Chroma."""

    def __init__(self, settings: Settings, embeddings: DenseEmbeddings) -> None:
        self.settings = settings
        self.embeddings = embeddings
        self._client = connect(settings)
        self._name = settings.vector_store.collection
        self._chunk_stores: dict[str, Chroma] = {}
        try:
            self._open()
            self._migrate_single_collection()
        except StoreError:
            raise
        except Exception as e:
            msg = f"cannot open the vector store: {e}"
            raise StoreError(msg) from e

    def _open(self) -> None:
        self.documents = Chroma(
            collection_name=f"{self._name}_documents", embedding_function=self.embeddings,
            client=self._client, collection_metadata=COSINE,
        )  # fmt: skip
        self._state: Any = self._client.get_or_create_collection(
            f"{self._name}_state", embedding_function=None
        )
        # Raw collection for batch writes with precomputed vectors; typed loosely because
        # chromadb's metadata and filter types are stricter than what they accept.
        self._document_records: Any = self.documents._collection

    def reopen(self) -> None:
        """Embedded mode: reload the store from disk after another process wrote to it."""
        if self.settings.vector_store.mode != "embedded":
            return
        self._client = reconnect(self.settings, self._client)
        self._chunk_stores.clear()
        self._open()

    def reset(self) -> None:
        """Delete every chunk, the manifest and the state, and start an empty index."""
        names = [f"{self._name}_documents", f"{self._name}_state", f"{self._name}_chunks"]
        names += [self._chunk_prefix() + slug for slug in self.chunk_languages()]
        existing = set(self._collection_names())
        for name in names:
            if name in existing:
                self._client.delete_collection(name)
        self._chunk_stores.clear()
        self._open()

    # -- which model built the index ----------------------------------------------------------
    def recorded_model(self) -> EmbeddingModel | None:
        """The embedding model recorded by the last write; ``None`` for an older index."""
        metadatas = self._state.get(ids=[MODEL_RECORD], include=["metadatas"])["metadatas"]
        if not metadatas or not metadatas[0]:
            return None
        return EmbeddingModel.from_record(metadatas[0])

    def check_embedding_model(self) -> None:
        """Refuse to search or write with another model than the one that built the index."""
        recorded = self.recorded_model()
        empty = recorded is None and self._document_records.count() == 0
        require_model(recorded, self.embeddings.model, empty_index=empty)

    # -- refusal calibration -------------------------------------------------------------------
    def calibration_record(self) -> dict[str, Any] | None:
        """The stored calibration's fields, or ``None`` when the index was never calibrated."""
        got = self._state.get(ids=[CALIBRATION_RECORD], include=["metadatas"])["metadatas"]
        return dict(got[0]) if got and got[0] else None

    def write_calibration(self, record: Mapping[str, Any]) -> None:
        """Store (replace) the calibration; the revision is left alone (no document changed)."""
        self._state.upsert(
            ids=[CALIBRATION_RECORD], embeddings=[[1.0]],
            metadatas=[{"kind": "calibration", **record}],
        )  # fmt: skip

    # -- per-language chunk collections -----------------------------------------------------
    def _chunk_prefix(self) -> str:
        return f"{self._name}_chunks_"

    def _collection_names(self) -> list[str]:
        return [str(getattr(c, "name", c)) for c in self._client.list_collections()]

    def _chunks(self, language: str, create: bool = False) -> Chroma | None:
        """The chunk store of ``language``; ``None`` when it does not exist and not ``create``."""
        slug = _language_slug(language)
        store = self._chunk_stores.get(slug)
        if store is None:
            name = self._chunk_prefix() + slug
            if not create and name not in self._collection_names():
                return None
            store = Chroma(
                collection_name=name, embedding_function=self.embeddings,
                client=self._client, collection_metadata=COSINE,
            )  # fmt: skip
            self._chunk_stores[slug] = store
        return store

    def _records(self, language: str, create: bool = False) -> Any:
        store = self._chunks(language, create)
        return None if store is None else store._collection

    def chunk_languages(self) -> list[str]:
        """Languages that have a chunk collection (as slugs)."""
        prefix = self._chunk_prefix()
        return sorted(n[len(prefix) :] for n in self._collection_names() if n.startswith(prefix))

    def _migrate_single_collection(self) -> None:
        """Move the chunks of an index written before per-language collections (no re-embedding).

        Idempotent: records are upserted, and the old collection is deleted only at the end.
        """
        legacy = f"{self._name}_chunks"
        if legacy not in self._collection_names():
            return
        old = self._client.get_collection(legacy, embedding_function=None)
        offset = 0
        while True:
            got = old.get(
                include=["embeddings", "documents", "metadatas"], limit=WRITE_BATCH, offset=offset
            )
            if not got["ids"]:
                break
            rows = zip(
                got["ids"], got["embeddings"], got["documents"], got["metadatas"], strict=True
            )
            by_language: dict[str, list[Any]] = {}
            for row in rows:
                by_language.setdefault(str((row[3] or {}).get("language", "")), []).append(row)
            for language, batch in by_language.items():
                ids, vectors, texts, metadatas = (
                    list(column) for column in zip(*batch, strict=True)
                )
                self._records(language, create=True).upsert(
                    ids=ids, embeddings=vectors, documents=texts, metadatas=metadatas
                )
            offset += len(got["ids"])
        self._client.delete_collection(legacy)
        self._bump_revision()

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

    def _manifest_records(self, doc_ids: Sequence[str]) -> dict[str, Document]:
        if not doc_ids:
            return {}
        got = self._document_records.get(ids=list(doc_ids), include=["metadatas"])
        return {
            doc_id: _document_from(doc_id, metadata or {})
            for doc_id, metadata in zip(got["ids"], got["metadatas"], strict=True)
        }

    def document_vectors(self, doc_ids: Sequence[str]) -> dict[str, NDArray[np.float32]]:
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
        """Note the write as pending, add the chunks, commit the manifest record, sweep."""
        previous = self._manifest_records([document.doc_id]).get(document.doc_id)
        self._mark_pending(document, len(chunk_ids), previous)
        collection = self._records(document.language, create=True)
        for start in range(0, len(chunk_ids), WRITE_BATCH):
            end = start + WRITE_BATCH
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
        if previous is not None and previous.version != document.version:
            self._delete_chunks(previous.language, previous.doc_id, previous.version,
                                previous.chunk_count)  # fmt: skip
        # One write announces the commit to other processes, closes the pending record and
        # records the model that made the vectors (an older index gets it on its next write).
        self._state.upsert(
            ids=["revision", f"pending::{document.doc_id}", MODEL_RECORD],
            embeddings=[[1.0], [1.0], [1.0]],
            metadatas=[
                {"value": uuid.uuid4().hex},
                {"kind": "done"},
                {"kind": "model", **self.embeddings.model.record(dim=int(mean.shape[0]))},
            ],
        )

    def _mark_pending(self, document: Document, count: int, previous: Document | None) -> None:
        record = {
            "kind": "pending", "doc_id": document.doc_id, "version": document.version,
            "language": document.language, "count": count,
            "old_version": previous.version if previous else "",
            "old_language": previous.language if previous else "",
            "old_count": previous.chunk_count if previous else 0,
        }  # fmt: skip
        self._state.upsert(
            ids=[f"pending::{document.doc_id}"], embeddings=[[1.0]], metadatas=[record]
        )

    def _delete_chunks(self, language: str, doc_id: str, version: str, count: int) -> None:
        records = self._records(language)
        ids = chunk_ids(doc_id, version, count)
        if records is not None:
            for start in range(0, len(ids), WRITE_BATCH):
                records.delete(ids=ids[start : start + WRITE_BATCH])

    def recover(self) -> int:
        """Delete the chunks a crashed write left behind; returns how many writes were undone."""
        got = self._state.get(where={"kind": "pending"}, include=["metadatas"])
        if not got["ids"]:
            return 0
        pending = [dict(m) for m in got["metadatas"] if m]
        live = self._manifest_records([str(p["doc_id"]) for p in pending])
        for p in pending:
            doc_id = str(p["doc_id"])
            current = live.get(doc_id)
            if current is not None and current.version == p["version"]:  # committed, not swept
                if p["old_version"] and p["old_version"] != p["version"]:
                    self._delete_chunks(str(p["old_language"]), doc_id, str(p["old_version"]),
                                        int(p["old_count"]))  # fmt: skip
            else:
                self._delete_chunks(str(p["language"]), doc_id, str(p["version"]), int(p["count"]))
        self._state.upsert(
            ids=list(got["ids"]), embeddings=[[1.0]] * len(got["ids"]),
            metadatas=[{"kind": "done"}] * len(got["ids"]),
        )  # fmt: skip
        return len(pending)

    def update_groups(self, groups: Mapping[str, str]) -> None:
        """Set ``group_id`` on manifest records (doc_id -> group id)."""
        if not groups:
            return
        current = self._manifest_records(list(groups))
        ids = list(current)
        metadatas = [{**_document_metadata(current[d]), "group_id": groups[d]} for d in ids]
        if ids:
            self._document_records.update(ids=ids, metadatas=metadatas)
            self._bump_revision()

    def update_validity(
        self, documents: Sequence[Document], chunk_metadata: Sequence[Mapping[str, Any]]
    ) -> None:
        """Rewrite the version fields of manifest records and merge ``chunk_metadata`` (one
        mapping per document) into the metadata of each document's live chunks."""
        if not documents:
            return
        for doc, extra in zip(documents, chunk_metadata, strict=True):
            records = self._records(doc.language)
            ids = chunk_ids(doc.doc_id, doc.version, doc.chunk_count)
            if records is None or not ids:
                continue
            for start in range(0, len(ids), WRITE_BATCH):
                batch = ids[start : start + WRITE_BATCH]
                records.update(ids=batch, metadatas=[dict(extra)] * len(batch))
        self._document_records.update(
            ids=[d.doc_id for d in documents],
            metadatas=[_document_metadata(d) for d in documents],
        )
        self._bump_revision()

    def remove_documents(self, doc_ids: Iterable[str]) -> None:
        records = self._manifest_records(list(doc_ids))
        if not records:
            return
        self._document_records.delete(ids=list(records))
        self._bump_revision()
        for doc in records.values():
            self._delete_chunks(doc.language, doc.doc_id, doc.version, doc.chunk_count)

    # -- reads ----------------------------------------------------------------------------
    def chunks_of(self, document: Document, with_vectors: bool = False) -> dict[str, Any]:
        """Every chunk of one document version, in reading order (text, metadata, vectors)."""
        include = ["documents", "metadatas"] + (["embeddings"] if with_vectors else [])
        ids = chunk_ids(document.doc_id, document.version, document.chunk_count)
        records = self._records(document.language)
        if records is None or not ids:
            return {"ids": [], "documents": [], "metadatas": [], "embeddings": []}
        got = records.get(ids=ids, include=include)
        order = {chunk_id: i for i, chunk_id in enumerate(ids)}
        rows = sorted(range(len(got["ids"])), key=lambda r: order[got["ids"][r]])
        result: dict[str, Any] = {"ids": [got["ids"][r] for r in rows]}
        for key in include:
            values = got[key]
            result[key] = [values[r] for r in rows]
        return result

    def get_chunks(
        self, ids_by_language: Mapping[str, Sequence[str]], with_vectors: bool = False
    ) -> dict[str, tuple[str, dict[str, Any]]]:
        """chunk_id -> (text, metadata) for chunk ids grouped by their document's language.

        ``with_vectors`` adds each chunk's stored vector to its metadata under ``VECTOR_KEY``.
        """
        include = ["documents", "metadatas"] + (["embeddings"] if with_vectors else [])
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        for language, ids in ids_by_language.items():
            records = self._records(language)
            if records is None or not ids:
                continue
            got = records.get(ids=list(ids), include=include)
            vectors = got["embeddings"] if with_vectors else [None] * len(got["ids"])
            for chunk_id, text, metadata, vector in zip(
                got["ids"], got["documents"], got["metadatas"], vectors, strict=True
            ):
                metadata = dict(metadata or {})
                if vector is not None:
                    metadata[VECTOR_KEY] = np.asarray(vector, dtype=np.float32)
                found[str(chunk_id)] = (str(text), metadata)
        return found

    def iter_chunks(self, language: str, include: Sequence[str]) -> Iterator[dict[str, Any]]:
        """Every stored chunk of ``language`` in batches (a full read: benchmarks, diagnostics)."""
        records = self._records(language)
        offset = 0
        while records is not None:
            got = records.get(include=list(include), limit=WRITE_BATCH, offset=offset)
            if not got["ids"]:
                return
            yield dict(got)
            offset += len(got["ids"])

    def stored_chunk_ids(self, doc_id: str) -> list[str]:
        """Ids of every stored chunk of ``doc_id``, any version (scans metadata; for checks)."""
        found: list[str] = []
        for slug in self.chunk_languages():
            records = self._records(slug)
            found.extend(records.get(where={"doc_id": doc_id}, include=[])["ids"])
        return found

    def query_chunks(
        self,
        vector: NDArray[np.float32],
        limit: int,
        language: str,
        where: dict[str, Any] | None = None,
    ) -> list[tuple[str, str, dict[str, Any], float]]:
        """(chunk_id, text, metadata, cosine similarity) of ``language`` nearest to ``vector``."""
        store = self._chunks(language)
        if store is None:
            return []
        # Chroma >= 1.0 returns fewer results when the collection holds fewer than ``limit``.
        try:
            results = store.similarity_search_by_vector_with_relevance_scores(
                embedding=vector.tolist(), k=limit, filter=where
            )
        except ChromaInternalError:
            if where is None:
                raise
            # An embedded store written by another process: its vector index in this process
            # lags the metadata, and a filtered query then fails on ids it does not know yet.
            # Unfiltered, it answers from what it has; the caller filters (``Searcher._live``).
            logger.warning("filtered query failed on a stale embedded index; unfiltered instead")
            results = store.similarity_search_by_vector_with_relevance_scores(
                embedding=vector.tolist(), k=limit
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
        return sum(int(self._records(slug).count()) for slug in self.chunk_languages())

    def count_documents(self) -> int:
        """Documents in the manifest (one cheap count; health checks)."""
        return int(self._document_records.count())
