"""Which text replaces which: versions, parts of one act, repeals, conflicts and doubts.

Documents share a *work* (``work``, default ``number``, else the doc id). Within a work, what
each document holds decides how two of them relate (``retrieval.parts``): a later text of the
same articles ends the earlier one the day before it starts; a later text of some of an act's
articles ends those articles only; different articles are parts of one act and never end each
other. A ``repeals: [X]`` ends every earlier text of X. Two texts of one language claiming the
same articles from the same day are a *conflict*: reported, and answered from once. Where the
documents cannot tell versions from parts, every one stays searchable and the doubt is
reported (``Doubt``): Regula never hides a document on an inference it does not show.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from retrieval.models import Document
from retrieval.parts import (
    Holding,
    encode_part_until,
    later_effect,
    part_keys,
    same_start_relation,
)
from retrieval.versions import (
    chunk_metadata,
    day_before,
    declared_validity,
    lexical_window,
    part_windows,
    split_list,
)

if TYPE_CHECKING:
    from retrieval.store.index import VectorStore
    from retrieval.store.lexical import LexicalIndex

DOUBT_EXAMPLES = 5
"""How many files a doubt names in its reason (``doc_ids`` lists them all)."""


@dataclass(frozen=True)
class Conflict:
    """Versions of one work whose validity overlaps; ``kept`` is the one answered from."""

    work: str
    doc_ids: tuple[str, ...]
    kept: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"work": self.work, "doc_ids": list(self.doc_ids), "kept": self.kept,
                "reason": self.reason}  # fmt: skip


@dataclass(frozen=True)
class Doubt:
    """Documents of one work that may be versions or parts: all are kept searchable."""

    work: str
    doc_ids: tuple[str, ...]
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"work": self.work, "doc_ids": list(self.doc_ids), "reason": self.reason}


@dataclass
class Resolution:
    """Per document: effective ``valid_until``, ``conflict``, the articles a later text
    replaced (``part_until``) and any ``doubt``; and the conflicts and doubts found."""

    until: dict[str, str] = field(default_factory=dict)
    conflict: dict[str, str] = field(default_factory=dict)
    part_until: dict[str, dict[str, str]] = field(default_factory=dict)
    doubt: dict[str, str] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)
    doubts: list[Doubt] = field(default_factory=list)

    def apply(self, doc: Document) -> Document:
        return replace(
            doc,
            valid_until=self.until.get(doc.doc_id, doc.declared_until),
            conflict=self.conflict.get(doc.doc_id, ""),
            part_until=encode_part_until(self.part_until.get(doc.doc_id, {})),
            doubt=self.doubt.get(doc.doc_id, ""),
        )

    def end_part(self, doc_id: str, key: str, end: str) -> None:
        ends = self.part_until.setdefault(doc_id, {})
        ends[key] = _earlier(ends.get(key, ""), end)


def holding(doc: Document) -> Holding:
    return Holding(part_keys(doc.parts), doc.version_declared)


def _earlier(a: str, b: str) -> str:
    """The earlier of two end dates, ``""`` meaning open."""
    return min(a, b) if a and b else a or b


def resolve(documents: Iterable[Document]) -> Resolution:
    """Derive the end of every text and report overlaps and doubts (module docstring)."""
    docs = [d for d in documents if d.work]
    result = Resolution()
    by_work: dict[str, list[Document]] = {}
    for doc in docs:
        result.until[doc.doc_id] = doc.declared_until
        if doc.status != "draft":
            by_work.setdefault(doc.work, []).append(doc)
    for doc in docs:  # a repeal ends every earlier version of the repealed works
        if doc.status == "draft" or not doc.valid_from:
            continue
        for work in split_list(doc.repeals):
            for old in by_work.get(work, []):
                if old.valid_from < doc.valid_from:
                    end = day_before(doc.valid_from)
                    result.until[old.doc_id] = _earlier(result.until[old.doc_id], end)
    for work, members in sorted(by_work.items()):
        unclear: set[str] = set()
        _later_texts(work, members, result, unclear)
        _same_start(work, members, result, unclear)
        if unclear:
            _doubt(work, sorted(unclear), result)
    return result


def _later_texts(work: str, members: list[Document], result: Resolution, unclear: set[str]) -> None:
    """End each text where a later one of the same articles starts (``parts.later_effect``)."""
    holdings = {d.doc_id: holding(d) for d in members}
    by_key: dict[str, list[Document]] = {}
    unstructured: list[Document] = []
    for doc in members:
        keys = holdings[doc.doc_id].keys
        for key in keys:
            by_key.setdefault(key, []).append(doc)
        if not keys:
            unstructured.append(doc)
    everyone = sorted(members, key=lambda d: d.valid_from)
    for doc in members:
        mine = holdings[doc.doc_id]
        if mine.keys:  # only texts sharing an article, or texts without articles, relate
            sharing = {d.doc_id: d for key in mine.keys for d in by_key[key]}
            related = sorted([*sharing.values(), *unstructured], key=lambda d: d.valid_from)
        else:
            related = everyone
        for later in related:
            if later.valid_from <= doc.valid_from:
                continue
            effect = later_effect(holdings[later.doc_id], mine)
            if effect == "unclear":
                unclear.update((doc.doc_id, later.doc_id))
            elif effect == "all":
                _end(work, doc, later, result)
                break  # the earliest later text ends it; the rest end it no sooner
            elif isinstance(effect, frozenset):
                for key in effect:
                    result.end_part(doc.doc_id, key, day_before(later.valid_from))


def _end(work: str, doc: Document, later: Document, result: Resolution) -> None:
    end = day_before(later.valid_from)
    declared = doc.declared_until
    if declared and declared > end:
        result.conflicts.append(
            Conflict(work, (doc.doc_id,), doc.doc_id,
                     f"valid_until {declared} overlaps the version valid from "
                     f"{later.valid_from}; ended on {end}")
        )  # fmt: skip
    result.until[doc.doc_id] = _earlier(result.until[doc.doc_id], end)


def _same_start(work: str, members: list[Document], result: Resolution, unclear: set[str]) -> None:
    """Texts of one language starting on one day: the same articles twice are a conflict
    (answered from the first only), different articles are parts, the rest a doubt."""
    slots: dict[tuple[str, str], list[Document]] = {}
    for doc in members:
        slots.setdefault((doc.valid_from, doc.language), []).append(doc)
    for (start, language), docs in sorted(slots.items()):
        if len(docs) < 2:
            continue
        same: dict[frozenset[str], list[str]] = {}
        unstructured: list[Document] = []
        owners: dict[str, set[frozenset[str]]] = {}
        for doc in docs:
            mine = holding(doc)
            if mine.keys:
                same.setdefault(mine.keys, []).append(doc.doc_id)
                for key in mine.keys:
                    owners.setdefault(key, set()).add(mine.keys)
            else:
                unstructured.append(doc)
        for keys in {k for sets in owners.values() if len(sets) > 1 for k in sets}:
            unclear.update(same[keys])  # overlapping but different articles
        if unstructured:
            first = holding(unstructured[0])
            if len(unstructured) == len(docs) and all(
                same_start_relation(first, holding(d)) == "same" for d in unstructured[1:]
            ):
                same[frozenset()] = [d.doc_id for d in unstructured]
            else:
                unclear.update(d.doc_id for d in unstructured)
                if same:  # a text without articles beside texts with them
                    unclear.update(i for ids in same.values() for i in ids)
        for ids in same.values():
            if len(ids) < 2:
                continue
            kept, *others = sorted(ids)
            for other in others:
                result.conflict[other] = kept
            reason = f"{len(ids)} '{language}' versions valid from {start or 'the start'}"
            result.conflicts.append(Conflict(work, tuple(sorted(ids)), kept, reason))


def _doubt(work: str, doc_ids: list[str], result: Resolution) -> None:
    named = ", ".join(doc_ids[:DOUBT_EXAMPLES])
    more = f" and {len(doc_ids) - DOUBT_EXAMPLES} more" if len(doc_ids) > DOUBT_EXAMPLES else ""
    reason = (
        f"{len(doc_ids)} documents of {work} ({named}{more}) may be versions or parts of one "
        "act; all are searched. Declare `work`/`valid_from` for versions, or `article` for parts"
    )
    result.doubts.append(Doubt(work, tuple(doc_ids), reason))
    for doc_id in doc_ids:
        if doc_id not in result.conflict:
            result.doubt[doc_id] = f"versions or parts of {work}? all searched"


def apply(store: VectorStore, lexical: LexicalIndex) -> tuple[list[Conflict], list[Doubt]]:
    """Resolve the whole manifest and write what changed to the manifest records, the chunks'
    metadata (per chunk where an article was replaced) and the lexical index.

    Also gives the version fields to the documents of an index written before them.
    """
    stored = store.manifest()
    manifest = dict(stored)
    for doc_id, doc in manifest.items():
        if not doc.work:  # an older index: the defaults, from what the manifest knows
            known = {"date": doc.date, "number": doc.number}
            manifest[doc_id] = replace(doc, **declared_validity(known, doc_id))
    resolution = resolve(manifest.values())
    changed = [d for d in map(resolution.apply, manifest.values()) if d != stored[d.doc_id]]
    if changed:
        store.update_validity(
            changed, [chunk_metadata(d) for d in changed], [part_windows(d) for d in changed]
        )
        lexical.set_windows({d.doc_id: lexical_window(d) for d in changed})
    return resolution.conflicts, resolution.doubts
