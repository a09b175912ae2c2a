"""The vector store: every read and write of Chroma (connecting is ``store.chroma_client``).

Three kinds of Chroma records (cosine space, telemetry off), each with its own module:

- chunks, one collection per document language (``store.chunk_collections``), id
  ``doc::version::i`` (``retrieval.models.make_chunk_id``), with the chunk's embedding;
- ``<name>_documents``: the manifest, here, one record per document whose metadata names the
  live ``version``, its language and chunk count (so every chunk id of a document is known
  without a scan); its embedding is the mean of the document's chunk vectors (nearest
  documents on refusal, translation candidates);
- ``<name>_state`` (``store.state``): the revision other processes watch, the pending record
  of each write, the embedding model that made the vectors and the refusal calibration.

A document becomes visible when its manifest record is written, after all its chunks are in:
one upsert of one record is the commit point, so a crash leaves either the old version or the
new one, never half. The pending record, written before the chunks, names both versions, so
``recover`` deletes exactly the chunks of the version that lost, by id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_chroma import Chroma

from retrieval.embedding.identity import EmbeddingModel, require_model
from retrieval.errors import StoreError
from retrieval.models import Document, chunk_ids
from retrieval.store.chroma_client import connect, reconnect
from retrieval.store.chunk_collections import COSINE, ChunkCollections, collection_names
from retrieval.store.state import IndexState

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from retrieval.config import Settings
    from retrieval.embedding.encoders import DenseEmbeddings


def _document_metadata(document: Document) -> dict[str, Any]:
    return {k: v for k, v in asdict(document).items() if k != "doc_id"}


def _document_from(doc_id: str, metadata: Mapping[str, Any]) -> Document:
    fields = Document.__dataclass_fields__
    values = {k: metadata[k] for k in fields if k in metadata and k != "doc_id"}
    if "version_declared" not in metadata:  # written before parts: versions as they were
        values["version_declared"] = True
    return Document(doc_id=doc_id, **values)


class VectorStore:
    """Chunk vectors per language, the document manifest and the state records, in Chroma."""

    def __init__(self, settings: Settings, embeddings: DenseEmbeddings) -> None:
        self.settings = settings
        self.embeddings = embeddings
        self._client = connect(settings)
        self._name = settings.vector_store.collection
        try:
            self._open()
            if self.chunks.migrate_single_collection():
                self.state.bump_revision()
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
        self.state = IndexState(
            self._client.get_or_create_collection(f"{self._name}_state", embedding_function=None)
        )
        self.chunks = ChunkCollections(
            self._client, self._name, self.embeddings, self.settings.retrieval.candidates
        )
        # Raw collection for batch writes with precomputed vectors; typed loosely because
        # chromadb's metadata and filter types are stricter than what they accept.
        self._document_records: Any = self.documents._collection

    def reopen(self) -> None:
        """Embedded mode: reload the store from disk after another process wrote to it."""
        if self.settings.vector_store.mode != "embedded":
            return
        self._client = reconnect(self.settings, self._client)
        self._open()

    def reset(self) -> None:
        """Delete every chunk, the manifest and the state, and start an empty index."""
        self.chunks.drop_all()
        existing = set(collection_names(self._client))
        for name in (f"{self._name}_documents", f"{self._name}_state"):
            if name in existing:
                self._client.delete_collection(name)
        self._open()

    # -- state records ------------------------------------------------------------------------
    def revision(self) -> str:
        """The marker of the last commit; another value means another writer committed."""
        return self.state.revision()

    def recorded_model(self) -> EmbeddingModel | None:
        """The embedding model recorded by the last write; ``None`` for an older index."""
        return self.state.recorded_model()

    def check_embedding_model(self) -> None:
        """Refuse to search or write with another model than the one that built the index."""
        recorded = self.state.recorded_model()
        empty = recorded is None and self._document_records.count() == 0
        require_model(recorded, self.embeddings.model, empty_index=empty)

    def calibration_record(self) -> dict[str, Any] | None:
        """The stored calibration's fields, or ``None`` when the index was never calibrated."""
        return self.state.calibration_record()

    def write_calibration(self, record: Mapping[str, Any]) -> None:
        """Store (replace) the calibration; the revision is left alone (no document changed)."""
        self.state.write_calibration(record)

    # -- manifest -------------------------------------------------------------------------
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

    def query_documents(self, vector: NDArray[np.float32], limit: int) -> list[tuple[str, float]]:
        count = self._document_records.count()
        if count == 0:
            return []
        results = self.documents.similarity_search_by_vector_with_relevance_scores(
            embedding=vector.tolist(), k=min(limit, count)
        )
        return [(str(doc.id), 1.0 - float(distance)) for doc, distance in results]

    def count_documents(self) -> int:
        """Documents in the manifest (one cheap count; health checks)."""
        return int(self._document_records.count())

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
        self.state.mark_pending(document, len(chunk_ids), previous)
        self.chunks.write(document.language, chunk_ids, texts, metadatas, vectors)
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
        self.state.announce_commit(
            document.doc_id, self.embeddings.model.record(dim=int(mean.shape[0]))
        )

    def _delete_chunks(self, language: str, doc_id: str, version: str, count: int) -> None:
        self.chunks.delete(language, chunk_ids(doc_id, version, count))

    def recover(self) -> int:
        """Delete the chunks a crashed write left behind; returns how many writes were undone."""
        writes = self.state.pending_writes()
        if not writes:
            return 0
        pending = [p for p in writes.values() if p]
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
        self.state.close_pending(list(writes))
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
            self.state.bump_revision()

    def update_validity(
        self,
        documents: Sequence[Document],
        chunk_metadata: Sequence[Mapping[str, Any]],
        part_windows: Sequence[Mapping[int, int]] | None = None,
    ) -> None:
        """Rewrite the version fields of manifest records and merge ``chunk_metadata`` (one
        mapping per document) into the metadata of each document's live chunks; then, per
        document, ``part_windows`` (chunk index -> ``valid_until_num``) into the chunks of
        articles a later text replaced."""
        if not documents:
            return
        windows = part_windows or [{}] * len(documents)
        for doc, extra, ends in zip(documents, chunk_metadata, windows, strict=True):
            ids = chunk_ids(doc.doc_id, doc.version, doc.chunk_count)
            self.chunks.merge_metadata(doc.language, ids, extra)
            by_end: dict[int, list[str]] = {}
            for index, end in ends.items():
                if 0 <= index < len(ids):
                    by_end.setdefault(end, []).append(ids[index])
            for end, replaced in by_end.items():
                self.chunks.merge_metadata(doc.language, replaced, {"valid_until_num": end})
        self._document_records.update(
            ids=[d.doc_id for d in documents],
            metadatas=[_document_metadata(d) for d in documents],
        )
        self.state.bump_revision()

    def remove_documents(self, doc_ids: Iterable[str]) -> None:
        records = self._manifest_records(list(doc_ids))
        if not records:
            return
        self._document_records.delete(ids=list(records))
        self.state.bump_revision()
        for doc in records.values():
            self._delete_chunks(doc.language, doc.doc_id, doc.version, doc.chunk_count)

    # -- chunk reads (``store.chunk_collections``) -----------------------------------------
    def chunks_of(self, document: Document, with_vectors: bool = False) -> dict[str, Any]:
        """Every chunk of one document version, in reading order (text, metadata, vectors)."""
        return self.chunks.of_document(document, with_vectors)

    def get_chunks(
        self, ids_by_language: Mapping[str, Sequence[str]], with_vectors: bool = False
    ) -> dict[str, tuple[str, dict[str, Any]]]:
        """chunk_id -> (text, metadata); ``with_vectors`` adds the vector under ``VECTOR_KEY``."""
        return self.chunks.get(ids_by_language, with_vectors)

    def query_chunks(
        self,
        vector: NDArray[np.float32],
        limit: int,
        language: str,
        where: dict[str, Any] | None = None,
    ) -> list[tuple[str, str, dict[str, Any], float]]:
        """(chunk_id, text, metadata, cosine similarity) of ``language`` nearest to ``vector``."""
        return self.chunks.query(vector, limit, language, where)

    def iter_chunks(self, language: str, include: Sequence[str]) -> Iterator[dict[str, Any]]:
        """Every stored chunk of ``language`` in batches (a full read: benchmarks, diagnostics)."""
        return self.chunks.iterate(language, include)

    def stored_chunk_ids(self, doc_id: str) -> list[str]:
        """Ids of every stored chunk of ``doc_id``, any version (scans metadata; for checks)."""
        return self.chunks.ids_of(doc_id)

    def chunk_languages(self) -> list[str]:
        """Languages that have a chunk collection (as slugs)."""
        return self.chunks.languages()

    def count_chunks(self) -> int:
        return self.chunks.count()
