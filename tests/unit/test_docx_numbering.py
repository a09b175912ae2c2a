"""Word's automatic numbering kept in the text: .docx files written by python-docx with real
numbering definitions (as Word and LibreOffice write them), read and chunked."""

from __future__ import annotations

import io

import docx
from docx.oxml import parse_xml

from retrieval.ingest.chunking import chunk_text
from retrieval.ingest.docx_numbering import format_number
from retrieval.ingest.loaders import load_bytes

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
ARTICLE_LIST = f"""
<w:abstractNum xmlns:w="{W_NS}" w:abstractNumId="90">
  <w:multiLevelType w:val="multilevel"/>
  <w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="decimal"/>
    <w:lvlText w:val="Article %1"/></w:lvl>
  <w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="decimal"/>
    <w:lvlText w:val="%2."/></w:lvl>
  <w:lvl w:ilvl="2"><w:start w:val="1"/><w:numFmt w:val="lowerLetter"/>
    <w:lvlText w:val="(%3)"/></w:lvl>
</w:abstractNum>"""
NUM = f'<w:num xmlns:w="{W_NS}" w:numId="90"><w:abstractNumId w:val="90"/></w:num>'


def _numbered(paragraph: docx.text.paragraph.Paragraph, level: int, num_id: int = 90) -> None:
    ppr = paragraph._p.get_or_add_pPr()
    ppr.append(
        parse_xml(
            f'<w:numPr xmlns:w="{W_NS}"><w:ilvl w:val="{level}"/>'
            f'<w:numId w:val="{num_id}"/></w:numPr>'
        )
    )


def _docx_with_article_numbering() -> bytes:
    document = docx.Document()
    numbering = document.part.numbering_part.element
    first_num = numbering.find(f"{{{W_NS}}}num")
    first_num.addprevious(parse_xml(ARTICLE_LIST))  # abstractNum definitions come first
    numbering.append(parse_xml(NUM))
    document.add_paragraph("Decision on Municipal Archives")
    rows = [
        (0, "Opening hours"),
        (1, "The archive shall be open on at least four weekdays."),
        (1, "Opening hours shall be published on the municipal website."),
        (0, "Copies"),
        (1, "A copy of an archived record shall be delivered within 20 days of the request:"),
        (2, "on paper, at the archive;"),
        (2, "electronically, when the requester asks for it."),
        (1, "Copies are free of charge for residents."),
    ]
    for level, text in rows:
        _numbered(document.add_paragraph(text), level)
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Fee", "Amount"
    table.cell(1, 0).text, table.cell(1, 1).text = "Certified copy", "5 euros"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_article_paragraph_and_point_numbers_come_back_and_make_locators() -> None:
    loaded = load_bytes(_docx_with_article_numbering(), "archives.docx")
    lines = loaded.text.splitlines()
    assert "Article 1 Opening hours" in lines
    assert "1. The archive shall be open on at least four weekdays." in lines
    assert "2. Opening hours shall be published on the municipal website." in lines
    assert "Article 2 Copies" in lines
    assert "(a) on paper, at the archive;" in lines  # the points restart under paragraph 1
    assert "(b) electronically, when the requester asks for it." in lines
    assert "2. Copies are free of charge for residents." in lines
    assert "Certified copy\n5 euros" in loaded.text  # a table row's cells, in order
    chunks = chunk_text("archives.docx", loaded.text, max_chars=160, language="en")
    locators = [c.locator for c in chunks]
    assert "Article 1" in locators[1]
    assert any(loc.startswith("Article 2(1)") for loc in locators)
    assert any(c.part == "2" and "free of charge" in c.text for c in chunks)


def test_the_list_number_style_numbers_paragraphs_too() -> None:
    document = docx.Document()
    document.add_paragraph("Article 4 - Fees")
    document.add_paragraph("Certified copies cost five euros.", style="List Number")
    document.add_paragraph("Plain copies are free.", style="List Number")
    out = io.BytesIO()
    document.save(out)
    text = load_bytes(out.getvalue(), "fees.docx").text
    assert "1. Certified copies cost five euros." in text
    assert "2. Plain copies are free." in text


def test_number_formats() -> None:
    assert [format_number(n, "lowerLetter") for n in (1, 26, 27)] == ["a", "z", "aa"]
    assert format_number(14, "upperRoman") == "XIV"
    assert format_number(4, "lowerRoman") == "iv"
    assert format_number(7, "decimalZero") == "07"
