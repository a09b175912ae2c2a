#!/usr/bin/env python3
"""Split ../shared/eval/eu_dev.jsonl into a tuning half and a held-out half, by a fixed rule.

In-scope questions are split by regulation, so the held-out half asks about regulations whose
articles no setting was chosen on: tune = GDPR, DORA, CSRD; test = AI Act, CRA, NIS2.
Out-of-scope questions (no regulation of their own) alternate by number: odd -> tune,
even -> test (the file lists them by language, so both halves get every language).

    python eval/split_eu_dev.py ../shared/eval/eu_dev.jsonl   # writes eval/eu_dev_{tune,test}.ids

Every threshold, weight and top-k is chosen with ``regula eval … --ids eval/eu_dev_tune.ids``;
figures are reported with ``--ids eval/eu_dev_test.ids``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

TUNE_REGULATIONS = {"gdpr", "dora", "csrd"}


def half(row: dict[str, object]) -> str:
    if row["kind"] == "out_of_scope":
        number = int(str(row["id"]).rsplit("-", 1)[1])
        return "tune" if number % 2 else "test"
    gold = row["gold"]
    assert isinstance(gold, list)
    regulation = str(gold[0]["doc"]).split("-art-")[0]
    return "tune" if regulation in TUNE_REGULATIONS else "test"


def main(argv: list[str]) -> int:
    source = Path(argv[1] if len(argv) > 1 else "../shared/eval/eu_dev.jsonl")
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line]
    out = Path(__file__).resolve().parent
    for name in ("tune", "test"):
        ids = [str(r["id"]) for r in rows if half(r) == name]
        (out / f"eu_dev_{name}.ids").write_text("\n".join(ids) + "\n", encoding="utf-8")
        print(f"{name}: {len(ids)} questions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
