"""Document text -> chunks that keep article/paragraph boundaries and carry a locator.

Officials cite "Article 5(2)", so a chunk never straddles two articles, and a long article is
cut only between its numbered paragraphs. Heading words are recognised in many languages
(Article, Artículo, Pasal, المادة, Điều, Art., § …) and the locator keeps the document's own
word. Regulations often run paragraphs inline ("Article 9 Retention 1. Files … 2. Registers …");
those are split on the 1., 2., 3. sequence, and a paragraph too long for one chunk is cut
between its points "(a) … (b) …", each later piece repeating the paragraph's lead-in sentence
so no chunk starts mid-list. A file that holds one article whose number is only in its
metadata (legal databases, PDF extraction: "Title 1. The controller shall … 2. …") is read as
that article. Text with no article structure (reports, letters) is cut by paragraphs ("¶ 7").

Every chunk of an article carries a contextual ``header`` (document title, chapter, article)
that is embedded and lexically indexed with it but never shown or quoted: the stored text stays
the body's own words. On the EU development set (tuning half) the header moved dense recall@10
from 0.56 to 0.67. Plain paragraphs get none: repeating a report's title on each of its chunks
made them alike and cut the seeds' recall@4 from 0.91 to 0.73.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from retrieval.language import normalize_digits
from retrieval.models import Chunk

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
_PARAGRAPH_RE = re.compile(rf"^\s*(?:\((?P<p1>{_DIGITS})\)|(?P<p2>{_DIGITS})[.)])\s+")
_INLINE_NUMBER_RE = re.compile(rf"(?:^|(?<=\s))(?P<num>{_DIGITS})[.)]\s+(?=\S)")
_HEADING_SEPARATORS = " .:—–-"
_SENTENCE_END_RE = re.compile(r"(?<=[.!?؟。])\s+")
# Where a point of an enumeration starts inside a run-on paragraph: after ":" or ";" (and an
# optional "and"/"or"), a marker "(a)", "(ii)", "(12)", "a)".
POINT_START_RE = re.compile(
    r"(?<=[:;])\s+(?:(?:and|or|et|ou|und|oder|y|o|e|i|lub|dan|atau|và|hoặc)\s+)?"
    r"(?=\(?(?:[a-z]{1,2}|[ivxl]+|\d{1,3})\)\s)"
)
LEAD_IN_MAX_CHARS = 300
# The word for "Article" in a document's language, for files whose article number comes
# from their metadata only (document vocabulary, like ARTICLE_WORDS above).
ARTICLE_WORD_BY_LANGUAGE = {
    "en": "Article", "fr": "Article", "de": "Artikel", "nl": "Artikel", "es": "Artículo",
    "pt": "Artigo", "it": "Articolo", "pl": "Art.", "id": "Pasal", "vi": "Điều",
    "ar": "المادة", "ru": "Статья", "tr": "Madde",
}  # fmt: skip


@dataclass
class _Paragraph:
    number: str | None
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class _Article:
    label: str  # "Article 5", as written in the document
    heading: str  # the heading line(s), kept as context at the top of every chunk
    paragraphs: list[_Paragraph] = field(default_factory=list)
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


def parse_articles(text: str) -> tuple[list[_Paragraph], list[_Article]]:
    """Split text into a preamble (paragraphs before the first article) and articles."""
    preamble: list[_Paragraph] = []
    articles: list[_Article] = []
    previous = 0
    chapter = ""
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line:
            continue
        heading = _article_heading(line, previous)
        if heading is None and articles and _is_chapter_heading(line):
            chapter = line  # not cited (article numbers are unique), kept as header context
            continue
        if heading is not None:
            label, rest, previous = heading
            pieces = split_inline_numbered(rest)
            head_line = line
            if len(pieces) > 1:
                first_numbered = next(piece for number, piece in pieces if number is not None)
                head_line = line[: line.find(first_numbered)].strip()
            article = _Article(label=label, heading=head_line or label, chapter=chapter)
            for number, piece in pieces:
                if number is not None:
                    article.paragraphs.append(_Paragraph(number, [piece]))
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
                    target.append(_Paragraph(number, [piece]))
        elif para_match:
            number = normalize_digits(para_match.group("p1") or para_match.group("p2"))
            target.append(_Paragraph(number, [line]))
        elif target and articles and not target[-1].text.endswith((".", ":", ";", "!", "?")):
            target[-1].lines.append(line)  # continuation of a wrapped paragraph
        elif target and articles and (line.startswith("(") or line[:2].rstrip(")").isalpha()):
            target[-1].lines.append(line)  # sub-point (a), (b) belongs to its paragraph
        else:
            target.append(_Paragraph(None, [line]))
    return preamble, articles


def _paragraph_span(paragraphs: list[_Paragraph]) -> str:
    numbers = [p.number for p in paragraphs if p.number]
    if not numbers:
        return ""
    return f"({numbers[0]})" if numbers[0] == numbers[-1] else f"({numbers[0]})-({numbers[-1]})"


def _split_long(text: str, max_chars: int) -> list[str]:
    """Cut an over-long paragraph between sentences (or, failing that, between words)."""
    if len(text) <= max_chars:
        return [text]
    parts: list[str] = []
    current = ""
    for sentence in _SENTENCE_END_RE.split(text):
        while len(sentence) > max_chars:  # a run-on "sentence": cut at a space
            cut = sentence.rfind(" ", 0, max_chars)
            cut = cut if cut > max_chars // 2 else max_chars
            if current:
                parts.append(current)
                current = ""
            parts.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if current and len(current) + 1 + len(sentence) > max_chars:
            parts.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        parts.append(current)
    return parts


def split_points(text: str) -> tuple[str, list[str]]:
    """("lead-in:", ["(a) …;", "(b) …"]) for a paragraph that enumerates points, else (text, [])."""
    cuts = [m.end() for m in POINT_START_RE.finditer(text)]
    if not cuts:
        return text, []
    bounds = [*cuts, len(text)]
    points = [text[a:b].strip() for a, b in itertools.pairwise(bounds)]
    return text[: cuts[0]].strip(), [p for p in points if p]


def shorten_lead_in(lead_in: str) -> str:
    """A lead-in short enough to repeat: its last sentence when the whole is too long."""
    if len(lead_in) <= LEAD_IN_MAX_CHARS:
        return lead_in
    last = _SENTENCE_END_RE.split(lead_in)[-1]
    if len(last) <= LEAD_IN_MAX_CHARS:
        return last
    cut = last.find(" ", len(last) - LEAD_IN_MAX_CHARS)
    return last[cut + 1 :] if cut >= 0 else last[-LEAD_IN_MAX_CHARS:]


def _split_paragraph(text: str, max_chars: int) -> list[str]:
    """Cut an over-long paragraph between its points, else between sentences.

    Each piece after the first starts with the paragraph's lead-in ("… shall contain: (c) …"),
    so a chunk never begins mid-enumeration with nothing to say what the point is about.
    """
    if len(text) <= max_chars:
        return [text]
    lead_in, points = split_points(text)
    if len(points) < 2:
        return _split_long(text, max_chars)
    repeat = shorten_lead_in(lead_in)
    budget = max(max_chars - len(repeat) - 1, max_chars // 2)
    pieces = _split_long(lead_in, max_chars) if lead_in else [""]
    current = pieces.pop()  # the points continue the lead-in's last part
    for point in points:
        for part in _split_long(point, budget):
            if current and len(current) + 1 + len(part) > max_chars:
                pieces.append(current)
                current = f"{repeat}\n{part}" if repeat else part
            else:
                current = f"{current} {part}".strip()
    pieces.append(current)
    return pieces


def _pack(paragraphs: list[_Paragraph], max_chars: int, min_chars: int) -> list[list[_Paragraph]]:
    """Greedily group consecutive paragraphs into chunks of at most ``max_chars``."""
    groups: list[list[_Paragraph]] = []
    size = 0
    for paragraph in paragraphs:
        length = len(paragraph.text)
        if groups and size + length + 1 <= max_chars:
            groups[-1].append(paragraph)
            size += length + 1
        else:
            groups.append([paragraph])
            size = length
    if len(groups) > 1 and sum(len(p.text) for p in groups[-1]) < min_chars:
        tail = groups.pop()
        groups[-1].extend(tail)
    return groups


def _join_header(*parts: str) -> str:
    """ "GDPR Article 33", "Article 33" -> "GDPR Article 33": no part repeated."""
    kept: list[str] = []
    for part in (p.strip() for p in parts):
        if part and not any(part.lower() in k.lower() for k in kept):
            kept.append(part)
    return " — ".join(kept)


def chunk_text(
    doc_id: str,
    text: str,
    max_chars: int = 900,
    min_chars: int = 120,
    *,
    title: str = "",
    article: str = "",
    language: str = "",
) -> list[Chunk]:
    """All chunks of one document, in reading order, with locators and contextual headers.

    ``article`` is the article number a file declares in its metadata: when the text has no
    article heading of its own, the whole text is that article.
    """
    preamble, articles = parse_articles(text)
    if not articles and article.strip():
        preamble, articles = [], [_single_article(text, article.strip(), title, language)]
    pieces: list[tuple[str, str, str]] = []  # (locator, text, header)
    paragraph_counter = 0

    def emit_plain(paragraphs: list[_Paragraph]) -> None:
        nonlocal paragraph_counter
        numbered: list[_Paragraph] = []
        for paragraph in paragraphs:
            paragraph_counter += 1
            for part in _split_paragraph(paragraph.text, max_chars):
                numbered.append(_Paragraph(str(paragraph_counter), [part]))
        for group in _pack(numbered, max_chars, min_chars):
            first, last = group[0].number, group[-1].number
            locator = f"¶ {first}" if first == last else f"¶ {first}–{last}"
            pieces.append((locator, "\n".join(p.text for p in group), ""))

    emit_plain(preamble)
    for art in articles:
        header = _join_header(title, art.chapter, art.label)
        body_budget = max(max_chars - len(art.heading) - 1, max_chars // 2)
        split: list[_Paragraph] = []
        for paragraph in art.paragraphs:
            for part in _split_paragraph(paragraph.text, body_budget):
                split.append(_Paragraph(paragraph.number, [part]))
        if not split:
            pieces.append((art.label, art.heading, header))
            continue
        groups = _pack(split, body_budget, min_chars)
        for group in groups:
            span = _paragraph_span(group) if len(groups) > 1 else ""
            body = "\n".join(p.text for p in group)
            pieces.append((f"{art.label}{span}", f"{art.heading}\n{body}", header))
    return [
        Chunk(doc_id=doc_id, index=i, text=chunk, locator=locator, header=header)
        for i, (locator, chunk, header) in enumerate(pieces)
        if chunk.strip()
    ]


def _single_article(text: str, number: str, title: str, language: str) -> _Article:
    """The whole text as one article numbered from metadata; its heading is what precedes
    paragraph 1 ("Notification of a personal data breach … 1. In the case of …")."""
    word = ARTICLE_WORD_BY_LANGUAGE.get(language, "Article")
    named = re.search(rf"({ARTICLE_WORDS})\s*{re.escape(number)}\b", title, re.IGNORECASE)
    if named:
        word = named.group(1)
    label = f"{word} {number}"
    article = _Article(label=label, heading=label)
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
            article.paragraphs.append(_Paragraph(paragraph_number, [piece]))
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
