"""Which chunk of one language version of a document translates a chunk of another.

A passage found in one language is shown in the asker's language, and translations of one
passage are collapsed into one result, by taking the other version's chunk whose vector is
closest to it: versions of one text are chunked alike but not always identically, so chunk
numbers do not line up. The chunk vectors of recently aligned documents are kept, keyed by
document and version (a re-ingested document is a new version and is read again).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from retrieval.models import Document
    from retrieval.store.index import VectorStore

KEPT_DOCUMENTS = 256
"""Documents whose chunk vectors are kept: a translation group is read once per question
that lands in it, not once per passage."""


class ChunkAligner:
    """Aligns chunks across the language versions of a document, through ``store``."""

    def __init__(self, store: VectorStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._vectors: OrderedDict[tuple[str, str], tuple[list[str], NDArray[np.float32]]] = (
            OrderedDict()
        )

    def aligned_chunk(self, chunk_id: str, source: Document, target: Document) -> str:
        """The chunk of ``target`` that translates ``chunk_id`` of ``source`` (best match;
        empty when either version has no such chunk)."""
        source_ids, source_vectors = self._chunk_vectors(source)
        target_ids, target_vectors = self._chunk_vectors(target)
        if chunk_id not in source_ids or not target_ids:
            return ""
        row = source_vectors[source_ids.index(chunk_id)]
        return target_ids[int(np.argmax(target_vectors @ row))]

    def _chunk_vectors(self, doc: Document) -> tuple[list[str], NDArray[np.float32]]:
        key = (doc.doc_id, doc.version)
        with self._lock:
            if key in self._vectors:
                self._vectors.move_to_end(key)
                return self._vectors[key]
        got = self.store.chunks_of(doc, with_vectors=True)
        entry = (list(got["ids"]), np.asarray(got["embeddings"], dtype=np.float32))
        with self._lock:
            self._vectors[key] = entry
            while len(self._vectors) > KEPT_DOCUMENTS:
                self._vectors.popitem(last=False)
        return entry
