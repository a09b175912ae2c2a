"""The EU development set's held-out half asked over the same six acts in three layouts: the
per-article Markdown, whole acts typeset as PDF, and those PDFs scanned (image-only pages).

    python benchmarks/eu_layouts.py --pdf-dir DIR [--scan-dir DIR]

The PDFs come from ``../shared/eval/typeset_eu_pdfs.py`` (``--layout scan`` for the scans; it
needs reportlab, pyphen, pypdfium2, pillow and the DejaVu fonts, none of them Regula's
dependencies). The Markdown index is ``make ablate``'s (benchmarks/.cache/ablate/index-eu); the
PDF and scan indexes are built here (cached beside it). Gold documents are per article
(``nis2-art-041.md``); over a whole act the gold document is the act's file and the evidence
string, an exact substring of that article, decides. Printed per layout: hit, quote hit, top-1,
the first citation's article, quotes holding page furniture or a word split at a line end, and
the ingest time. Ingest speed is compared on one act in this run: NIS2 as 46 Markdown files
against NIS2 as one PDF, each into a fresh index.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, not an install

from retrieval.assistant import Assistant
from retrieval.config import load_settings
from retrieval.evaluation import RECALL_AT, QAItem, evaluate, load_ids, load_qa
from testkit import ROOT, SHARED

CACHE = ROOT / "benchmarks" / ".cache" / "ablate"
EU_CORPUS = CACHE / "eu-corpus"
QA = SHARED / "eval" / "eu_dev.jsonl"
TEST_IDS = ROOT / "eval" / "eu_dev_test.ids"
PER_ARTICLE = re.compile(r"^(?P<act>.+)-art-(?P<n>\d+)\.md$")
FURNITURE = re.compile(r"\bL \d{1,3}/\d+\b|\bEN Official Journal|Official Journal of the "
                       r"European Union \d{1,2}\.\d{1,2}\.\d{4}")  # fmt: skip
SPLIT_WORD = re.compile(r"[a-z]{2,}- [a-z]{2,}")  # "regu- lation" (a legitimate "small- and" too)
ARTICLE = re.compile(r"Article (\d+)")


def as_acts(items: list[QAItem], suffix: str) -> list[QAItem]:
    """The same questions with each gold article's document replaced by its act's file."""
    mapped = []
    for item in items:
        gold = []
        for entry in item.gold:
            match = PER_ARTICLE.match(entry.get("doc", ""))
            gold.append({**entry, "doc": f"{match['act']}{suffix}"} if match else entry)
        mapped.append(QAItem(item.id, item.lang, item.question, item.kind, gold, item.as_of))
    return mapped


def gold_article(item: QAItem) -> str:
    for entry in item.gold:
        if entry.get("role", "primary") == "primary" and entry.get("article"):
            return str(entry["article"]).lstrip("0")
        match = PER_ARTICLE.match(entry.get("doc", ""))
        if match:
            return match["n"].lstrip("0")
    return ""


def measure(name: str, data_dir: Path, items: list[QAItem], originals: list[QAItem],
            ingest_s: float | None) -> dict[str, Any]:  # fmt: skip
    settings = load_settings(ROOT / "config.yaml", data_dir=data_dir)
    assistant = Assistant.from_settings(settings)
    try:
        outcomes, summary = evaluate(
            items, lambda item: assistant.ask(item.question, retrieve=max(RECALL_AT))
        )
    finally:
        assistant.close()
    overall = summary[-1]
    in_scope = [(o, orig) for o, orig in zip(outcomes, originals, strict=True)
                if o.item.kind == "in_scope"]  # fmt: skip
    first_article = sum(
        1 for o, orig in in_scope
        if o.answer.citations
        and (m := ARTICLE.search(o.answer.citations[0].locator))
        and m.group(1) == gold_article(orig)
    )  # fmt: skip
    quotes = [c.quote for o in outcomes for c in o.answer.citations]
    return {
        "layout": name,
        "in_scope": len(in_scope),
        "hit": overall["hit"],
        "quote_hit": overall["quote_hit"],
        "top1": overall["top1"],
        "first_article": round(first_article / max(1, len(in_scope)), 3),
        "oos_refused": overall.get("oos_refused"),
        "quotes": len(quotes),
        "furniture": sum(bool(FURNITURE.search(q)) for q in quotes),
        "split_words": sum(len(SPLIT_WORD.findall(q)) for q in quotes),
        "ingest_s": None if ingest_s is None else round(ingest_s, 1),
    }


def ingest(paths: list[Path], data_dir: Path) -> float:
    settings = load_settings(ROOT / "config.yaml", data_dir=data_dir)
    assistant = Assistant.from_settings(settings)
    try:
        started = time.perf_counter()
        report = assistant.ingest(paths, progress=False)
        seconds = time.perf_counter() - started
    finally:
        assistant.close()
    if report.failed:
        print(f"{data_dir.name}: {len(report.failed)} failed: {report.failed[:3]}", file=sys.stderr)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdf-dir", type=Path, required=True)
    parser.add_argument("--scan-dir", type=Path, default=None)
    parser.add_argument("--skip-speed", action="store_true", help="no NIS2 ingest comparison")
    args = parser.parse_args()
    wanted = load_ids(TEST_IDS)
    items = [item for item in load_qa(QA) if item.id in wanted]
    rows = [measure("markdown (per article)", CACHE / "index-eu", items, items, None)]
    print(rows[-1], flush=True)
    for name, folder in (("pdf (whole acts)", args.pdf_dir), ("scan (OCR)", args.scan_dir)):
        if folder is None:
            continue
        data_dir = CACHE / f"index-eu-{folder.name}"
        seconds = ingest([folder], data_dir)
        rows.append(measure(name, data_dir, as_acts(items, ".pdf"), items, seconds))
        print(rows[-1], flush=True)
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")
    if not args.skip_speed:
        with tempfile.TemporaryDirectory() as folder:
            markdown = Path(folder) / "nis2-md"
            markdown.mkdir()
            for path in sorted(EU_CORPUS.glob("nis2-art-*.md")):
                shutil.copy(path, markdown)
            md_s = ingest([markdown], Path(folder) / "md-index")
            pdf_s = ingest([args.pdf_dir / "nis2.pdf"], Path(folder) / "pdf-index")
        files = len(list(EU_CORPUS.glob("nis2-art-*.md")))
        print(f"ingest NIS2: {files} Markdown files {md_s:.1f} s, one PDF {pdf_s:.1f} s: "
              f"PDF / Markdown = {pdf_s / md_s:.2f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
