"""Builders for the files loader tests read: real PDFs, .docx files, HTML and encoded text.

Everything is generated in the test's ``tmp_path`` so nothing binary lives in the repository.
PDFs use a Unicode TrueType font when the system has one (DejaVu, Noto, Liberation); without
one they fall back to the PDF core font, and :data:`UNICODE_FONT` is ``None`` so tests that need
non-Latin-1 text can skip.
"""

from __future__ import annotations

import codecs
import textwrap
import zipfile
from collections.abc import Sequence
from pathlib import Path

import docx
from fpdf import FPDF

_FONT_NAMES = ("DejaVuSans.ttf", "NotoSans-Regular.ttf", "LiberationSans-Regular.ttf")
_FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts")


def find_unicode_font() -> Path | None:
    """A TrueType font with wide Unicode coverage, or None when the system has none."""
    for name in _FONT_NAMES:
        for directory in _FONT_DIRS:
            if directory.is_dir():
                found = next(directory.rglob(name), None)
                if found is not None:
                    return found
    return None


UNICODE_FONT = find_unicode_font()


def make_pdf(
    path: Path,
    blocks: Sequence[str],
    *,
    title: str | None = None,
    width_mm: float = 120,
    user_password: str | None = None,
    owner_password: str | None = None,
    page_numbers: bool = False,
    running_header: str | None = None,
    blank_pages: int = 0,
    then: Sequence[str] = (),
) -> Path:
    """A text PDF: each block is one paragraph, word-wrapped by fpdf2 into hard lines.

    Narrow ``width_mm`` forces wrapping, which is what the loader must undo. Blocks are
    separated by a small vertical gap, not by an empty text line, as in real typeset PDFs.
    ``blank_pages`` pages without text follow, then a page with the ``then`` blocks.
    """
    pdf = FPDF()
    if title is not None:
        pdf.set_title(title)
    _set_font(pdf)
    if page_numbers:
        pdf.footer = lambda: _edge(pdf, -15, f"Page {pdf.page_no()}")  # type: ignore[method-assign]
    if running_header is not None:
        pdf.header = lambda: _edge(pdf, 8, running_header)  # type: ignore[method-assign]
    pdf.add_page()
    for block in blocks:
        pdf.multi_cell(width_mm, 6, block, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    for _ in range(blank_pages):
        pdf.add_page()
    if then:
        pdf.add_page()
    for block in then:
        pdf.multi_cell(width_mm, 6, block, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    if owner_password is not None or user_password is not None:
        pdf.set_encryption(owner_password or "owner", user_password=user_password or "")
    pdf.output(str(path))
    return path


def make_pdf_with_footnote(path: Path, blocks: Sequence[str], footnote: str) -> Path:
    """A text PDF whose first page ends with ``footnote`` set in small type at its foot (and
    every page with a small "Page N" below it), as journals print notes: a paragraph long
    enough runs on past it to the next page."""
    pdf = FPDF()
    _set_font(pdf)

    def foot() -> None:
        size = pdf.font_size_pt
        pdf.set_font(size=7)
        if pdf.page_no() == 1:
            pdf.set_y(-32)
            pdf.multi_cell(0, 3.5, footnote, new_x="LMARGIN", new_y="NEXT")
        pdf.set_y(-14)
        pdf.cell(0, 4, f"Page {pdf.page_no()}", align="C")
        pdf.set_font(size=size)

    pdf.footer = foot  # type: ignore[method-assign]
    pdf.set_auto_page_break(True, margin=36)
    pdf.add_page()
    for block in blocks:
        pdf.multi_cell(120, 6, block, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    pdf.output(str(path))
    return path


def make_two_column_pdf(
    path: Path, title: str, left: str, right: str, *, across: bool, width_chars: int = 44
) -> Path:
    """A page with ``title`` across the top, then ``left`` and ``right`` as two columns of
    wrapped prose. ``across``: the file draws it line by line across the page (left line,
    then the line beside it), as some typesetters do; otherwise one column, then the other."""
    pdf = FPDF()
    _set_font(pdf)
    pdf.set_font(size=9)
    pdf.add_page()
    pdf.set_xy(15, 15)
    pdf.cell(180, 6, title, align="C")
    columns = [textwrap.wrap(left, width_chars), textwrap.wrap(right, width_chars)]
    xs, top, height = (15.0, 110.0), 28.0, 4.5

    def draw(column: int, row: int) -> None:
        if row < len(columns[column]):
            pdf.set_xy(xs[column], top + row * height)
            pdf.cell(85, height, columns[column][row])

    rows = max(len(c) for c in columns)
    if across:
        for row in range(rows):
            draw(0, row)
            draw(1, row)
    else:
        for column in (0, 1):
            for row in range(rows):
                draw(column, row)
    pdf.output(str(path))
    return path


def _edge(pdf: FPDF, y: float, text: str) -> None:
    pdf.set_y(y)
    pdf.cell(0, 8, text, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(pdf.get_y(), pdf.t_margin))


def _set_font(pdf: FPDF) -> None:
    if UNICODE_FONT is not None:
        pdf.add_font("body", fname=str(UNICODE_FONT))
        pdf.set_font("body", size=11)
    else:
        pdf.set_font("Helvetica", size=11)


def make_blank_pdf(path: Path) -> Path:
    """A PDF with a drawing and no text layer, like a scan."""
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")
    pdf.output(str(path))
    return path


def make_corrupt_pdf(path: Path) -> Path:
    """Starts like a PDF, then garbage: no xref, no objects."""
    path.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Cat" + b"\x8f\x12" * 200)
    return path


def make_docx(
    path: Path,
    paragraphs: Sequence[str],
    *,
    title: str | None = None,
    language: str | None = None,
    headings: Sequence[str] = (),
    table: Sequence[Sequence[str]] = (),
) -> Path:
    """A real .docx: headings first, then paragraphs, then a table, in that order."""
    document = docx.Document()
    for heading in headings:
        document.add_heading(heading, level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for row, values in zip(grid.rows, table, strict=True):
            for cell, value in zip(row.cells, values, strict=True):
                cell.text = value
        document.add_paragraph("After the table.")
    if title is not None:
        document.core_properties.title = title
    if language is not None:
        document.core_properties.language = language
    document.save(str(path))
    return path


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def make_zip_bomb_docx(path: Path, *, member_mb: int = 12) -> Path:
    """A docx-shaped zip whose one member expands ~1000x: zeros compress to almost nothing."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        archive.writestr("word/document.xml", b"<w:document/>")
        with archive.open("word/media/image1.bin", "w") as member:
            chunk = bytes(1024 * 1024)
            for _ in range(member_mb):
                member.write(chunk)
    return path


def make_many_members_docx(path: Path, count: int) -> Path:
    members = {"word/document.xml": b"<w:document/>"}
    members.update({f"word/media/m{i}.xml": b"" for i in range(count)})
    return make_zip(path, members)


def make_binary_named(path: Path, size: int = 4096, *, with_nul: bool = True) -> Path:
    """Deterministic noise; without NULs it still has control bytes everywhere."""
    low = 0 if with_nul else 1
    data = bytes(low + (i * 131 + 17) % (256 - low) for i in range(size))
    path.write_bytes(data)
    return path


def write_text(path: Path, text: str, encoding: str = "utf-8", *, bom: bool = False) -> Path:
    """Text in ``encoding``; ``bom`` prefixes the encoding's byte-order mark (utf-8/16)."""
    boms = {"utf-8": codecs.BOM_UTF8, "utf-16-le": codecs.BOM_UTF16_LE}
    boms["utf-16-be"] = codecs.BOM_UTF16_BE
    prefix = boms[encoding] if bom else b""
    path.write_bytes(prefix + text.encode(encoding))
    return path


def make_html(path: Path, body: str, *, title: str | None = None, lang: str | None = None) -> Path:
    head = f"<title>{title}</title>" if title is not None else ""
    lang_attr = f' lang="{lang}"' if lang is not None else ""
    page = (
        f"<!DOCTYPE html>\n<html{lang_attr}><head><meta charset='utf-8'>{head}"
        "<style>p { color: red }</style><script>var x = '<p>not text</p>';</script>"
        f"</head>\n<body>{body}</body></html>\n"
    )
    path.write_text(page, encoding="utf-8")
    return path
