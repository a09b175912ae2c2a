"""Shared, expensive fixtures for the core's integration tests.

Embedding is the slow part (the real bundled model on CPU), so the sample corpus is ingested
once per session, by the CLI itself: ``regula ingest corpus/sample --json`` in a subprocess.
Its report is kept for test_cli, and the index is reused read-only by the CLI, ingest and
evaluation tests. Tests that change an index build their own tiny corpus in ``tmp_path``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from retrieval.assistant import Assistant
from testkit.corpus import open_assistant
from tests.integration.helpers import IngestedCorpus, regula


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory) -> IngestedCorpus:
    """The ten sample directives, ingested once by ``regula ingest corpus/sample --json``."""
    data_dir = tmp_path_factory.mktemp("sample") / "data"
    process = regula("ingest", "corpus/sample", "--json", "--data-dir", data_dir)
    assert process.returncode == 0, process.stderr
    return IngestedCorpus(data_dir, json.loads(process.stdout), process)


@pytest.fixture(scope="session")
def sample_assistant(sample_index: IngestedCorpus) -> Iterator[Assistant]:
    """An in-process Assistant over the session's sample index; tests must not write to it."""
    assistant = open_assistant(sample_index.data_dir)
    yield assistant
    assistant.close()
