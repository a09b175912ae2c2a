"""Lexical (BM25) retrieval over SQLite FTS5.

Dense vectors find paraphrases across languages; this finds exact terms: article numbers,
form names, amounts, people and company names. Each chunk is stored as the space-joined index
terms of ``retrieval.tokens.tokenize`` (folded, stemmed in the document's language) in an
FTS5 table.

FTS5 rather than an in-memory BM25 library: updates are incremental and transactional (a
document's rows change in one commit, never half), the index lives on disk next to the data,
and a query touches only the posting lists of its terms, so it does not grow with the corpus.
The same file holds the latent-term postings (``retrieval.store.latent``), keyed by the same
chunk rows and written in the same transaction, so this index also hands their queries on.
It is a derived cache: Chroma holds the truth and ``retrieval.store.lexical_sync`` rebuilds
what differs.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.store.latent import SCHEMA as LATENT_SCHEMA
from retrieval.store.latent import TABLES as LATENT_TABLES
from retrieval.store.latent import LatentPostings
from retrieval.tokens import tokenize

# A query term found in more than this share of chunks carries no signal ("the", "of").
MAX_DOCUMENT_FREQUENCY = 0.35
# Bump when the tables change: an older cache is dropped and rebuilt from Chroma.
# 2: the document language is stored on every row, so per-language search filters in SQL.
# 3: latent postings indexed by (language, feature) covering chunk_id and weight, so a query
#    reads the index only (4-5x faster at 10k chunks, for +30 % on disk).
# 4: a chunks table whose rowid keys the FTS rows and the latent postings (deleting a document
#    no longer scans the FTS table); impact-ordered latent postings and per-language sums.
# 5: each document's validity window (day numbers) and draft flag, for as-of search.
SCHEMA_VERSION = 5
OPEN_END = 99991231  # retrieval.versions.OPEN_END
LEGACY_TABLES = ("chunk_vocab", "chunk_terms", "latent_terms", "lexical_docs", "chunks")


@dataclass(frozen=True)
class LexicalDocument:
    """One document version's rows: (chunk_id, text) pairs and their encoded latent terms."""

    doc_id: str
    version: str
    language: str
    chunks: Sequence[tuple[str, str]]
    latent: Sequence[str] = ()
    window: tuple[int, int, bool] = (0, OPEN_END, False)
    """(valid_from, valid_until) day numbers and whether it is a draft (``versions``)."""


class LexicalIndex:
    """BM25 over FTS5 and latent-term postings, per chunk, with the (doc, version) indexed.

    ``latent_per_term`` bounds the postings a query reads per latent feature (see
    ``retrieval.store.latent``).
    """

    def __init__(self, path: Path, latent_per_term: int = 1000) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, timeout=60)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._lock = threading.RLock()
        self.latent = LatentPostings(self._conn, latent_per_term)
        self._chunk_counts: dict[str, int] | None = None
        with self._lock, self._conn:
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                # A derived cache: drop an older layout, lexical_sync rebuilds it from Chroma.
                for table in (*LEGACY_TABLES, *LATENT_TABLES):
                    self._conn.execute(f"DROP TABLE IF EXISTS {table}")
            self._conn.executescript(
                f"""
                CREATE TABLE IF NOT EXISTS chunks (
                    id INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL, doc_id TEXT NOT NULL,
                    language TEXT NOT NULL, latent TEXT NOT NULL
                );
                CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks (doc_id);
                CREATE VIRTUAL TABLE IF NOT EXISTS chunk_terms USING fts5(
                    terms, tokenize = "unicode61 remove_diacritics 0"
                );
                CREATE VIRTUAL TABLE IF NOT EXISTS chunk_vocab USING fts5vocab(chunk_terms, row);
                CREATE TABLE IF NOT EXISTS lexical_docs (
                    doc_id TEXT PRIMARY KEY,
                    version TEXT NOT NULL,
                    language TEXT NOT NULL,
                    chunk_count INTEGER NOT NULL,
                    valid_from INTEGER NOT NULL DEFAULT 0,
                    valid_until INTEGER NOT NULL DEFAULT {OPEN_END},
                    draft INTEGER NOT NULL DEFAULT 0
                );
                {LATENT_SCHEMA}
                PRAGMA user_version = {SCHEMA_VERSION};
                """
            )

    def versions(self) -> dict[str, str]:
        with self._lock:
            rows = self._conn.execute("SELECT doc_id, version FROM lexical_docs").fetchall()
        return dict(rows)

    def windows(self) -> dict[str, tuple[int, int, bool]]:
        """doc_id -> (valid_from, valid_until, draft) as stored."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT doc_id, valid_from, valid_until, draft FROM lexical_docs"
            ).fetchall()
        return {str(d): (int(a), int(b), bool(c)) for d, a, b, c in rows}

    def set_windows(self, windows: dict[str, tuple[int, int, bool]]) -> None:
        """Change documents' validity windows (a later version or a repeal ended one)."""
        with self._lock, self._conn:
            self._conn.executemany(
                "UPDATE lexical_docs SET valid_from = ?, valid_until = ?, draft = ? "
                "WHERE doc_id = ?",
                [(a, b, int(c), d) for d, (a, b, c) in windows.items()],
            )

    def excluded_on(self, day: int, drafts: bool = False) -> int:
        """How many documents are not searchable on ``day`` (0: no filter needed)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT count(*) FROM lexical_docs WHERE valid_from > ? OR valid_until < ?"
                + ("" if drafts else " OR draft = 1"),
                (day, day),
            ).fetchone()
        return int(row[0])

    def replace_document(
        self,
        doc_id: str,
        version: str,
        language: str,
        chunks: Sequence[tuple[str, str]],
        latent: Sequence[str] = (),
        window: tuple[int, int, bool] = (0, OPEN_END, False),
    ) -> None:
        """Swap a document's rows for ``chunks`` (chunk_id, text) in one transaction.

        ``latent`` holds each chunk's latent terms encoded by ``encode_latent``.
        """
        self.replace_documents([LexicalDocument(doc_id, version, language, chunks, latent, window)])

    def replace_documents(self, documents: Iterable[LexicalDocument]) -> None:
        """Swap the rows of several documents in one transaction.

        One commit for many documents writes each touched page of the postings once: a
        rebuild or bulk load is several times faster than a commit per document.
        """
        with self._lock, self._conn:
            self._chunk_counts = None
            for doc in documents:
                self._write(doc)

    def forget_cached(self) -> None:
        """Drop what searches keep in memory: another process changed this index."""
        with self._lock:
            self._chunk_counts = None
            self.latent.forget_cached()

    def _write(self, doc: LexicalDocument) -> None:
        encoded = list(doc.latent) + [""] * (len(doc.chunks) - len(doc.latent))
        self._delete(doc.doc_id)
        added: list[tuple[int, str]] = []
        for (chunk_id, text), terms in zip(doc.chunks, encoded, strict=False):
            rowid = self._conn.execute(
                "INSERT INTO chunks (chunk_id, doc_id, language, latent) VALUES (?, ?, ?, ?)",
                (chunk_id, doc.doc_id, doc.language, terms),
            ).lastrowid
            assert rowid is not None
            self._conn.execute(
                "INSERT INTO chunk_terms (rowid, terms) VALUES (?, ?)",
                (rowid, " ".join(tokenize(text, doc.language))),
            )
            added.append((rowid, terms))
        self.latent.add(doc.language, added)
        self._conn.execute(
            "INSERT OR REPLACE INTO lexical_docs VALUES (?, ?, ?, ?, ?, ?, ?)",
            (doc.doc_id, doc.version, doc.language, len(doc.chunks), *doc.window[:2],
             int(doc.window[2])),
        )  # fmt: skip

    def _delete(self, doc_id: str) -> None:
        """Remove one document's rows (inside the caller's transaction)."""
        rows = self._conn.execute(
            "SELECT id, language, latent FROM chunks WHERE doc_id = ?", (doc_id,)
        ).fetchall()
        by_language: dict[str, list[tuple[int, str]]] = {}
        for rowid, language, terms in rows:
            by_language.setdefault(language, []).append((rowid, terms))
        for language, chunks in by_language.items():
            self.latent.remove(language, chunks)
        self._conn.executemany("DELETE FROM chunk_terms WHERE rowid = ?", [(r[0],) for r in rows])
        self._conn.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
        self._conn.execute("DELETE FROM lexical_docs WHERE doc_id = ?", (doc_id,))

    def remove_documents(self, doc_ids: Iterable[str]) -> None:
        with self._lock, self._conn:
            self._chunk_counts = None
            for doc_id in doc_ids:
                self._delete(doc_id)

    def _informative(self, terms: list[str]) -> list[str]:
        """Drop query terms that occur in too many chunks to discriminate."""
        unique = list(dict.fromkeys(t for t in terms if t))
        if not unique:
            return []
        chunks_total = self._conn.execute(
            "SELECT coalesce(sum(chunk_count), 0) FROM lexical_docs"
        ).fetchone()[0]
        if chunks_total < 50:
            return unique
        marks = ",".join("?" * len(unique))
        frequencies = dict(
            self._conn.execute(
                f"SELECT term, doc FROM chunk_vocab WHERE term IN ({marks})", unique
            ).fetchall()
        )
        limit = MAX_DOCUMENT_FREQUENCY * chunks_total
        kept = [t for t in unique if frequencies.get(t, 0) <= limit]
        return kept or unique

    def known_terms(self, terms: Collection[str]) -> set[str]:
        """Which of ``terms`` occur in some indexed chunk (any language, any version)."""
        unique = sorted(set(terms))
        if not unique:
            return set()
        marks = ",".join("?" * len(unique))
        with self._lock:
            rows = self._conn.execute(
                f"SELECT term FROM chunk_vocab WHERE term IN ({marks})", unique
            ).fetchall()
        return {term for (term,) in rows}

    @staticmethod
    def _chunk_filter(
        doc_ids: Sequence[str] | None,
        in_language: str | None,
        column: str,
        valid_on: int | None = None,
        drafts: bool = False,
    ) -> tuple[str, list[Any]]:
        """A SQL condition on chunk rowid ``column`` restricting documents, language and the
        versions in force on day number ``valid_on`` (drafts only with ``drafts``)."""
        clauses: list[str] = []
        params: list[Any] = []
        if valid_on is not None:
            clauses.append(
                "c.doc_id IN (SELECT doc_id FROM lexical_docs WHERE valid_from <= ? "
                "AND valid_until >= ?" + ("" if drafts else " AND draft = 0") + ")"
            )
            params.extend([valid_on, valid_on])
        clauses, params = _document_clauses(doc_ids, in_language, clauses, params)
        if not clauses:
            return "", []
        where = " AND ".join(clauses)
        return f"{column} IN (SELECT c.id FROM chunks c WHERE {where})", params

    def search(
        self,
        query: str,
        language: str,
        limit: int,
        doc_ids: Sequence[str] | None = None,
        in_language: str | None = None,
        valid_on: int | None = None,
        drafts: bool = False,
    ) -> list[tuple[str, float]]:
        """(chunk_id, bm25 score, higher is better) for the best ``limit`` chunks.

        ``doc_ids`` and ``in_language`` restrict the documents searched (``None``: all);
        ``valid_on`` (a day number) keeps the versions in force that day, drafts only with
        ``drafts``.
        """
        # Stem with the query's language and also keep the raw folded words, so a term
        # typed in one language still meets a name or number written in another.
        terms = tokenize(query, language) + tokenize(query, "")
        with self._lock:
            kept = self._informative(terms)
            if not kept:
                return []
            match = " OR ".join('"' + t.replace('"', "") + '"' for t in kept)
            # Joined, not "rowid IN (subquery)": the match is found first and each hit looked
            # up by key, so an as-of filter costs per hit, not per chunk of the corpus.
            clauses: list[str] = ["chunk_terms MATCH ?"]
            params: list[Any] = [match]
            if valid_on is not None:
                clauses.append("d.valid_from <= ? AND d.valid_until >= ?")
                clauses.append("" if drafts else "d.draft = 0")
                params.extend([valid_on, valid_on])
            clauses, params = _document_clauses(doc_ids, in_language, clauses, params)
            sql = (
                "SELECT chunk_terms.rowid, -bm25(chunk_terms) FROM chunk_terms "
                "JOIN chunks c ON c.id = chunk_terms.rowid "
                + ("JOIN lexical_docs d ON d.doc_id = c.doc_id " if valid_on is not None else "")
                + "WHERE " + " AND ".join(filter(None, clauses))
                + " ORDER BY bm25(chunk_terms) LIMIT ?"
            )  # fmt: skip
            rows = self._conn.execute(sql, [*params, limit]).fetchall()
            return self._with_chunk_ids(rows)

    def _with_chunk_ids(self, rows: Sequence[tuple[int, float]]) -> list[tuple[str, float]]:
        if not rows:
            return []
        marks = ",".join("?" * len(rows))
        names = dict(
            self._conn.execute(
                f"SELECT id, chunk_id FROM chunks WHERE id IN ({marks})", [r[0] for r in rows]
            ).fetchall()
        )
        return [(str(names[rowid]), float(score)) for rowid, score in rows if rowid in names]

    def search_latent(
        self,
        features: Sequence[int],
        weights: Sequence[float],
        limit: int,
        doc_ids: Sequence[str] | None = None,
        in_language: str | None = None,
        valid_on: int | None = None,
        drafts: bool = False,
    ) -> list[tuple[str, float]]:
        """(chunk_id, dot product) of the chunks sharing most latent weight with the query.

        Per language (``in_language``, or each language in turn), reading at most
        ``latent_per_term`` postings per feature; ``doc_ids`` restricts the documents.
        """
        if not len(features):
            return []
        with self._lock:
            languages = [in_language] if in_language is not None else self.chunk_counts()
            found: list[tuple[int, float]] = []
            for lang in languages:
                condition, params = self._chunk_filter(doc_ids, None, "p.chunk", valid_on, drafts)
                found += self.latent.search(features, weights, lang, limit, condition, params)
            found.sort(key=lambda hit: hit[1], reverse=True)
            return self._with_chunk_ids(found[:limit])

    def latent_of(self, chunk_ids: Sequence[str]) -> dict[str, str]:
        """The encoded latent terms of chunks (chunk_id -> ``encode_latent`` text)."""
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        with self._lock:
            rows = self._conn.execute(
                f"SELECT chunk_id, latent FROM chunks WHERE chunk_id IN ({marks})", list(chunk_ids)
            ).fetchall()
        return {str(chunk_id): str(latent) for chunk_id, latent in rows}

    def chunk_counts(self) -> dict[str, int]:
        """Chunks indexed per document language (kept until the next write)."""
        with self._lock:
            if self._chunk_counts is None:
                rows = self._conn.execute(
                    "SELECT language, SUM(chunk_count) FROM lexical_docs GROUP BY language"
                ).fetchall()
                self._chunk_counts = {str(language): int(count) for language, count in rows}
            return dict(self._chunk_counts)

    def latent_offsets(self, features: Sequence[int], weights: Sequence[float]) -> dict[str, float]:
        """The query's latent dot product with each language's mean chunk (q·μ_lang)."""
        counts = self.chunk_counts()
        with self._lock:
            return self.latent.offsets(features, weights, counts)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _document_clauses(
    doc_ids: Sequence[str] | None,
    in_language: str | None,
    clauses: list[str],
    params: list[Any],
) -> tuple[list[str], list[Any]]:
    """``clauses``/``params`` plus the restrictions to ``doc_ids`` and ``in_language`` on
    chunk rows ``c``."""
    if doc_ids is not None:
        clauses = [*clauses, f"c.doc_id IN ({','.join('?' * len(doc_ids))})"]
        params = [*params, *doc_ids]
    if in_language is not None:
        clauses = [*clauses, "c.language = ?"]
        params = [*params, in_language]
    return clauses, params
