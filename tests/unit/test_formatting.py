"""Answer -> Telegram HTML: escaping by construction, citations, the 4096 split, plain fallback.

Every rendered message is checked with the loopback server's Telegram HTML validator, the same
check the end-to-end tests rely on.
"""

from __future__ import annotations

import re

import pytest
import yaml

from bot.telegram_bot import telegram_html
from bot.telegram_bot.telegram_html import (
    MAX_MESSAGE,
    citation_line,
    render_answer,
    render_documents,
    render_passage,
    render_sources,
    render_translations,
    split_message,
    to_plain,
    utf16_len,
)
from bot.terminal.terminal_text import render_ingest
from retrieval.models import Answer, Citation, Document, IngestReport, NearestDocument, Passage
from retrieval.prompts import Prompts
from testkit import ROOT
from testkit.loopback_botapi import ApiError, visible_text


@pytest.fixture(scope="module")
def prompts() -> Prompts:
    return Prompts()


def cite(n: int = 1, **kw: object) -> Citation:
    fields: dict[str, object] = {
        "n": n,
        "chunk_id": f"doc::v1::{n}",
        "doc_id": "doc",
        "title": "Directive on Petitions",
        "locator": "Article 3(2)",
        "source": "https://lex.example/ig?a=1&b=2",
        "date": "2024-03-18",
        "language": "en",
        "quote": "An oral petition shall be recorded on Form P-2.",
        "text": "Article 3\n2. An oral petition shall be recorded on Form P-2.",
        "score": 0.9,
        "translations": ("fr",),
    }
    fields.update(kw)
    return Citation(**fields)  # type: ignore[arg-type]


def answer(text: str = "Use Form P-2 [1].", citations: list[Citation] | None = None) -> Answer:
    return Answer("q", "en", text, False, [cite()] if citations is None else citations)


def valid(html_text: str) -> str:
    """The visible text, asserting Telegram would accept the markup and the length."""
    shown = visible_text(html_text, "HTML")
    assert utf16_len(shown) <= MAX_MESSAGE
    return shown


def test_answer_lists_numbered_citations_with_link_locator_and_date(prompts: Prompts) -> None:
    html_text = render_answer(answer(citations=[cite(1), cite(2, source="", locator="")]), prompts)
    shown = valid(html_text)
    assert "Use Form P-2 [1]." in shown
    assert "[1] Directive on Petitions, Article 3(2) (2024-03-18)" in shown
    assert '<a href="https://lex.example/ig?a=1&amp;b=2">Directive on Petitions</a>' in html_text
    assert "[2] Directive on Petitions (2024-03-18)" in shown
    assert html_text.count("<a ") == 1  # no link without a URL source


@pytest.mark.parametrize(
    "hostile",
    ["<script>alert(1)</script>", "a < b & c > d", "</b><i>", "&amp; &lt;", '"><a href="x">'],
)
def test_everything_from_the_corpus_is_escaped(prompts: Prompts, hostile: str) -> None:
    c = cite(title=hostile, locator=hostile, date=hostile, text=hostile, quote=hostile)
    a = answer(text=f"Answer {hostile} [1]", citations=[c])
    for html_text in (render_answer(a, prompts), render_sources(a, prompts)):
        shown = valid(html_text)
        assert hostile in shown  # shown literally, never interpreted


def test_only_http_sources_become_links() -> None:
    assert "<a " not in citation_line(cite(source="javascript:alert(1)"))
    assert "<a " not in citation_line(cite(source="file:///etc/passwd"))
    assert '<a href="http://x.example/">' in citation_line(cite(source="http://x.example/"))


def test_refusal_has_no_sources_block(prompts: Prompts) -> None:
    a = Answer("q", "en", "Not covered.\n- Directive (doc)", True, [],
               [NearestDocument("doc", "Directive", "en", 0.5)])  # fmt: skip
    shown = valid(render_answer(a, prompts))
    assert shown == "Not covered.\n- Directive (doc)"


def test_sources_expansion_quotes_each_passage_verbatim_in_expandable_blockquote(
    prompts: Prompts,
) -> None:
    a = answer(citations=[cite(1), cite(2, text="Second <passage> & more")])
    html_text = render_sources(a, prompts)
    assert html_text.count("<blockquote expandable>") == 2
    shown = valid(html_text)
    assert "Article 3\n2. An oral petition shall be recorded on Form P-2." in shown
    assert "Second <passage> & more" in shown


def test_translations_name_the_language_and_cite_the_other_version(prompts: Prompts) -> None:
    p = Passage("doc-fr::v::1", "doc-fr", "Le formulaire P-2 <oral>.", "Article 3", "Directive FR",
                "fr", "https://lex.example/fr", "2024-03-18", "g", 0.0)  # fmt: skip
    shown = valid(render_translations([(cite(1), [p])], prompts, "en"))
    assert "[1] French — Directive FR, Article 3 (2024-03-18)" in shown
    assert "Le formulaire P-2 <oral>." in shown
    assert valid(render_translations([(cite(1), [])], prompts, "fr")) == prompts.get(
        "bot_translations_none", "fr"
    )


def test_inline_passage_is_clipped_to_fit_a_message() -> None:
    p = Passage("c", "d", "word " * 5000, "Art. 1", "T", "en", "", "", "g", 0.0)
    shown = valid(render_passage(p))
    assert shown.startswith("T, Art. 1\n")
    assert shown.endswith("…")


def test_documents_list_shows_ids_for_forget(prompts: Prompts) -> None:
    docs = [
        Document("b.md", "b.md", "Beta & co", "fr", "h", "v", date="2024-01-01"),
        Document("a.md", "a.md", "Alpha", "en", "h", "v", source="https://x.example/a"),
    ]
    shown = valid(render_documents(docs, prompts, "en"))
    assert shown.splitlines() == [
        prompts.get("bot_docs_header", "en", count=2),
        "• Alpha (en) a.md",
        "• Beta & co (fr, 2024-01-01) b.md",
    ]
    assert valid(render_documents([], prompts, "en")) == prompts.get("bot_docs_empty", "en")


def test_short_message_is_not_split() -> None:
    assert split_message("<b>hi</b>") == ["<b>hi</b>"]
    assert split_message("   ") == []


def test_long_answer_splits_at_paragraphs_and_keeps_citation_lines_whole(
    prompts: Prompts,
) -> None:
    paragraphs = "\n\n".join(f"Paragraph {i}: " + "shall be recorded " * 40 for i in range(12))
    citations = [cite(n, title=f"Directive number {n} " * 5) for n in range(1, 60)]
    html_text = render_answer(answer(text=paragraphs, citations=citations), prompts)
    assert utf16_len(html_text) > 3 * MAX_MESSAGE
    pieces = split_message(html_text)
    shown = [valid(p) for p in pieces]
    assert len(pieces) >= 4
    lines = {line for s in shown for line in s.splitlines()}
    for c in citations:  # every citation line arrives whole, in one message
        assert visible_text(citation_line(c), "HTML") in lines
    for i in range(12):  # paragraphs are not cut (each is far below the limit)
        assert any(s.count(f"Paragraph {i}:") == 1 and "recorded" in s for s in shown)
    whole = visible_text(html_text, "HTML")
    assert re.sub(r"\s+", "", "".join(shown)) == re.sub(r"\s+", "", whole)


def test_oversized_blockquote_is_closed_and_reopened_in_each_piece(prompts: Prompts) -> None:
    a = answer(citations=[cite(1, text="Article 9. " + "The petitioner & official sign. " * 400)])
    pieces = split_message(render_sources(a, prompts))
    assert len(pieces) >= 3
    for piece in pieces:
        valid(piece)
    assert all(p.count("<blockquote expandable>") == 1 for p in pieces[1:])


def test_split_counts_utf16_units_like_telegram() -> None:
    text = "😀" * 3000  # 6000 UTF-16 units, 3000 code points
    pieces = split_message(text)
    assert len(pieces) == 2
    assert all(utf16_len(p) <= MAX_MESSAGE for p in pieces)
    assert "".join(pieces) == text


def test_split_never_cuts_an_entity_or_a_tag() -> None:
    text = ("&amp;" * 1000) + ('<a href="https://x.example/a">link</a>' * 200)
    for piece in split_message(text, limit=500):
        valid(piece)
        assert utf16_len(piece) <= 500


def test_plain_split_leaves_markup_characters_alone() -> None:
    text = "a < b & c " * 1000
    pieces = split_message(text, html=False)
    assert all(utf16_len(p) <= MAX_MESSAGE for p in pieces)
    assert "".join(pieces) == text


def test_plain_fallback_keeps_every_word_and_link(prompts: Prompts) -> None:
    html_text = render_answer(answer(text="Use <Form> P-2 & sign [1]."), prompts)
    plain = to_plain(html_text)
    assert "<a" not in plain
    assert "&amp;" not in plain
    assert "Use <Form> P-2 & sign [1]." in plain
    assert "Directive on Petitions (https://lex.example/ig?a=1&b=2)" in plain


def test_validator_rejects_what_telegram_rejects() -> None:
    for bad in [
        "<unknown>x</unknown>",
        "<b>x",
        "x</b>",
        "a < b",
        "a & b",
        "&nbsp;",
        "<b><i>x</b></i>",
    ]:
        with pytest.raises(ApiError, match="can't parse entities"):
            visible_text(bad, "HTML")
    assert visible_text("<b>a</b> &lt; &#65;", "HTML") == "a < A"


def test_clip_collapses_whitespace() -> None:
    assert telegram_html.clip("a\n\n b", 10) == "a b"
    assert telegram_html.clip("abcdef", 4) == "abc…"


def test_every_bot_string_is_translated_with_the_same_fields(prompts: Prompts) -> None:
    root = ROOT / "prompts"
    english = yaml.safe_load((root / "en" / "bot.yaml").read_text(encoding="utf-8"))
    for language in ("fr", "es", "de", "pl", "id", "ar", "vi", "pt", "ru"):
        table = yaml.safe_load((root / language / "bot.yaml").read_text(encoding="utf-8"))
        assert set(table) <= set(english), language
        emoji_only = {"bot_button_helpful", "bot_button_unhelpful"}
        assert set(english) - set(table) <= emoji_only, language
        for key, text in table.items():
            fields = set(re.findall(r"{(\w+)}", text))
            assert fields == set(re.findall(r"{(\w+)}", english[key])), (language, key)


def test_the_ingest_summary_warns_of_empty_pages_and_headings_out_of_order() -> None:
    read = {"doc_id": "act.pdf", "articles": "1–9", "chunks": 12, "pages": 5, "ocr_pages": 0,
            "footnotes": 2, "empty_pages": [3, 4], "out_of_order": ["7 → 3"]}  # fmt: skip
    clean = {**read, "doc_id": "clean.pdf", "empty_pages": [], "out_of_order": []}

    shown = render_ingest(IngestReport(added=2, chunks=20, read=[read, clean]))

    assert "  WARNING act.pdf: pages with no text: 3, 4\n" in shown
    assert "  WARNING act.pdf: article headings out of order: 7 → 3\n" in shown
    assert "clean.pdf" not in shown
