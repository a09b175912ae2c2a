"""Answers, sources and lists as Telegram HTML; the 4096-character split; a plain fallback.

Pure functions. Every piece of text from the corpus, the assistant or the prompts passes through
``html.escape`` here, so a title, a quote or a question can never inject markup: the only tags
in the output are the ones written in this module.

Telegram counts a message's length in UTF-16 code units after parsing the markup. We measure the
HTML source in UTF-16 units, which is never shorter, so every piece ``split_message`` returns
fits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from html import escape, unescape
from typing import Any

from retrieval.answer.citations import source_label
from retrieval.models import Answer, Citation, Document, Passage
from retrieval.parts import describe_keys, group_acts
from retrieval.prompts import Prompts
from retrieval.versions import Change

MAX_MESSAGE = 4096
MAX_TITLE = 200
MAX_INLINE_TEXT = 3000

_ATOM = re.compile(r"<[^<>]*>|&#?\w+;")
_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)([^<>]*)>")
_LINK = re.compile(r'<a\s+href="([^"]*)"\s*>(.*?)</a>', re.DOTALL)


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (astral characters such as emoji count twice)."""
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, limit: int) -> str:
    """Whitespace collapsed, cut to ``limit`` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _is_url(source: str) -> bool:
    return source.startswith(("https://", "http://"))


def _title(title: str, source: str) -> str:
    shown = escape(clip(title, MAX_TITLE))
    if _is_url(source):
        return f'<a href="{escape(source, quote=True)}">{shown}</a>'
    return shown


def _named(title: str, locator: str, source: str) -> str:
    """The linked title, then the locator (once: "GDPR Article 33(1)", "Directive, Article 3")."""
    rest = source_label(title, locator)[len(title.rstrip()) :]
    return _title(title, source) + escape(rest)


def citation_line(c: Citation) -> str:
    """``[n] Title, Locator (date)`` with the title linked when the source is a URL."""
    line = f"[{c.n}] {_named(c.title, c.locator, c.source)}"
    if c.date:
        line += f" ({escape(c.date)})"
    return line


def _header(text: str) -> str:
    return f"<b>{escape(text)}</b>"


def render_answer(answer: Answer, prompts: Prompts) -> str:
    """The answer text, then its numbered sources.

    The three outcomes: ``answer`` lists its sources; ``closest`` lists the same numbered
    citations under "Closest passages" (its text already says none answers directly);
    ``not_covered`` has no citations, its text names the nearest documents.
    """
    lang = answer.language
    parts = [escape(answer.answer.strip())]
    if answer.citations:
        header = "bot_closest_header" if answer.outcome == "closest" else "bot_sources_header"
        lines = [citation_line(c) for c in answer.citations]
        parts.append("\n".join([_header(prompts.get(header, lang)), *lines]))
    return "\n\n".join(parts)


def render_change_notice(
    question: str, found: Sequence[Change], prompts: Prompts, language: str
) -> str:
    """A change notice: what changed in the rules quoted for ``question``, and from when."""
    lines = [_header(prompts.get("bot_alert_header", language)),
             escape(prompts.get("bot_alert_question", language, question=question))]  # fmt: skip
    for change in found:
        lines.append("• " + escape(prompts.get(f"bot_alert_{change.kind}", language,
                                                **change.to_json())))  # fmt: skip
    return "\n".join(lines)


def render_sources(answer: Answer, prompts: Prompts) -> str:
    """Each cited passage verbatim, folded in an expandable quote under its citation line."""
    blocks = [_header(prompts.get("bot_passages_header", answer.language))]
    for c in answer.citations:
        passage = escape(c.text.strip() or c.quote.strip())
        blocks.append(f"{citation_line(c)}\n<blockquote expandable>{passage}</blockquote>")
    return "\n\n".join(blocks)


def _passage_line(p: Passage) -> str:
    line = _named(p.title, p.locator, p.source)
    if p.date:
        line += f" ({escape(p.date)})"
    return line


def render_translations(
    versions: Iterable[tuple[Citation, list[Passage]]], prompts: Prompts, language: str
) -> str:
    """For each citation, the same passage in the other language versions of its document."""
    blocks = []
    for citation, passages in versions:
        for p in passages:
            name = prompts.language_name(p.language, language)
            blocks.append(
                f"[{citation.n}] {escape(name)} — {_passage_line(p)}\n"
                f"<blockquote expandable>{escape(p.text.strip())}</blockquote>"
            )
    if not blocks:
        return escape(prompts.get("bot_translations_none", language))
    return "\n\n".join([_header(prompts.get("bot_translations_header", language)), *blocks])


def render_passage(p: Passage) -> str:
    """One search hit as a self-contained message (inline mode): citation line, then the text."""
    return f"{_passage_line(p)}\n<blockquote>{escape(clip(p.text, MAX_INLINE_TEXT))}</blockquote>"


def render_documents(
    documents: list[Document], prompts: Prompts, language: str, work: str | None = None
) -> str:
    """``/docs``: one line per document with the id an admin needs for ``/forget``; an act
    kept one file per article is one line (``/docs WORK`` lists its parts)."""
    if work is not None:
        documents = [d for d in documents if d.work == work]
    if not documents:
        return escape(prompts.get("bot_docs_empty", language))
    lines = [_header(prompts.get("bot_docs_header", language, count=len(documents)))]
    entries: list[tuple[tuple[str, str], str]] = []  # (sort key, line)
    for act in group_acts(documents):
        if act.in_parts and work is None:
            first = act.documents[0]
            summary = prompts.get(
                "bot_docs_act", language, count=len(act.documents),
                articles=describe_keys(act.keys), work=act.work,
            )  # fmt: skip
            line = f"• {_title(first.title, first.source)}: {escape(summary)}"
            entries.append(((first.title.lower(), ""), line))
            continue
        for d in act.documents:
            line = f"• {_title(d.title, d.source)} ({escape(d.language)}"
            line += f", {escape(d.date)})" if d.date else ")"
            line += f" <code>{escape(d.doc_id)}</code>"
            entries.append(((d.title.lower(), d.language), line))
    if work is None:  # an act's parts stay in article order
        entries.sort(key=lambda entry: entry[0])
    lines.extend(line for _, line in entries)
    return "\n".join(lines)


def render_mapping(header: str, values: Mapping[str, Any]) -> str:
    """``/stats``: a header and ``key: value`` lines, values flattened one level."""
    lines = [_header(header)]
    for key, value in values.items():
        if isinstance(value, Mapping):
            shown = ", ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list | tuple):
            shown = ", ".join(str(v) for v in value)
        else:
            shown = str(value)
        lines.append(f"{escape(str(key))}: {escape(shown)}")
    return "\n".join(lines)


def to_plain(html_text: str) -> str:
    """Our HTML as plain text: tags dropped, links as ``title (url)``, entities decoded.

    Used when Telegram refuses the markup, so the user still gets every word and every link.
    """
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", html_text)
    return unescape(_TAG.sub("", text))


_Open = tuple[tuple[str, str], ...]  # (name, opening tag) from outermost to innermost


def _cuts(text: str, html: bool) -> list[tuple[int, int, _Open]]:
    """Every position a message may end at: (index, priority, open tags there).

    Priority 3 after a blank line, 2 after a line, 1 after a space, 0 anywhere else. Never
    inside a tag or an entity, nor right after an opening tag.
    """
    cuts: list[tuple[int, int, _Open]] = []
    stack: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        m = _ATOM.match(text, i) if html and text[i] in "<&" else None
        if m is None:
            i += 1
            prev = text[i - 1]
            priority = 1 if prev == " " else 0
            if prev == "\n":
                priority = 3 if text[i - 2 : i] == "\n\n" else 2
            cuts.append((i, priority, tuple(stack)))
            continue
        i = m.end()
        tag = _TAG.fullmatch(m.group())
        if tag is None:  # an entity is one character
            cuts.append((i, 0, tuple(stack)))
        elif tag.group(1):  # closing tag
            if stack and stack[-1][0] == tag.group(2).lower():
                stack.pop()
            cuts.append((i, 0, tuple(stack)))
        else:
            stack.append((tag.group(2).lower(), m.group()))
    return cuts


def _closers(open_tags: _Open) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(open_tags))


def split_message(text: str, limit: int = MAX_MESSAGE, *, html: bool = True) -> list[str]:
    """Split into pieces of at most ``limit`` UTF-16 units, preferring paragraph breaks.

    Falls back to line breaks, then spaces, then any character, so a citation line is cut only
    if it alone is longer than a message. Tags open at a cut are closed at the end of one piece
    and reopened at the start of the next, so every piece is valid on its own.
    """
    if utf16_len(text) <= limit:
        return [text] if text.strip() else []
    cuts = _cuts(text, html)
    prefix_units = [0]
    for ch in text:
        prefix_units.append(prefix_units[-1] + (2 if ord(ch) > 0xFFFF else 1))
    pieces: list[str] = []
    start, k = 0, 0
    opened: _Open = ()
    while start < len(text):
        reopen = "".join(tag for _, tag in opened)
        base = utf16_len(reopen) - prefix_units[start]
        best: dict[int, tuple[int, _Open]] = {}
        while k < len(cuts) and cuts[k][0] <= start:
            k += 1
        j = k
        while j < len(cuts):
            pos, priority, tags = cuts[j]
            if base + prefix_units[pos] > limit:
                break
            if base + prefix_units[pos] + utf16_len(_closers(tags)) <= limit:
                best[priority] = (pos, tags)
            j += 1
        if j == len(cuts) and cuts and cuts[-1][0] == len(text):
            end_tags = cuts[-1][2]
            if base + prefix_units[len(text)] + utf16_len(_closers(end_tags)) <= limit:
                best[4] = (len(text), end_tags)
        if not best:
            msg = f"limit {limit} is too small for the markup around position {start}"
            raise ValueError(msg)
        # The strongest break that still fills half a message, else the strongest there is.
        full = [p for p in best if base + prefix_units[best[p][0]] >= limit // 2]
        end, tags = best[max(full or best)]
        piece = reopen + text[start:end] + _closers(tags)
        if (to_plain(piece) if html else piece).strip():
            pieces.append(piece)
        start, opened = end, tags
    return pieces
