"""The layout of a regulation's text: article and chapter headings, numbered paragraphs, points.

Officials cite "Article 5(2)(b)", so the chunker (``chunking.py``) needs the text's structure.
Heading words are recognised in many languages (Article, Artículo, Pasal, المادة, Điều, Art., §
…) and an article's label keeps the document's own word. A mention in a sentence ("Article 12
shall apply …") is not a heading: the number must go up and the rest must look like a title.
A heading whose number OCR misread ("Article os") takes the one number the headings around it
leave free, if there is exactly one.
Regulations often run paragraphs inline ("Article 9 Retention 1. Files … 2. Registers …");
those are split on the 1., 2., 3. sequence only. A file that holds one article whose number is
only in its metadata (legal databases, PDF extraction: "Title 1. The controller shall … 2. …")
is read as that article. ``POINT_START_RE`` and ``paragraph_of`` are shared with the citations,
which locate a quote to its paragraph and point.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from retrieval.language import normalize_digits

_DIGITS = r"[0-9٠-٩۰-۹]+"
ARTICLE_WORDS = (
    r"article|art\.|art[ií]culo|artigo|articolo|artikel|artyku[łl]|pasal|đi[ềe]u|"
    r"стать[яи]|ст\.|المادة|madde|§"
)
CHAPTER_WORDS = (
    r"chapter|chapitre|cap[ií]tulo|capitolo|kapitel|abschnitt|rozdzia[łl]|bab|ch[ưư]ơng|"
    r"hoofdstuk|глава|раздел|titre|t[ií]tulo|title|part|partie|teil|dzia[łl]|section|"
    r"الفصل|الباب|القسم"
)
_ARTICLE_RE = re.compile(
    rf"^\s*(?P<word>{ARTICLE_WORDS})\s*\(?(?P<num>{_DIGITS}[a-z]?)\)?(?:\.º|º|°)?"
    rf"(?P<rest>(?:[\s.:—–-].*)?)$",
    re.IGNORECASE,
)
# A chapter heading is the word, a number (digits, Roman or a letter) and an optional title:
# "Chapter II — Registration", "Rozdział 1. Przepisy ogólne", "BAB III". A body sentence that
# merely starts with such a word ("Part-time officials are entitled …") is not one.
_CHAPTER_RE = re.compile(
    rf"^\s*(?:{CHAPTER_WORDS})\s+(?:{_DIGITS}|[IVXLC]+|[A-Z])\b\.?(?P<rest>.*)$", re.IGNORECASE
)
# A heading word alone with a short token that is no number: how OCR reads "Article 100" as
# "Article os" or "Article l7". Only a gap of one in the numbering around it decides its number.
_MISREAD_HEADING_RE = re.compile(
    rf"(?P<word>{ARTICLE_WORDS})\s+(?=\S*[^\W\d])\S{{1,4}}", re.IGNORECASE
)
_PARAGRAPH_RE = re.compile(rf"^\s*(?:\((?P<p1>{_DIGITS})\)|(?P<p2>{_DIGITS})[.)])\s+")
_INLINE_NUMBER_RE = re.compile(rf"(?:^|(?<=\s))(?P<num>{_DIGITS})[.)]\s+(?=\S)")
_HEADING_SEPARATORS = " .:—–-"
# Where a point of an enumeration starts inside a run-on paragraph: after ":" or ";" (and an
# optional "and"/"or"), a marker "(a)", "(ii)", "(12)", "a)".
POINT_START_RE = re.compile(
    r"(?<=[:;])\s+(?:(?:and|or|et|ou|und|oder|y|o|e|i|lub|dan|atau|và|hoặc)\s+)?"
    r"(?=\(?(?:[a-z]{1,2}|[ivxl]+|\d{1,3})\)\s)"
)
# The word for "Article" in a document's language, for files whose article number comes
# from their metadata only (document vocabulary, like ARTICLE_WORDS above).
ARTICLE_WORD_BY_LANGUAGE = {
    "en": "Article", "fr": "Article", "de": "Artikel", "nl": "Artikel", "es": "Artículo",
    "pt": "Artigo", "it": "Articolo", "pl": "Art.", "id": "Pasal", "vi": "Điều",
    "ar": "المادة", "ru": "Статья", "tr": "Madde",
}  # fmt: skip


@dataclass
class Paragraph:
    """A paragraph as found: its number if it has one ("2" for "2." or "(2)"), and its lines."""

    number: str | None
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class Article:
    """An article as found: its label and heading, its paragraphs, the chapter above it."""

    label: str  # "Article 5", as written in the document
    heading: str  # the heading line(s), kept as context at the top of every chunk
    paragraphs: list[Paragraph] = field(default_factory=list)
    chapter: str = ""  # the chapter heading above it, if any: context for the header


def _starts_sentence(char: str) -> bool:
    """Upper-case letter, an uncased script (Arabic…), a digit or an opening bracket/quote."""
    return char.isupper() or (char.isalpha() and not char.islower()) or char in "(\"«“'[0123456789"


def split_inline_numbered(text: str) -> list[tuple[str | None, str]]:
    """Split "… 1. A … 2. B …" into [(None, "…"), ("1", "1. A …"), ("2", "2. B …")].

    Only a run 1, 2, 3 … in order counts, so "VLD 2,000." or "within 15 days." never split.
    Returns one piece when there are fewer than two numbered paragraphs.
    """
    cuts: list[tuple[int, str]] = []
    expected = 1
    for match in _INLINE_NUMBER_RE.finditer(text):
        found = int(normalize_digits(match.group("num")))
        following = text[match.end() : match.end() + 1]
        if found == expected and _starts_sentence(following):
            cuts.append((match.start(), str(found)))
            expected += 1
    if len(cuts) < 2:
        return [(None, text)]
    pieces: list[tuple[str | None, str]] = []
    if text[: cuts[0][0]].strip():
        pieces.append((None, text[: cuts[0][0]].strip()))
    bounds = [c[0] for c in cuts] + [len(text)]
    for (start, number), end in zip(cuts, bounds[1:], strict=True):
        pieces.append((number, text[start:end].strip()))
    return pieces


def _article_heading(line: str, previous_number: int) -> tuple[str, str, int] | None:
    """(label, rest-of-line, number) when ``line`` opens an article, else None.

    Rejects body sentences that merely mention an article ("Article 12 shall apply …"):
    the number must go up and the rest must look like a title or inline paragraphs.
    """
    match = _ARTICLE_RE.match(line)
    if not match:
        return None
    number_text = normalize_digits(match.group("num"))
    number = int(re.sub(r"\D", "", number_text) or 0)
    rest = match.group("rest").strip()
    if number <= previous_number:
        return None
    # A rest that starts in lower case continues a sentence ("Article 12 shall apply.").
    looks_like_title = (len(rest) <= 100 and not rest[:1].islower()) or rest[
        :1
    ] in _HEADING_SEPARATORS
    has_inline_paragraphs = len(split_inline_numbered(rest)) > 1
    if not (looks_like_title or has_inline_paragraphs):
        return None
    word = match.group("word")
    label = f"{word} {number_text}" if word != "§" else f"§ {number_text}"
    return label, rest, number


def _is_chapter_heading(line: str) -> bool:
    stripped = line.strip()
    match = _CHAPTER_RE.match(stripped)
    if match is None or len(stripped) > 100 or len(stripped.split()) > 14:
        return False
    rest = match.group("rest").strip(" .:—–-")
    # A title, not a sentence: "Chapter 2 applies to …" continues in lower case or ends with
    # a full stop.
    return not rest[:1].islower() and not stripped.endswith((".", ";", ","))


def _restore_misread_numbers(lines: list[str]) -> list[str]:
    """Lines with an article heading whose number OCR misread ("Article os" for "Article 100",
    "Article l7") numbered again, where the numbering around them leaves exactly one number
    free: between "Article 99" and "Article 101" it can only be "Article 100". Without this
    the article's text would be cited as the end of the article before it."""
    found: list[tuple[int, int]] = []  # (line index, number) of the headings read as such
    misread: list[tuple[int, str]] = []
    previous = 0
    for index, line in enumerate(lines):
        heading = _article_heading(line.strip(), previous)
        if heading is not None:
            previous = heading[2]
            found.append((index, previous))
        elif match := _MISREAD_HEADING_RE.fullmatch(line.strip()):
            misread.append((index, match.group("word")))
    restored = list(lines)
    for index, word in misread:
        before = max((n for i, n in found if i < index), default=0)
        after = next((n for i, n in found if i > index), None)
        if after == before + 2:
            restored[index] = f"{word} {before + 1}"
    return restored


def _stripped_lines(text: str) -> list[str]:
    """The text's lines, stripped, with misread heading numbers restored: what both
    ``parse_articles`` and ``headings_out_of_order`` read."""
    lines = [line.strip() for line in text.splitlines()]
    if any(_MISREAD_HEADING_RE.fullmatch(line) for line in lines):
        lines = _restore_misread_numbers(lines)
    return lines


def parse_articles(text: str) -> tuple[list[Paragraph], list[Article]]:
    """Split text into a preamble (paragraphs before the first article) and articles."""
    preamble: list[Paragraph] = []
    articles: list[Article] = []
    previous = 0
    chapter = ""
    bare_heading = False  # the last line was a heading with nothing after its number
    for line in _stripped_lines(text):
        if not line:
            continue
        heading = _article_heading(line, previous)
        if heading is None and articles and _is_chapter_heading(line):
            chapter = line  # not cited (article numbers are unique), kept as header context
            continue
        if heading is None and bare_heading and _is_article_title(line):
            article = articles[-1]
            # "Article 5" above "Article 5 Transposition": the heading set on two lines
            same = line.startswith(article.label)
            article.heading = line if same else f"{article.heading} {line}"  # one quote-free line
            bare_heading = False
            continue
        bare_heading = heading is not None and not heading[1].strip(_HEADING_SEPARATORS)
        if heading is not None:
            label, rest, previous = heading
            pieces = split_inline_numbered(rest)
            head_line = line
            if len(pieces) > 1:
                first_numbered = next(piece for number, piece in pieces if number is not None)
                head_line = line[: line.find(first_numbered)].strip()
            article = Article(label=label, heading=head_line or label, chapter=chapter)
            for number, piece in pieces:
                if number is not None:
                    article.paragraphs.append(Paragraph(number, [piece]))
            articles.append(article)
            continue
        target = articles[-1].paragraphs if articles else preamble
        para_match = _PARAGRAPH_RE.match(line)
        inline = split_inline_numbered(line) if articles else [(None, line)]
        if len(inline) > 1:
            for number, piece in inline:
                if number is None and target:
                    target[-1].lines.append(piece)
                else:
                    target.append(Paragraph(number, [piece]))
        elif para_match:
            number = normalize_digits(para_match.group("p1") or para_match.group("p2"))
            target.append(Paragraph(number, [line]))
        elif target and articles and not target[-1].text.endswith((".", ":", ";", "!", "?")):
            target[-1].lines.append(line)  # continuation of a wrapped paragraph
        elif target and articles and (line.startswith("(") or line[:2].rstrip(")").isalpha()):
            target[-1].lines.append(line)  # sub-point (a), (b) belongs to its paragraph
        else:
            target.append(Paragraph(None, [line]))
    return preamble, articles


def _is_article_title(line: str) -> bool:
    """A line under a bare "Article 6" that names the article ("Lawfulness of processing"), as
    most official journals set it: short, opening with a letter in upper case (so not a
    numbered paragraph or a point), no sentence or lead-in end. It becomes part of the
    heading, which every chunk of the article repeats, not the first chunk's words only."""
    return (
        len(line) <= 150
        and line[:1].isalpha()
        and not line[:1].islower()  # upper case, or a script without case
        and not line.endswith((".", ":", ";", ","))
        and len(split_inline_numbered(line)) == 1
    )


def headings_out_of_order(text: str) -> list[str]:
    """Article headings whose number goes back, as ``"7 → 3"`` (Article 3 after Article 7).

    ``parse_articles`` takes such a line for body text of the article before it (a heading's
    number must go up, which keeps "Article 12 shall apply" in its sentence), so its text is
    cited under the wrong article: a heading misplaced by the reader (a column mix-up, a page
    out of order), a misread number, or an amending act quoting another act's articles. The
    reader reports them (``ingest.findings``) instead of leaving that silent."""
    found: list[str] = []
    previous, previous_text = 0, ""
    for line in _stripped_lines(text):
        heading = _article_heading(line, previous)
        if heading is not None:
            previous, previous_text = heading[2], _number_text(heading[0])
        elif (back := _article_heading(line, 0)) and back[2] < previous and len(back[1]) <= 100:
            # a heading line with a title, not "Article 17. That right shall not apply…"; the
            # same number again is most often a heading set on two lines ("Article 5" above
            # "Article 5 Transposition")
            found.append(f"{previous_text} → {_number_text(back[0])}")
    return found


def _number_text(label: str) -> str:
    return label.rpartition(" ")[2]


def split_points(text: str) -> tuple[str, list[str]]:
    """("lead-in:", ["(a) …;", "(b) …"]) for a paragraph that enumerates points, else (text, [])."""
    cuts = [m.end() for m in POINT_START_RE.finditer(text)]
    if not cuts:
        return text, []
    bounds = [*cuts, len(text)]
    points = [text[a:b].strip() for a, b in itertools.pairwise(bounds)]
    return text[: cuts[0]].strip(), [p for p in points if p]


def single_article(text: str, number: str, title: str, language: str) -> Article:
    """The whole text as one article numbered from metadata; its heading is what precedes
    paragraph 1 ("Notification of a personal data breach … 1. In the case of …")."""
    word = ARTICLE_WORD_BY_LANGUAGE.get(language, "Article")
    named = re.search(rf"({ARTICLE_WORDS})\s*{re.escape(number)}\b", title, re.IGNORECASE)
    if named:
        word = named.group(1)
    label = f"{word} {number}"
    article = Article(label=label, heading=label)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        pieces = split_inline_numbered(line)
        first_number, first_piece = pieces[0]
        if first_number is None and not article.paragraphs and len(pieces) > 1:
            article.heading = first_piece  # the article's own title, before paragraph 1
            pieces = pieces[1:]
        for paragraph_number, piece in pieces:
            para_match = _PARAGRAPH_RE.match(piece)
            if paragraph_number is None and para_match:
                paragraph_number = normalize_digits(
                    para_match.group("p1") or para_match.group("p2")
                )
            article.paragraphs.append(Paragraph(paragraph_number, [piece]))
    return article


def paragraph_of(chunk_text: str, offset: int) -> str | None:
    """The paragraph number whose text contains character ``offset`` of a chunk, if numbered."""
    number: str | None = None
    position = 0
    for line in chunk_text.splitlines(keepends=True):
        if position > offset:
            break
        match = _PARAGRAPH_RE.match(line)
        if match:
            number = normalize_digits(match.group("p1") or match.group("p2"))
        position += len(line)
    return number
