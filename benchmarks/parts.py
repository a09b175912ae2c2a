"""An act kept one file per article, with and without the act's number on every file.

Legal databases export each article with its act's number; Regula must answer from every
article either way. This indexes the EU development corpus (404 articles, one file each; see
``ablate.py``) twice: as exported, and with ``number: "<CELEX>"`` added to every file, so all
articles of one regulation share it. Both indexes answer the same questions (the EU set's
held-out half by default) and the figures are printed side by side:

    python benchmarks/parts.py                    # eu-test, hybrid
    python benchmarks/parts.py --sets eu-test,eu-tune --json

The numbered copy reuses the plain index's embedding cache (the indexed texts are the same), so
its ingest costs parsing and writing only.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, not an install

from benchmarks.ablate import CACHE, EU_CORPUS, SETS, export_eu_corpus
from retrieval.assistant import Assistant
from retrieval.config import load_settings
from retrieval.evaluation import RECALL_AT, evaluate, load_ids, load_qa
from testkit import ROOT

NUMBERED = CACHE / "eu-corpus-numbered"
_CELEX = re.compile(r'^celex: "?([^"\n]+)"?$', re.MULTILINE)


def write_numbered_copy() -> None:
    """Every article file again, with its regulation's CELEX number as ``number``."""
    NUMBERED.mkdir(parents=True, exist_ok=True)
    for source in sorted(EU_CORPUS.glob("*.md")):
        text = source.read_text(encoding="utf-8")
        celex = _CELEX.search(text)
        if celex is None:
            msg = f"{source} has no celex line"
            raise SystemExit(msg)
        numbered = text.replace("---\n", f'---\nnumber: "{celex.group(1)}"\n', 1)
        target = NUMBERED / source.name
        if not target.exists() or target.read_text(encoding="utf-8") != numbered:
            target.write_text(numbered, encoding="utf-8")


def measure(corpus: Path, index: str, set_names: list[str], config: Path) -> dict[str, Any]:
    data_dir = CACHE / index
    plain_cache = CACHE / "index-eu" / "embedding_cache.sqlite3"
    data_dir.mkdir(parents=True, exist_ok=True)
    if plain_cache.exists() and not (data_dir / plain_cache.name).exists():
        shutil.copy(plain_cache, data_dir / plain_cache.name)
    settings = load_settings(config, data_dir=data_dir)
    assistant = Assistant.from_settings(settings)
    try:
        started = time.perf_counter()
        report = assistant.ingest([corpus], progress=False)
        result: dict[str, Any] = {
            "ingest_s": round(time.perf_counter() - started, 1),
            "conflicts": len(report.conflicts),
            "doubts": len(report.doubts),
            "searchable_documents": sum(
                1 for d in assistant.documents() if not d.conflict and not d.valid_until
            ),
        }
        for name in set_names:
            eval_set = SETS[name]
            wanted = load_ids(eval_set.ids) if eval_set.ids else None
            items = [i for i in load_qa(eval_set.qa) if wanted is None or i.id in wanted]
            _, summary = evaluate(
                items, lambda item: assistant.ask(item.question, retrieve=max(RECALL_AT))
            )
            overall = summary[-1]
            result[name] = {k: overall[k] for k in ("in_scope", "hit", "top1", "r@1", "r@10")}
    finally:
        assistant.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="eu-test")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    names = args.sets.split(",")
    export_eu_corpus()
    write_numbered_copy()
    rows = {
        "as exported": measure(EU_CORPUS, "index-eu", names, args.config),
        "number on every file": measure(NUMBERED, "index-eu-numbered", names, args.config),
    }
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for label, row in rows.items():
        figures = ", ".join(
            f"{name}: hit {row[name]['hit']} top1 {row[name]['top1']} r@10 {row[name]['r@10']}"
            for name in names
        )
        print(
            f"{label:22} searchable {row['searchable_documents']}, conflicts {row['conflicts']}, "
            f"doubts {row['doubts']}, ingest {row['ingest_s']} s; {figures}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
