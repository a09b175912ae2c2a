"""One reader per file kind: text, Markdown, HTML, PDF and Word .docx to plain text + metadata.

Each returns the text with its line structure (headings and paragraphs one per line, a blank
line between blocks, so the chunker finds "Article 5", "1." or "(a)" at line starts) and the
metadata the file itself declares (title, language, source). PDF text is re-flowed
(``page_text.py``): running headers, footers and page numbers dropped, hard-wrapped lines
joined, footnotes kept apart (``footnotes.py``), two columns read one after the other
(``columns.py``). A .docx is checked for
zip bombs before it is opened. Every failure is a LoaderError whose reason can be shown to the
user; no pypdf, python-docx or zip exception escapes. Scanned pages and image files are read
through OCR (``ocr.py``), with the same furniture and re-flow handling as a PDF's text.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from html.parser import HTMLParser
from typing import Any

import docx
import pypdf
from docx.table import Table

from retrieval.errors import LoaderError
from retrieval.ingest import columns, footnotes, ocr, page_text
from retrieval.ingest.docx_numbering import NumberLabels
from retrieval.ingest.front_matter import split_front_matter
from retrieval.ingest.office import read_doc, read_odt

MB = 1024 * 1024
_ZIP_MAX_TOTAL = 200 * MB
_ZIP_MAX_MEMBERS = 5000
_ZIP_MAX_RATIO = 100
_ZIP_RATIO_MIN_SIZE = 10 * MB
_TITLE_CHARS = 120
_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)
_STRONG = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|(?<!\w)__(?=\S)(.+?)(?<=\S)__(?!\w)")

Reading = tuple[str, dict[str, str]]  # (text, declared metadata)


def read_text(text: str, label: str) -> Reading:
    first = next((line.strip() for line in text.split("\n") if line.strip()), "")
    return text, {"title": first[:_TITLE_CHARS].strip()}


def read_markdown(text: str, label: str) -> Reading:
    meta, text = split_front_matter(text, label)
    heading = next((m for m in _ATX_HEADING.finditer(text) if m.group(1) == "#"), None)
    if heading is not None:
        meta.setdefault("title", _STRONG.sub(lambda m: m.group(1) or m.group(2), heading.group(2)))
    text = _ATX_HEADING.sub(lambda m: m.group(2), text)
    return _STRONG.sub(lambda m: m.group(1) or m.group(2), text), meta


class _HTMLText(HTMLParser):
    _SKIP = frozenset({"script", "style", "nav", "header", "footer", "noscript", "template"})
    _BLOCK = frozenset({
        "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "dl", "dt", "dd",
        "table", "tr", "thead", "tbody", "tfoot", "caption", "section", "article", "main",
        "aside", "blockquote", "pre", "hr", "form", "figure", "figcaption", "address", "body",
    })  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.title: list[str] = []
        self.h1: list[str] = []
        self.meta: dict[str, str] = {}
        self._skip = self._pre = 0
        self._in_title = self._in_h1 = self._seen_h1 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "html" and values.get("lang"):
            self.meta["language"] = values["lang"]
        elif tag == "link" and values.get("rel", "").lower() == "canonical" and values.get("href"):
            self.meta["source"] = values["href"]
        if tag in self._SKIP:
            self._skip += 1
        elif not self._skip:
            if tag == "title" and not self.title:
                self._in_title = True
            elif tag == "h1" and not self._seen_h1:
                self._in_h1 = True
            elif tag == "pre":
                self._pre += 1
            if tag in ("br", "td", "th"):
                self.out.append("\n")
            elif tag in self._BLOCK:
                self.out.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif not self._skip:
            if tag == "title":
                self._in_title = False
            elif tag == "h1" and self._in_h1:
                self._in_h1, self._seen_h1 = False, True
            elif tag == "pre":
                self._pre = max(0, self._pre - 1)
            if tag in self._BLOCK:
                self.out.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in_title:
            self.title.append(data)
            return
        if self._in_h1:
            self.h1.append(data)
        self.out.append(data if self._pre else re.sub(r"\s+", " ", data))


def read_html(text: str, label: str) -> Reading:
    parser = _HTMLText()
    parser.feed(text)
    parser.close()
    meta = dict(parser.meta)
    meta["title"] = " ".join("".join(parser.title).split()) or " ".join("".join(parser.h1).split())
    lines = [line.strip() for line in "".join(parser.out).split("\n")]
    return "\n".join(lines), meta


def read_pdf(data: bytes, label: str, ocr_languages: Sequence[str] = ()) -> Reading:
    """A PDF's text in reading order, page furniture dropped, hard-wrapped lines joined.
    Pages without a text layer (a scan) are read through OCR (``ingest.ocr``), in
    ``ocr_languages``; pages in two columns are read one column after the other
    (``ingest.columns``). The metadata says what was found (``page_facts``): ``pages``,
    ``ocr_pages``, ``column_pages``, ``empty_pages`` (still without text: blank, or OCR not
    installed) and ``footnotes``."""
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        locked = reader.is_encrypted and not reader.decrypt("")
    except Exception as e:
        raise LoaderError(label, f"not a readable PDF: {_brief(e)}") from e
    if locked:
        raise LoaderError(label, "not a readable PDF: it is password-protected")
    try:
        read = [footnotes.page_fragments(page) for page in reader.pages]
        title = reader.metadata.title if reader.metadata is not None else None
    except Exception as e:
        raise LoaderError(label, f"not a readable PDF: {_brief(e)}") from e
    body = footnotes.body_size([fragments for _, fragments in read])
    pages = [footnotes.mark_footnotes(text, fragments, body) for text, fragments in read]
    in_columns = columns.pages_in_columns(data)  # drawn across the page, pypdf mixes them
    for index, text in in_columns.items():
        pages[index] = text
    meta: dict[str, str] = {"column_pages": str(len(in_columns))}
    scanned = [i for i, page in enumerate(pages) if not page.strip()]
    if scanned and (len(scanned) == len(pages) or ocr.installed_languages()):
        images = ocr.render_pages(data, scanned, label)
        for index, text in zip(scanned, ocr.read_images(images, label, ocr_languages), strict=True):
            pages[index] = page_text.ocr_page_text(text)
        meta["ocr_pages"] = str(len(scanned))
    if not any(page.strip() for page in pages):
        raise LoaderError(label, "no text found, not even by OCR (blank pages?)")
    meta.update(page_facts(pages))
    title = re.sub(r"^Microsoft Word - ", "", str(title or "")).strip()
    meta["title"] = "" if title.lower() == "untitled" else title
    lines = page_text.drop_page_furniture(
        [page_text.page_lines(page) for page in pages], fuzzy=bool(scanned)
    )
    return "\n\n".join(page_text.reflow(lines)), meta


def read_image(data: bytes, label: str, ocr_languages: Sequence[str] = ()) -> Reading:
    """An image file (a scanned page; a multi-page TIFF is several) read through OCR."""
    images = ocr.image_as_png(data, label)
    pages = [
        page_text.ocr_page_text(page) for page in ocr.read_images(images, label, ocr_languages)
    ]
    lines = page_text.drop_page_furniture(
        [page_text.page_lines(page) for page in pages], fuzzy=True
    )
    return "\n\n".join(page_text.reflow(lines)), {
        "ocr_pages": str(len(images)),
        **page_facts(pages),
    }


def page_facts(pages: Sequence[str]) -> dict[str, str]:
    """What a paged file's reader reports: its page count, the pages still without text
    (numbered from 1) and the footnotes kept apart."""
    empty = [str(number) for number, page in enumerate(pages, start=1) if not page.strip()]
    notes = sum(
        1
        for page in pages
        for line in page.split("\n")
        if line.startswith(footnotes.FOOTNOTE)
        and footnotes.NOTE_START.match(line[len(footnotes.FOOTNOTE) :])
    )
    return {"pages": str(len(pages)), "empty_pages": ",".join(empty), "footnotes": str(notes)}


def zip_members(data: bytes, label: str) -> list[zipfile.ZipInfo]:
    """The central directory: names and declared sizes, nothing decompressed."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise LoaderError(label, "damaged zip archive, not a readable .docx") from e


def check_zip(data: bytes, label: str) -> None:
    """Reject zip bombs before decompressing (zipfile never yields more than declared sizes)."""
    members = zip_members(data, label)
    if len(members) > _ZIP_MAX_MEMBERS:
        msg = f"rejected .docx: {len(members)} archive members (limit {_ZIP_MAX_MEMBERS})"
        raise LoaderError(label, msg)
    total = sum(member.file_size for member in members)
    if total > _ZIP_MAX_TOTAL:
        limit = human_size(_ZIP_MAX_TOTAL)
        msg = f"rejected .docx: expands to {human_size(total)} (limit {limit})"
        raise LoaderError(label, msg)
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > _ZIP_RATIO_MIN_SIZE and ratio > _ZIP_MAX_RATIO:
            msg = f"rejected .docx: {member.filename} expands {ratio:.0f}x (possible zip bomb)"
            raise LoaderError(label, msg)


def read_docx(data: bytes, label: str) -> Reading:
    """Paragraphs and table rows in order, each numbered paragraph with the number Word shows
    ("Article 1", "2.", "(a)": ``docx_numbering``), so the chunker finds its structure."""
    check_zip(data, label)
    try:
        document = docx.Document(io.BytesIO(data))
        numbers = NumberLabels(document)
        blocks = [block for block in _docx_blocks(document, numbers) if block.strip()]
        properties = document.core_properties
        meta = {"title": properties.title or "", "language": properties.language or ""}
    except Exception as e:
        raise LoaderError(label, f"not a readable Word .docx: {_brief(e)}") from e
    return "\n\n".join(blocks), meta


def _docx_blocks(container: Any, numbers: NumberLabels) -> Iterator[str]:
    """Paragraph texts in document order, descending into table cells (merged cells once)."""
    for item in container.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                cells = {cell._tc: cell for cell in row.cells}  # a merged cell repeats
                texts = (
                    "\n".join(filter(str.strip, _docx_blocks(c, numbers))) for c in cells.values()
                )
                yield "\n".join(filter(None, texts))
        else:
            number = numbers.label(item)
            yield f"{number} {item.text}" if number and item.text.strip() else item.text


def human_size(n: int) -> str:
    if n >= MB:
        return f"{n / MB:.1f}".removesuffix(".0") + " MB"
    return f"{n / 1024:.0f} KB" if n >= 1024 else f"{n} bytes"


def _brief(error: Exception) -> str:
    text = " ".join(str(error).split())
    return (text[:120] or type(error).__name__).rstrip(".")


# The kinds whose reader takes decoded text, and those that read the bytes themselves.
TEXT_READERS: dict[str, Callable[[str, str], Reading]] = {
    "text": read_text,
    "markdown": read_markdown,
    "html": read_html,
}
# Readers of scans: they also take the languages to read them in.
OCR_READERS: dict[str, Callable[[bytes, str, Sequence[str]], Reading]] = {
    "pdf": read_pdf,
    "image": read_image,
}
BYTES_READERS: dict[str, Callable[[bytes, str], Reading]] = {
    "pdf": read_pdf,
    "docx": read_docx,
    "doc": read_doc,
    "odt": read_odt,
}
