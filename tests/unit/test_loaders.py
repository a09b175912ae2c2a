"""Loaders against real files built in tmp_path: PDF (fpdf2), .docx (python-docx), HTML, Markdown,
text in several encodings, and every way a file can be refused."""

from __future__ import annotations

import codecs
import random
import shutil
import unicodedata
from pathlib import Path

import pypdf
import pytest

from retrieval.errors import LoaderError
from retrieval.ingest import columns, ocr, page_text, readers
from retrieval.ingest.file_types import SUPPORTED_SUFFIXES
from retrieval.ingest.layout import parse_articles
from retrieval.ingest.loaders import load_bytes, load_document, sniff_kind
from tests.fixtures_files import (
    UNICODE_FONT,
    make_binary_named,
    make_blank_pdf,
    make_corrupt_pdf,
    make_docx,
    make_html,
    make_many_members_docx,
    make_pdf,
    make_pdf_with_footnote,
    make_two_column_pdf,
    make_zip,
    make_zip_bomb_docx,
    write_text,
)

needs_unicode_font = pytest.mark.skipif(UNICODE_FONT is None, reason="no Unicode TTF font")

P1 = (
    "1. This Regulation lays down the rules for handling petitions addressed to public "
    "authorities by natural and legal persons, including the time limits for answering them."
)
P2 = "2. A petition shall be answered within thirty days of its registration by the authority."
DEFINITIONS = "For the purposes of this Regulation, the following definitions apply:"
POINT_A = "(a) 'petition' means a written request submitted to a public authority by any person;"
POINT_B = "(b) 'authority' means any public body established by law."


MANY_ARTICLES = [b for n in range(1, 31) for b in (f"Article {n}", f"{P1} ({n})")]


def lines_of(text: str) -> list[str]:
    return [line for line in text.split("\n") if line]


def reason_of(excinfo: pytest.ExceptionInfo[LoaderError]) -> str:
    return excinfo.value.reason


# --- PDF ------------------------------------------------------------------------------------


@pytest.fixture
def regulation_pdf(tmp_path: Path) -> Path:
    blocks = ["Chapter I", "General provisions", "Article 1", P1, P2, "Article 2", DEFINITIONS]
    return make_pdf(tmp_path / "reg.pdf", [*blocks, POINT_A, POINT_B], title="Petitions Act")


def test_pdf_hard_wrapped_paragraphs_come_back_one_per_line(regulation_pdf: Path) -> None:
    doc = load_document(regulation_pdf)
    assert lines_of(doc.text) == [
        "Chapter I", "General provisions", "Article 1", P1, P2, "Article 2", DEFINITIONS,
        POINT_A, POINT_B,
    ]  # fmt: skip
    assert "\n\nArticle 2\n\n" in doc.text  # blank line between blocks
    assert doc.metadata == {
        "title": "Petitions Act",
        "pages": "1",
        "footnotes": "0",
        "column_pages": "0",
    }


def test_pdf_really_was_hard_wrapped(regulation_pdf: Path) -> None:
    raw = pypdf.PdfReader(regulation_pdf).pages[0].extract_text()
    assert P1 not in raw  # the test above is only meaningful if the PDF wraps P1


def test_pdf_dehyphenates_and_keeps_mid_sentence_references_joined(tmp_path: Path) -> None:
    wrapped = (
        "3. The authority shall examine every petition under the general regu-\n"
        "lation on administrative procedure and the rules laid down in the code, in\n"
        "Article 5 of the Act on public administration, and shall reply in writing."
    )
    pdf = make_pdf(tmp_path / "h.pdf", ["Article 3", wrapped, "Article 4"], width_mm=190)
    assert lines_of(load_document(pdf).text) == [
        "Article 3",
        "3. The authority shall examine every petition under the general regulation on "
        "administrative procedure and the rules laid down in the code, in Article 5 of the Act "
        "on public administration, and shall reply in writing.",
        "Article 4",
    ]


def test_pdf_titled_article_headings_start_their_own_paragraph(tmp_path: Path) -> None:
    blocks = [
        "Decree AR-9 on the Keeping of Municipal Archives",
        "Article 1 - Retention of registers",
        "1. Registers shall be kept for seventy-five years.",
        "Article 2 - Transfer to the state archive",
        "1. Registers shall then be transferred within ninety days, as Article 5 of the Archives",
        "Act requires.",
    ]
    doc = load_document(make_pdf(tmp_path / "decree.pdf", blocks, width_mm=100))
    paragraphs = doc.text.split("\n\n")
    assert paragraphs[:4] == [
        "Decree AR-9 on the Keeping of Municipal Archives",
        "Article 1 - Retention of registers",
        "1. Registers shall be kept for seventy-five years.",
        "Article 2 - Transfer to the state archive",
    ]
    assert "as Article 5 of the Archives Act requires." in paragraphs[4]  # a reference, joined


def test_pdf_across_pages_drops_page_numbers(tmp_path: Path) -> None:
    doc = load_document(make_pdf(tmp_path / "long.pdf", MANY_ARTICLES, page_numbers=True))
    assert lines_of(doc.text) == MANY_ARTICLES


def test_pdf_drops_running_headers(tmp_path: Path) -> None:
    header = "Official Journal of the Republic, No 12/2021"
    pdf = make_pdf(tmp_path / "oj.pdf", MANY_ARTICLES, page_numbers=True, running_header=header)
    assert len(pypdf.PdfReader(pdf).pages) >= 3
    assert header in pypdf.PdfReader(pdf).pages[1].extract_text()
    assert lines_of(load_document(pdf).text) == MANY_ARTICLES


@needs_unicode_font
def test_pdf_drops_a_running_header_of_several_lines_mirrored_on_facing_pages(
    tmp_path: Path,
) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=10)

    def header() -> None:  # "L 12/5 | EN | Official Gazette | 4.5.2021", reversed on even pages
        lines = [f"L 12/{pdf.page_no() + 4}", "EN", "Official Gazette of Valdoria", "4.5.2021"]
        for line in lines if pdf.page_no() % 2 else lines[::-1]:
            pdf.cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)

    words = P1.rstrip(".").split()  # each article's paragraph in its own word order
    blocks = [
        block
        for n in range(1, 31)
        for block in (f"Article {n}", " ".join(random.Random(n).sample(words, len(words))) + ".")
    ]
    pdf.header = header  # type: ignore[method-assign]
    pdf.add_page()
    for block in blocks:
        pdf.multi_cell(120, 6, block, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    pdf.output(str(tmp_path / "gazette.pdf"))
    assert len(pypdf.PdfReader(tmp_path / "gazette.pdf").pages) >= 3
    assert lines_of(load_document(tmp_path / "gazette.pdf").text) == blocks


def test_pdf_unicode_headings_stay_on_their_own_lines(tmp_path: Path) -> None:
    blocks = [
        "Artículo 7",
        "Las peticiones se responderán por escrito en un plazo de treinta días naturales "
        "contados desde la fecha de su registro en la sede electrónica.",
        "Điều 8",
        "Cơ quan nhà nước phải trả lời đơn kiến nghị của công dân trong thời hạn ba mươi ngày "
        "kể từ ngày nhận được đơn.",
        "Pasal 9",
        "Setiap permohonan wajib dijawab secara tertulis dalam jangka waktu tiga puluh hari.",
    ]
    assert lines_of(load_document(make_pdf(tmp_path / "u.pdf", blocks)).text) == blocks


def test_ocr_specks_at_a_heading_do_not_join_it_to_the_paragraph_above() -> None:
    """Lines as Tesseract read them on the scanned Cyber Resilience Act, GDPR and NIS2: specks
    beside article headings. Without the cleaning, each heading was joined to the paragraph above it
    and its article was lost; punctuation inside a line, and point markers, stay."""
    page = "\n".join([
        "2. The person referred to in paragraph 1 shall be subject to the obligations for the",
        "product with digital elements as a whole, for the entire product. i",
        "oO Article 23",
        "_ Identification of economic operators",
        "1. Economic operators shall, on request, provide the following information: .",
        "(a) the name and address of any economic operator;",
        "notifying and market surveillance authorities at their request. .",
        "; Article 46",
        "Challenge of the competence of notified bodies",
        "a) Article 5 applies.",
        "Article. 83",
        "General conditions for imposing administrative fines",
        ". Article 94 ©",
        "Repeal of Directive 95/46/EC",
        "Article 95 a",
        "‘Article 96",
        "Entry into force",
    ])  # fmt: skip
    lines = page_text.page_lines(page_text.ocr_page_text(page))
    assert "Article 23" in lines
    assert "Article 46" in lines
    assert "Identification of economic operators" in lines
    assert "1. Economic operators shall, on request, provide the following information:" in lines
    assert "notifying and market surveillance authorities at their request." in lines
    assert "(a) the name and address of any economic operator;" in lines
    assert "a) Article 5 applies." in lines
    _, articles = parse_articles("\n".join(page_text.reflow(lines)))
    assert "Article 95 a" in lines  # "§ 5 a" is how German law numbers an inserted article
    assert [a.label for a in articles] == [
        "Article 23", "Article 46", "Article 83", "Article 94", "Article 96"
    ]  # fmt: skip


def test_a_wrapped_line_opening_with_a_reference_goes_on_with_its_sentence() -> None:
    """A line starting "Article 27. When…" after a line that did not end a sentence is the
    sentence going on, not Article 27's heading (DORA, typeset: the real Article 27 was read
    into Article 26 and Article 26's end cited as Article 27)."""
    lines = [
        "Article 26",
        "Advanced testing based on TLPT",
        "8. Financial entities shall contract testers for the purposes of TLPT in accordance with",
        "Article 27. When financial entities use internal testers for the purposes of",
        "undertaking TLPT, they shall contract external testers every three tests.",
        "Article 27",
        "Requirements for testers",
        "1. Financial entities shall only use testers for the carrying out of TLPT, that:",
    ]

    paragraphs = page_text.reflow(lines)
    _, articles = parse_articles("\n".join(paragraphs))

    assert (
        "8. Financial entities shall contract testers for the purposes of TLPT in "
        "accordance with Article 27. When financial entities use internal testers for the "
        "purposes of undertaking TLPT, they shall contract external testers every three tests."
        in paragraphs
    )
    assert [a.label for a in articles] == ["Article 26", "Article 27"]
    assert articles[1].heading == "Article 27 Requirements for testers"
    assert articles[1].paragraphs[0].text.startswith("1. Financial entities shall only use")


LEFT_COLUMN = (
    "Article 1 - Registers. 1. The registers of the municipal archive shall be kept for "
    "seventy-five years and copies issued only to the persons named in them, unless a court "
    "orders otherwise. 2. The archivist shall record every loan of a register in the loan book "
    "on the day it is made, with the borrower's name and unit."
)
RIGHT_COLUMN = (
    "Article 2 - Loans. 1. A file may be lent for at most ten working days to an official of "
    "the ministry who needs it for a case in hand. 2. A lent file shall be returned to the "
    "archive desk in person and signed off by the archivist on duty, who checks every page."
)


@pytest.mark.parametrize(
    ("across", "title", "width_chars"),
    [
        (True, "Decree AR-9 on the Keeping of Municipal Archives", 44),
        (False, "Decree AR-9 on the Keeping of Municipal Archives", 44),
        (True, "Decree AR-9", 40),  # a short title, right of the gutter's middle
    ],
    ids=["drawn across", "drawn down", "short title"],
)
def test_a_page_in_two_columns_is_read_one_column_after_the_other(
    tmp_path: Path, across: bool, title: str, width_chars: int
) -> None:
    """Drawn line by line across the page, pypdf read "…the registers of Article 2 - Loans.
    1. A file may be lent for the municipal archive…": every sentence of both articles cut."""
    pdf = make_two_column_pdf(
        tmp_path / "two.pdf", title, LEFT_COLUMN, RIGHT_COLUMN, across=across,
        width_chars=width_chars,
    )  # fmt: skip

    document = load_document(pdf)

    assert document.text.split("\n\n") == [title, LEFT_COLUMN, RIGHT_COLUMN]
    assert document.metadata["column_pages"] == "1"
    _, articles = parse_articles(document.text)
    assert [a.label for a in articles] == ["Article 1", "Article 2"]


def test_one_column_text_and_a_table_of_terms_are_never_cut_into_columns() -> None:
    prose = [(72.0, 700.0 - 12 * i, 520.0, 710.0 - 12 * i) for i in range(30)]
    terms = [(72.0, 700.0 - 12 * i, 140.0, 710.0 - 12 * i) for i in range(20)]
    definitions = [(300.0, 700.0 - 12 * i, 520.0, 710.0 - 12 * i) for i in range(20)]
    left = [(72.0, 700.0 - 12 * i, 280.0, 710.0 - 12 * i) for i in range(20)]

    assert columns.column_gap(prose, 595.0) is None
    assert columns.column_gap(terms + definitions, 595.0) is None  # short cells on the left
    assert columns.column_gap(left + definitions, 595.0) == (280.0, 300.0)


RUN_ON = (
    "1. The registers of the municipal archive shall be kept for seventy-five years and copies "
    "issued only to the persons named in them, unless a court orders otherwise. "
    * 14
    + "This sentence runs on past the foot of the page and ends here."
)
NOTE = (
    "(1) Regulation (EU) 2016/679 of the European Parliament and of the Council of 27 April "
    "2016 on the protection of natural persons (OJ L 119, 4.5.2016, p. 1)."
)


def test_pdf_footnote_is_kept_apart_from_the_paragraph_a_page_break_cut(tmp_path: Path) -> None:
    """Read in page order the note was glued into the paragraph it interrupts, and the
    paragraph's end became a paragraph of its own."""
    blocks = ["Article 1", RUN_ON, "Article 2", "1. The second article ends here."]
    pdf = make_pdf_with_footnote(tmp_path / "noted.pdf", blocks, NOTE)
    assert len(pypdf.PdfReader(pdf).pages) == 2  # the paragraph does cross the page break

    document = load_document(pdf)
    paragraphs = document.text.split("\n\n")

    assert paragraphs == [
        "Article 1", " ".join(RUN_ON.split()), NOTE, "Article 2", "1. The second article ends here."
    ]  # fmt: skip
    facts = {k: document.metadata.get(k) for k in ("pages", "footnotes", "empty_pages")}
    assert facts == {"pages": "2", "footnotes": "1", "empty_pages": None}  # none left empty


def test_pdf_small_type_that_is_no_footnote_stays_in_place(tmp_path: Path) -> None:
    """Small type at a page's foot that opens with no note marker (a remark, a signature)
    is body text; "Page N" in small type is still dropped as a page number."""
    remark = "Done at Brussels, for the Council, the President, in small type"
    blocks = ["Article 1", RUN_ON]
    pdf = make_pdf_with_footnote(tmp_path / "remark.pdf", blocks, remark)

    document = load_document(pdf)

    assert remark in document.text
    assert "Page 1" not in document.text
    assert "Page 2" not in document.text
    assert document.metadata["footnotes"] == "0"


def test_a_pdf_page_left_without_text_is_reported_by_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page with no text layer in a born-digital PDF, where OCR is not installed: the
    other pages are read, and the reader says which page has nothing (the text it would
    hold is not silently missing)."""
    monkeypatch.setattr(ocr, "installed_languages", lambda: frozenset())
    pdf = make_pdf(tmp_path / "gap.pdf", ["Article 1", "1. The first rule."], blank_pages=1,
                   then=["Article 2", "1. The second rule."])  # fmt: skip

    document = load_document(pdf)

    assert "1. The second rule." in document.text
    facts = {k: document.metadata[k] for k in ("pages", "empty_pages", "footnotes")}
    assert facts == {"pages": "3", "empty_pages": "2", "footnotes": "0"}


def test_corrupt_pdf_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LoaderError) as excinfo:
        load_document(make_corrupt_pdf(tmp_path / "bad.pdf"))
    assert reason_of(excinfo).startswith("not a readable PDF: ")
    assert excinfo.value.path == str(tmp_path / "bad.pdf")


def test_password_protected_pdf_is_refused(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "locked.pdf", ["Secret text"], user_password="s3cret")
    with pytest.raises(LoaderError) as excinfo:
        load_document(pdf)
    assert reason_of(excinfo) == "not a readable PDF: it is password-protected"


def test_pdf_with_only_an_owner_password_is_read(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "restricted.pdf", ["Article 1", P2], owner_password="owner")
    assert lines_of(load_document(pdf).text) == ["Article 1", P2]


def test_pdf_without_any_text_is_refused_with_or_without_ocr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blank = make_blank_pdf(tmp_path / "scan.pdf")
    if shutil.which("tesseract"):  # read through OCR: a blank page has nothing to read either
        with pytest.raises(LoaderError) as excinfo:
            load_document(blank)
        assert reason_of(excinfo) == "no text found, not even by OCR (blank pages?)"
    monkeypatch.setattr(ocr, "installed_languages", lambda: frozenset())
    with pytest.raises(LoaderError) as excinfo:
        load_document(blank)
    assert "OCR needs Tesseract: apt-get install tesseract-ocr" in reason_of(excinfo)


def test_truncated_files_fail_cleanly(tmp_path: Path, regulation_pdf: Path) -> None:
    docx_bytes = make_docx(tmp_path / "a.docx", [P1, P2]).read_bytes()
    pdf_bytes = regulation_pdf.read_bytes()
    failures: list[LoaderError] = []
    for name, data in (("t.pdf", pdf_bytes), ("t.docx", docx_bytes)):
        for cut in (10, 100, 500, len(data) // 2, len(data) - 30):
            try:
                load_bytes(data[:cut], name)
            except LoaderError as e:  # anything else escaping fails the test
                failures.append(e)
    assert failures
    assert all(e.path in {"t.pdf", "t.docx"} for e in failures)


# --- DOCX -----------------------------------------------------------------------------------


def test_docx_paragraphs_tables_and_properties(tmp_path: Path) -> None:
    path = make_docx(
        tmp_path / "act.docx",
        ["Article 1", P1, POINT_A],
        headings=["Chapter I"],
        table=[["Deadline", "30 days"], ["Fee", "none"]],
        title="Petitions Act",
        language="fr-FR",
    )
    doc = load_document(path)
    assert doc.text == (
        f"Chapter I\n\nArticle 1\n\n{P1}\n\n{POINT_A}\n\n"
        "Deadline\n30 days\n\nFee\nnone\n\nAfter the table."
    )
    assert doc.metadata == {"title": "Petitions Act", "language": "fr"}


def test_docx_without_properties_has_no_metadata(tmp_path: Path) -> None:
    doc = load_document(make_docx(tmp_path / "plain.docx", ["Only text."]))
    assert doc.text == "Only text."
    assert "title" not in doc.metadata


def test_binary_file_named_docx_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LoaderError) as excinfo:
        load_document(make_binary_named(tmp_path / "fake.docx"))
    assert reason_of(excinfo) == "not a Word .docx (the file is not a zip archive)"


def test_zip_without_document_xml_is_refused(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "other.docx", {"content.xml": b"<x/>"})
    with pytest.raises(LoaderError) as excinfo:
        load_document(path)
    assert reason_of(excinfo) == "a zip archive but neither a Word .docx nor an OpenDocument .odt"


def test_damaged_zip_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LoaderError) as excinfo:
        load_bytes(b"PK\x03\x04" + b"\x01" * 200, "broken.docx")
    assert reason_of(excinfo) == "damaged zip archive, not a readable .docx"


def test_docx_shaped_zip_that_python_docx_cannot_open(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "hollow.docx", {"word/document.xml": b"<not-word/>"})
    with pytest.raises(LoaderError) as excinfo:
        load_document(path)
    assert reason_of(excinfo).startswith("not a readable Word .docx: ")
    assert excinfo.value.__cause__ is not None


def test_legacy_doc_without_a_converter_is_refused_with_advice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from retrieval.ingest import office

    monkeypatch.setattr(office.shutil, "which", lambda name: None)
    path = tmp_path / "old.docx"  # the bytes decide: an OLE file is a .doc whatever its name
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    with pytest.raises(LoaderError) as excinfo:
        load_document(path)
    assert "apt-get install libreoffice-writer-nogui, or antiword" in reason_of(excinfo)


def test_zip_bomb_is_refused_before_parsing(tmp_path: Path) -> None:
    path = make_zip_bomb_docx(tmp_path / "bomb.docx", member_mb=12)
    assert path.stat().st_size < 200_000
    with pytest.raises(LoaderError) as excinfo:
        load_document(path)
    assert reason_of(excinfo).startswith("rejected .docx: word/media/image1.bin expands ")
    assert reason_of(excinfo).endswith("x (possible zip bomb)")


def test_zip_with_too_many_members_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LoaderError) as excinfo:
        load_document(make_many_members_docx(tmp_path / "many.docx", 5001))
    assert reason_of(excinfo) == "rejected .docx: 5002 archive members (limit 5000)"


def test_zip_with_too_much_uncompressed_data_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Building 200 MB is slow; the rule is the same with a 1 MB limit.
    monkeypatch.setattr(readers, "_ZIP_MAX_TOTAL", 1024 * 1024)
    members = {"word/document.xml": b"<w:document/>", "word/a.bin": bytes(700_000)}
    path = make_zip(tmp_path / "big.docx", {**members, "word/b.bin": bytes(700_000)})
    with pytest.raises(LoaderError) as excinfo:
        load_document(path)
    assert reason_of(excinfo) == "rejected .docx: expands to 1.3 MB (limit 1 MB)"


# --- HTML -----------------------------------------------------------------------------------


def test_html_blocks_title_language_and_boilerplate(tmp_path: Path) -> None:
    body = (
        "<header>Site banner</header><nav><a href='/'>Home</a></nav>"
        "<h1>Petitions Act</h1><div><h2>Article 1</h2><p>Petitions   shall be\n answered"
        " &amp; registered.<br>Second line.</p></div>"
        "<ul><li>(a) first;</li><li>(b) second.</li></ul>"
        "<table><tr><td>Deadline</td><td>30 days</td></tr></table>"
        "<pre>  keep   this</pre><footer>Contact us</footer>"
    )
    doc = load_document(make_html(tmp_path / "a.html", body, title="Act &amp; Rules", lang="fr-BE"))
    assert doc.text == (
        "Petitions Act\n\nArticle 1\n\nPetitions shall be answered & registered.\nSecond line."
        "\n\n(a) first;\n\n(b) second.\n\nDeadline\n30 days\n\nkeep   this"
    )
    assert doc.metadata == {"title": "Act & Rules", "language": "fr"}


def test_html_title_falls_back_to_first_h1_and_canonical_is_source(tmp_path: Path) -> None:
    body = "<h1>Decree <b>12</b></h1><p>Text.</p><h1>Other</h1>"
    path = make_html(tmp_path / "b.htm", body)
    page = path.read_text().replace(
        "</head>", "<link rel='canonical' href='https://x.gov/12'></head>"
    )
    path.write_text(page)
    assert load_document(path).metadata == {"title": "Decree 12", "source": "https://x.gov/12"}


def test_html_with_only_scripts_is_empty(tmp_path: Path) -> None:
    with pytest.raises(LoaderError) as excinfo:
        load_document(make_html(tmp_path / "c.html", "<script>alert(1)</script><nav>menu</nav>"))
    assert reason_of(excinfo) == "empty document"


# --- Markdown -------------------------------------------------------------------------------

FRONT_MATTER_DOC = """\
---
title: Regulation on Petitions
number: "2021/7"
issuer: Ministry of Interior
date: 2021-03-04
language: pl
source: https://example.gov/2021-7
pages: 12
tags: [petitions, deadlines]
---
# Regulation on **petitions**

## Chapter I

### Article 1

1. Petitions are answered within __thirty__ days.
(a) in writing;
"""


def test_markdown_front_matter_and_clean_body(tmp_path: Path) -> None:
    doc = load_document(write_text(tmp_path / "reg.md", FRONT_MATTER_DOC))
    assert doc.metadata == {
        "title": "Regulation on Petitions",
        "number": "2021/7",
        "issuer": "Ministry of Interior",
        "date": "2021-03-04",
        "language": "pl",
        "source": "https://example.gov/2021-7",
        "pages": "12",
        "tags": "petitions, deadlines",
    }
    assert doc.text == (
        "Regulation on petitions\n\nChapter I\n\nArticle 1\n\n"
        "1. Petitions are answered within thirty days.\n(a) in writing;"
    )


def test_markdown_title_falls_back_to_first_h1(tmp_path: Path) -> None:
    text = "Intro line\n\n## Not this\n\n# The **Real** Title #\n\nBody keeps snake__case__names.\n"
    doc = load_document(write_text(tmp_path / "t.markdown", text))
    assert doc.metadata == {"title": "The Real Title"}
    assert doc.text == "Intro line\n\nNot this\n\nThe Real Title\n\nBody keeps snake__case__names."


def test_markdown_datetime_becomes_iso(tmp_path: Path) -> None:
    text = "---\ndate: 2021-03-04 10:30:00\n---\nBody.\n"
    assert load_document(write_text(tmp_path / "d.md", text)).metadata["date"] == (
        "2021-03-04T10:30:00"
    )


def test_malformed_front_matter_names_the_problem(tmp_path: Path) -> None:
    text = "---\ntitle: Petitions\nissuer: [unclosed\n---\nBody.\n"
    with pytest.raises(LoaderError) as excinfo:
        load_document(write_text(tmp_path / "bad.md", text))
    assert reason_of(excinfo).startswith("invalid YAML front-matter at line ")
    assert isinstance(excinfo.value.__cause__, Exception)


def test_unclosed_front_matter_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LoaderError) as excinfo:
        load_document(write_text(tmp_path / "open.md", "---\ntitle: x\n\nBody.\n"))
    assert reason_of(excinfo) == "YAML front-matter is not closed by a '---' line"


def test_front_matter_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(LoaderError) as excinfo:
        load_document(write_text(tmp_path / "list.md", "---\n- a\n- b\n---\nBody.\n"))
    assert reason_of(excinfo) == "YAML front-matter must be a mapping of keys to values"


def test_markdown_with_only_front_matter_is_empty(tmp_path: Path) -> None:
    with pytest.raises(LoaderError) as excinfo:
        load_document(write_text(tmp_path / "fm.md", "---\ntitle: Nothing\n---\n\n"))
    assert reason_of(excinfo) == "empty document"


# --- Plain text and encodings ---------------------------------------------------------------


def test_text_keeps_lines_and_takes_title_from_first_line(tmp_path: Path) -> None:
    long_title = "REGULATION " + "X" * 200
    text = f"\r\n\r\n{long_title}\r\n\r\nArticle 1\r\n1. First.\r\n\r\n\r\n\r\nArticle 2  \r\n"
    doc = load_document(write_text(tmp_path / "a.txt", text))
    assert doc.text == f"{long_title}\n\nArticle 1\n1. First.\n\nArticle 2"
    assert doc.metadata == {"title": long_title[:120]}


def test_text_is_normalised_to_nfc(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "Décision relative à la pétition")
    doc = load_document(write_text(tmp_path / "nfd.txt", decomposed))
    assert doc.text == "Décision relative à la pétition"


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("cp1250", "Wniosek należy złożyć w ciągu czternastu dni. Organ wydaje decyzję."),
        ("cp1250", "Žádost je třeba podat do patnácti dnů. Úřad vydá rozhodnutí."),
        ("cp1252", "La demande doit être déposée à l’autorité compétente – déjà reçue."),
    ],
)
def test_legacy_encodings_are_recognised(tmp_path: Path, encoding: str, text: str) -> None:
    doc = load_document(write_text(tmp_path / "legacy.txt", text, encoding))
    assert doc.text == text
    assert doc.metadata["encoding"] == encoding


def test_latin1_text_is_read(tmp_path: Path) -> None:
    text = "Größe und Maß für Bürger; délai de réponse."
    doc = load_document(write_text(tmp_path / "l1.txt", text, "latin-1"))
    assert doc.text == text
    assert doc.metadata["encoding"] in {"cp1252", "latin-1"}


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom(tmp_path: Path, encoding: str) -> None:
    text = "Điều 1\r\nالمادة ١\r\nArticle 1 ✓"
    doc = load_document(write_text(tmp_path / "u16.txt", text, encoding, bom=True))
    assert doc.text == "Điều 1\nالمادة ١\nArticle 1 ✓"
    assert doc.metadata["encoding"] == "utf-16"


def test_utf8_bom_is_dropped(tmp_path: Path) -> None:
    doc = load_document(write_text(tmp_path / "bom.md", "# Título\n\nTexto.", bom=True))
    assert doc.text == "Título\n\nTexto."
    assert doc.metadata == {"title": "Título"}


@pytest.mark.parametrize("with_nul", [True, False])
def test_binary_content_with_text_suffix_is_refused(tmp_path: Path, with_nul: bool) -> None:
    with pytest.raises(LoaderError) as excinfo:
        load_document(make_binary_named(tmp_path / "x.txt", with_nul=with_nul))
    assert reason_of(excinfo) == "binary content, not text"


# --- Kind sniffing, size and emptiness --------------------------------------------------------


def test_sniff_kind_trusts_bytes(tmp_path: Path, regulation_pdf: Path) -> None:
    pdf = regulation_pdf.read_bytes()
    docx_bytes = make_docx(tmp_path / "k.docx", ["x"]).read_bytes()
    assert sniff_kind(pdf, "reg.pdf") == "pdf"
    assert sniff_kind(pdf, "upload.txt") == "pdf"
    assert sniff_kind(docx_bytes, "k.docx") == "docx"
    assert sniff_kind(docx_bytes, "noname") == "docx"
    assert sniff_kind(b"<!DOCTYPE html><p>x</p>", "page.txt") == "html"
    assert sniff_kind(b"<p>x</p>", "page.htm") == "html"
    assert sniff_kind(b"# Title", "a.md") == "markdown"
    assert sniff_kind(b"# Title", "a.markdown") == "markdown"
    assert sniff_kind(b"plain", "a.txt") == "text"
    assert sniff_kind("Grüße".encode("cp1252"), "a") == "text"


@pytest.mark.parametrize(
    ("data", "filename", "reason"),
    [
        (b"plain text", "x.pdf", "not a PDF (the file does not start with %PDF-)"),
        (b"plain text", "x.docx", "not a Word .docx (the file is not a zip archive)"),
        (b"\x00\x01\x02binary", "x.md", "binary content, not text"),
    ],
)
def test_sniff_kind_refuses_contradictions(data: bytes, filename: str, reason: str) -> None:
    with pytest.raises(LoaderError) as excinfo:
        sniff_kind(data, filename)
    assert excinfo.value.path == filename
    assert reason_of(excinfo) == reason


@pytest.mark.parametrize("suffix", SUPPORTED_SUFFIXES)
def test_empty_file_of_every_kind(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    with pytest.raises(LoaderError) as excinfo:
        load_document(path)
    assert reason_of(excinfo) == "empty document"


@pytest.mark.parametrize("data", [b" \n\t\r\n ", codecs.BOM_UTF16_LE + " \n".encode("utf-16-le")])
def test_whitespace_only_is_empty(data: bytes) -> None:
    with pytest.raises(LoaderError) as excinfo:
        load_bytes(data, "blank.txt")
    assert reason_of(excinfo) == "empty document"


def test_file_over_the_limit_is_refused(tmp_path: Path) -> None:
    path = write_text(tmp_path / "big.txt", "a" * 3000)
    with pytest.raises(LoaderError) as excinfo:
        load_document(path, max_bytes=1024)
    assert reason_of(excinfo) == "file too large: 3 KB > limit 1 KB"


def test_upload_over_the_default_limit_is_refused() -> None:
    with pytest.raises(LoaderError) as excinfo:
        load_bytes(b"a" * (101 * 1024 * 1024), "huge.txt")
    assert reason_of(excinfo) == "file too large: 101 MB > limit 100 MB"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LoaderError) as excinfo:
        load_document(tmp_path / "nope.txt")
    assert reason_of(excinfo) == "file not found"


def test_load_bytes_matches_load_document(tmp_path: Path, regulation_pdf: Path) -> None:
    assert load_bytes(regulation_pdf.read_bytes(), "upload.pdf") == load_document(regulation_pdf)


def test_ocr_furniture_read_a_little_differently_on_each_page_is_dropped() -> None:
    from retrieval.ingest.page_text import drop_page_furniture

    headers = [
        "L 333/80 EN Official Journal of the European Union 27.12.2022",
        "27.12:2022 EN Official Journal of the European Union L 333/81",  # OCR: ":" for "."
        "L 333/82 EN Official Journal of the Eurcpean Union . 27.12.2022",
        "27.12.2022 : EN Official Journal of the European Union L 333/83",
    ]
    duties = ["report incidents within a day", "keep registers of entities",
              "name a competent authority", "cooperate with ENISA on audits"]  # fmt: skip
    bodies = [[f"Article {n}", f"Member States shall {duty}."] for n, duty in enumerate(duties)]
    pages = [[header, *body] for header, body in zip(headers, bodies, strict=True)]
    assert drop_page_furniture(pages, fuzzy=True) == [line for b in bodies for line in b]
    assert len(drop_page_furniture(pages)) > 8  # exact shapes alone miss the misread ones
