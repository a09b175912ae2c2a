"""One reader per file kind: text, Markdown, HTML, PDF and Word .docx to plain text + metadata.

Each returns the text with its line structure (headings and paragraphs one per line, a blank
line between blocks, so the chunker finds "Article 5", "1." or "(a)" at line starts) and the
metadata the file itself declares (title, language, source). PDF text is re-flowed: running
headers, footers and page numbers dropped, hard-wrapped lines joined. A .docx is checked for
zip bombs before it is opened. Every failure is a LoaderError whose reason can be shown to the
user; no pypdf, python-docx or zip exception escapes. Scanned pages and image files are read
through OCR (``ocr.py``), with the same furniture and re-flow handling as a PDF's text.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from html.parser import HTMLParser
from typing import Any

import docx
import pypdf
from docx.table import Table

from retrieval.errors import LoaderError
from retrieval.ingest import footnotes, ocr
from retrieval.ingest.docx_numbering import NumberLabels
from retrieval.ingest.footnotes import FOOTNOTE
from retrieval.ingest.front_matter import split_front_matter
from retrieval.ingest.office import read_doc, read_odt

MB = 1024 * 1024
_ZIP_MAX_TOTAL = 200 * MB
_ZIP_MAX_MEMBERS = 5000
_ZIP_MAX_RATIO = 100
_ZIP_RATIO_MIN_SIZE = 10 * MB
_TITLE_CHARS = 120
EDGE_LINES = 4  # lines from the top and the bottom of a page where furniture is looked for
# PDF re-flow: a line opening with one of these words (or a marker) starts a new paragraph.
_HEADING_WORDS = (
    "article", "artículo", "articulo", "artigo", "articolo", "artikel", "artykuł", "art.",
    "pasal", "bab", "bagian", "chapter", "chapitre", "capítulo", "capitulo", "kapitel",
    "rozdział", "section", "sección", "part", "partie", "title", "titre", "título", "annex",
    "annexe", "anexo", "schedule", "điều", "chương", "mục", "статья", "глава", "раздел",
    "المادة", "مادة", "الفصل", "الباب", "§",
)  # fmt: skip
_HEADING_WORD = "(?:" + "|".join(map(re.escape, _HEADING_WORDS)) + ")"
_HEADING_LINE = re.compile(_HEADING_WORD + r"\s*(?:\d+|(?-i:[IVXLCDM]+))[a-z]?", re.IGNORECASE)
# "Article 1 - Retention", "Điều 3. Phạm vi": a heading with its title on one line. Running text
# that wraps before "Article 5 of Regulation …" has no separator after the number, so stays joined.
_TITLED_HEADING = re.compile(_HEADING_LINE.pattern + r"\s*[-–—:.]\s+\S", re.IGNORECASE)
_MARKER = re.compile(
    _HEADING_WORD + r"(?=[\s\d]|$)"
    r"|\d+(?:\.\d+)*[.)](?=\s|$)|\((?:\d+|[a-z]{1,2}|[ivxlc]+)\)|[a-z]\)(?=\s)"
    r"|[ivxlc]+\.(?=\s)|[-–•▪·](?=\s)",
    re.IGNORECASE,
)
# A word of punctuation alone, as OCR reads a scanner's speck (a dash or a bullet is a marker).
_SPECK_CHAR = r"[.,:;_'\"`‘’“”|~^*°]"
_SPECK = re.compile(_SPECK_CHAR + "+")
# A heading with specks beside it: "‘Article 21", "Article. 83", "Article 94 ©", "Article 30 a,".
_SPECKLED_HEADING = re.compile(
    rf"{_SPECK_CHAR}*(?P<word>{_HEADING_WORD})[.,:;]?\s+(?P<number>\d+)"
    r"(?P<tail>(?:\s+\S{1,2})*)",
    re.IGNORECASE,
)
_PAGE_NUMBER = re.compile(r"(?:page\s+)?[-–]?\s*\d{1,4}\s*[-–]?(?:\s*(?:/|of)\s*\d{1,4})?", re.I)
_SENTENCE_END = (".", ":", ";", "!", "?", "。", "؟", '."', ".)", ".”")
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
    ``ocr_languages``; ``ocr_pages`` in the metadata counts them."""
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
    meta: dict[str, str] = {}
    scanned = [i for i, page in enumerate(pages) if not page.strip()]
    if scanned and (len(scanned) == len(pages) or ocr.installed_languages()):
        images = ocr.render_pages(data, scanned, label)
        for index, text in zip(scanned, ocr.read_images(images, label, ocr_languages), strict=True):
            pages[index] = _ocr_lines(text)
        meta["ocr_pages"] = str(len(scanned))
    if not any(page.strip() for page in pages):
        raise LoaderError(label, "no text found, not even by OCR (blank pages?)")
    title = re.sub(r"^Microsoft Word - ", "", str(title or "")).strip()
    meta["title"] = "" if title.lower() == "untitled" else title
    lines = _drop_page_furniture([_pdf_lines(page) for page in pages], fuzzy=bool(scanned))
    return "\n\n".join(_reflow(lines)), meta


def read_image(data: bytes, label: str, ocr_languages: Sequence[str] = ()) -> Reading:
    """An image file (a scanned page; a multi-page TIFF is several) read through OCR."""
    images = ocr.image_as_png(data, label)
    pages = ocr.read_images(images, label, ocr_languages)
    lines = _drop_page_furniture([_pdf_lines(_ocr_lines(page)) for page in pages], fuzzy=True)
    return "\n\n".join(_reflow(lines)), {"ocr_pages": str(len(images))}


def _ocr_lines(page: str) -> str:
    """Tesseract's page text without its blank lines: it puts them between the blocks it finds,
    also inside a paragraph, so paragraphs are rebuilt like a PDF's, from the lines alone."""
    lines = (_without_specks(line) for line in page.split("\n"))
    return "\n".join(line for line in lines if line)


def _without_specks(line: str) -> str:
    """An OCR'd line without the specks read at its ends: "; Article 46", ". Article 17 ;",
    "oO Article 23" (a heading, with two specks read as letters). On the scanned Cyber
    Resilience Act (``typeset_eu_pdfs.py --layout scan``) 3 of 71 article headings came out so,
    and were joined to the paragraph above them: their articles were lost."""
    words = line.split()
    while words and _SPECK.fullmatch(words[0]):
        words.pop(0)
    while words and _SPECK.fullmatch(words[-1]):
        words.pop()
    if (
        len(words) > 1
        and len(words[0]) <= 2
        and not _MARKER.match(words[0])
        and _HEADING_LINE.fullmatch(" ".join(words[1:]))
    ):
        words.pop(0)
    heading = _SPECKLED_HEADING.fullmatch(" ".join(words))
    if heading and all(re.search(r"[^\w\s]", tail) for tail in heading.group("tail").split()):
        return f"{heading.group('word')} {heading.group('number')}"  # "Article 30 a," -> "… 30"
    return " ".join(words)


def _pdf_lines(page: str) -> list[str]:
    return [" ".join(line.split()) for line in page.split("\n")]


def _drop_page_furniture(pages: list[list[str]], *, fuzzy: bool = False) -> list[str]:
    """Page numbers, and running headers/footers repeated at the edge of most pages.

    ``fuzzy`` (pages read by OCR, which misreads a header a little differently on each page:
    "27.12:2022", a stray ":"): a line also counts as furniture when its words are mostly
    those of a line found at the edge of most pages (``_RECURRING`` of their union).
    """

    def shape(line: str) -> str:
        """ "L 119/5" and "L 119/6" are the same running header; so are "L 333/80 EN Official
        Journal 27.12.2022" and its mirror on the facing page, "27.12.2022 EN Official Journal
        L 333/81", as OCR reads it onto one line."""
        line = line.removeprefix(FOOTNOTE)
        return " ".join(sorted(re.sub(r"\d+", "#", line).split()))

    lengths = sorted(len(line) for lines in pages for line in lines if line)
    short = 0.75 * lengths[int(len(lengths) * 0.9)] if lengths else 0

    def edge_lines(lines: list[str]) -> list[int]:
        """Where furniture may be: the first and last ``EDGE_LINES`` lines with text."""
        body = [i for i, line in enumerate(lines) if line]
        return sorted(set(body[:EDGE_LINES] + body[-EDGE_LINES:]))

    edges: Counter[str] = Counter()
    for lines in pages:
        # A running header is often several short lines ("L 333/80", "EN", "Official Journal
        # …", "27.12.2022"), in mirrored order on facing pages: look a few lines in from each
        # edge; there, a full-width line is body text (a paragraph repeated on every page).
        at_edge = edge_lines(lines)
        outermost = {at_edge[0], at_edge[-1]} if at_edge else set()
        edges.update({shape(lines[i]) for i in at_edge if i in outermost or len(lines[i]) < short})
    repeated = {line for line, n in edges.items() if len(pages) >= 3 and n > len(pages) / 2}
    recurring = _recurring_lines(pages, edge_lines) if fuzzy and len(pages) >= 3 else []

    def furniture(line: str) -> bool:
        line = line.removeprefix(FOOTNOTE)
        if _PAGE_NUMBER.fullmatch(line):
            return True
        if _MARKER.match(line):
            return False
        return shape(line) in repeated or any(
            _overlap(_words(line), words) >= _RECURRING for words in recurring
        )

    kept: list[str] = []
    for lines in pages:  # blank lines stay: they separate paragraphs
        dropped = {i for i in edge_lines(lines) if furniture(lines[i])}
        page = [line for i, line in enumerate(lines) if i not in dropped]
        start, end = 0, len(page)
        while start < end and not page[start]:  # a paragraph may go on from the last page
            start += 1
        while end > start and not page[end - 1]:
            end -= 1
        kept.extend(page[start:end])
    return kept


_RECURRING = 0.6  # share of words two OCR readings of one running header have in common


def _words(line: str) -> frozenset[str]:
    return frozenset(re.sub(r"\d+", "#", line).split())


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def _recurring_lines(
    pages: list[list[str]], edge_lines: Callable[[list[str]], list[int]]
) -> list[frozenset[str]]:
    """The word sets (3 words or more) that, read a little differently, recur at the edge of
    more than half of the pages."""
    at_edges = [[_words(lines[i]) for i in edge_lines(lines)] for lines in pages]
    candidates = {words for page in at_edges for words in page if len(words) >= 3}
    return [
        words
        for words in candidates
        if sum(any(_overlap(words, other) >= _RECURRING for other in page) for page in at_edges)
        > len(pages) / 2
    ]


def _reflow(lines: list[str]) -> list[str]:
    """Join hard-wrapped lines into paragraphs; headings and numbered points start new ones.
    Footnote lines (``footnotes.FOOTNOTE``) wait for the paragraph a page break cut to end,
    then follow it as paragraphs of their own."""
    lengths = sorted(len(line) for line in lines if line and not line.startswith(FOOTNOTE))
    width = lengths[int(len(lengths) * 0.9)] if lengths else 0
    paragraphs: list[str] = []
    notes: list[str] = []
    previous = ""
    for line in lines:
        if line.startswith(FOOTNOTE):
            note = line[len(FOOTNOTE) :]
            if notes and not footnotes.NOTE_START.match(note):
                notes[-1] = _join(notes[-1], note)
            else:
                notes.append(note)
            continue
        if not line:
            previous = ""
            continue
        ended = previous.endswith(_SENTENCE_END) or bool(_TITLED_HEADING.match(previous))
        short = len(previous) < 0.6 * width
        if (
            short  # also true at the start and after a blank line
            or _HEADING_LINE.fullmatch(line)
            or _TITLED_HEADING.match(line)
            or (ended and (_MARKER.match(line) or len(previous) < 0.85 * width))
        ):
            paragraphs.extend(notes)
            notes = []
            paragraphs.append(line)
        else:
            paragraphs[-1] = _join(paragraphs[-1], line)
        previous = line
    return paragraphs + notes


def _join(left: str, right: str) -> str:
    if left.endswith("\u00ad"):
        return left[:-1] + right
    if left.endswith("-") and left[-2:-1].isalpha():
        return (left[:-1] if right[:1].islower() else left) + right
    return f"{left} {right}"


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
