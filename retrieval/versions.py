"""Which version of a regulation is in force: validity metadata, derived end dates, conflicts.

A *work* is a regulation across its versions (``work``, default ``number``, else the doc id);
a *version* of it is the set of documents (translations) sharing one ``valid_from`` and the
same articles; documents holding different articles are parts of it (``retrieval.parts``). Pure
functions over the manifest, so ingest, search, the CLI and the bot's alerts agree:

- ``declared_validity`` reads and checks the front-matter (or sidecar) keys;
- ``retrieval.succession`` derives every document's effective ``valid_until`` (and which
  articles of an act a later text replaced), reports conflicts and doubts; ``apply`` stores it;
- ``window`` gives the integer day numbers (YYYYMMDD, like ``date_num``) that the Chroma
  ``where`` filters and the lexical index compare with the as-of date;
- ``successor`` names the version in force today for a citation that is no longer.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from retrieval.hygiene import iso_date
from retrieval.models import Answer, Citation, Document, index_of
from retrieval.parts import decode_part_until, part_keys, part_spans

if TYPE_CHECKING:
    from retrieval.prompts import Prompts

STATUSES = ("in_force", "repealed", "draft")
VERSION_KEYS = ("work", "valid_from", "valid_until", "amends", "repeals")
"""Keys by which a document declares itself a version (``Document.version_declared``)."""
OPEN_END = 99991231
"""The day number of a version without an end."""
NEVER = 0
"""``valid_until_num`` of a version that is in force on no day (a conflict's loser)."""


def day_number(date: str) -> int:
    """``2024-07-01`` -> ``20240701``; an empty or partial date -> 0."""
    digits = "".join(c for c in date[:10] if c.isdigit())
    return int(digits) if len(digits) == 8 else 0


def today() -> str:
    return dt.date.today().isoformat()


def day_before(date: str) -> str:
    return (dt.date.fromisoformat(date) - dt.timedelta(days=1)).isoformat()


def split_list(value: str) -> tuple[str, ...]:
    """A front-matter list (stored as ``"A, B"``) as a tuple of works."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


def declared_validity(metadata: Mapping[str, str], doc_id: str) -> dict[str, Any]:
    """The version keys of one document's metadata, checked (``ValueError`` names the key).

    ``valid_from`` defaults to ``date`` when that is a ``YYYY-MM-DD`` date; ``status`` to
    ``in_force``; ``work`` to ``number``, else the doc id. ``version_declared``: whether any
    of ``VERSION_KEYS`` is given (a shared ``number`` alone does not make two texts versions).
    """
    values: dict[str, str] = {}
    for key in ("valid_from", "valid_until"):
        raw = metadata.get(key, "")
        if raw:
            try:
                values[key] = iso_date(raw)
            except ValueError as e:
                msg = f"{key}: {e}"
                raise ValueError(msg) from e
    if "valid_from" not in values:
        try:
            values["valid_from"] = iso_date(metadata.get("date", ""))
        except ValueError:
            values["valid_from"] = ""
    start, end = values.get("valid_from", ""), values.get("valid_until", "")
    if start and end and end < start:
        msg = f"valid_until {end} is before valid_from {start}"
        raise ValueError(msg)
    status = metadata.get("status", "in_force").strip().lower().replace("-", "_").replace(" ", "_")
    if status not in STATUSES:
        msg = f"status: {metadata['status']!r} is not one of {', '.join(STATUSES)}"
        raise ValueError(msg)
    return {
        "work": metadata.get("work") or metadata.get("number") or doc_id,
        "valid_from": start,
        "valid_until": end,
        "declared_until": end,
        "status": status,
        "repeals": ", ".join(split_list(metadata.get("repeals", ""))),
        "amends": ", ".join(split_list(metadata.get("amends", ""))),
        "version_declared": any(metadata.get(key) for key in VERSION_KEYS),
    }


def window(doc: Document) -> tuple[int, int]:
    """(valid_from, valid_until) as day numbers; a version in force on no day ends at 0."""
    start = day_number(doc.valid_from)
    if doc.conflict or (doc.status == "repealed" and not doc.valid_until):
        return start, NEVER
    return start, day_number(doc.valid_until) if doc.valid_until else OPEN_END


def part_windows(doc: Document) -> dict[int, int]:
    """Chunk index -> last day number, for the chunks of articles a later text replaced
    (``Document.part_until``); the other chunks follow ``window``."""
    if not doc.part_until:
        return {}
    spans = part_spans(doc.parts)
    end = window(doc)[1]
    found: dict[int, int] = {}
    for key, last_day in decode_part_until(doc.part_until).items():
        first, last = spans.get(key, (0, -1))
        for index in range(first, last + 1):
            found[index] = min(end, day_number(last_day))
    return found


def chunk_metadata(doc: Document) -> dict[str, str | int]:
    """Chunk metadata the as-of filter compares (``SearchFilters.chroma_where``)."""
    start, end = window(doc)
    return {"work": doc.work, "status": doc.status,
            "valid_from_num": start, "valid_until_num": end}  # fmt: skip


def lexical_window(doc: Document) -> tuple[int, int, bool]:
    """``window`` and whether ``doc`` is a draft: what the lexical index filters on."""
    start, end = window(doc)
    return start, end, doc.status == "draft"


def in_force(doc: Document, on: str, *, drafts: bool = False) -> bool:
    """Whether ``doc`` applies on ``on`` (a draft only when ``drafts``)."""
    if doc.status == "draft" and not drafts:
        return False
    start, end = window(doc)
    return start <= day_number(on) <= end


def successor(doc: Document, manifest: Mapping[str, Document], on: str) -> Document | None:
    """The version that replaced ``doc`` and is in force on ``on`` (its language first), or
    the document that repealed its work; ``None`` while ``doc`` is still in force."""
    if not ended(doc, on) or not doc.work:
        return None
    current = [d for d in manifest.values() if d.work == doc.work and in_force(d, on)]
    if current:
        return min(current, key=lambda d: (d.language != doc.language, d.doc_id))
    repealing = [
        d
        for d in manifest.values()
        if doc.work in split_list(d.repeals) and d.valid_from > doc.valid_from
        and d.status != "draft"
    ]  # fmt: skip
    return min(repealing, key=lambda d: (d.valid_from, d.doc_id)) if repealing else None


def article_replacement(
    doc: Document, index: int, manifest: Mapping[str, Document], on: str
) -> tuple[Document, str] | None:
    """For chunk ``index`` of ``doc`` whose article a later text replaced before ``on``: that
    text and the last day the old article applied; ``None`` otherwise."""
    ends = decode_part_until(doc.part_until)
    if not ends:
        return None
    key = next((k for k, (a, b) in part_spans(doc.parts).items() if a <= index <= b), "")
    last_day = ends.get(key, "")
    if not last_day or day_number(last_day) >= day_number(on):
        return None
    start = day_after(last_day)
    texts = [
        d for d in manifest.values()
        if d.work == doc.work and d.valid_from == start and key in part_keys(d.parts)
    ]  # fmt: skip
    if not texts:
        return None
    return min(texts, key=lambda d: (d.language != doc.language, d.doc_id)), last_day


def gone(manifest: Mapping[str, Document], on: str) -> list[Document]:
    """Documents that stopped applying before ``on`` and whose work has no text in force on
    ``on`` (repealed or expired, not replaced by a later version): where a rule may have been
    that no rule in force replaces."""
    in_force_works = {d.work for d in manifest.values() if in_force(d, on)}
    return [
        d for d in manifest.values()
        if ended(d, on) and not d.conflict and d.status != "draft"
        and d.work not in in_force_works
    ]  # fmt: skip


def history(work: str, manifest: Mapping[str, Document]) -> list[Document]:
    """Every version of ``work``, oldest first (translations of a version together)."""
    versions = [d for d in manifest.values() if d.work == work]
    return sorted(versions, key=lambda d: (d.valid_from, d.language, d.doc_id))


def may_be_translations(a: Document, b: Document) -> bool:
    """Translations group only within one version of one part: two versions of a work never
    do, nor two different articles of one act (documents sharing ``number`` pair as declared
    translations, so this is what keeps an act's articles apart)."""
    if a.work != b.work:
        return True
    keys_a, keys_b = part_keys(a.parts), part_keys(b.parts)
    return a.valid_from == b.valid_from and (not keys_a or not keys_b or keys_a == keys_b)


def ended(doc: Document, on: str) -> bool:
    """Whether ``doc`` stopped applying before ``on`` (not merely starts after it)."""
    return window(doc)[1] < day_number(on)


def annotate(
    answer: Answer, manifest: Mapping[str, Document], today: str, prompts: Prompts
) -> None:
    """Give each citation its version facts and, for a version no longer in force on
    ``today``, ``superseded_by`` and a line in the answer saying when the rule changed."""
    notes: list[str] = []
    citations: list[Citation] = []
    for citation in answer.citations:
        doc = manifest.get(citation.doc_id)
        if doc is None:
            citations.append(citation)
            continue
        later = successor(doc, manifest, today) if ended(doc, today) else None
        until = doc.valid_until
        replaced = article_replacement(doc, index_of(citation.chunk_id), manifest, today)
        if later is None and replaced is not None:
            later, until = replaced
        citations.append(
            replace(
                citation, work=doc.work, valid_from=doc.valid_from,
                valid_until=until or None, status=doc.status, version=doc.version,
                superseded_by=(
                    {"doc_id": later.doc_id, "valid_from": later.valid_from} if later else None
                ),
            )
        )  # fmt: skip
        if later is not None:
            notes.append(prompts.get(
                "version_changed", answer.language, n=citation.n, date=later.valid_from,
                title=later.title, doc_id=later.doc_id, as_of=answer.as_of or today,
            ))  # fmt: skip
        elif ended(doc, today) and doc.valid_until:
            notes.append(prompts.get(
                "version_ended", answer.language, n=citation.n,
                date=day_after(doc.valid_until),
            ))  # fmt: skip
    answer.citations = citations
    if notes:
        answer.answer = "\n".join([answer.answer, *dict.fromkeys(notes)])


def cited_versions(citations: Iterable[Citation]) -> list[dict[str, str]]:
    """What the audit log keeps of an answer's citations: the exact versions quoted."""
    found: dict[str, dict[str, str]] = {}
    for c in citations:
        found.setdefault(
            c.doc_id,
            {"doc_id": c.doc_id, "version": c.version, "title": c.title, "work": c.work,
             "valid_from": c.valid_from, "valid_until": c.valid_until or ""},
        )  # fmt: skip
    return list(found.values())


@dataclass(frozen=True)
class Change:
    """How a cited version changed since it was quoted: ``edited``, ``superseded``,
    ``repealed`` or ``removed``; ``since`` is the first day of the change, when known."""

    doc_id: str
    title: str
    kind: str
    since: str = ""
    by: str = ""

    def to_json(self) -> dict[str, str]:
        return {"doc_id": self.doc_id, "title": self.title, "kind": self.kind,
                "since": self.since, "by": self.by}  # fmt: skip


def changes(cited: Iterable[Mapping[str, str]], manifest: Mapping[str, Document]) -> list[Change]:
    """The changes to the versions an answer cited (``cited_versions``), given the index now."""
    found: list[Change] = []
    for old in cited:
        doc_id, title = old["doc_id"], old.get("title", "")
        doc = manifest.get(doc_id)
        if doc is None:
            found.append(Change(doc_id, title, "removed"))
        elif old.get("version") and doc.version != old["version"]:
            found.append(Change(doc_id, title, "edited"))
        elif doc.valid_until != old.get("valid_until", "") and ended_by(doc):
            start = day_after(doc.valid_until) if doc.valid_until else ""
            later = successor(doc, manifest, start) if start else None
            if later is not None and later.work == doc.work:
                found.append(Change(doc_id, title, "superseded", later.valid_from, later.doc_id))
            else:
                by = later.doc_id if later is not None else ""
                found.append(Change(doc_id, title, "repealed", start, by))
    return found


def ended_by(doc: Document) -> bool:
    """Whether ``doc`` has an end (declared, derived or a repeal without date)."""
    return window(doc)[1] != OPEN_END


def day_after(date: str) -> str:
    return (dt.date.fromisoformat(date) + dt.timedelta(days=1)).isoformat()


KEYS = ("work", "valid_from", "valid_until", "status", "repeals", "amends")
_CAPTION_KEY = re.compile(rf"\b({'|'.join(KEYS)})\s*:\s*", re.IGNORECASE)


def caption_metadata(caption: str) -> dict[str, str]:
    """The version keys written in an upload's caption (``work: DEC-7 valid_from: 2024-07-01``);
    other words are ignored, lists may be written ``[A, B]`` or ``A, B``."""
    found: dict[str, str] = {}
    marks = list(_CAPTION_KEY.finditer(caption))
    for mark, following in zip(marks, [*marks[1:], None], strict=False):
        end = following.start() if following is not None else len(caption)
        value = caption[mark.end() : end].strip().strip("[]").strip()
        if value:
            found[mark.group(1).lower()] = value
    return found
