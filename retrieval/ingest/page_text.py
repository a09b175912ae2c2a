"""A page's text lines to paragraphs, for PDFs and scans: page furniture (running headers and
footers, page numbers) found by its repetition at the pages' edges and dropped, hard-wrapped
lines joined into paragraphs (line-end hyphens joined where typographic), headings and
numbered points kept at line starts, footnote lines (``footnotes.FOOTNOTE``) kept apart, and the
specks OCR reads beside an article heading removed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from retrieval.ingest import footnotes
from retrieval.ingest.footnotes import FOOTNOTE

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
_NUMBER_THEN_STOP = re.compile(_HEADING_LINE.pattern + r"\.\s", re.IGNORECASE)
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


def ocr_page_text(page: str) -> str:
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


def page_lines(page: str) -> list[str]:
    return [" ".join(line.split()) for line in page.split("\n")]


def drop_page_furniture(pages: list[list[str]], *, fuzzy: bool = False) -> list[str]:
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


def reflow(lines: list[str]) -> list[str]:
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
            # "Article 5 - Scope" opens an article; "Article 27. When financial entities
            # use…" after "…in accordance with" is that sentence going on
            or (_TITLED_HEADING.match(line) and (ended or not _NUMBER_THEN_STOP.match(line)))
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
