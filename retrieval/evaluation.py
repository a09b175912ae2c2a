"""Score answers against a QA file (the ``seeds_qa.jsonl`` format).

Each line: ``id``, ``lang``, ``question``, ``kind`` (``in_scope`` / ``out_of_scope``), ``answer``,
``gold`` = [{doc, evidence}] where ``evidence`` is an exact substring the cited passage must
contain; any one gold entry counts. Metrics, per question language and overall:

- hit: the answer cites a passage of a gold document that contains its evidence
- quote hit: the quote shown to the user contains the evidence (or lies inside it)
- top-1 hit: the first citation is such a passage
- recall@1/4/10: a gold passage is among the first 1/4/10 retrieved, before answer composition
  (and whether or not the answer refuses), so retrieval and composition can be told apart
- quote length p50 / p95 (characters shown per citation)
- out-of-scope questions handled (outcome ``closest`` or ``not_covered``: not given as the
  answer), and how many of them got ``not_covered``; false refusals (in-scope questions not
  given as answered: ``closest`` or ``not_covered``), how many of them got ``not_covered``, and
  how many ``closest`` ones still cite a gold passage (``closest_hits``)
- latency p50 / p95, and the mean time of each stage (``stage_ms``)

Whitespace is folded before evidence is matched: a chunk keeps an article's heading and
paragraphs on separate lines where the source may run them together.

In LLM mode ``llm_totals`` adds what verification did over the run: claims the model wrote,
claims kept, markers pointing to no passage, and fallbacks to the extractive answer.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrieval.answer.citations import quote_parts
from retrieval.errors import RegulaError
from retrieval.hygiene import iso_date
from retrieval.models import Answer, Citation
from retrieval.search.fusion import SearchFilters


@dataclass(frozen=True)
class QAItem:
    id: str
    lang: str
    question: str
    kind: str
    gold: list[dict[str, str]]
    as_of: str | None = None
    """Answer with the versions in force on this day (default: today)."""

    def filters(self) -> SearchFilters:
        """What to pass to ``Assistant.ask`` for this question (its ``as_of``)."""
        return SearchFilters(as_of=self.as_of)


RECALL_AT = (1, 4, 10)


@dataclass
class Outcome:
    item: QAItem
    answer: Answer
    hit: bool
    quote_hit: bool
    top1_hit: bool
    gold_rank: int | None = None
    """Rank (1-based) of the first retrieved passage that holds gold evidence, if any."""
    cited_hit: bool = False
    """A citation holds gold evidence, whatever the outcome (a ``closest`` answer cites too)."""


def load_qa(path: Path) -> list[QAItem]:
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            items.append(
                QAItem(
                    id=str(raw["id"]),
                    lang=str(raw.get("lang", "")),
                    question=str(raw["question"]),
                    kind=str(raw.get("kind", "in_scope")),
                    gold=list(raw.get("gold") or []),
                    as_of=iso_date(str(raw["as_of"])) if raw.get("as_of") else None,
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            msg = f"{path}:{number}: not a QA line ({e})"
            raise RegulaError(msg) from e
    return items


def _same_doc(doc_id: str, gold_doc: str) -> bool:
    return doc_id == gold_doc or doc_id.endswith("/" + gold_doc)


def _folded(text: str) -> str:
    return " ".join(text.split())


def _holds(doc_id: str, text: str, gold: Iterable[dict[str, str]]) -> bool:
    """``text`` of ``doc_id`` contains the evidence of a gold entry (any entry counts)."""
    folded = _folded(text)
    return any(
        _same_doc(doc_id, entry.get("doc", "")) and _folded(entry.get("evidence", "")) in folded
        for entry in gold
    )


def _quote_supports(citation: Citation, gold: Iterable[dict[str, str]]) -> bool:
    quote = _folded(citation.quote)
    for entry in gold:
        if not _same_doc(citation.doc_id, entry.get("doc", "")):
            continue
        evidence = _folded(entry.get("evidence", ""))
        if evidence in quote or (len(quote) > 15 and quote in evidence):
            return True
        # A point quoted with its lead-in ("… shall contain: … (c) …"): each part counts.
        if any(len(part) > 15 and part in evidence for part in quote_parts(quote)):
            return True
    return False


def judge(item: QAItem, answer: Answer) -> Outcome:
    citations = [] if answer.refused else answer.citations
    hit = any(_holds(c.doc_id, c.text, item.gold) for c in citations)
    quote_hit = any(_quote_supports(c, item.gold) for c in citations)
    top1 = bool(citations) and _holds(citations[0].doc_id, citations[0].text, item.gold)
    rank = next(
        (i for i, p in enumerate(answer.retrieved, start=1) if _holds(p.doc_id, p.text, item.gold)),
        None,
    )
    cited_hit = any(_holds(c.doc_id, c.text, item.gold) for c in answer.citations)
    return Outcome(item, answer, hit, quote_hit, top1, rank, cited_hit)


@dataclass
class Summary:
    label: str
    in_scope: int = 0
    out_of_scope: int = 0
    hits: int = 0
    quote_hits: int = 0
    top1_hits: int = 0
    refused_oos: int = 0
    not_covered_oos: int = 0
    false_refusals: int = 0
    false_not_covered: int = 0
    closest_hits: int = 0
    answered: int = 0
    answered_hits: int = 0
    shown: int = 0
    latencies: list[float] = field(default_factory=list)
    recalled: dict[int, int] = field(default_factory=lambda: dict.fromkeys(RECALL_AT, 0))
    quote_lengths: list[int] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.latencies.append(outcome.answer.timings_ms.get("total", 0.0))
        if outcome.item.kind == "out_of_scope":
            self.out_of_scope += 1
            self.refused_oos += outcome.answer.outcome != "answer"
            self.not_covered_oos += outcome.answer.outcome == "not_covered"
            return
        self.in_scope += 1
        self.hits += outcome.hit
        self.quote_hits += outcome.quote_hit
        self.top1_hits += outcome.top1_hit
        self.false_refusals += outcome.answer.outcome != "answer"
        self.false_not_covered += outcome.answer.outcome == "not_covered"
        self.closest_hits += outcome.answer.outcome == "closest" and outcome.cited_hit
        self.answered += outcome.answer.outcome == "answer"
        self.answered_hits += outcome.answer.outcome == "answer" and outcome.hit
        self.shown += outcome.cited_hit
        for at in RECALL_AT:
            self.recalled[at] += outcome.gold_rank is not None and outcome.gold_rank <= at
        if not outcome.answer.refused:
            self.quote_lengths.extend(len(c.quote) for c in outcome.answer.citations)

    def row(self) -> dict[str, Any]:
        def rate(n: int, d: int) -> float | None:
            return round(n / d, 3) if d else None

        quotes = sorted(self.quote_lengths)
        ordered = sorted(self.latencies)
        return {
            "lang": self.label,
            "in_scope": self.in_scope,
            **{f"r@{at}": rate(self.recalled[at], self.in_scope) for at in RECALL_AT},
            "hit": rate(self.hits, self.in_scope),
            "quote_hit": rate(self.quote_hits, self.in_scope),
            "top1": rate(self.top1_hits, self.in_scope),
            "quote_p50": round(statistics.median(quotes)) if quotes else None,
            "quote_p95": _percentile(quotes, 0.95) if quotes else None,
            "false_refusals": self.false_refusals,
            "false_not_covered": self.false_not_covered,
            "closest_hits": self.closest_hits,
            "precision": rate(self.answered_hits, self.answered),
            "coverage": rate(self.answered, self.in_scope),
            "shown": rate(self.shown, self.in_scope),
            "out_of_scope": self.out_of_scope,
            "oos_refused": rate(self.refused_oos, self.out_of_scope),
            "oos_not_covered": rate(self.not_covered_oos, self.out_of_scope),
            "oos_answered": rate(self.out_of_scope - self.refused_oos, self.out_of_scope),
            "p50_ms": round(statistics.median(ordered), 1) if ordered else 0.0,
            "p95_ms": round(_percentile(ordered, 0.95), 1) if ordered else 0.0,
        }


def _percentile(ordered: list[Any], q: float) -> Any:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def stage_timings(outcomes: Iterable[Outcome]) -> dict[str, float]:
    """Mean milliseconds of each stage over the run (embed, dense, lexical, latent, …)."""
    totals: dict[str, list[float]] = {}
    for outcome in outcomes:
        for stage, ms in outcome.answer.timings_ms.items():
            totals.setdefault(stage, []).append(ms)
    return {stage: round(statistics.fmean(values), 1) for stage, values in totals.items()}


def load_ids(path: Path) -> set[str]:
    """Question ids, one a line (``#`` comments allowed): a split of a QA file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return {line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()}


def evaluate(
    items: list[QAItem], ask: Callable[[QAItem], Answer]
) -> tuple[list[Outcome], list[dict[str, Any]]]:
    """Ask every question; return outcomes and summary rows (per language, then 'all')."""
    outcomes = [judge(item, ask(item)) for item in items]
    by_language: dict[str, Summary] = {}
    overall = Summary("all")
    for outcome in outcomes:
        by_language.setdefault(outcome.item.lang, Summary(outcome.item.lang)).add(outcome)
        overall.add(outcome)
    rows = [by_language[k].row() for k in sorted(by_language)] + [overall.row()]
    return outcomes, rows


def llm_totals(outcomes: Iterable[Outcome]) -> dict[str, int]:
    """Totals of the answers' verification counts, and how many answers fell back."""
    totals = {"claims": 0, "kept": 0, "unknown_markers": 0, "fallbacks": 0}
    for outcome in outcomes:
        for key, count in (outcome.answer.verification or {}).items():
            totals[key] = totals.get(key, 0) + count
        totals["fallbacks"] += outcome.answer.fallback
    return totals
