"""``regula calibrate``: refusal thresholds derived from the corpus itself.

Pseudo-questions are built from the corpus's own passages: a sentence of a sampled chunk, cut
to its first ``PSEUDO_WORDS`` words, asked in the document's language. Each is asked twice:

- with the whole index (*answerable*: its source passage is there);
- with its source document and every translation of it left out (*unanswerable*, and near its
  topic: the rest of the corpus is what a question about a missing rule meets).

The thresholds are quantiles of the unanswerable scores (``refusal.pick_thresholds``); a
labelled QA file (``--qa``) refines them. At most ``max_questions`` chunks are sampled, with a
fixed seed, so the same index gives the same calibration and the cost is bounded (two searches
per pseudo-question, one per QA line).
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.answer.citations import split_sentences
from retrieval.answer.refusal import Calibration, pick_thresholds, quantile
from retrieval.errors import RegulaError
from retrieval.evaluation import load_qa
from retrieval.models import Document, chunk_ids, doc_id_of
from retrieval.search.fusion import SearchFilters

if TYPE_CHECKING:
    from retrieval.assistant import Assistant

MAX_QUESTIONS = 60
SEED = 13
PSEUDO_WORDS = 16
MIN_WORDS = 6


@dataclass(frozen=True)
class PseudoQuestion:
    text: str
    doc_id: str
    language: str


@dataclass
class CalibrationReport:
    """What ``regula calibrate`` prints: the stored calibration and the labelled file's rates."""

    calibration: Calibration
    qa: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        payload = self.calibration.record()
        if self.qa:
            payload["qa"] = self.qa
        return payload


def _group(document: Document) -> str:
    return document.group_id or document.doc_id


def pseudo_questions(
    assistant: Assistant, manifest: dict[str, Document], limit: int, seed: int
) -> list[PseudoQuestion]:
    """Up to ``limit`` pseudo-questions, one per sampled chunk (documents drawn at random, then
    a chunk of each, so a long document does not crowd out the others)."""
    rng = random.Random(seed)
    documents = sorted((d for d in manifest.values() if d.chunk_count), key=lambda d: d.doc_id)
    picks: set[tuple[str, int]] = set()
    total = sum(d.chunk_count for d in documents)
    for _ in range(min(limit, total) * 4):
        if len(picks) >= min(limit, total):
            break
        document = rng.choice(documents)
        picks.add((document.doc_id, rng.randrange(document.chunk_count)))
    wanted: dict[str, list[str]] = {}
    for doc_id, index in sorted(picks):
        document = manifest[doc_id]
        wanted.setdefault(document.language, []).append(
            chunk_ids(doc_id, document.version, document.chunk_count)[index]
        )
    found = assistant.store.get_chunks(wanted)
    questions = []
    for chunk_id in sorted(found):
        text, metadata = found[chunk_id]
        sentences = [s.text for s in split_sentences(text) if len(s.text.split()) >= MIN_WORDS]
        if not sentences:
            continue
        words = rng.choice(sentences).split()[:PSEUDO_WORDS]
        doc_id = doc_id_of(chunk_id)
        language = str(metadata.get("language") or manifest[doc_id].language)
        questions.append(PseudoQuestion(" ".join(words), doc_id, language))
    return questions


def _score(
    assistant: Assistant, text: str, language: str, filters: SearchFilters | None = None
) -> float:
    """The evidence score ``Assistant.ask`` would decide on for ``text``."""
    vector = assistant.embeddings.embed_query_vector(text)
    k = assistant.settings.retrieval.k
    passages = assistant.searcher.search(text, language, k, filters, {}, vector)
    return assistant.evidence(passages[:k], vector)


def calibrate(
    assistant: Assistant,
    qa_path: Path | None = None,
    max_questions: int = MAX_QUESTIONS,
    seed: int = SEED,
) -> CalibrationReport:
    """Measure the corpus, store the thresholds with the index and return what was found."""
    started = time.perf_counter()
    manifest = assistant.refresh(force=True)
    revision = assistant.store.revision()
    groups = {_group(d) for d in manifest.values()}
    if len(groups) < 2:
        msg = (
            "calibration needs at least two documents that are not translations of each "
            f"other (the index holds {len(manifest)} document(s) in {len(groups)} group(s))"
        )
        raise RegulaError(msg)
    answerable: list[float] = []
    unanswerable: list[float] = []
    for question in pseudo_questions(assistant, manifest, max_questions, seed):
        source = _group(manifest[question.doc_id])
        others = sorted(d for d, doc in manifest.items() if _group(doc) != source)
        answerable.append(_score(assistant, question.text, question.language))
        left_out = SearchFilters(doc_ids=others)
        unanswerable.append(_score(assistant, question.text, question.language, left_out))
    if not unanswerable:
        msg = "no passage of the index has a sentence long enough to calibrate on"
        raise RegulaError(msg)
    in_scope: list[float] = []
    out_of_scope: list[float] = []
    if qa_path is not None:
        for item in load_qa(qa_path):
            score = _score(assistant, item.question, assistant.detect_language(item.question))
            (out_of_scope if item.kind == "out_of_scope" else in_scope).append(score)
    answer_above, not_covered_below = pick_thresholds(unanswerable, in_scope)
    calibration = Calibration(
        answer_above=answer_above,
        not_covered_below=not_covered_below,
        made_at=datetime.now(UTC).isoformat(timespec="seconds"),
        revision=revision,
        signal=assistant.settings.answer.evidence,
        method="pseudo+qa" if in_scope else "pseudo",
        pseudo_questions=len(unanswerable),
        answerable_median=round(statistics.median(answerable), 4),
        answerable_answered=round(sum(s >= answer_above for s in answerable) / len(answerable), 3),
        unanswerable_median=round(statistics.median(unanswerable), 4),
        unanswerable_q90=round(quantile(unanswerable, 0.9), 4),
        qa_questions=len(in_scope) + len(out_of_scope),
        seconds=round(time.perf_counter() - started, 1),
    )
    assistant.store.write_calibration(calibration.record())
    qa: dict[str, Any] = {}
    if in_scope or out_of_scope:
        qa = _rates(in_scope, out_of_scope, answer_above, not_covered_below)
    return CalibrationReport(calibration, qa)


def _rates(
    in_scope: list[float], out_of_scope: list[float], answer_above: float, below: float
) -> dict[str, Any]:
    """The labelled file at the chosen thresholds (the same questions that refined them)."""

    def share(values: list[float], test: Any) -> float | None:
        return round(sum(bool(test(v)) for v in values) / len(values), 3) if values else None

    return {
        "in_scope": len(in_scope),
        "out_of_scope": len(out_of_scope),
        "false_refusals": share(in_scope, lambda v: v < answer_above),
        "false_not_covered": share(in_scope, lambda v: v < below),
        "oos_handled": share(out_of_scope, lambda v: v < answer_above),
        "oos_not_covered": share(out_of_scope, lambda v: v < below),
    }
