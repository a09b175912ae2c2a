"""Pages set in two columns, read column by column.

pypdf gives a page's text in the order the file draws it. Most typesetters draw one column,
then the other, and that order is the reading order; some draw line by line across the page,
and then each line of the left column is followed by the line beside it in the right column:
every sentence is cut into pieces of two. Where PDFium (``pypdfium2``) finds a page in two
columns, that page is read through PDFium by region instead: what spans the page (a title, a
running header) in its place, and between such bands the left column, then the right one.

A page is taken as two columns only when it has a clear gutter: a vertical band near the
middle that no text line crosses but a few full-width ones, with lines of prose on both sides
(at least ``MIN_LINES`` each, mostly as wide as their column). A table of short terms beside
their definitions has no such left side, and a page of ordinary text crosses the middle on
almost every line, so neither is ever cut.
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

import numpy as np

MIN_LINES = 6  # text lines on each side of the gutter
MAX_SPANNING = 0.25  # share of a page's lines that may cross the gutter (titles, headers)
FULL_LINE = 0.6  # a prose line fills at least this share of its column's width (median)
Rect = tuple[float, float, float, float]  # left, bottom, right, top (PDF points)


def column_gap(rects: list[Rect], width: float) -> tuple[float, float] | None:
    """Where two columns of prose leave a gap: (the left column's right edge, the right
    column's left edge), or None for any other page."""
    if len(rects) < 2 * MIN_LINES or width <= 0:
        return None
    coverage = np.zeros(int(width) + 2, dtype=np.int32)  # text lines over each point of x
    for x0, _, x1, _ in rects:
        coverage[max(0, int(x0))] += 1
        coverage[min(len(coverage) - 1, int(x1) + 1)] -= 1
    coverage = np.cumsum(coverage)
    low, high = int(0.3 * width), int(0.7 * width)
    fewest = int(coverage[low:high].min())
    if fewest > MAX_SPANNING * len(rects):
        return None
    empty = np.flatnonzero(coverage[low:high] == fewest) + low  # the band's points, in runs
    runs = np.split(empty, np.flatnonzero(np.diff(empty) > 1) + 1)
    band = max(runs, key=len)
    if len(band) < 0.015 * width:
        return None
    gutter = float(band[0] + band[-1]) / 2
    left = [r for r in rects if r[2] <= gutter]
    right = [r for r in rects if r[0] >= gutter]
    if len(left) < MIN_LINES or len(right) < MIN_LINES:
        return None
    left_edge = max(r[2] for r in left)
    right_edge = float(Counter(round(r[0]) for r in right).most_common(1)[0][0])  # aligned
    if right_edge <= left_edge:
        return None
    if sum(_spans((left_edge, right_edge), r) for r in rects) > MAX_SPANNING * len(rects):
        return None
    split = (left_edge + right_edge) / 2  # each column's share of the page
    if not (_prose(left, min(r[0] for r in left), split)
            and _prose(right, split, max(r[2] for r in right))):  # fmt: skip
        return None
    return left_edge, right_edge


def _spans(gap: tuple[float, float], rect: Rect) -> bool:
    """The line reaches into the gap (by more than a point): a title or header across the
    page."""
    return rect[0] < gap[1] - 1 and rect[2] > gap[0] + 1


def _prose(lines: list[Rect], left: float, right: float) -> bool:
    """Most lines fill their column, as wrapped text does (table cells do not)."""
    return statistics.median(r[2] - r[0] for r in lines) >= FULL_LINE * (right - left)


def read_in_columns(page: Any) -> str | None:
    """A PDFium page's text read column by column, or None when it is not in two columns."""
    textpage = page.get_textpage()
    try:
        rects = [textpage.get_rect(i) for i in range(textpage.count_rects())]
        width, height = page.get_size()
        gap = column_gap(rects, width)
        if gap is None:
            return None
        split = sum(gap) / 2
        spanning = sorted((r for r in rects if _spans(gap, r)), key=lambda r: r[3], reverse=True)
        parts: list[str] = []
        top = height
        for band in [*spanning, (0.0, 0.0, width, 0.0)]:  # the last band: the page's foot
            bottom = band[3]
            if top > bottom:
                parts.append(textpage.get_text_bounded(0, bottom, split, top))
                parts.append(textpage.get_text_bounded(split, bottom, width, top))
            if band[1] < band[3]:
                parts.append(textpage.get_text_bounded(0, band[1], width, band[3]))
            top = min(top, band[1])
        text = "\n".join(part.strip() for part in parts if part.strip())
        return text.replace("\r\n", "\n").replace("\r", "\n")
    finally:
        textpage.close()


def pages_in_columns(data: bytes) -> dict[int, str]:
    """The pages of a PDF set in two columns, read column by column, by page index. A file
    PDFium cannot open gives none: pypdf's reading stands."""
    import pypdfium2

    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError:
        return {}
    try:
        found = {}
        for index in range(len(document)):
            page = document[index]
            try:
                text = read_in_columns(page)
            finally:
                page.close()
            if text is not None:
                found[index] = text
        return found
    finally:
        document.close()
