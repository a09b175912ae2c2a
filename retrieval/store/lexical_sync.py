"""Keeping a worker's lexical cache in step with the manifest in Chroma.

The lexical index (BM25 rows and latent postings, ``store.lexical``) is a derived copy in each
worker's own data dir; Chroma holds the truth. The copy falls behind when another worker
commits to a shared Chroma server, or another process to the same embedded store, and it is
empty when its file was deleted or its layout changed. ``LexicalSync.follow`` rebuilds what
differs from Chroma's stored chunks (text, header, encoded latent terms): no re-embedding.
The ``Assistant`` calls it whenever it reloads the manifest, so search itself only reads.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from retrieval.models import Document, with_header
from retrieval.store.index import VectorStore
from retrieval.store.lexical import LexicalDocument, LexicalIndex
from retrieval.versions import lexical_window

SYNC_BATCH = 64  # documents per lexical transaction when rebuilding the cache from Chroma


def sync_lexical(
    store: VectorStore, lexical: LexicalIndex, manifest: Mapping[str, Document]
) -> None:
    """Make the lexical cache match ``manifest``, rebuilding what differs from Chroma."""
    lexical_versions = lexical.versions()
    stale = [d for d in lexical_versions if d not in manifest]
    lexical.remove_documents(stale)
    windows = lexical.windows()
    moved = {
        doc_id: lexical_window(doc) for doc_id, doc in manifest.items()
        if doc_id in windows and windows[doc_id] != lexical_window(doc)
    }  # fmt: skip
    lexical.set_windows(moved)  # another process derived a new end date
    missing = [
        doc for doc_id, doc in manifest.items() if lexical_versions.get(doc_id) != doc.version
    ]
    for start in range(0, len(missing), SYNC_BATCH):
        batch = [_from_chroma(store, doc) for doc in missing[start : start + SYNC_BATCH]]
        lexical.replace_documents(batch)  # read from Chroma first: short SQLite transactions


def _from_chroma(store: VectorStore, doc: Document) -> LexicalDocument:
    """One document's lexical rows, from its chunks as stored in Chroma."""
    got = store.chunks_of(doc)
    rows = [
        (chunk_id, with_header(str((m or {}).get("header", "")), text))
        for chunk_id, text, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
    ]
    latent = [str((m or {}).get("latent", "")) for m in got["metadatas"]]
    return LexicalDocument(doc.doc_id, doc.version, doc.language, rows, latent, lexical_window(doc))


class LexicalSync:
    """Runs ``sync_lexical`` once per manifest revision (the check reads the whole cache)."""

    def __init__(self, store: VectorStore, lexical: LexicalIndex) -> None:
        self.store = store
        self.lexical = lexical
        self._revision: str | None = None
        self._lock = threading.Lock()

    def follow(
        self, revision: str | None, manifest: Mapping[str, Document], force: bool = False
    ) -> None:
        """Bring the cache to ``manifest`` (read at ``revision``) unless it is there already;
        ``force`` after this process's own writes."""
        with self._lock:
            if force or revision != self._revision:
                sync_lexical(self.store, self.lexical, manifest)
                self._revision = revision
