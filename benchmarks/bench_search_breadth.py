"""What searching the HNSW graph wider costs and buys: Chroma's default ``ef_search`` (100)
against Regula's (``SEARCH_BREADTH`` x ``retrieval.candidates``), at several collection sizes.

    python benchmarks/bench_search_breadth.py --sizes 1728,20000,100000 --queries 80

The vectors are real: the EU corpus's chunk vectors from ``make ablate``'s index, and above
that size normalised mixtures of two of them (random weights, as ``bench_retrieval.py`` makes
its larger scales). The queries are the EU development questions embedded by the bundled model.
Each size is one collection in a temporary Chroma store, written once and then queried with
each breadth in turn, alternating query by query so both see the same machine. Printed per
size and breadth: how many of the exact top ``candidates`` (a NumPy dot product over every
vector) the search missed, and the query time's p50 and p95.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, not an install

import chromadb
import numpy as np

from retrieval.assistant import Assistant
from retrieval.config import load_settings
from retrieval.evaluation import load_qa
from retrieval.store.chunk_collections import SEARCH_BREADTH
from testkit import ROOT, SHARED

INDEX = ROOT / "benchmarks" / ".cache" / "ablate" / "index-eu"
QA = SHARED / "eval" / "eu_dev.jsonl"
CHROMA_DEFAULT_EF = 100
WRITE_BATCH = 5000


def real_vectors_and_queries(queries: int) -> tuple[np.ndarray, np.ndarray, int]:
    settings = load_settings(ROOT / "config.yaml", data_dir=INDEX)
    assistant = Assistant.from_settings(settings)
    try:
        rows = [
            np.asarray(vector, dtype=np.float32)
            for language in assistant.store.chunk_languages()
            for got in assistant.store.iter_chunks(language, ["embeddings"])
            for vector in got["embeddings"]
        ]
        questions = [item.question for item in load_qa(QA)][:queries]
        vectors = np.stack([assistant.embeddings.embed_query_vector(q) for q in questions])
    finally:
        assistant.close()
    return np.stack(rows), vectors, settings.retrieval.candidates


def corpus_of(size: int, real: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if size <= len(real):
        return real[:size]
    pairs = rng.integers(0, len(real), size=(size - len(real), 2))
    weights = rng.random((size - len(real), 1)).astype(np.float32)
    mixed = weights * real[pairs[:, 0]] + (1 - weights) * real[pairs[:, 1]]
    mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
    return np.concatenate([real, mixed])


def measure(size: int, corpus: np.ndarray, queries: np.ndarray, k: int) -> list[dict[str, object]]:
    breadths = [CHROMA_DEFAULT_EF, SEARCH_BREADTH * k]
    with tempfile.TemporaryDirectory() as folder:
        client = chromadb.PersistentClient(path=folder)
        collections = {}
        for ef in breadths:
            collection = client.create_collection(
                f"breadth_{ef}", configuration={"hnsw": {"space": "cosine", "ef_search": ef}}
            )
            ids = [str(i) for i in range(len(corpus))]
            for start in range(0, len(corpus), WRITE_BATCH):
                end = start + WRITE_BATCH
                collection.add(ids=ids[start:end], embeddings=corpus[start:end])
            collections[ef] = collection
        missed = dict.fromkeys(breadths, 0)
        seconds: dict[int, list[float]] = {ef: [] for ef in breadths}
        for query in queries:
            exact = {str(i) for i in np.argsort(-(corpus @ query))[:k]}
            for ef in breadths:
                started = time.perf_counter()
                found = collections[ef].query(query_embeddings=[query], n_results=k, include=[])
                seconds[ef].append((time.perf_counter() - started) * 1000)
                missed[ef] += len(exact - set(found["ids"][0]))
    rows: list[dict[str, object]] = []
    for ef in breadths:
        ordered = sorted(seconds[ef])
        rows.append({
            "chunks": size, "ef_search": ef, "queries": len(queries),
            "missed": f"{missed[ef]} of {k * len(queries)}",
            "p50_ms": round(statistics.median(ordered), 2),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        })  # fmt: skip
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1728,20000,100000")
    parser.add_argument("--queries", type=int, default=80)
    args = parser.parse_args()
    real, queries, k = real_vectors_and_queries(args.queries)
    rng = np.random.default_rng(7)
    for size in (int(s) for s in args.sizes.split(",")):
        for row in measure(size, corpus_of(size, real, rng), queries, k):
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
