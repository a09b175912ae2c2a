"""Legacy Word .doc and OpenDocument .odt, made by LibreOffice (``tests/fixtures``), read with
their numbering and tables, chunked into articles, and ingested through the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from retrieval.errors import LoaderError
from retrieval.ingest import office
from retrieval.ingest.chunking import chunk_text
from retrieval.ingest.loaders import load_bytes
from tests.integration.helpers import regula

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NUMBERED = [
    "Article 1 Opening hours",
    "1. The archive shall be open on at least four weekdays.",
    "Article 2 Copies",
    "(a) on paper, at the archive;",
    "(b) electronically, when the requester asks for it.",
    "2. Copies are free of charge for residents.",
]
needs_libreoffice = pytest.mark.skipif(
    shutil.which("soffice") is None, reason="LibreOffice is not installed (.ci/run installs it)"
)
needs_antiword = pytest.mark.skipif(
    shutil.which("antiword") is None, reason="antiword is not installed (.ci/run installs it)"
)


def _read(name: str) -> str:
    return load_bytes((FIXTURES / name).read_bytes(), name).text


def test_odt_keeps_its_list_numbers_and_table_rows() -> None:
    text = _read("archives.odt")
    for line in NUMBERED:
        assert line in text.splitlines()
    assert "Certified copy\n5 euros" in text
    chunks = chunk_text("archives.odt", text, max_chars=160, language="en")
    assert {c.part for c in chunks} >= {"1", "2"}
    assert any(c.locator.startswith("Article 2(1)") for c in chunks)


@needs_libreoffice
def test_doc_through_libreoffice_keeps_the_numbering() -> None:
    text = _read("archives.doc")
    for line in NUMBERED:
        assert line in text.splitlines()
    assert "Certified copy\n5 euros" in text


@needs_antiword
def test_doc_through_antiword_keeps_paragraphs_and_table_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = shutil.which
    monkeypatch.setattr(office.shutil, "which", lambda name: None if name in
                        ("soffice", "libreoffice") else real(name))  # fmt: skip
    text = _read("archives.doc")
    assert "A copy of an archived record shall be delivered within 20 days of the request:" in text
    assert "Certified copy\n5 euros" in text.split("\n\n")


def test_doc_without_either_tool_names_the_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(office.shutil, "which", lambda name: None)
    with pytest.raises(LoaderError, match="apt-get install libreoffice-writer-nogui, or antiword"):
        _read("archives.doc")


@needs_libreoffice
def test_a_damaged_doc_fails_alone_with_a_clear_error() -> None:
    with pytest.raises(LoaderError, match=r"not a readable Word \.doc"):
        load_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, "old.doc")


@needs_libreoffice
def test_ingest_finds_the_articles_of_a_doc_and_an_odt(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("archives.doc", "archives.odt"):
        shutil.copy(FIXTURES / name, corpus / name)
    (corpus / "broken.doc").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    process = regula("ingest", corpus, "--json", "--data-dir", tmp_path / "data")
    report = json.loads(process.stdout)
    assert report["added"] == 2
    assert [Path(f["path"]).name for f in report["failed"]] == ["broken.doc"]
    listed = json.loads(regula("docs", "--json", "--data-dir", tmp_path / "data").stdout)
    assert {d["doc_id"]: d["parts"] for d in listed} == {
        "archives.doc": ["1", "2"], "archives.odt": ["1", "2"],
    }  # fmt: skip
