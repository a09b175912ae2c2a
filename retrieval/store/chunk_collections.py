"""The chunk records: one Chroma collection per document language, ``<name>_chunks_<language>``.

One record per chunk, keyed by its chunk id (``retrieval.models.make_chunk_id``), with its
text, metadata and vector (cosine space). Search ranks every language separately (scores are
centred per language), and a metadata filter makes Chroma scan the metadata of the whole
collection; a collection per language lets each per-language query use its HNSW index alone,
so a query does not grow with the corpus (10k -> 50k chunks: 27 -> 80-110 ms per filtered
query, 7-8 ms unfiltered).

The HNSW graph is searched ``SEARCH_BREADTH`` times as wide as the candidates asked for.
Chroma's default (100 for 40 candidates) missed 70 of the exact 3,200 top-40 neighbours of 80
questions on the EU corpus (1.7k chunks), and a different few in each process, so one near-tie
answered a question in one run and not in the next; 400 missed 0-1.

Which version of a document is live is the manifest's business (``retrieval.store.index``):
this module reads and writes records by id, by language, or by nearness to a vector.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from chromadb.api.collection_configuration import CreateCollectionConfiguration
from chromadb.errors import InternalError as ChromaInternalError
from langchain_chroma import Chroma

from retrieval.models import Document, chunk_ids

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from retrieval.embedding.encoders import DenseEmbeddings

logger = logging.getLogger(__name__)

COSINE = {"hnsw:space": "cosine"}
SEARCH_BREADTH = 10  # HNSW ef_search per candidate asked for
WRITE_BATCH = 1000  # records per Chroma call
VECTOR_KEY = "_vector"  # get(with_vectors=True) puts the stored vector here


def collection_names(client: Any) -> list[str]:
    """Names of every collection the Chroma client holds."""
    return [str(getattr(c, "name", c)) for c in client.list_collections()]


def _language_slug(language: str) -> str:
    return re.sub(r"[^a-z0-9]", "", language.lower()) or "und"


class ChunkCollections:
    """The per-language chunk collections of one index."""

    def __init__(
        self, client: Any, name: str, embeddings: DenseEmbeddings, candidates: int
    ) -> None:
        self._client = client
        self._search_ef = SEARCH_BREADTH * candidates
        self._name = name
        self._embeddings = embeddings
        self._prefix = f"{name}_chunks_"
        self._stores: dict[str, Chroma] = {}

    @property
    def legacy_name(self) -> str:
        """The single chunk collection of indexes written before per-language collections."""
        return f"{self._name}_chunks"

    def languages(self) -> list[str]:
        """Languages that have a chunk collection (as slugs)."""
        prefix = self._prefix
        return sorted(
            n[len(prefix) :] for n in collection_names(self._client) if n.startswith(prefix)
        )

    def drop_all(self) -> None:
        """Delete every chunk collection, the legacy one included."""
        existing = set(collection_names(self._client))
        for name in [self.legacy_name, *(self._prefix + slug for slug in self.languages())]:
            if name in existing:
                self._client.delete_collection(name)
        self._stores.clear()

    def _store(self, language: str, create: bool = False) -> Chroma | None:
        """The chunk store of ``language``; ``None`` when it does not exist and not ``create``."""
        slug = _language_slug(language)
        store = self._stores.get(slug)
        if store is None:
            name = self._prefix + slug
            if not create and name not in collection_names(self._client):
                return None
            configuration: CreateCollectionConfiguration = {
                "hnsw": {"space": "cosine", "ef_search": self._search_ef}
            }
            store = Chroma(
                collection_name=name, embedding_function=self._embeddings,
                client=self._client, collection_metadata=COSINE,
                collection_configuration=configuration,
            )  # fmt: skip
            self._widen_search(store._collection)
            self._stores[slug] = store
        return store

    def _widen_search(self, collection: Any) -> None:
        """Give a collection created before ``SEARCH_BREADTH`` (or with fewer candidates) its
        search breadth; a store that refuses the change is searched as it is."""
        current = (collection.configuration_json or {}).get("hnsw", {}).get("ef_search", 0)
        if current >= self._search_ef:
            return
        try:
            collection.modify(configuration={"hnsw": {"ef_search": self._search_ef}})
        except Exception as error:  # a read-only store still answers, as before
            logger.warning("could not widen the search of %s: %s", collection.name, error)

    def _records(self, language: str, create: bool = False) -> Any:
        """The raw collection, for batch writes with precomputed vectors; typed loosely
        because chromadb's metadata and filter types are stricter than what they accept."""
        store = self._store(language, create)
        return None if store is None else store._collection

    # -- writes ---------------------------------------------------------------------------
    def write(
        self,
        language: str,
        ids: Sequence[str],
        texts: Sequence[str],
        metadatas: Sequence[dict[str, Any]],
        vectors: NDArray[np.float32],
    ) -> None:
        """Upsert chunk records in batches (the collection is created on first use)."""
        collection = self._records(language, create=True)
        for start in range(0, len(ids), WRITE_BATCH):
            end = start + WRITE_BATCH
            collection.upsert(
                ids=list(ids[start:end]),
                embeddings=vectors[start:end].tolist(),
                documents=list(texts[start:end]),
                metadatas=list(metadatas[start:end]),
            )

    def delete(self, language: str, ids: Sequence[str]) -> None:
        records = self._records(language)
        if records is not None:
            for start in range(0, len(ids), WRITE_BATCH):
                records.delete(ids=list(ids[start : start + WRITE_BATCH]))

    def merge_metadata(self, language: str, ids: Sequence[str], extra: Mapping[str, Any]) -> None:
        """Merge ``extra`` into the metadata of each record in ``ids``."""
        records = self._records(language)
        if records is None:
            return
        for start in range(0, len(ids), WRITE_BATCH):
            batch = list(ids[start : start + WRITE_BATCH])
            records.update(ids=batch, metadatas=[dict(extra)] * len(batch))

    def migrate_single_collection(self) -> bool:
        """Move the chunks of an index written before per-language collections (no
        re-embedding); ``True`` when there was one. Idempotent: records are upserted, and the
        old collection is deleted only at the end."""
        if self.legacy_name not in collection_names(self._client):
            return False
        old = self._client.get_collection(self.legacy_name, embedding_function=None)
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
        self._client.delete_collection(self.legacy_name)
        return True

    # -- reads ----------------------------------------------------------------------------
    def of_document(self, document: Document, with_vectors: bool = False) -> dict[str, Any]:
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

    def get(
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

    def iterate(self, language: str, include: Sequence[str]) -> Iterator[dict[str, Any]]:
        """Every stored chunk of ``language`` in batches (a full read: benchmarks, diagnostics)."""
        records = self._records(language)
        offset = 0
        while records is not None:
            got = records.get(include=list(include), limit=WRITE_BATCH, offset=offset)
            if not got["ids"]:
                return
            yield dict(got)
            offset += len(got["ids"])

    def ids_of(self, doc_id: str) -> list[str]:
        """Ids of every stored chunk of ``doc_id``, any version (scans metadata; for checks)."""
        found: list[str] = []
        for slug in self.languages():
            found.extend(self._records(slug).get(where={"doc_id": doc_id}, include=[])["ids"])
        return found

    def query(
        self,
        vector: NDArray[np.float32],
        limit: int,
        language: str,
        where: dict[str, Any] | None = None,
    ) -> list[tuple[str, str, dict[str, Any], float]]:
        """(chunk_id, text, metadata, cosine similarity) of ``language`` nearest to ``vector``."""
        store = self._store(language)
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

    def count(self) -> int:
        return sum(int(self._records(slug).count()) for slug in self.languages())
