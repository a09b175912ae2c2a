"""Keeping the corpus: what is indexed, its versions, and the writes (ingest, uploads,
re-checks, removal). ``Assistant`` is a ``Library``; the interfaces call these methods on it.
The writer (``ingest.pipeline``) is made on first use, so a process that only answers never
imports the file readers it brings."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.answer.refusal import Calibration, refusal_stats
from retrieval.config import Settings
from retrieval.embedding.encoders import DenseEmbeddings
from retrieval.ingest.uploads import upload_name, write_sidecar
from retrieval.models import Document, IngestReport
from retrieval.store.index import VectorStore
from retrieval.store.lexical import LexicalIndex
from retrieval.store.ownership import UPLOADS, owned
from retrieval.versions import history

if TYPE_CHECKING:
    from retrieval.ingest.pipeline import Ingestor


class Library:
    """The corpus operations of ``Assistant`` (which provides the stores and ``refresh``)."""

    settings: Settings
    store: VectorStore
    lexical: LexicalIndex
    embeddings: DenseEmbeddings

    def refresh(self, force: bool = False) -> dict[str, Document]:
        raise NotImplementedError

    def calibration(self) -> Calibration | None:
        raise NotImplementedError

    def documents(self) -> list[Document]:
        return sorted(self.refresh().values(), key=lambda d: d.doc_id)

    def history(self, work: str) -> list[Document]:
        """Every version of ``work`` (translations included), oldest first."""
        return history(work, self.refresh())

    def ingest(
        self,
        paths: Sequence[Path],
        *,
        prune: bool = False,
        progress: bool | None = None,
        rebuild: bool = False,
    ) -> IngestReport:
        """Index ``paths``; ``rebuild`` first empties the index, so everything is re-embedded."""
        report = self.ingestor.ingest(paths, prune=prune, progress=progress, rebuild=rebuild)
        self.refresh(force=True)
        return report

    def ingest_bytes(
        self, data: bytes, filename: str, metadata: Mapping[str, str] | None = None
    ) -> IngestReport:
        """Store an uploaded file under ``data_dir/uploads`` and index it.

        ``metadata`` (version keys from the upload's caption) is kept beside it as its
        ``NAME.meta.yaml`` sidecar; an upload without any replaces an earlier sidecar.
        """
        uploads = self.settings.storage.data_dir / UPLOADS
        safe = upload_name(filename)
        write_sidecar(uploads, safe, metadata)
        report = self.ingestor.ingest_bytes(data, safe, uploads / safe)
        self.refresh(force=True)
        return report

    def reindex(self) -> IngestReport:
        """Re-check the files of this worker's documents; drop those whose file is gone.

        Only documents this worker ingested are touched (``retrieval.store.ownership``): in server
        mode the others belong to workers whose disks we cannot see (counted in
        ``report.foreign``), and bot uploads are never pruned.
        """
        embedded = self.settings.vector_store.mode == "embedded"
        owner = self.ingestor.owner
        documents = self.documents()
        mine = [d for d in documents if owned(d, owner, embedded=embedded)]
        from retrieval.ingest.pipeline import SourceFile

        sources = [
            SourceFile(d.doc_id, Path(d.path), d.source_root) for d in mine if Path(d.path).exists()
        ]
        report = self.ingestor.ingest_sources(sources, prune=True, progress=False)
        report.foreign = len(documents) - len(mine)
        self.refresh(force=True)
        return report

    def forget(self, doc_id: str) -> bool:
        removed = self.ingestor.forget(doc_id)
        self.refresh(force=True)
        return removed

    def stats(self) -> dict[str, Any]:
        documents = self.documents()
        groups: dict[str, list[str]] = {}
        for d in documents:
            groups.setdefault(d.group_id or d.doc_id, []).append(d.doc_id)
        languages: dict[str, int] = {}
        for d in documents:
            languages[d.language] = languages.get(d.language, 0) + 1
        return {
            "documents": len(documents),
            "chunks": self.store.count_chunks(),
            "languages": dict(sorted(languages.items())),
            "translation_groups": sorted(
                sorted(members) for members in groups.values() if len(members) > 1
            ),
            "refusal": refusal_stats(self.settings.answer, self.calibration(), self.store.revision),
            "data_dir": str(self.settings.storage.data_dir),
            "vector_store": self.settings.vector_store.mode,
        }

    @functools.cached_property
    def ingestor(self) -> Ingestor:
        """The writer, made on first use: a process that only answers never imports the
        file readers (PDF, Word) it brings."""
        from retrieval.ingest.pipeline import Ingestor

        return Ingestor(self.settings, self.store, self.lexical, self.embeddings)
