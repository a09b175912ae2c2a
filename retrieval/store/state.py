"""The ``<name>_state`` collection: the records kept beside the index that are not documents.

- ``revision``: changes on every commit, so other processes notice and reload cheaply.
- ``pending::<doc_id>``, one per document written: ``pending`` from before its chunks are
  written until its commit is announced, then ``done`` (kept, so closing it shares the
  revision's write). It names both versions, so ``VectorStore.recover`` deletes exactly the
  chunks of the version that lost, by id.
- ``embedding_model``: provider, model name and dimension of the vectors, written with every
  commit and checked before every search and ingest (``EmbeddingMismatchError`` names both
  models).
- ``calibration``: the refusal thresholds ``regula calibrate`` derived from this corpus
  (``retrieval.answer.refusal.Calibration``).

Chroma wants a vector for every record; state records carry the placeholder ``[1.0]``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from retrieval.embedding.identity import EmbeddingModel
from retrieval.models import Document

REVISION_RECORD = "revision"
MODEL_RECORD = "embedding_model"  # provider, name and dimension of the vectors
CALIBRATION_RECORD = "calibration"  # refusal thresholds (``regula calibrate``)
PLACEHOLDER = [1.0]  # the vector of every state record


def pending_record_id(doc_id: str) -> str:
    return f"pending::{doc_id}"


def _new_revision() -> dict[str, Any]:
    return {"value": uuid.uuid4().hex}


class IndexState:
    """Reads and writes the state records of one index (a raw Chroma collection)."""

    def __init__(self, collection: Any) -> None:
        # Typed loosely: chromadb's metadata types are stricter than what it accepts.
        self.collection = collection

    def _metadata(self, record_id: str) -> dict[str, Any] | None:
        got = self.collection.get(ids=[record_id], include=["metadatas"])
        metadatas = got.get("metadatas") or []
        return dict(metadatas[0]) if metadatas and metadatas[0] else None

    # -- revision -------------------------------------------------------------------------
    def revision(self) -> str:
        """The marker of the last commit ("" for an index never written)."""
        record = self._metadata(REVISION_RECORD)
        return str(record["value"]) if record else ""

    def bump_revision(self) -> None:
        """Tell other processes that the index changed."""
        self.collection.upsert(
            ids=[REVISION_RECORD], embeddings=[PLACEHOLDER], metadatas=[_new_revision()]
        )

    # -- embedding model and calibration --------------------------------------------------
    def recorded_model(self) -> EmbeddingModel | None:
        """The embedding model recorded by the last write; ``None`` for an older index."""
        record = self._metadata(MODEL_RECORD)
        return None if record is None else EmbeddingModel.from_record(record)

    def calibration_record(self) -> dict[str, Any] | None:
        """The stored calibration's fields, or ``None`` when the index was never calibrated."""
        return self._metadata(CALIBRATION_RECORD)

    def write_calibration(self, record: Mapping[str, Any]) -> None:
        """Store (replace) the calibration; the revision is left alone (no document changed)."""
        self.collection.upsert(
            ids=[CALIBRATION_RECORD], embeddings=[PLACEHOLDER],
            metadatas=[{"kind": "calibration", **record}],
        )  # fmt: skip

    # -- the write protocol ---------------------------------------------------------------
    def mark_pending(self, document: Document, count: int, previous: Document | None) -> None:
        """Before ``document``'s chunks are written: which version may be left half-written."""
        record = {
            "kind": "pending", "doc_id": document.doc_id, "version": document.version,
            "language": document.language, "count": count,
            "old_version": previous.version if previous else "",
            "old_language": previous.language if previous else "",
            "old_count": previous.chunk_count if previous else 0,
        }  # fmt: skip
        self.collection.upsert(
            ids=[pending_record_id(document.doc_id)], embeddings=[PLACEHOLDER], metadatas=[record]
        )

    def announce_commit(self, doc_id: str, model: Mapping[str, Any]) -> None:
        """One write announces the commit to other processes, closes the pending record and
        records the model that made the vectors (an older index gets it on its next write)."""
        self.collection.upsert(
            ids=[REVISION_RECORD, pending_record_id(doc_id), MODEL_RECORD],
            embeddings=[PLACEHOLDER] * 3,
            metadatas=[_new_revision(), {"kind": "done"}, {"kind": "model", **model}],
        )

    def pending_writes(self) -> dict[str, dict[str, Any]]:
        """Record id -> pending record, for every write not announced (a crash left it)."""
        got = self.collection.get(where={"kind": "pending"}, include=["metadatas"])
        return {
            str(record_id): dict(metadata or {})
            for record_id, metadata in zip(got["ids"], got["metadatas"], strict=True)
        }

    def close_pending(self, record_ids: Sequence[str]) -> None:
        """Mark pending records ``done`` once ``recover`` has cleaned up after them."""
        self.collection.upsert(
            ids=list(record_ids), embeddings=[PLACEHOLDER] * len(record_ids),
            metadatas=[{"kind": "done"}] * len(record_ids),
        )  # fmt: skip
