"""Plain-text rendering for the terminal: answers, ingest reports, document lists, eval tables.

Pure functions; the Telegram rendering (HTML) lives in ``bot/telegram_bot/telegram_html.py``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from retrieval.answer.citations import source_label
from retrieval.evaluation import Outcome
from retrieval.models import Answer, Document, IngestReport
from retrieval.parts import describe_keys, group_acts, part_keys
from retrieval.prompts import Prompts

if TYPE_CHECKING:
    from retrieval.answer.calibration import CalibrationReport


def render_answer(answer: Answer, prompts: Prompts) -> str:
    lines = [answer.answer, ""]
    for c in answer.citations:
        facts = ", ".join(x for x in (c.language, c.date) if x)
        lines.append(f"[{c.n}] {source_label(c.title, c.locator)} ({facts})")
        lines.append(f'    "{c.quote}"')
        if c.source:
            lines.append(f"    {c.source}")
        if c.translations:
            names = ", ".join(prompts.language_name(t, answer.language) for t in c.translations)
            lines.append(
                "    " + prompts.get("translations_available", answer.language, languages=names)
            )
    return "\n".join(lines).rstrip() + "\n"


def render_calibration(report: CalibrationReport) -> str:
    c = report.calibration
    lines = [
        f"answer_above {c.answer_above}, not_covered_below {c.not_covered_below} "
        f"({c.method}, signal {c.signal})",
        f"background questions {c.background_questions}: median {c.background_median}, "
        f"highest {c.background_max}",
    ]
    if report.qa:
        lines.append("labelled questions: " + ", ".join(f"{k} {v}" for k, v in report.qa.items()))
    lines.append(f"stored with the index at {c.made_at}; took {c.seconds} s")
    return "\n".join(lines) + "\n"


def render_ingest(report: IngestReport) -> str:
    lines = [
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"removed {report.removed}, chunks {report.chunks}, failed {len(report.failed)}"
    ]
    lines.extend(f"  FAILED {f.path}: {f.error}" for f in report.failed)
    lines.extend(
        f"  CONFLICT {c['work']}: {', '.join(c['doc_ids'])}: {c['reason']} (answering from "
        f"{c['kept']})"
        for c in report.conflicts
    )
    lines.extend(f"  DOUBT {d['work']}: {d['reason']}" for d in report.doubts)
    for found in report.read:  # what the reader warns of, per file
        if found["empty_pages"]:
            pages = ", ".join(str(p) for p in found["empty_pages"])
            lines.append(f"  WARNING {found['doc_id']}: pages with no text: {pages}")
        if found["out_of_order"]:
            headings = "; ".join(found["out_of_order"])
            lines.append(f"  WARNING {found['doc_id']}: article headings out of order: {headings}")
    if report.calibration:
        c = report.calibration
        lines.append(
            f"refusal thresholds measured on the index: answer from {c['answer_above']}, "
            f"not covered below {c['not_covered_below']} ({c['method']}, {c['seconds']} s)"
        )
    return "\n".join(lines) + "\n"


def _document_line(d: Document) -> str:
    group = f"  [translations: {d.group_id}]" if d.group_id and d.group_id != d.doc_id else ""
    marks = f"  [DOUBT: {d.doubt}]" if d.doubt else ""
    if d.part_until:
        marks += f"  [replaced: {d.part_until}]"
    return f"{d.doc_id}  {d.language}  {d.date or '-'}  {d.title}{group}{marks}"


def render_documents(documents: Sequence[Document]) -> str:
    """One line per document; the parts of an act kept one file per article are listed
    under a line naming the act and its articles."""
    if not documents:
        return "(no documents indexed)\n"
    lines = []
    for act in group_acts(documents):
        if act.in_parts:
            lines.append(
                f"act {act.work}: {len(act.documents)} documents, articles "
                f"{describe_keys(act.keys)}"
            )
            lines.extend(f"  {_document_line(d)}" for d in act.documents)
        else:
            lines.extend(_document_line(d) for d in act.documents)
    return "\n".join(lines) + "\n"


def render_history(work: str, versions: Sequence[Document]) -> str:
    """One line per version of ``work``: validity, status, language, doc id. An act kept in
    parts shows each text's articles; single articles with one version only are counted."""
    if not versions:
        return f"(no document of the work {work!r})\n"
    lines = [f"{work}:"]
    by_part: dict[str, list[Document]] = {}
    for d in versions:
        by_part.setdefault(describe_keys(part_keys(d.parts)), []).append(d)
    parted = len(by_part) > 1
    holders = Counter(k for d in versions for k in part_keys(d.parts))
    alone = [  # the only text of its one article
        docs[0] for docs in by_part.values()
        if len(docs) == 1 and [holders[k] for k in part_keys(docs[0].parts)] == [1]
    ]  # fmt: skip
    for keys, docs in by_part.items():
        if parted and docs[0] in alone:
            continue
        if parted:
            lines.append(f"  article {keys or '-'}:")
        for d in docs:
            span = f"{d.valid_from or '…'} – {d.valid_until or '…'}"
            replaced = f"  (replaced: {d.part_until})" if d.part_until else ""
            lines.append(
                f"  {span:25}  {d.status:9}  {d.language}  {d.doc_id}  {d.title}{replaced}"
            )
    if parted and alone:
        lines.append(
            f"  {len(alone)} articles with one version each "
            f"({describe_keys(k for d in alone for k in part_keys(d.parts))})"
        )
    return "\n".join(lines) + "\n"


def _table(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return ""
    headers = list(rows[0])
    cells = [[("-" if r[h] is None else str(r[h])) for h in headers] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    out.extend("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells)
    return "\n".join(out) + "\n"


def _checked(answer: Answer) -> str:
    """LLM mode, one question: claims kept of those written, or the fallback."""
    if answer.fallback:
        return " llm=fallback"
    if answer.verification is None:
        return ""
    return f" llm={answer.verification['kept']}/{answer.verification['claims']}"


def render_eval(
    outcomes: Sequence[Outcome],
    rows: Sequence[dict[str, Any]],
    stages: dict[str, float],
    details: bool,
    llm: dict[str, int] | None = None,
) -> str:
    """The summary table and mean stage times; with ``details`` a line per question;
    ``llm``: verification totals."""
    parts = []
    if details:
        for o in outcomes:
            verdict = {"closest": "closest", "not_covered": "refused"}.get(
                str(o.answer.outcome), "HIT" if o.hit else "miss"
            )
            rank = "-" if o.gold_rank is None else str(o.gold_rank)
            cited = ",".join(c.doc_id for c in o.answer.citations) or "-"
            parts.append(
                f"{o.item.id:6} {o.item.lang:3} {o.item.kind:12} {verdict:8} "
                f"rank={rank:2} rel={o.answer.relevance:.3f}{_checked(o.answer)} cited={cited}  "
                f"{o.item.question}"
            )
        parts.append("")
    parts.append(_table(rows))
    parts.append("mean ms per stage: " + ", ".join(f"{k} {v}" for k, v in stages.items()) + "\n")
    if llm is not None:
        parts.append(
            f"LLM claims: {llm['claims']} written, {llm['kept']} kept, "
            f"{llm['unknown_markers']} markers to no passage; "
            f"{llm['fallbacks']} fallbacks to the extractive answer\n"
        )
    return "\n".join(parts)
