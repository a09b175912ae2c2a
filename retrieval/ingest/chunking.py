"""Document text -> chunks that keep article/paragraph boundaries and carry a locator.

Officials cite "Article 5(2)", so a chunk never straddles two articles (``layout.py`` finds
them, their paragraphs and points), and a long article is cut only between its numbered
paragraphs. A paragraph too long for one chunk is cut between its points "(a) … (b) …", each
later piece repeating the paragraph's lead-in sentence so no chunk starts mid-list. Text with no
article structure (reports, letters) is cut by paragraphs ("¶ 7").

Every chunk of an article carries a contextual ``header`` (document title, chapter, article)
that is embedded and lexically indexed with it but never shown or quoted: the stored text stays
the body's own words. On the EU development set (tuning half) the header moved dense recall@10
from 0.56 to 0.67. Plain paragraphs get none: repeating a report's title on each of its chunks
made them alike and cut the seeds' recall@4 from 0.91 to 0.73.
"""

from __future__ import annotations

import re

from retrieval.ingest.layout import Paragraph, parse_articles, single_article, split_points
from retrieval.models import Chunk
from retrieval.parts import part_key

_SENTENCE_END_RE = re.compile(r"(?<=[.!?؟。])\s+")
LEAD_IN_MAX_CHARS = 300


def _paragraph_span(paragraphs: list[Paragraph]) -> str:
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


def _pack(paragraphs: list[Paragraph], max_chars: int, min_chars: int) -> list[list[Paragraph]]:
    """Greedily group consecutive paragraphs into chunks of at most ``max_chars``."""
    groups: list[list[Paragraph]] = []
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
        preamble, articles = [], [single_article(text, article.strip(), title, language)]
    pieces: list[tuple[str, str, str, str]] = []  # (locator, text, header, article key)
    paragraph_counter = 0

    def emit_plain(paragraphs: list[Paragraph]) -> None:
        nonlocal paragraph_counter
        numbered: list[Paragraph] = []
        for paragraph in paragraphs:
            paragraph_counter += 1
            for part in _split_paragraph(paragraph.text, max_chars):
                numbered.append(Paragraph(str(paragraph_counter), [part]))
        for group in _pack(numbered, max_chars, min_chars):
            first, last = group[0].number, group[-1].number
            locator = f"¶ {first}" if first == last else f"¶ {first}–{last}"
            pieces.append((locator, "\n".join(p.text for p in group), "", ""))

    emit_plain(preamble)
    for art in articles:
        header = _join_header(title, art.chapter, art.label)
        key = part_key(art.label)
        body_budget = max(max_chars - len(art.heading) - 1, max_chars // 2)
        split: list[Paragraph] = []
        for paragraph in art.paragraphs:
            for part in _split_paragraph(paragraph.text, body_budget):
                split.append(Paragraph(paragraph.number, [part]))
        if not split:
            pieces.append((art.label, art.heading, header, key))
            continue
        groups = _pack(split, body_budget, min_chars)
        for group in groups:
            span = _paragraph_span(group) if len(groups) > 1 else ""
            body = "\n".join(p.text for p in group)
            pieces.append((f"{art.label}{span}", f"{art.heading}\n{body}", header, key))
    kept = [piece for piece in pieces if piece[1].strip()]
    return [
        Chunk(doc_id=doc_id, index=i, text=chunk, locator=locator, header=header, part=key)
        for i, (locator, chunk, header, key) in enumerate(kept)
    ]
