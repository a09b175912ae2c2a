"""Sentences, quotes, locators, citations and their markers: pure functions, no models, no stores.

A quotable unit is a sentence, or one point of an enumeration ("(b) the purposes of the
processing;"), which remembers the lead-in that opens its list ("… shall contain all of the
following information:") so a quoted point can say what it is a point of. A quote is made of
verbatim slices of its chunk joined by " … ", so ``verify_quote`` can prove every part; an
answer's ``[n]`` markers must each point at a citation (``markers``, ``check_markers``).

``cite`` is the one place a ``Citation`` is made, for extractive and generated answers alike:
the quote, its refined locator and the passage's metadata, never the model's.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.ingest.layout import POINT_START_RE, paragraph_of
from retrieval.models import Citation, Passage

log = logging.getLogger(__name__)

_SENTENCE_BOUNDARY = re.compile(r"(?<=[.!?؟。])[\"'”»)]?\s+")
MARKER = r"\[(\d+)\]"
"""A citation marker, ``[n]``: the one definition, also read by ``answer.verify``."""
_MARKER_RE = re.compile(MARKER)
_POINT_MARK = re.compile(r"^\(?(?P<point>[a-z]{1,2}|[ivxl]+|\d{1,3})\)\s")
_NUMBERED_PARAGRAPH = re.compile(r"^\(?\d+[.)]?\)?\s")
QUOTE_JOIN = " … "
LEAD_IN_QUOTE_CHARS = 160
# Abbreviations after which a full stop does not end a sentence.
_ABBREVIATIONS = {
    "art", "arts", "no", "nos", "para", "paras", "cf", "e.g", "i.e", "etc", "ust", "pkt",
    "mr", "mrs", "dr", "st", "vs", "p", "pp", "al", "ch", "sec", "nr", "s", "n",
}  # fmt: skip
MIN_SENTENCE_CHARS = 20


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    text: str
    lead_in: Sentence | None = None
    """For a point of an enumeration: the sentence that opens the list (ends with ":")."""

    @property
    def point(self) -> str | None:
        """The point's own marker ("b" for "(b) …"), if this is a point."""
        match = _POINT_MARK.match(self.text)
        return match.group("point") if match else None


def split_sentences(text: str) -> list[Sentence]:
    """Sentences of ``text`` with their offsets; each line is split on its own.

    Headings and other short fragments (under MIN_SENTENCE_CHARS) are left out: they name a
    passage but do not answer anything.
    """
    sentences: list[Sentence] = []
    offset = 0
    lead_in: Sentence | None = None
    for line in text.splitlines(keepends=True):
        start = offset
        offset += len(line)
        stripped_line = line.rstrip("\n")
        cuts: list[tuple[int, int]] = []  # (end of a piece, start of the next)
        piece_start = 0
        for match in _SENTENCE_BOUNDARY.finditer(stripped_line):
            before = stripped_line[piece_start : match.start()].rstrip(".").split()
            last_word = before[-1].lower().rstrip(".") if before else ""
            if last_word in _ABBREVIATIONS or (last_word.isdigit() and len(last_word) <= 3):
                continue  # "Art. 5", "No. 12", "1. The …": not an end of sentence
            cuts.append((match.start() + len(match.group(0).rstrip()), match.end()))
            piece_start = match.end()
        cuts.extend((m.start(), m.end()) for m in POINT_START_RE.finditer(stripped_line))
        cuts.sort()
        bounds = [(0, 0), *cuts, (len(stripped_line), len(stripped_line))]
        for (_, a), (b, _) in itertools.pairwise(bounds):
            segment = stripped_line[a:b]
            lead = len(segment) - len(segment.lstrip())
            segment = segment.strip()
            if not segment:
                continue
            is_point = bool(_POINT_MARK.match(segment))
            if not is_point and (a == 0 or _NUMBERED_PARAGRAPH.match(segment)):
                lead_in = None  # a new line or paragraph that is not a point closes a list
            if len(segment) >= MIN_SENTENCE_CHARS:
                sentence = Sentence(
                    start + a + lead,
                    start + a + lead + len(segment),
                    segment,
                    lead_in if is_point else None,
                )
                sentences.append(sentence)
                if segment.endswith(":"):
                    lead_in = sentence
    return sentences


def quotable_sentences(passage: Passage) -> list[Sentence]:
    """The sentences a quote may be (``sentences_to_quote``) of a retrieved passage."""
    return sentences_to_quote(passage.text, passage.locator)


def sentences_to_quote(text: str, locator: str) -> list[Sentence]:
    """The sentences a quote may be: an article chunk's first line is its heading ("Article 8
    — Time limits"), which names the rule but answers nothing, so it is left out when the
    chunk has a body. The ingest embeds them ahead of the first question that cites them."""
    sentences = split_sentences(text)
    article = not locator.startswith("¶") and "\n" in text
    if article and len(sentences) > 1 and sentences[0].start == 0:
        return sentences[1:]
    return sentences


def quote_of(text: str, sentence: Sentence) -> str:
    """What is shown for ``sentence`` of ``text``: a point comes with its (shortened) lead-in.

    The first point directly after its lead-in is one verbatim span; a later point is
    "lead-in … (c) point". A long lead-in keeps its last words, after "…".
    """
    lead = sentence.lead_in
    if lead is None:
        return sentence.text
    if not text[lead.end : sentence.start].strip():
        span = text[lead.start : sentence.end]
        if len(lead.text) <= LEAD_IN_QUOTE_CHARS:
            return span
    shown = lead.text
    if len(shown) > LEAD_IN_QUOTE_CHARS:
        cut = shown.find(" ", len(shown) - LEAD_IN_QUOTE_CHARS)
        shown = "…" + shown[cut + 1 :] if cut >= 0 else shown
    return f"{shown}{QUOTE_JOIN}{sentence.text}"


def locator_for(locator: str, text: str, sentence: Sentence) -> str:
    """Refine a chunk's "Article 5" to where the quote sits: "Article 5(2)", "Article 5(2)(b)".

    Plain paragraphs ("¶ 3") are not refined.
    """
    base = locator.split("(")[0]
    if not base or base.startswith("¶"):
        return locator
    paragraph = paragraph_of(text, sentence.start)
    point = sentence.point
    if paragraph is None and point is None:
        return locator
    if paragraph is None:
        # A point in a chunk whose paragraph number is not on a line of its own: keep the
        # chunk's single paragraph, if it has one ("Article 5(1)" + "(b)").
        single = re.fullmatch(r"[^(]*(\(\w+\))", locator)
        return f"{base}{single.group(1) if single else ''}({point})"
    return f"{base}({paragraph})" + (f"({point})" if point else "")


def cite(n: int, passage: Passage, sentences: Sequence[Sentence], score: float) -> Citation:
    """Citation ``[n]`` of ``passage``: the quotes of ``sentences`` (the whole passage when
    there are none), located where the first one sits, with the passage's own metadata.

    Every quote is a verbatim part of its passage by construction; ``verify_quote`` checks it
    here, where it is made, so a broken guarantee shows in the log rather than only in tests.
    """
    if sentences:
        quote = QUOTE_JOIN.join(quote_of(passage.text, s) for s in sentences)
        locator = locator_for(passage.locator, passage.text, sentences[0])
    else:
        quote, locator = passage.text.strip(), passage.locator
    if not verify_quote(quote, passage.text):
        log.error("citation [%d] quotes %s, not verbatim: %r", n, passage.chunk_id, quote)
    return Citation(
        n=n,
        chunk_id=passage.chunk_id,
        doc_id=passage.doc_id,
        title=passage.title,
        locator=locator,
        source=passage.source,
        date=passage.date,
        language=passage.language,
        quote=quote,
        text=passage.text,
        score=round(score, 4),
        translations=passage.translations,
    )


def source_label(title: str, locator: str) -> str:
    """The source line's name for a citation, naming the article once.

    "GDPR Article 33" + "Article 33(1)" -> "GDPR Article 33(1)"; otherwise "Title, Locator".
    """
    base = locator.split("(")[0].strip()
    if base and title.rstrip().endswith(base):
        return title.rstrip() + locator.strip()[len(base) :]
    return f"{title}, {locator}" if locator else title


def quote_parts(quote: str) -> list[str]:
    """The verbatim slices a quote is made of (``QUOTE_JOIN`` between them, "…" in front of
    a shortened lead-in)."""
    return [part.removeprefix("…").strip() for part in quote.split(QUOTE_JOIN)]


def verify_quote(quote: str, passage: str) -> bool:
    """A quote is valid only if every part of it is a verbatim part of the cited passage."""
    parts = quote_parts(quote) if quote else []
    return bool(parts) and all(part and part in passage for part in parts)


def markers(answer: str) -> list[int]:
    """The citation numbers an answer uses, in order of appearance."""
    return [int(m) for m in _MARKER_RE.findall(answer)]


def check_markers(answer: str, citation_numbers: set[int]) -> list[int]:
    """Markers in ``answer`` that point to no citation (empty when all resolve)."""
    return [n for n in markers(answer) if n not in citation_numbers]
