"""Search filters, retrieval candidates and reciprocal-rank fusion (pure, no store access)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from retrieval.config import RetrievalSettings
from retrieval.hygiene import iso_date
from retrieval.models import Document
from retrieval.versions import day_number


@dataclass
class SearchFilters:
    """Optional restrictions; ``None`` means no restriction."""

    doc_ids: list[str] | None = None
    language: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    as_of: str | None = None
    """Only the versions in force on this day (``retrieval.versions``); ``None``: every one.
    ``Assistant.ask`` sets it to today when the caller does not."""
    include_drafts: bool = False
    """With ``as_of``: search drafts too (never otherwise)."""

    def __post_init__(self) -> None:
        """Dates must be ``YYYY-MM-DD``: a partial date would filter each retriever
        differently (``ValueError`` with a message fit for the user)."""
        for value in (self.date_from, self.date_to, self.as_of):
            if value:
                iso_date(value)

    @property
    def valid_on(self) -> int | None:
        """``as_of`` as a day number (what the chunk metadata and lexical index store)."""
        return day_number(self.as_of) if self.as_of else None

    def documents_allowed(self, manifest: Mapping[str, Document]) -> list[str] | None:
        """Documents of ``manifest`` allowed by the document and date filters (``None``: all).

        The language filter is not applied here: the lexical index filters by language in
        SQL, so the common per-language query builds no list that grows with the corpus.
        """
        if not (self.doc_ids or self.date_from or self.date_to):
            return None
        keep = []
        for doc_id, doc in manifest.items():
            if self.doc_ids and doc_id not in self.doc_ids:
                continue
            if self.date_from and (not doc.date or doc.date < self.date_from):
                continue
            if self.date_to and (not doc.date or doc.date > self.date_to):
                continue
            keep.append(doc_id)
        return keep

    def chroma_where(self, validity: bool = True) -> dict[str, Any] | None:
        """The document, date and as-of restrictions as a Chroma filter (the language picks
        the collection instead: chunks are stored per language).

        ``validity=False`` leaves out the as-of clauses, for a collection where every version
        is in force on that day (a metadata filter makes Chroma scan the collection).
        """
        clauses: list[dict[str, Any]] = []
        if validity and self.valid_on is not None:
            clauses.append({"valid_from_num": {"$lte": self.valid_on}})
            clauses.append({"valid_until_num": {"$gte": self.valid_on}})
            if not self.include_drafts:
                clauses.append({"status": {"$ne": "draft"}})
        if self.doc_ids:
            clauses.append({"doc_id": {"$in": list(self.doc_ids)}})
        if self.date_from:
            clauses.append({"date_num": {"$gte": int(self.date_from.replace("-", "")[:8])}})
        if self.date_to:
            clauses.append({"date_num": {"$lte": int(self.date_to.replace("-", "")[:8])}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}


@dataclass
class Candidate:
    """One chunk found by any retriever, with its rank in each ranking."""

    chunk_id: str
    doc_id: str
    text: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    dense: float = 0.0
    dense_rank: int | None = None
    lexical_rank: int | None = None
    latent_rank: int | None = None
    fused: float = 0.0


def fuse(candidates: list[Candidate], settings: RetrievalSettings) -> list[Candidate]:
    """Weighted reciprocal-rank fusion: no score calibration between the rankings needed."""
    for c in candidates:
        c.fused = 0.0
        if c.dense_rank is not None:
            c.fused += settings.dense_weight / (settings.rrf_k + c.dense_rank)
        if c.lexical_rank is not None:
            c.fused += settings.lexical_weight / (settings.rrf_k + c.lexical_rank)
        if c.latent_rank is not None:
            c.fused += settings.latent_weight / (settings.rrf_k + c.latent_rank)
    return sorted(candidates, key=lambda c: c.fused, reverse=True)
