"""Footnotes of a born-digital PDF page, told from the body by their smaller type at the foot.

A footnote ("(1) OJ L 119, 4.5.2016, p. 1.") sits between the last line of a page and the
first of the next, often in the middle of a sentence. Read in page order it was glued to that
paragraph and cut it in two: the quote an official gets would run into the footnote. Here a
page's footnote lines are the lines set in type clearly smaller than the document's body
type, below every line of body type, the first of them opening with a note marker. The reader
marks them (``FOOTNOTE``) so the re-flow keeps them apart: each becomes a paragraph of its own
after the paragraph the page break interrupted, near where it is referred to, never lost.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

FOOTNOTE = "\x00footnote\x00"  # marks a footnote line between the reader and the re-flow
SMALLER = 0.85  # a footnote's type is at most this share of the body's
# "(1) OJ L …", "1 See …", "* Not applicable …", "¹ …": a marker, then the note's text.
NOTE_START = re.compile(r"^\s*(?:\(\d{1,3}\)|\d{1,3}\)?|[*†‡]+|[¹²³⁴-⁹⁰]+)\s+\S+\s+\S+")

Fragment = tuple[float, float, str]  # (baseline y, type size, text) as a page draws them


def page_fragments(page: Any) -> tuple[str, list[Fragment]]:
    """A pypdf page's text and the fragments it is drawn from, with their place and size."""
    fragments: list[Fragment] = []

    def visit(text: str, cm: list[float], tm: list[float], _font: Any, size: float) -> None:
        if text.strip():
            scale = math.hypot(tm[2], tm[3]) * math.hypot(cm[2], cm[3])
            y = tm[5] * cm[3] + cm[5]
            fragments.append((y, size * (scale or 1.0), text))

    text = page.extract_text(visitor_text=visit) or ""
    return text, fragments


def body_size(pages: list[list[Fragment]]) -> float:
    """The type size most of the document's characters are set in."""
    sizes: Counter[float] = Counter()
    for fragments in pages:
        for _, size, text in fragments:
            sizes[round(size, 1)] += len(text.strip())
    return sizes.most_common(1)[0][0] if sizes else 0.0


def mark_footnotes(text: str, fragments: list[Fragment], body: float) -> str:
    """``text`` with its footnote lines prefixed by ``FOOTNOTE`` (see the module docstring)."""
    if body <= 0:
        return text
    body_lines = [y for y, size, _ in fragments if size >= SMALLER * body]
    if not body_lines:
        return text
    lowest_body = min(body_lines)
    small = [(y, t) for y, size, t in fragments if size < SMALLER * body and y < lowest_body]
    if not small:
        return text
    rows: dict[float, list[str]] = {}
    for y, fragment in sorted(small, key=lambda f: -f[0]):  # top to bottom
        rows.setdefault(round(y), []).append(fragment)
    notes = [" ".join(parts) for parts in rows.values()]
    if not NOTE_START.match(notes[0]):
        return text
    wanted = {_letters(note) for note in notes}
    return "\n".join(
        FOOTNOTE + line if line.strip() and _letters(line) in wanted else line
        for line in text.split("\n")
    )


def _letters(line: str) -> str:
    """A line without its spacing, which the text and the fragments render differently."""
    return re.sub(r"\s+", "", line)
