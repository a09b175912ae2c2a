"""Plain data passed between ingest, search, answering and the interfaces.

Nothing here talks to a store or a model; every other module speaks in these types, so the CLI,
the Telegram bot and the tests see one vocabulary.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

AnswerOutcome = Literal["answer", "closest", "not_covered"]
"""``answer``: the quotes answer the question; ``closest``: no passage answers it directly, the
closest ones are quoted (with citations); ``not_covered``: only the nearest documents."""


@dataclass(frozen=True)
class LoadedDocument:
    """What a loader extracts from one file: text with line structure, plus metadata.

    ``metadata`` holds what the file itself declares (front-matter, PDF/DOCX properties):
    ``title``, ``number``, ``issuer``, ``date``, ``language``, ``source`` when present.
    """

    text: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Document:
    """One indexed document, as recorded in the manifest."""

    doc_id: str
    path: str
    title: str
    language: str
    content_hash: str
    version: str
    number: str = ""
    issuer: str = ""
    aliases: str = ""
    """Other names the document goes by ("GDPR, RGPD, DSGVO"), from its metadata."""
    date: str = ""
    source: str = ""
    group_id: str = ""
    chunk_count: int = 0
    source_root: str = ""
    """The folder (or file) given to ``ingest`` that this document came from."""
    owner: str = ""
    """The worker (data dir) whose ingest wrote it; only it may prune it (``ownership``)."""
    work: str = ""
    """The regulation across its versions (``retrieval.versions``); "" in an older index."""
    valid_from: str = ""
    """First day this text applies (declared, else ``date``); "" means from the start."""
    valid_until: str = ""
    """Last day it applies: declared, or derived from a later version or a repeal; "" open."""
    declared_until: str = ""
    """``valid_until`` as the file declares it (the derivation starts again from it)."""
    status: str = "in_force"
    """``in_force`` | ``repealed`` | ``draft`` (a draft is searched only when asked for)."""
    repeals: str = ""
    """Works this text repeals, comma-separated."""
    amends: str = ""
    """Works this text amends, comma-separated (recorded, listed; no effect on validity)."""
    conflict: str = ""
    """Set when another document claims the same version: the one answered from instead."""
    version_declared: bool = False
    """Its metadata declares a version (``versions.VERSION_KEYS``); a shared ``number`` alone
    does not make two texts without articles versions of each other."""
    parts: str = ""
    """The articles it holds and their chunks, ``"1@0-1,2@2-4"`` (``retrieval.parts``)."""
    part_until: str = ""
    """Articles a later text of the work replaced, ``"2=2024-06-30"`` (the last day each old
    article applies); its other articles stay in force."""
    ocr_pages: int = 0
    """Pages read through OCR (a scan, or an image file); 0 for a text the file carried."""
    pages: int = 0
    """Pages the file has (a PDF or a scan); 0 for a text without pages."""
    empty_pages: str = ""
    """Pages left without text, even through OCR, numbered from 1: ``"3,7"``."""
    footnotes: int = 0
    """Footnotes the PDF reader kept apart from the body text."""
    column_pages: int = 0
    """Pages read as two columns, one after the other (``retrieval.ingest.columns``)."""
    out_of_order: str = ""
    """Article headings that came after a higher number: ``"7 → 5"``, ``;``-separated
    (``retrieval.ingest.layout.headings_out_of_order``)."""
    doubt: str = ""
    """Set when the ingest could not tell whether it is a version or a part of its work: it
    stays searchable, and ``ingest`` and ``docs`` say so (``retrieval.succession``)."""


CHUNK_ID_SEPARATOR = "::"
"""Joins the parts of a chunk id; ``retrieval.hygiene.safe_doc_id`` keeps it out of doc ids."""


def make_chunk_id(doc_id: str, version: str, index: int) -> str:
    """``doc::version::i``: the version in the id lets a re-ingest write a new version's
    chunks beside the live ones, never over them."""
    return CHUNK_ID_SEPARATOR.join((doc_id, version, str(index)))


def chunk_ids(doc_id: str, version: str, count: int) -> list[str]:
    """Every chunk id of one document version, in reading order (numbered from 0)."""
    return [make_chunk_id(doc_id, version, i) for i in range(count)]


def index_of(chunk_id: str) -> int:
    """The chunk's position in its document (-1 for an id without one)."""
    last = chunk_id.rpartition(CHUNK_ID_SEPARATOR)[2]
    return int(last) if last.isdigit() else -1


def doc_id_of(chunk_id: str) -> str:
    """The document part of a chunk id."""
    return chunk_id.split(CHUNK_ID_SEPARATOR)[0]


def version_of(chunk_id: str) -> str:
    """The version part of a chunk id ("" for an id without one)."""
    parts = chunk_id.split(CHUNK_ID_SEPARATOR)
    return parts[-2] if len(parts) >= 3 else ""


def with_header(header: str, text: str) -> str:
    """What is embedded and lexically indexed for a chunk: its context header, then its text."""
    return f"{header}\n{text}" if header else text


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage: a paragraph, an article or a slice of one, with its locator.

    ``locator`` is how an official cites it ("Article 5(2)", "Section 4", "¶ 7").
    """

    doc_id: str
    index: int
    text: str
    locator: str
    header: str = ""
    """Context embedded and indexed with the text, never quoted: "GDPR — Article 33"."""
    part: str = ""
    """The key of the article it belongs to ("33"; ``retrieval.parts.part_key``), "" outside
    any article."""

    @property
    def indexed_text(self) -> str:
        return with_header(self.header, self.text)

    def chunk_id(self, version: str) -> str:
        """This chunk's id in ``version`` of its document (``make_chunk_id``)."""
        return make_chunk_id(self.doc_id, version, self.index)


@dataclass(frozen=True)
class Passage:
    """A chunk as search returns it: text plus the document facts needed to cite it."""

    chunk_id: str
    doc_id: str
    text: str
    locator: str
    title: str
    language: str
    source: str
    date: str
    group_id: str
    score: float
    dense_score: float = 0.0
    lexical_rank: int | None = None
    translations: tuple[str, ...] = ()


@dataclass(frozen=True)
class Citation:
    """A numbered source under an answer; ``quote`` is shown, ``text`` is the whole chunk."""

    n: int
    chunk_id: str
    doc_id: str
    title: str
    locator: str
    source: str
    date: str
    language: str
    quote: str
    text: str
    score: float
    translations: tuple[str, ...] = ()
    work: str = ""
    valid_from: str = ""
    valid_until: str | None = None
    """Last day the cited version applies; ``None`` while it is open."""
    status: str = "in_force"
    superseded_by: dict[str, str] | None = None
    """``{doc_id, valid_from}`` of the version in force today, when this one no longer is."""
    version: str = ""
    """The cited document version (the audit log records it; not in the JSON)."""

    def to_json(self) -> dict[str, Any]:
        payload = {**asdict(self), "translations": list(self.translations)}
        payload.pop("version")
        if self.superseded_by is None:
            payload.pop("superseded_by")
        return payload


@dataclass(frozen=True)
class NearestDocument:
    """A document listed when Regula refuses, so the official knows where to look instead."""

    doc_id: str
    title: str
    language: str
    score: float


@dataclass
class Answer:
    """The result of one question. ``answer`` never states anything absent from a citation."""

    question: str
    language: str
    answer: str
    refused: bool
    citations: list[Citation] = field(default_factory=list)
    nearest: list[NearestDocument] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    id: str | None = None
    relevance: float = 0.0
    verification: dict[str, int] | None = None
    """LLM mode only: ``{claims, kept, unknown_markers}`` counted by ``retrieval.answer.verify``."""
    fallback: bool = False
    """LLM mode only: the model failed, so this is the extractive answer with a notice."""
    retrieved: list[Passage] = field(default_factory=list)
    """The ranked passages retrieval returned (evaluation reads them; not in the JSON)."""
    as_of: str | None = None
    """The date whose versions were searched (``YYYY-MM-DD``)."""
    outcome: AnswerOutcome | None = None
    """``None`` when built: ``not_covered`` if ``refused`` else ``answer``. ``refused`` is true
    for ``closest`` and ``not_covered``."""
    unknown_names: list[str] = field(default_factory=list)
    """Names the question gives ("PSD2") that no indexed document mentions
    (``retrieval.answer.named_terms``); such a question is never given as answered, and the
    reply says so whatever its outcome."""

    ended_rule: dict[str, str | None] | None = None
    """``{doc_id, locator, valid_until, status}`` of a rule no longer in force on ``as_of`` that
    backs the question better than any rule in force (``retrieval.answer.ended_rules``); the
    reply names it, and an answer from the rules in force is then only ``closest``."""

    def __post_init__(self) -> None:
        if self.outcome is None:
            self.outcome = "not_covered" if self.refused else "answer"

    def to_json(self) -> dict[str, Any]:
        """The documented ``--json`` shape (see README, "JSON answer")."""
        payload: dict[str, Any] = {}
        if self.id is not None:
            payload["id"] = self.id
        payload.update(
            question=self.question,
            language=self.language,
            answer=self.answer,
            refused=self.refused,
            outcome=self.outcome,
            citations=[c.to_json() for c in self.citations],
            nearest=[asdict(d) for d in self.nearest],
            relevance=self.relevance,
            timings_ms={k: round(v, 1) for k, v in self.timings_ms.items()},
        )
        if self.as_of is not None:
            payload["as_of"] = self.as_of
        if self.verification is not None:
            payload["verification"] = dict(self.verification)
        if self.fallback:
            payload["fallback"] = True
        if self.unknown_names:
            payload["unknown_names"] = list(self.unknown_names)
        if self.ended_rule is not None:
            payload["ended_rule"] = dict(self.ended_rule)
        return payload


@dataclass(frozen=True)
class IngestFailure:
    path: str
    error: str


@dataclass
class IngestReport:
    """Counts printed by ``regula ingest --json``."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0
    failed: list[IngestFailure] = field(default_factory=list)
    foreign: int = 0
    """``/reindex``: documents left alone because another worker owns them (server mode)."""
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    """Overlapping versions of one work (``retrieval.succession.Conflict.to_json``)."""
    doubts: list[dict[str, Any]] = field(default_factory=list)
    """Per work, documents that may be versions or parts, all kept searchable
    (``retrieval.succession.Doubt.to_json``)."""
    read: list[dict[str, Any]] = field(default_factory=list)
    """What the reader found in each file it indexed (``ingest.findings``): ``{doc_id,
    articles, chunks, pages, ocr_pages, empty_pages, footnotes, column_pages,
    out_of_order}``, ``articles`` as "1–46" ("" when it found none), ``empty_pages`` and
    ``out_of_order`` as lists (the warnings)."""
    calibration: dict[str, Any] | None = None
    """The refusal thresholds measured after this ingest changed the index (``answer_above``,
    ``not_covered_below``, ``method``, ``seconds``); ``None`` when they were already current."""

    def to_json(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "chunks": self.chunks,
            "failed": [asdict(f) for f in self.failed],
            "conflicts": list(self.conflicts),
            "doubts": list(self.doubts),
            "read": list(self.read),
        }
        if self.foreign:
            payload["foreign"] = self.foreign
        if self.calibration is not None:
            payload["calibration"] = dict(self.calibration)
        return payload
