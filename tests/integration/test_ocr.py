"""Scans read through OCR with Debian's Tesseract: a typeset decree (running header, page
numbers) rasterised into an image-only PDF and a PNG, indexed into real Chroma and asked with
`regula ask`; and, without Tesseract, a clear error for the scan while the rest is indexed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pypdfium2
import pytest

from retrieval.errors import LoaderError
from retrieval.ingest import ocr
from retrieval.ingest.loaders import load_document
from testkit.corpus import open_assistant
from tests.fixtures_files import make_pdf
from tests.integration.helpers import regula

pytestmark = [
    pytest.mark.timeout(900),
    pytest.mark.skipif(
        shutil.which("tesseract") is None,
        reason="Tesseract is not installed (apt-get install tesseract-ocr; .ci/run does)",
    ),
]
HEADER = "Official Gazette of Valdoria No 12"
DUTIES = [
    "registers of births and marriages shall be kept for seventy-five years",
    "registers shall be transferred to the state archive within ninety days",
    "a damaged register shall be reported to the archive inspector within five days",
    "copies of registers may be issued only to the persons named in them",
    "the archive inspector shall visit every municipal archive once a year",
    "requests for access shall be answered within fifteen days",
]
DECREE = ["Decree AR-9 on the Keeping of Municipal Archives"] + [
    block
    for n, duty in enumerate(DUTIES, start=1)
    for block in (f"Article {n} - Duty {n}", f"1. Under this Article, {duty}. " + "Filler. " * 200)
]


def scan(source: Path, target: Path, dpi: int = 150) -> Path:
    """``source`` as a scanner would hand it over: pages as images, no text layer."""
    document = pypdfium2.PdfDocument(str(source))
    pages = [document[i].render(scale=dpi / 72, grayscale=True).to_pil()
             for i in range(len(document))]  # fmt: skip
    document.close()
    if target.suffix == ".pdf":
        pages[0].save(target, save_all=True, append_images=pages[1:], resolution=dpi)
    else:
        pages[0].save(target)
    return target


@pytest.fixture(scope="module")
def typeset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("typeset")
    return make_pdf(folder / "decree.pdf", DECREE, page_numbers=True, running_header=HEADER)


def test_a_scanned_pdf_is_read_like_its_typeset_original(typeset: Path, tmp_path: Path) -> None:
    scanned = scan(typeset, tmp_path / "decree-scan.pdf")
    assert not load_document(typeset).metadata.get("ocr_pages")
    document = load_document(scanned, ocr_languages=["fr", "en"])
    pages = len(pypdfium2.PdfDocument(str(scanned)))
    assert pages >= 3
    assert document.metadata["ocr_pages"] == str(pages)
    for n, duty in enumerate(DUTIES, start=1):
        assert f"Article {n} - Duty {n}" in document.text
        assert duty in document.text, duty
    assert HEADER not in document.text  # the running header, recognised by its repetition
    assert "Page 2" not in document.text


def test_scans_are_indexed_with_article_locators_and_answered(
    typeset: Path, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    scan(typeset, corpus / "decree-scan.pdf")
    first_page = make_pdf(tmp_path / "notice.pdf", [
        "Notice N-4 on Reading Rooms",
        "Article 1 - Opening hours",
        "1. Reading rooms shall open at 08:30 and close at 17:00 on working days.",
    ])  # fmt: skip
    scan(first_page, corpus / "notice.png")
    data_dir = tmp_path / "data"
    ingested = regula("ingest", corpus, "--json", "--data-dir", data_dir)
    assert ingested.returncode == 0, ingested.stderr
    report = json.loads(ingested.stdout)
    assert report["added"] == 2
    read = {r["doc_id"]: r for r in report["read"]}  # what the reader found, per file
    pages = len(pypdfium2.PdfDocument(str(corpus / "decree-scan.pdf")))
    assert (read["decree-scan.pdf"]["pages"], read["decree-scan.pdf"]["ocr_pages"]) == (
        pages,
        pages,
    )
    assert read["decree-scan.pdf"]["empty_pages"] == []
    assert read["decree-scan.pdf"]["out_of_order"] == []
    assistant = open_assistant(data_dir)
    try:
        documents = {d.doc_id: d for d in assistant.documents()}
        chunks = assistant.document_chunks("decree-scan.pdf")
        notice = assistant.document_chunks("notice.png")
    finally:
        assistant.close()
    assert set(documents) == {"decree-scan.pdf", "notice.png"}
    locators = [c["locator"] for c in chunks]
    for n in range(1, len(DUTIES) + 1):
        assert any(loc.startswith(f"Article {n}") for loc in locators), locators
    third = next(c for c in chunks if c["locator"].startswith("Article 3"))
    assert DUTIES[2] in third["text"]
    assert all(HEADER not in c["text"] for c in chunks)
    assert notice[0]["locator"].startswith("Article 1") or notice[-1]["locator"].startswith(
        "Article 1"
    )
    asked = regula("ask", "When do reading rooms open on working days?", "--json",
                   "--data-dir", data_dir)  # fmt: skip
    answer = json.loads(asked.stdout)
    assert answer["citations"][0]["doc_id"] == "notice.png"
    assert "08:30" in answer["citations"][0]["quote"]


def test_without_tesseract_a_scan_fails_clearly_and_the_rest_is_indexed(
    typeset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scanned = scan(typeset, tmp_path / "decree-scan.pdf")
    monkeypatch.setattr(ocr, "installed_languages", lambda: frozenset())
    with pytest.raises(LoaderError, match="apt-get install tesseract-ocr"):
        load_document(scanned)
    assert "Article 6 - Duty 6" in load_document(typeset).text  # born-digital needs no OCR

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(scanned, corpus / "decree-scan.pdf")
    shutil.copy(typeset, corpus / "decree.pdf")
    ingested = regula(
        "ingest", corpus, "--json", "--data-dir", tmp_path / "data",
        env={"PATH": "/nonexistent"},  # no tesseract on this PATH
    )  # fmt: skip
    report = json.loads(ingested.stdout)
    assert ingested.returncode == 2
    assert report["added"] == 1
    [failure] = report["failed"]
    assert failure["path"].endswith("decree-scan.pdf")
    assert "tesseract-ocr" in failure["error"]
