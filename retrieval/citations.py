"""Sentences, quotes and citation markers: pure functions, no models, no stores.

A quote is always a verbatim slice of a chunk, so ``verify_quote`` can prove it; an answer's
``[n]`` markers must each point at a citation, which ``markers`` and ``check_markers`` test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SENTENCE_BOUNDARY = re.compile(r"(?<=[.!?؟。])[\"'”»)]?\s+")
_MARKER_RE = re.compile(r"\[(\d+)\]")
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


def split_sentences(text: str) -> list[Sentence]:
    """Sentences of ``text`` with their offsets; each line is split on its own.

    Headings and other short fragments (under MIN_SENTENCE_CHARS) are left out: they name a
    passage but do not answer anything.
    """
    sentences: list[Sentence] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        start = offset
        offset += len(line)
        stripped_line = line.rstrip("\n")
        pieces: list[tuple[int, int]] = []
        piece_start = 0
        for match in _SENTENCE_BOUNDARY.finditer(stripped_line):
            before = stripped_line[piece_start : match.start()].rstrip(".").split()
            last_word = before[-1].lower().rstrip(".") if before else ""
            if last_word in _ABBREVIATIONS or (last_word.isdigit() and len(last_word) <= 3):
                continue  # "Art. 5", "No. 12", "1. The …": not an end of sentence
            pieces.append((piece_start, match.start() + len(match.group(0).rstrip())))
            piece_start = match.end()
        pieces.append((piece_start, len(stripped_line)))
        for a, b in pieces:
            segment = stripped_line[a:b]
            lead = len(segment) - len(segment.lstrip())
            segment = segment.strip()
            if len(segment) >= MIN_SENTENCE_CHARS:
                sentences.append(
                    Sentence(start + a + lead, start + a + lead + len(segment), segment)
                )
    return sentences


def verify_quote(quote: str, passage: str) -> bool:
    """A quote is valid only if it is a verbatim part of the cited passage."""
    return bool(quote) and quote in passage


def markers(answer: str) -> list[int]:
    """The citation numbers an answer uses, in order of appearance."""
    return [int(m) for m in _MARKER_RE.findall(answer)]


def check_markers(answer: str, citation_numbers: set[int]) -> list[int]:
    """Markers in ``answer`` that point to no citation (empty when all resolve)."""
    return [n for n in markers(answer) if n not in citation_numbers]
