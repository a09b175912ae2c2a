"""Charts drawn on the server as inline SVG: no scripts, no assets from the internet."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from html import escape

from retrieval.models import Document

PALETTE = ("#2f6f4f", "#c98a1b", "#a33b3b", "#3b5ba3", "#7a4ba3", "#3b9aa3", "#777777")
OUTCOME_COLOURS = {"answer": "#2f6f4f", "closest": "#c98a1b", "not_covered": "#a33b3b"}


def stacked_bars_svg(
    days: Sequence[str],
    counts: Mapping[str, Mapping[str, int]],
    series: Sequence[str],
    labels: Mapping[str, str],
    colours: Mapping[str, str] | None = None,
) -> str:
    """One bar per day (``days``, ISO dates), stacked by ``series``; ``counts[day][series]``."""
    colours = colours or {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(series)}
    width, height, left, bottom = 640, 200, 28, 34
    top = max((sum(counts.get(d, {}).values()) for d in days), default=0) or 1
    slot = (width - left) / max(len(days), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height + 28 + 18 * len(series)}" role="img"'
        f' xmlns="http://www.w3.org/2000/svg">',
        f'<text x="0" y="12" class="axis">{top}</text>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}"'
        ' stroke="#999"/>',
    ]
    scale = (height - bottom - 16) / top
    for i, day in enumerate(days):
        x, y = left + i * slot, float(height - bottom)
        for name in series:
            value = counts.get(day, {}).get(name, 0)
            if not value:
                continue
            h = value * scale
            y -= h
            parts.append(
                f'<rect x="{x + slot * 0.1:.1f}" y="{y:.1f}" width="{slot * 0.8:.1f}"'
                f' height="{h:.1f}" fill="{colours[name]}"><title>{escape(day)}:'
                f" {escape(labels.get(name, name))} {value}</title></rect>"
            )
        if len(days) <= 16 or i % max(1, len(days) // 8) == 0:
            parts.append(
                f'<text x="{x + slot / 2:.1f}" y="{height - bottom + 14}" class="axis"'
                f' text-anchor="middle">{escape(day[5:])}</text>'
            )
    for j, name in enumerate(series):
        y = height + 8 + 18 * j
        parts.append(f'<rect x="{left}" y="{y}" width="12" height="12" fill="{colours[name]}"/>')
        parts.append(
            f'<text x="{left + 18}" y="{y + 11}" class="legend">{escape(labels.get(name, name))}'
            "</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def timeline_svg(versions: Sequence[Document], today: str) -> str:
    """A work's versions as bars from ``valid_from`` to ``valid_until`` (open ends reach the
    right edge), with a line at today."""
    dates = [_day(d) for v in versions for d in (v.valid_from, v.valid_until, v.date)]
    known = [d for d in dates if d is not None] + [dt.date.fromisoformat(today)]
    first = min(known) - dt.timedelta(days=30)
    last = max(known) + dt.timedelta(days=90)
    span = max((last - first).days, 1)
    width, row, left = 640, 26, 4

    def x(date: str) -> float:
        day = _day(date) or first
        return left + (day - first).days / span * (width - 2 * left)

    height = row * len(versions) + 24
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img"'
        ' xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, v in enumerate(versions):
        start = x(v.valid_from) if _day(v.valid_from) else left
        end = x(v.valid_until) if _day(v.valid_until) else width - left
        colour = "#a33b3b" if v.status == "repealed" else "#2f6f4f"
        label = f"{v.doc_id} ({v.language}) {v.valid_from or '…'} – {v.valid_until or '…'}"
        parts.append(
            f'<rect x="{start:.1f}" y="{i * row + 4}" width="{max(end - start, 2):.1f}"'
            f' height="{row - 8}" fill="{colour}" opacity="0.8"><title>{escape(label)}</title>'
            "</rect>"
        )
        parts.append(
            f'<text x="{start + 4:.1f}" y="{i * row + row / 2 + 4}" class="bar-label">'
            f"{escape(v.doc_id)}</text>"
        )
    now = x(today)
    parts.append(f'<line x1="{now:.1f}" y1="0" x2="{now:.1f}" y2="{height - 16}" stroke="#000"'
                 ' stroke-dasharray="4 3"/>')  # fmt: skip
    parts.append(
        f'<text x="{now:.1f}" y="{height - 4}" class="axis" text-anchor="middle">'
        f"{escape(today)}</text></svg>"
    )
    return "".join(parts)


def _day(value: str) -> dt.date | None:
    """An ISO date, or None for "" or anything else (a year alone, a typo)."""
    try:
        return dt.date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None
