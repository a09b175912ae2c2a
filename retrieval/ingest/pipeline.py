"""Files -> documents -> chunks -> vectors, incrementally and one whole document at a time.

A file whose bytes (and chunking settings) are unchanged is skipped; a changed file gets a
new version whose chunks are written before the manifest record that makes them live; a file
that cannot be read is reported and the run goes on. Translation groups are recomputed for
the documents that changed.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from retrieval import succession, versions
from retrieval.answer.citations import sentences_to_quote
from retrieval.config import Settings
from retrieval.embedding.encoders import DenseEmbeddings
from retrieval.errors import LoaderError, RegulaError
from retrieval.hygiene import normalize_language, safe_doc_id
from retrieval.ingest.act_identity import identify
from retrieval.ingest.chunking import chunk_text
from retrieval.ingest.findings import metadata_count, reader_findings
from retrieval.ingest.front_matter import sidecar_metadata
from retrieval.ingest.layout import headings_out_of_order
from retrieval.ingest.loaders import load_bytes
from retrieval.ingest.regrouping import regroup
from retrieval.ingest.translations import GroupMap
from retrieval.language import detect_language
from retrieval.models import Chunk, Document, IngestFailure, IngestReport
from retrieval.parts import encode_parts
from retrieval.store.index import VectorStore
from retrieval.store.latent import encode_latent
from retrieval.store.lexical import LexicalIndex
from retrieval.store.locking import WriterLock
from retrieval.store.ownership import UPLOADS, owner_id, prunable

logger = logging.getLogger(__name__)

# Bump when reading or chunking changes, so an unchanged file is read again once after an
# upgrade. 8: PDF footnotes apart, OCR specks at headings, wrapped "Article N. …" lines, pages
# in two columns, what the reader found (pages, empty pages, headings out of order). 9: an
# article's title on the line under its number is part of the heading every chunk repeats.
# 10: an act read from its first page without a citation title is headed by its designation.
CHUNKER_VERSION = "10"


@dataclass(frozen=True)
class SourceFile:
    doc_id: str
    path: Path
    root: str = ""
    """The folder (or file) given to ``ingest``: recorded so ``--prune`` stays inside it."""


def discover(
    paths: Sequence[Path], extensions: Sequence[str]
) -> Iterator[SourceFile | IngestFailure]:
    """Files to ingest, named by their path relative to the folder given (or their name)."""
    suffixes = {e.lower() for e in extensions}
    for root in paths:
        if root.is_dir():
            for file in sorted(root.rglob("*")):
                if file.is_file() and file.suffix.lower() in suffixes:
                    doc_id = safe_doc_id(file.relative_to(root).as_posix())
                    yield SourceFile(doc_id, file.resolve(), str(root.resolve()))
        elif root.is_file():
            yield SourceFile(safe_doc_id(root.name), root.resolve(), str(root.resolve()))
        else:
            yield IngestFailure(str(root), "no such file or directory")


def content_hash(data: bytes, settings: Settings) -> str:
    digest = hashlib.sha256(data)
    chunking = (
        f"{CHUNKER_VERSION}:{settings.ingest.chunk_max_chars}:{settings.ingest.chunk_min_chars}"
    )
    digest.update(chunking.encode())
    return digest.hexdigest()


def _date_number(date: str) -> int:
    return versions.day_number(date)


class Ingestor:
    """Writes documents into the vector store and the lexical index."""

    def __init__(
        self,
        settings: Settings,
        store: VectorStore,
        lexical: LexicalIndex,
        embeddings: DenseEmbeddings,
    ) -> None:
        self.settings = settings
        self.store = store
        self.lexical = lexical
        self.embeddings = embeddings
        self._lock = WriterLock(settings.storage.data_dir / "writer.lock")
        self._embedded = settings.vector_store.mode == "embedded"

    def ingest(
        self,
        paths: Sequence[Path],
        *,
        prune: bool = False,
        progress: bool | None = None,
        on_file: Callable[[str], None] | None = None,
        rebuild: bool = False,
    ) -> IngestReport:
        """Index ``paths`` (files or folders); see the module docstring for the rules."""
        found = list(discover(paths, self.settings.ingest.extensions))
        return self.ingest_sources(
            [f for f in found if isinstance(f, SourceFile)],
            failures=[f for f in found if isinstance(f, IngestFailure)],
            prune=prune,
            progress=progress,
            on_file=on_file,
            rebuild=rebuild,
            prune_roots=paths,
        )

    @functools.cached_property
    def owner(self) -> str:
        """This worker's id, recorded on every document it writes (see ``store.ownership``)."""
        return owner_id(self.settings.storage.data_dir)

    @property
    def uploads(self) -> Path:
        return self.settings.storage.data_dir / UPLOADS

    def ingest_sources(
        self,
        sources: Sequence[SourceFile],
        *,
        failures: Sequence[IngestFailure] = (),
        prune: bool = False,
        progress: bool | None = None,
        on_file: Callable[[str], None] | None = None,
        rebuild: bool = False,
        prune_roots: Sequence[Path] | None = None,
    ) -> IngestReport:
        """Index files under the document ids given (``reindex`` keeps the original ids).

        ``prune`` removes this worker's documents whose file is gone, only under
        ``prune_roots`` when given, never bot uploads (``retrieval.store.ownership``).
        ``rebuild`` drops the whole index (Chroma collections and the lexical cache) first,
        so every file is embedded again, by the configured model; otherwise writing with
        another model than the one that built the index is refused.
        """
        report = IngestReport(failed=list(failures))
        self._lock.acquire(file=self._embedded)
        try:
            if rebuild:
                self.store.reset()
                self.lexical.remove_documents(list(self.lexical.versions()))
            else:
                self.store.check_embedding_model()
            self.store.recover()  # chunks of a write that crashed before its commit
            manifest = self.store.manifest()
            changed: list[str] = []
            seen: set[str] = set()
            show = sys.stderr.isatty() if progress is None else progress
            for source in tqdm(sources, desc="ingest", unit="file", disable=not show):
                if on_file is not None:
                    on_file(source.doc_id)
                if source.doc_id in seen:
                    msg = f"another file already has the document id {source.doc_id!r}"
                    report.failed.append(IngestFailure(str(source.path), msg))
                    continue
                seen.add(source.doc_id)
                self._ingest_one(source, manifest, report, changed)
            if prune:
                report.removed += self._prune(manifest, prune_roots)
            if changed:
                regroup(self.store, self.settings, changed)
            report.conflicts, report.doubts = self.apply_validity()
        finally:
            self._lock.release()
        return report

    def ingest_bytes(self, data: bytes, filename: str, stored_path: Path) -> IngestReport:
        """Index one uploaded file, keeping a copy on disk; a file that cannot be read is not
        kept (an earlier upload of that name is put back) and is reported in ``failed``. It is
        parsed once: a scan's OCR is the slow part."""
        stored_path.parent.mkdir(parents=True, exist_ok=True)
        earlier = stored_path.read_bytes() if stored_path.is_file() else None
        stored_path.write_bytes(data)
        source = SourceFile(
            safe_doc_id(stored_path.name), stored_path.resolve(), str(stored_path.parent.resolve())
        )
        try:
            report = self.ingest_sources([source], progress=False)
        except BaseException:
            self._put_back(stored_path, earlier)
            raise
        if report.failed:
            self._put_back(stored_path, earlier)
        report.doubts = [d for d in report.doubts if source.doc_id in d["doc_ids"]]  # its own
        return report

    @staticmethod
    def _put_back(stored_path: Path, earlier: bytes | None) -> None:
        if earlier is None:
            stored_path.unlink(missing_ok=True)
        else:
            stored_path.write_bytes(earlier)

    def _ingest_one(
        self,
        source: SourceFile,
        manifest: dict[str, Document],
        report: IngestReport,
        changed: list[str],
    ) -> None:
        try:
            data = source.path.read_bytes()
            sidecar, sidecar_bytes = sidecar_metadata(source.path)
            digest = content_hash(data + sidecar_bytes, self.settings)
            previous = manifest.get(source.doc_id)
            if previous is not None and previous.content_hash == digest:
                report.unchanged += 1
                return
            loaded = load_bytes(
                data,
                source.path.name,
                max_bytes=self.settings.ingest.max_file_bytes,
                ocr_languages=self.settings.languages.candidates,
            )
            metadata = {**loaded.metadata, **sidecar}
            document, chunks = self._prepare(source, loaded.text, metadata, digest)
            if not chunks:
                raise LoaderError(str(source.path), "no text to index after parsing")
            self._write(document, chunks)
        except LoaderError as e:
            report.failed.append(IngestFailure(str(source.path), e.reason))
            return
        except (OSError, RegulaError, ValueError) as e:
            logger.exception("ingest failed for %s", source.path)
            report.failed.append(IngestFailure(str(source.path), f"{type(e).__name__}: {e}"))
            return
        manifest[source.doc_id] = document
        changed.append(source.doc_id)
        report.chunks += len(chunks)
        report.read.append(reader_findings(document, len(chunks)))
        if previous is None:
            report.added += 1
        else:
            report.updated += 1

    def _prepare(
        self, source: SourceFile, text: str, metadata: dict[str, str], digest: str
    ) -> tuple[Document, list[Chunk]]:
        metadata = {**metadata, **identify(text, metadata)}  # a whole act's first page
        try:
            validity = versions.declared_validity(metadata, source.doc_id)
        except ValueError as e:
            raise LoaderError(str(source.path), str(e)) from e
        declared = normalize_language(metadata.get("language"))
        language = declared or detect_language(
            text,
            self.settings.languages.candidates,
            default=self.settings.answer.default_language,
        )
        chunks = chunk_text(
            source.doc_id,
            text,
            max_chars=self.settings.ingest.chunk_max_chars,
            min_chars=self.settings.ingest.chunk_min_chars,
            title=metadata.get("short_title") or metadata.get("title", ""),
            article=metadata.get("article", ""),
            language=language,
        )
        document = Document(
            doc_id=source.doc_id,
            path=str(source.path),
            title=metadata.get("title") or source.path.stem,
            language=language,
            content_hash=digest,
            version=uuid.uuid4().hex[:12],
            number=metadata.get("number", ""),
            issuer=metadata.get("issuer", ""),
            aliases=metadata.get("aliases", ""),
            date=metadata.get("date", ""),
            source=metadata.get("source", ""),
            group_id=source.doc_id,
            chunk_count=len(chunks),
            parts=encode_parts(c.part for c in chunks),
            ocr_pages=metadata_count(metadata, "ocr_pages"),
            pages=metadata_count(metadata, "pages"),
            empty_pages=metadata.get("empty_pages", ""),
            footnotes=metadata_count(metadata, "footnotes"),
            column_pages=metadata_count(metadata, "column_pages"),
            out_of_order="; ".join(headings_out_of_order(text)),
            source_root=source.root,
            owner=self.owner,
            **validity,
        )
        return document, chunks

    def _write(self, document: Document, chunks: list[Chunk]) -> None:
        texts = [c.text for c in chunks]
        indexed = [c.indexed_text for c in chunks]
        vectors = self.embeddings.embed_passages(indexed)
        latent = [
            encode_latent(f.tolist(), w.tolist()) for f, w in self.embeddings.latent_terms(indexed)
        ]
        if self.embeddings.caches_passages:  # the quotes' sentences, before the first question
            self.embeddings.embed_passages(
                [s.text for c in chunks for s in sentences_to_quote(c.text, c.locator)]
            )
        ids = [c.chunk_id(document.version) for c in chunks]
        metadatas: list[dict[str, Any]] = [
            {
                "doc_id": document.doc_id,
                "version": document.version,
                "index": c.index,
                "locator": c.locator,
                "header": c.header,
                "language": document.language,
                "title": document.title,
                "date": document.date,
                "date_num": _date_number(document.date),
                "source": document.source,
                "latent": latent_terms,
                **versions.chunk_metadata(document),
            }
            for c, latent_terms in zip(chunks, latent, strict=True)
        ]
        self.store.write_document(document, ids, texts, metadatas, vectors)
        self.lexical.replace_document(
            document.doc_id,
            document.version,
            document.language,
            list(zip(ids, indexed, strict=True)),
            latent,
            versions.lexical_window(document),
        )

    def _prune(self, manifest: dict[str, Document], roots: Sequence[Path] | None) -> int:
        gone = [
            d
            for d, doc in manifest.items()
            if prunable(doc, self.owner, embedded=self._embedded, uploads=self.uploads, roots=roots)
        ]
        self.store.remove_documents(gone)
        self.lexical.remove_documents(gone)
        for doc_id in gone:
            manifest.pop(doc_id, None)
        return len(gone)

    def forget(self, doc_id: str) -> bool:
        manifest = self.store.manifest()
        if doc_id not in manifest:
            return False
        self._lock.acquire(file=self._embedded)
        try:
            self.store.remove_documents([doc_id])
            self.lexical.remove_documents([doc_id])
            groups = GroupMap({d: doc.group_id or d for d, doc in manifest.items()})
            groups.detach(doc_id)
            remaining = {d: g for d, g in groups.as_dict().items() if d != doc_id}
            self.store.update_groups(remaining)
            self.apply_validity()
        finally:
            self._lock.release()
        return True

    def apply_validity(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Derive every version's end and store what changed (``succession.apply``); the
        conflicts and doubts found. The caller holds the writer lock."""
        conflicts, doubts = succession.apply(self.store, self.lexical)
        return [c.to_json() for c in conflicts], [d.to_json() for d in doubts]
