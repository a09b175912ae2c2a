"""Word's automatic numbering, rendered as text: "Article 1", "1.", "(a)".

A .docx stores list numbers as numbering definitions, not text: a paragraph says "level 0 of
list 5", and Word draws "Article 3" beside it. python-docx reads only the paragraph's own text,
so headings and paragraphs numbered that way would reach the chunker without their numbers and
no article or paragraph would be found. ``NumberLabels`` follows the numbering part the way
Word counts (per list, each level restarting below the one that advanced, ``start`` and
``startOverride`` honoured, the style's numbering when the paragraph has none of its own) and
gives each numbered paragraph its label. Bullets are not numbers and get none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_ROMAN = (
    (1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
    (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"),
)  # fmt: skip


def _roman(n: int) -> str:
    out = ""
    for value, letters in _ROMAN:
        while n >= value:
            out += letters
            n -= value
    return out


def _letters(n: int) -> str:
    """1 -> a, 26 -> z, 27 -> aa (Word repeats the letter)."""
    return chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1)


def format_number(n: int, fmt: str) -> str:
    """One level's number in Word's ``numFmt``."""
    if fmt in ("lowerLetter", "upperLetter"):
        text = _letters(n)
        return text.upper() if fmt == "upperLetter" else text
    if fmt in ("lowerRoman", "upperRoman"):
        text = _roman(n)
        return text.upper() if fmt == "upperRoman" else text
    if fmt == "decimalZero":
        return f"{n:02d}"
    return str(n)  # decimal and the many locale formats Word renders as digits here


@dataclass(frozen=True)
class Level:
    start: int = 1
    fmt: str = "decimal"
    text: str = "%1."


@dataclass
class _List:
    levels: dict[int, Level]
    counters: dict[int, int] = field(default_factory=dict)


def _val(element: Any, tag: str) -> str | None:
    child = element.find(f"{W}{tag}") if element is not None else None
    return None if child is None else child.get(f"{W}val")


class NumberLabels:
    """Labels of numbered paragraphs, in document order (call ``label`` for each paragraph)."""

    def __init__(self, document: Any) -> None:
        self._abstract: dict[str, dict[int, Level]] = {}
        self._lists: dict[str, _List] = {}
        self._definitions: dict[str, tuple[str, dict[int, int]]] = {}
        numbering = _numbering_element(document)
        if numbering is None:
            return
        for abstract in numbering.findall(f"{W}abstractNum"):
            levels = {}
            for lvl in abstract.findall(f"{W}lvl"):
                levels[int(lvl.get(f"{W}ilvl", "0"))] = Level(
                    int(_val(lvl, "start") or 1),
                    _val(lvl, "numFmt") or "decimal",
                    _val(lvl, "lvlText") or "",
                )
            self._abstract[abstract.get(f"{W}abstractNumId", "")] = levels
        for num in numbering.findall(f"{W}num"):
            overrides = {
                int(o.get(f"{W}ilvl", "0")): int(start)
                for o in num.findall(f"{W}lvlOverride")
                if (start := _val(o, "startOverride")) is not None
            }
            abstract_id = _val(num, "abstractNumId") or ""
            self._definitions[num.get(f"{W}numId", "")] = (abstract_id, overrides)

    def label(self, paragraph: Any) -> str:
        """The number Word shows before ``paragraph`` ("Article 3", "2.", "(b)"), or ""."""
        num_id, level = _numbering_of(paragraph)
        if num_id is None or num_id == "0" or num_id not in self._definitions:
            return ""
        numbered = self._lists.get(num_id)
        if numbered is None:
            abstract_id, overrides = self._definitions[num_id]
            levels = dict(self._abstract.get(abstract_id, {}))
            for ilvl, start in overrides.items():
                base = levels.get(ilvl, Level())
                levels[ilvl] = Level(start, base.fmt, base.text)
            numbered = self._lists[num_id] = _List(levels)
        definition = numbered.levels.get(level)
        if definition is None or definition.fmt in ("bullet", "none"):
            return ""
        counters = numbered.counters
        counters[level] = counters.get(level, definition.start - 1) + 1
        for deeper in [k for k in counters if k > level]:
            del counters[deeper]  # a deeper level starts again under the next number
        text = definition.text
        for ilvl in range(level, -1, -1):
            own = numbered.levels.get(ilvl, Level())
            value = counters.get(ilvl, own.start)
            text = text.replace(f"%{ilvl + 1}", format_number(value, own.fmt))
        return text.strip()


def _numbering_element(document: Any) -> Any:
    try:
        return document.part.numbering_part.element
    except (KeyError, NotImplementedError, AttributeError):
        return None


def _numbering_of(paragraph: Any) -> tuple[str | None, int]:
    """(numId, level) from the paragraph's own properties, else from its style's chain."""
    ppr = paragraph._p.pPr
    num_pr = ppr.find(f"{W}numPr") if ppr is not None else None
    num_id = _val(num_pr, "numId")
    level = _val(num_pr, "ilvl")
    style = paragraph.style
    seen = 0
    while (num_id is None or level is None) and style is not None and seen < 10:
        style_ppr = style.element.find(f"{W}pPr")
        style_num = style_ppr.find(f"{W}numPr") if style_ppr is not None else None
        num_id = num_id if num_id is not None else _val(style_num, "numId")
        level = level if level is not None else _val(style_num, "ilvl")
        style = style.base_style
        seen += 1
    return num_id, int(level or 0)
