"""Parts of an act: which articles a document holds, and how two documents of one work relate.

Legal databases export an act as one file per article, each carrying the act's number; a
ministry keeps the same act as one file; an amending act replaces one article. All of them
share a *work*, and only the articles they hold tell them apart:

- the same articles (or both whole texts) are *versions* of one another;
- different articles are *parts* of one act, each searched and cited on its own;
- a later text holding one article of an earlier whole act replaces that article only.

A document records its articles as ``parts``: ``"1@0-1,2@2-4"`` (article key, then the first
and last chunk index), written at ingest from the chunker's article labels. ``part_until``
records the articles of a document that a later text replaced: ``"2=2024-06-30"`` (the last
day the old text applies). Pure functions, so ingest, search and the interfaces agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from retrieval.language import normalize_digits
from retrieval.models import Document

_KEY_RE = re.compile(r"([0-9٠-٩۰-۹]+[a-z]?)\s*$", re.IGNORECASE)


def part_key(label: str) -> str:
    """ "Điều 35" -> ``35``, "Article 5a" -> ``5a``; "" for a label without a number."""
    match = _KEY_RE.search(label.strip())
    return normalize_digits(match.group(1)).lower() if match else ""


def encode_parts(chunk_parts: Iterable[str]) -> str:
    """The ``parts`` field from each chunk's article key, in reading order ("" for a chunk
    outside any article, such as a preamble)."""
    spans: dict[str, list[int]] = {}
    for index, key in enumerate(chunk_parts):
        if key:
            span = spans.setdefault(key, [index, index])
            span[1] = index
    return ",".join(f"{key}@{first}-{last}" for key, (first, last) in spans.items())


def part_spans(parts: str) -> dict[str, tuple[int, int]]:
    """``parts`` as {article key: (first chunk index, last chunk index)}."""
    spans: dict[str, tuple[int, int]] = {}
    for entry in filter(None, parts.split(",")):
        key, _, span = entry.rpartition("@")
        first, _, last = span.partition("-")
        spans[key] = (int(first), int(last))
    return spans


def part_keys(parts: str) -> frozenset[str]:
    """The article keys of a ``parts`` field."""
    return frozenset(entry.rpartition("@")[0] for entry in filter(None, parts.split(",")))


def encode_part_until(ends: Mapping[str, str]) -> str:
    return ",".join(f"{key}={end}" for key, end in sorted(ends.items()))


def decode_part_until(value: str) -> dict[str, str]:
    """``part_until`` as {article key: last day the old text applies}."""
    return dict(entry.split("=", 1) for entry in filter(None, value.split(",")))


@dataclass(frozen=True)
class Holding:
    """What one document holds, as the relation between two documents needs it."""

    keys: frozenset[str]
    declared: bool
    """Its metadata says which version it is (``work``, ``valid_from``, ``valid_until``,
    ``amends``, ``repeals``): it is a version, whatever its text."""

    @property
    def whole(self) -> bool:
        """Several articles, or no article structure at all: an act (or most of one)."""
        return len(self.keys) != 1


Effect = Literal["all", "none", "unclear"] | frozenset[str]
"""What a later document of the work does to an earlier one: replaces it (``all``), replaces
some of its articles (their keys), leaves it alone (``none``), or cannot be told (``unclear``)."""


def later_effect(later: Holding, earlier: Holding) -> Effect:
    """What ``later`` (valid from a later day, same work) does to ``earlier``.

    Articles in common are replaced; a later whole act sharing at least half of an earlier
    text's articles replaces all of it (a consolidated version drops repealed articles). A text
    without article structure is a version of another only when one of them declares it.
    """
    if later.keys and earlier.keys:
        common = later.keys & earlier.keys
        if not common:
            return "none"
        if common == earlier.keys or (later.whole and 2 * len(common) >= len(earlier.keys)):
            return "all"
        return frozenset(common)
    if not later.declared and not earlier.declared:
        return "unclear"
    if not earlier.keys and not later.keys:
        return "all"
    return "all" if later.whole else "unclear"


def same_start_relation(a: Holding, b: Holding) -> Literal["same", "parts", "unclear"]:
    """Two documents of one work, language and start day: one version claimed twice
    (``same``), different parts of one act, or not to be told apart."""
    if a.keys and b.keys:
        if a.keys == b.keys:
            return "same"
        return "parts" if not a.keys & b.keys else "unclear"
    if not a.keys and not b.keys and (a.declared or b.declared):
        return "same"
    return "unclear"


def _key_order(key: str) -> tuple[int, str]:
    digits = "".join(c for c in key if c.isdigit())
    return (int(digits) if digits else 0, key)


def describe_keys(keys: Iterable[str]) -> str:
    """Article keys for people: ``1–3, 5, 7a`` (runs of consecutive numbers joined)."""
    ordered = sorted(set(keys), key=_key_order)
    runs: list[list[str]] = []
    for key in ordered:
        previous = runs[-1][-1] if runs else ""
        if previous.isdigit() and key.isdigit() and int(key) == int(previous) + 1:
            runs[-1].append(key)
        else:
            runs.append([key])
    return ", ".join(run[0] if len(run) == 1 else f"{run[0]}–{run[-1]}" for run in runs)


@dataclass(frozen=True)
class Act:
    """The documents of one work, ordered by article, then version and language."""

    work: str
    documents: tuple[Document, ...]

    @property
    def keys(self) -> frozenset[str]:
        return frozenset().union(*(part_keys(d.parts) for d in self.documents))

    @property
    def in_parts(self) -> bool:
        """Kept as several documents holding different articles (one file per article)."""
        held = {part_keys(d.parts) for d in self.documents}
        return len(held) > 1


def group_acts(documents: Iterable[Document]) -> list[Act]:
    """Documents grouped under their work (``work``, default ``number``), works in order."""
    by_work: dict[str, list[Document]] = {}
    for doc in documents:
        by_work.setdefault(doc.work or doc.doc_id, []).append(doc)

    def order(doc: Document) -> tuple[tuple[int, str], str, str, str]:
        keys = sorted(part_keys(doc.parts), key=_key_order)
        return (_key_order(keys[0]) if keys else (-1, ""), doc.valid_from, doc.language,
                doc.doc_id)  # fmt: skip

    return [Act(work, tuple(sorted(docs, key=order))) for work, docs in sorted(by_work.items())]
