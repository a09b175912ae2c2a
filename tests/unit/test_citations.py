"""Sentences, quotes and citation markers: the pure functions behind every cited answer."""

from __future__ import annotations

import logging

import pytest

from retrieval.answer.citations import (
    MIN_SENTENCE_CHARS,
    QUOTE_JOIN,
    Sentence,
    check_markers,
    cite,
    locator_for,
    markers,
    quotable_sentences,
    quote_of,
    source_label,
    split_sentences,
    verify_quote,
)
from retrieval.answer.generative import claim_citation
from retrieval.models import Passage

PASSAGE = (
    "Article 5 — Time limits\n"
    "1. Under Art. 5 of Law No. 12 the petition is registered on the day of receipt. "
    "The acknowledgement is sent within three working days.\n"
    "2. See e.g. the register of petitions. Short one.\n"
    "Is the decision final? It may be appealed within 30 days.\n"
    "يُبت في البلاغ خلال ٦٠ يومًا من تاريخ تسجيله. وتمدد المهلة مرة واحدة فقط."
)


def texts(text: str) -> list[str]:
    return [s.text for s in split_sentences(text)]


def test_sentences_are_split_per_line_and_at_sentence_ends() -> None:
    assert texts(PASSAGE) == [
        "Article 5 — Time limits",
        "1. Under Art. 5 of Law No. 12 the petition is registered on the day of receipt.",
        "The acknowledgement is sent within three working days.",
        "2. See e.g. the register of petitions.",
        "Is the decision final?",
        "It may be appealed within 30 days.",
        "يُبت في البلاغ خلال ٦٠ يومًا من تاريخ تسجيله.",
        "وتمدد المهلة مرة واحدة فقط.",
    ]


def test_offsets_map_back_to_the_text_exactly() -> None:
    for sentence in split_sentences(PASSAGE):
        assert PASSAGE[sentence.start : sentence.end] == sentence.text


@pytest.mark.parametrize(
    "sentence",
    [
        "Requests under Art. 5 are registered by the Petitions Unit.",
        "The form No. 12 is signed by the head of the unit.",
        "The rules of para. 3 apply, cf. the annex to this Directive.",
        "1. The petition is registered on the day it is received.",
        "As set out in Arts. 4 and 5, the unit keeps one register.",
    ],
)
def test_abbreviations_and_paragraph_numbers_do_not_end_a_sentence(sentence: str) -> None:
    assert texts(sentence) == [sentence]


def test_closing_quote_after_the_full_stop_stays_with_its_sentence() -> None:
    text = 'The register is called "P-2." The unit keeps it in electronic form.'

    assert texts(text) == ['The register is called "P-2."', "The unit keeps it in electronic form."]


def test_fragments_shorter_than_the_minimum_are_left_out() -> None:
    short = "x" * (MIN_SENTENCE_CHARS - 2) + "."

    assert split_sentences(short) == []
    assert texts(f"{short} The remaining sentence is long enough.") == [
        "The remaining sentence is long enough."
    ]


def test_offsets_skip_leading_and_trailing_whitespace() -> None:
    text = "   Indented first sentence of the passage.   Second sentence of the passage here.\n"

    for sentence in split_sentences(text):
        assert text[sentence.start : sentence.end] == sentence.text
    assert len(split_sentences(text)) == 2


def test_verify_quote_accepts_only_verbatim_slices() -> None:
    passage = "1. A petition shall be answered within thirty days of its registration."

    assert verify_quote("answered within thirty days", passage)
    assert verify_quote(passage, passage)
    assert not verify_quote("answered within 30 days", passage)
    assert not verify_quote("Answered within thirty days", passage)
    assert not verify_quote("", passage)


def test_every_split_sentence_verifies_against_its_passage() -> None:
    assert all(verify_quote(s.text, PASSAGE) for s in split_sentences(PASSAGE))


def test_markers_in_order_of_appearance() -> None:
    answer = "First rule [2]. Second rule [1][3]. Again [2]. Not a marker: [x] [ 4]."

    assert markers(answer) == [2, 1, 3, 2]


def test_check_markers_lists_the_unresolved_ones() -> None:
    answer = "A [1]. B [2]. C [5]. D [5]."

    assert check_markers(answer, {1, 2}) == [5, 5]
    assert check_markers(answer, {1, 2, 5}) == []
    assert check_markers("No markers at all.", set()) == []


# --- enumerated points, lead-ins and locators ---------------------------------------------------

POINTS = (
    "Notification of a personal data breach\n"
    "3. The notification referred to in paragraph 1 shall at least: (a) describe the nature of "
    "the personal data breach; (b) communicate the name and contact details of the data "
    "protection officer; and (c) describe the likely consequences of the personal data breach.\n"
    "4. Where it is not possible to provide the information at the same time, it may be "
    "provided in phases."
)


def sentence_starting(text: str, prefix: str) -> Sentence:
    return next(s for s in split_sentences(text) if s.text.startswith(prefix))


def test_each_point_of_a_run_on_list_is_its_own_sentence_with_its_lead_in() -> None:
    points = [s for s in split_sentences(POINTS) if s.point]

    assert [s.point for s in points] == ["a", "b", "c"]
    assert all(s.lead_in is not None and s.lead_in.text.endswith("at least:") for s in points)
    assert sentence_starting(POINTS, "4. Where").lead_in is None


def test_a_quoted_point_carries_its_lead_in_and_every_part_is_verbatim() -> None:
    first = quote_of(POINTS, sentence_starting(POINTS, "(a)"))
    later = quote_of(POINTS, sentence_starting(POINTS, "(c)"))

    assert first.startswith("3. The notification")
    assert first.endswith("personal data breach;")
    assert later == (
        "3. The notification referred to in paragraph 1 shall at least: … "
        "(c) describe the likely consequences of the personal data breach."
    )
    assert verify_quote(first, POINTS)
    assert verify_quote(later, POINTS)
    assert not verify_quote(later.replace("likely", "possible"), POINTS)


def test_a_long_lead_in_is_shortened_to_its_last_words() -> None:
    lead = "1. " + "The controller, having regard to the nature of the processing, " * 4 + "shall:"
    text = f"{lead} (a) keep a record; (b) inform the authority without undue delay."

    quote = quote_of(text, sentence_starting(text, "(b)"))

    assert quote.startswith("…")
    assert quote.endswith("(b) inform the authority without undue delay.")
    assert len(quote) < len(lead)
    assert verify_quote(quote, text)


def test_locator_names_paragraph_and_point() -> None:
    assert locator_for("Article 33", POINTS, sentence_starting(POINTS, "(b)")) == "Article 33(3)(b)"
    assert locator_for("Article 33", POINTS, sentence_starting(POINTS, "4. Where")) == (
        "Article 33(4)"
    )
    assert locator_for("¶ 4", POINTS, sentence_starting(POINTS, "(b)")) == "¶ 4"


def test_source_label_names_the_article_once() -> None:
    assert source_label("GDPR Article 33", "Article 33(1)") == "GDPR Article 33(1)"
    assert (
        source_label("Bộ luật Lao động 2019", "Điều 35(1)") == "Bộ luật Lao động 2019, Điều 35(1)"
    )
    assert source_label("Report", "") == "Report"


# --- building a citation -------------------------------------------------------------------------


def as_passage(text: str, locator: str = "Article 33") -> Passage:
    return Passage(
        chunk_id="gdpr.md::v1::7", doc_id="gdpr.md", text=text, locator=locator,
        title="GDPR Article 33", language="en", source="https://lex.example/gdpr",
        date="2016-04-27", group_id="", score=0.9, dense_score=0.81234, translations=("fr",),
    )  # fmt: skip


def test_a_citation_quotes_its_sentences_where_the_first_one_sits() -> None:
    point, later = sentence_starting(POINTS, "(b)"), sentence_starting(POINTS, "4. Where")

    citation = cite(2, as_passage(POINTS), [point, later], 0.876543)

    assert citation.n == 2
    assert citation.locator == "Article 33(3)(b)"
    assert citation.quote == quote_of(POINTS, point) + QUOTE_JOIN + later.text
    assert verify_quote(citation.quote, citation.text)
    assert (citation.doc_id, citation.title, citation.source, citation.date) == (
        "gdpr.md", "GDPR Article 33", "https://lex.example/gdpr", "2016-04-27"
    )  # fmt: skip
    assert citation.translations == ("fr",)
    assert citation.score == 0.8765


def test_a_citation_without_sentences_quotes_the_whole_passage() -> None:
    citation = cite(1, as_passage(f"  {POINTS}\n"), [], 0.5)

    assert citation.quote == POINTS
    assert citation.locator == "Article 33"


def test_a_quote_the_verifier_cannot_prove_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    text = "The register is kept … … … by the competent authority at all times."
    [sentence] = split_sentences(text)

    with caplog.at_level(logging.ERROR, logger="retrieval.answer.citations"):
        citation = cite(1, as_passage(text), [sentence], 0.5)

    assert citation.quote == text
    assert "not verbatim" in caplog.text


def test_an_article_chunks_heading_line_is_never_quoted() -> None:
    article = as_passage(PASSAGE, locator="Article 5(1)")

    quotable = [s.text for s in quotable_sentences(article)]

    assert quotable == texts(PASSAGE)[1:]


def test_a_generated_answers_quote_skips_the_heading_its_claim_shares_words_with() -> None:
    claim = "Article 5 sets the time limits: registration on the day of receipt."

    citation = claim_citation(1, as_passage(PASSAGE, locator="Article 5(1)"), [claim], "en")

    assert citation.quote.startswith("1. Under Art. 5 of Law No. 12 the petition is registered")
