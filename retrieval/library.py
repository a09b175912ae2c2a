"""Keeping the corpus: what is indexed, its versions, and the writes (ingest, uploads,
re-checks, removal). ``Assistant`` is a ``Library``; the interfaces call these methods on it.
The writer (``ingest.pipeline``) is made on first use, so a process that only answers never
imports the file readers it brings."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.answer.refusal import Calibration, refusal_stats, thresholds_configured
from retrieval.config import Settings
from retrieval.embedding.encoders import DenseEmbeddings
from retrieval.errors import RegulaError
from retrieval.ingest.uploads import upload_name, write_sidecar
from retrieval.metadata_edits import (
    EDITABLE_KEYS,
    EditError,
    edit_lock,
    read_sidecar,
    sidecar_path,
    write_edit,
)
from retrieval.models import Document, IngestReport
from retrieval.parts import part_spans
from retrieval.store.index import VectorStore
from retrieval.store.lexical import LexicalIndex
from retrieval.store.ownership import UPLOADS, owned
from retrieval.versions import history

if TYPE_CHECKING:
    from retrieval.answer.calibration import CalibrationReport
    from retrieval.ingest.pipeline import Ingestor

log = logging.getLogger(__name__)


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

    def calibrate(self, qa_path: Path | None = None) -> CalibrationReport:
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
        report.calibration = self.keep_calibrated()
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
        report.calibration = self.keep_calibrated()
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
        report.calibration = self.keep_calibrated()
        return report

    def forget(self, doc_id: str) -> bool:
        removed = self.ingestor.forget(doc_id)
        self.refresh(force=True)
        if removed:
            self.keep_calibrated()
        return removed

    def document_chunks(self, doc_id: str) -> list[dict[str, Any]]:
        """The indexed chunks of ``doc_id`` in reading order: what the reader found in it
        (``index``, ``locator``, ``header``, ``part``, ``text``); [] for an unknown id."""
        document = self.refresh().get(doc_id)
        if document is None:
            return []
        got = self.store.chunks_of(document)
        part_of = {
            index: key
            for key, (first, last) in part_spans(document.parts).items()
            for index in range(first, last + 1)
        }
        return [
            {"index": i, "locator": m.get("locator", ""), "header": m.get("header", ""),
             "part": part_of.get(i, ""), "text": text}
            for i, (text, m) in enumerate(zip(got["documents"], got["metadatas"], strict=True))
        ]  # fmt: skip

    def editable_fields(self, doc_id: str) -> tuple[dict[str, str], str]:
        """The version fields of ``doc_id`` as the index holds them, and its sidecar's
        fingerprint (give it back to ``edit_fields``, which refuses a stale edit)."""
        document = self.refresh()[doc_id]
        fields = {key: str(getattr(document, key, "") or "") for key in EDITABLE_KEYS}
        fields["valid_until"] = document.declared_until
        return fields, read_sidecar(Path(document.path))[1]

    def edit_fields(
        self, doc_id: str, changes: Mapping[str, str], fingerprint: str
    ) -> IngestReport:
        """Write ``changes`` to the document's sidecar (``retrieval.metadata_edits``) and
        re-index its file, so validity and status take effect now and survive a re-ingest."""
        from retrieval.ingest.pipeline import SourceFile

        document = self.refresh()[doc_id]
        path = Path(document.path)
        if not path.is_file():
            msg = f"the file of {doc_id} is no longer at {path}; re-ingest it first"
            raise EditError(msg)
        with edit_lock(path):
            write_edit(path, changes, fingerprint)
            source = SourceFile(doc_id, path, document.source_root)
            report = self.ingestor.ingest_sources([source], progress=False)
        self.refresh(force=True)
        report.calibration = self.keep_calibrated()
        return report

    def remove(self, doc_id: str) -> bool:
        """``forget`` the document; an uploaded one also loses its stored file and sidecar
        (a file in a corpus folder stays: the next ``ingest`` of that folder brings it back)."""
        document = self.refresh().get(doc_id)
        removed = self.forget(doc_id)
        uploads = (self.settings.storage.data_dir / UPLOADS).resolve()
        if removed and document is not None:
            path = Path(document.path).resolve()
            if path.parent == uploads:
                path.unlink(missing_ok=True)
                sidecar_path(path).unlink(missing_ok=True)
        return removed

    def keep_calibrated(self) -> dict[str, Any] | None:
        """Measure the refusal thresholds again when the index changed since they were last
        measured (``answer.calibrate_on_ingest``; ``retrieval.answer.calibration``): what was
        measured, or ``None``. A failure leaves the earlier thresholds and never fails the
        write that came before it (``regula stats`` then shows them as stale)."""
        answer = self.settings.answer
        if thresholds_configured(answer) or not answer.calibrate_on_ingest or not self.refresh():
            return None
        from retrieval.answer.calibration import needs_calibration

        current = self.calibration()
        if not needs_calibration(current, self.store.revision()):
            return None
        qa_file = Path(current.qa_file) if current is not None and current.qa_file else None
        try:
            report = self.calibrate(qa_file if qa_file is not None and qa_file.is_file() else None)
        except RegulaError as e:
            log.warning("could not measure the refusal thresholds on the index: %s", e)
            return None
        c = report.calibration
        return {"answer_above": c.answer_above, "not_covered_below": c.not_covered_below,
                "method": c.method, "seconds": c.seconds}  # fmt: skip

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
            "retrieval": self.settings.retrieval_mode,
        }

    @functools.cached_property
    def ingestor(self) -> Ingestor:
        """The writer, made on first use: a process that only answers never imports the
        file readers (PDF, Word) it brings."""
        from retrieval.ingest.pipeline import Ingestor

        return Ingestor(self.settings, self.store, self.lexical, self.embeddings)
