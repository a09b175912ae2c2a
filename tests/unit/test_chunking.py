"""Chunking: article headings in many languages, locators, inline-numbered paragraphs and the
size bounds. Pure functions over strings; the sample corpus is read with the real loader."""

from __future__ import annotations

import re

import pytest

from retrieval.ingest.chunking import chunk_text
from retrieval.ingest.layout import (
    headings_out_of_order,
    paragraph_of,
    parse_articles,
    split_inline_numbered,
    split_points,
)
from retrieval.ingest.loaders import load_document
from retrieval.models import Chunk
from testkit import SAMPLE

PARAGRAPH = (
    "The authority shall examine the request with due care and record every step taken "
    "in the register of petitions kept for that purpose."
)


def locators(text: str, **kwargs: int) -> list[str]:
    return [c.locator for c in chunk_text("doc", text, **kwargs)]


# --- headings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "Article 3 — Time limits\n1. A petition is registered.\n2. It is answered.",
            "Article 3",
            id="en",
        ),
        pytest.param(
            "Article 3 — Délais\n1. La pétition est enregistrée.\n2. Elle est traitée.",
            "Article 3",
            id="fr",
        ),
        pytest.param(
            "Artículo 4. Plazos\n1. La solicitud se presenta por escrito.", "Artículo 4", id="es"
        ),
        pytest.param(
            "§ 3 Fristen\n(1) Die Frist beträgt 30 Tage.\n(2) Sie kann verlängert werden.",
            "§ 3",
            id="de-paragraph-sign",
        ),
        pytest.param(
            "Artikel 5 – Anzeige\n1. Der Bedienstete zeigt den Konflikt an.",
            "Artikel 5",
            id="de-artikel",
        ),
        pytest.param("Art. 7. Protokół\n1. Protokół sporządza inspektor.", "Art. 7", id="pl"),
        pytest.param(
            "Pasal 8\n(1) Laporan disampaikan.\n(2) Laporan diverifikasi.", "Pasal 8", id="id"
        ),
        pytest.param(
            "المادة ٥ — المواعيد\n"
            "١. تسجل العريضة في يوم استلامها.\n٢. يرسل الإشعار خلال ثلاثة أيام.",
            "المادة 5",
            id="ar-arabic-indic-digits",
        ),
        pytest.param(
            "Điều 6. Thời hạn báo cáo\n1. Quà tặng phải được báo cáo trong 5 ngày.",
            "Điều 6",
            id="vi",
        ),
        pytest.param("Artigo 2.º — Âmbito\n1. Aplica-se a todos.", "Artigo 2", id="pt-ordinal"),
    ],
)
def test_article_heading_is_recognised_in_each_language(text: str, expected: str) -> None:
    chunks = chunk_text("doc", text)

    assert [c.locator for c in chunks] == [expected]
    assert chunks[0].text.startswith(text.splitlines()[0])


def test_locator_keeps_the_documents_own_heading_word_and_ascii_number() -> None:
    text = (
        "Preamble of the directive, issued by the Inspector General.\n"
        "المادة ١ — الموضوع\n١. يحدد هذا التوجيه الإجراءات.\n"
        "المادة ٢ — التعريفات\n١. لأغراض هذا التوجيه."
    )

    assert locators(text) == ["¶ 1", "المادة 1", "المادة 2"]


def test_preamble_before_the_first_article_is_cited_by_paragraph() -> None:
    text = (
        "Directive IG-2024/07 on petitions\n"
        "The Inspector General hereby issues the following Directive.\n"
        "Article 1 — Scope\n1. This Directive applies to all officials."
    )

    chunks = chunk_text("doc", text)

    assert [c.locator for c in chunks] == ["¶ 1–2", "Article 1"]
    assert "Article 1" not in chunks[0].text


def test_chapter_titles_between_articles_are_not_cited() -> None:
    text = (
        "Article 1 — Scope\n1. This Directive applies to all officials.\n"
        "Chapter II — Registration\n"
        "Article 2 — Register\n1. Every petition is registered on the day of receipt."
    )

    chunks = chunk_text("doc", text)

    assert [c.locator for c in chunks] == ["Article 1", "Article 2"]
    assert all("Chapter II" not in c.text for c in chunks)


@pytest.mark.parametrize(
    "name",
    [
        "ig-2024-07.en.md",
        "ig-2024-07.fr.md",
        "ig-2024-07.ar.md",
        "ig-2022-15.de.md",
        "ig-2024-02.pl.md",
        "ig-2025-03.pt.md",
        "nac-2023-05.vi.md",
        "nic-2023-12.en.md",
        "nic-2023-12.es.md",
        "nic-2023-12.id.md",
    ],
)
def test_sample_directives_are_cut_into_consecutive_articles(name: str) -> None:
    chunks = chunk_text(name, load_document(SAMPLE / name).text)

    article_chunks = [c for c in chunks if not c.locator.startswith("¶")]
    numbers = [int(re.findall(r"\d+", c.locator)[0]) for c in article_chunks]
    assert len(numbers) >= 10
    assert chunks[0].locator.startswith("¶")  # the title and preamble
    assert numbers == sorted(numbers)
    assert sorted(set(numbers)) == list(range(1, max(numbers) + 1))  # none lost, none invented
    assert [c.index for c in chunks] == list(range(len(chunks)))


# --- body sentences that mention an article -----------------------------------------------


def test_body_sentence_citing_a_later_article_is_not_a_heading() -> None:
    text = (
        "Article 7 — Scope\n"
        "1. This Article applies to complaints against officials.\n"
        "Article 12 shall apply.\n"
        "2. The Petitions Unit keeps the register."
    )

    chunks = chunk_text("doc", text)

    assert [c.locator for c in chunks] == ["Article 7"]
    assert "Article 12 shall apply." in chunks[0].text
    assert "2. The Petitions Unit keeps the register." in chunks[0].text


def test_long_body_sentence_citing_a_later_article_is_not_a_heading() -> None:
    text = (
        "Article 7 — Scope\n"
        "1. This Article applies to complaints against officials.\n"
        "Article 12 shall apply to complaints submitted by officials of the Inspectorate in "
        "the course of their duties which concern matters of internal organisation.\n"
        "2. The Petitions Unit keeps the register."
    )

    assert locators(text) == ["Article 7"]


def test_reference_to_an_earlier_article_is_not_a_heading() -> None:
    text = (
        "Article 7 — Scope\n1. The rules apply.\n"
        "Article 3 — applies accordingly.\n"
        "Article 8 — Register\n1. The register is kept."
    )

    assert locators(text) == ["Article 7", "Article 8"]


def test_a_heading_whose_number_ocr_misread_takes_the_one_number_left_free() -> None:
    """The scanned AI Act read "Article 100" as "Article os"; its text was cited as the end
    of Article 99. Where the numbering leaves more than one number free, nothing is guessed."""
    text = (
        "Article 99\nPenalties\n1. Member States shall lay down rules on penalties.\n"
        "Article os\nAdministrative fines on Union institutions\n1. The Supervisor may fine.\n"
        "Article 101\nFines for providers\n1. The Commission may fine providers.\n"
        "Article l7\nUnknown\n1. A guess would be wrong here.\n"
        "Article 105\nEntry into force\n1. This Regulation enters into force."
    )

    assert locators(text) == ["Article 99", "Article 100", "Article 101", "Article 105"]


# --- inline-numbered paragraphs ---------------------------------------------------------------

INLINE = (
    "Article 9 Retention 1. Case files shall be kept for ten years. 2. Registers of petitions "
    "shall be kept permanently. 3. Destruction of a file shall be recorded in minutes."
)


def test_split_inline_numbered_cuts_on_the_1_2_3_sequence() -> None:
    pieces = split_inline_numbered(INLINE)

    assert pieces == [
        (None, "Article 9 Retention"),
        ("1", "1. Case files shall be kept for ten years."),
        ("2", "2. Registers of petitions shall be kept permanently."),
        ("3", "3. Destruction of a file shall be recorded in minutes."),
    ]


def test_inline_numbered_article_on_one_line_becomes_paragraphs() -> None:
    chunks = chunk_text("doc", INLINE)

    assert [c.locator for c in chunks] == ["Article 9"]
    assert chunks[0].text.splitlines() == [
        "Article 9 Retention",
        "1. Case files shall be kept for ten years.",
        "2. Registers of petitions shall be kept permanently.",
        "3. Destruction of a file shall be recorded in minutes.",
    ]
    _, articles = parse_articles(INLINE)
    assert [p.number for p in articles[0].paragraphs] == ["1", "2", "3"]


def test_inline_paragraphs_in_an_article_body_line_are_split() -> None:
    text = "Article 2 — Fees\nFees apply. 1. The fee is paid in advance. 2. It is not refunded."

    _, articles = parse_articles(text)

    assert [(p.number, p.text) for p in articles[0].paragraphs] == [
        (None, "Fees apply."),
        ("1", "1. The fee is paid in advance."),
        ("2", "2. It is not refunded."),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "A fine of up to VLD 2,000. The fine is paid within 15 days. The authority decides.",
        "The answer is sent within 15 days. The file is then closed.",
        "Submitted in 2024. 2. The register",  # a lone "2." without a "1." before it
        "Only one numbered point 1. Exists here and nothing else.",
    ],
)
def test_amounts_and_day_counts_never_split(text: str) -> None:
    assert split_inline_numbered(text) == [(None, text)]


def test_amount_inside_an_article_stays_in_its_paragraph() -> None:
    text = (
        "Article 4 Fines\n1. A fine of up to VLD 2,000. The fine applies within 15 days. The end."
    )

    _, articles = parse_articles(text)

    assert [p.number for p in articles[0].paragraphs] == ["1"]
    assert articles[0].paragraphs[0].text.endswith("within 15 days. The end.")


# --- long articles, paragraph spans -------------------------------------------------------


def long_article_text() -> str:
    body = "\n".join(f"{i}. {PARAGRAPH}" for i in range(1, 9))
    return (
        "Article 4 — Short\n1. A short article.\n"
        f"Article 5 — Procedure\n{body}\n"
        "Article 6 — Next\n1. The next article."
    )


def test_long_article_is_split_at_paragraph_boundaries_with_spans() -> None:
    chunks = chunk_text("doc", long_article_text(), max_chars=400, min_chars=50)

    assert [c.locator for c in chunks] == [
        "Article 4",
        "Article 5(1)-(2)",
        "Article 5(3)-(4)",
        "Article 5(5)-(6)",
        "Article 5(7)-(8)",
        "Article 6",
    ]
    for chunk in chunks[1:5]:
        assert chunk.text.startswith("Article 5 — Procedure\n")  # heading repeated as context
        body_lines = chunk.text.splitlines()[1:]
        assert all(re.match(r"[1-8]\. The authority", line) for line in body_lines)


def test_a_chunk_never_straddles_two_articles() -> None:
    text = "\n".join(
        f"Article {n} — Title {n}\n1. {PARAGRAPH}\n2. Short closing rule number {n}."
        for n in range(1, 8)
    )

    for max_chars in (200, 400, 900, 2000):
        chunks = chunk_text("doc", text, max_chars=max_chars, min_chars=50)
        for chunk in chunks:
            headings = re.findall(r"^Article (\d+) —", chunk.text, flags=re.MULTILINE)
            assert len(headings) == 1, (max_chars, chunk.text)
            assert chunk.locator.startswith(f"Article {headings[0]}")


def test_short_tail_is_merged_into_the_previous_chunk() -> None:
    body = "\n".join(f"{i}. {PARAGRAPH}" for i in range(1, 4)) + "\n4. Tiny."
    chunks = chunk_text("doc", f"Article 5 — Procedure\n{body}", max_chars=300, min_chars=60)

    assert "4. Tiny." in chunks[-1].text
    assert not chunks[-1].text.startswith("Article 5 — Procedure\n4.")


# --- unstructured text and size bounds ---------------------------------------------------------


def test_unstructured_text_gets_paragraph_locators() -> None:
    paragraphs = [f"Report paragraph {i}: {PARAGRAPH}" for i in range(1, 7)]

    chunks = chunk_text("doc", "\n\n".join(paragraphs), max_chars=200, min_chars=50)

    assert [c.locator for c in chunks] == [f"¶ {i}" for i in range(1, 7)]
    assert [c.text for c in chunks] == paragraphs


def test_short_unstructured_paragraphs_are_packed_with_a_range_locator() -> None:
    text = "\n".join(f"Line {i} of a short letter." for i in range(1, 6))

    assert locators(text) == ["¶ 1–5"]


def test_over_long_paragraph_is_split_at_sentence_boundaries() -> None:
    sentences = [f"Sentence {i} describes one step of the procedure in detail." for i in range(40)]

    chunks = chunk_text("doc", " ".join(sentences), max_chars=300, min_chars=50)

    assert len(chunks) > 5
    assert {c.locator for c in chunks} == {"¶ 1"}
    pieces = [s for c in chunks for s in re.split(r"(?<=\.) ", c.text)]
    assert pieces == sentences  # every cut fell between two sentences, nothing lost


def test_run_on_sentence_without_stops_is_cut_between_words() -> None:
    words = " ".join(f"word{i}" for i in range(300))

    chunks = chunk_text("doc", words, max_chars=250, min_chars=50)

    assert " ".join(c.text for c in chunks) == words
    assert all(len(c.text) <= 250 for c in chunks)


@pytest.mark.parametrize("max_chars", [200, 400, 900])
def test_chunks_never_exceed_max_chars_by_much(max_chars: int) -> None:
    long_paragraph = " ".join(f"Clause {i} sets out one more obligation." for i in range(60))
    text = (
        "An introductory report paragraph without any article structure at all.\n"
        f"{long_paragraph}\n"
        f"Article 1 — A long article heading that takes some room\n{long_paragraph}\n"
        + "\n".join(f"{i}. {PARAGRAPH}" for i in range(2, 12))
    )

    chunks = chunk_text("doc", text, max_chars=max_chars, min_chars=50)

    # Heading context and the merged short tail may add a little, never a whole paragraph.
    assert max(len(c.text) for c in chunks) <= max_chars * 1.25
    assert all(c.text.strip() for c in chunks)


def test_sample_corpus_chunks_stay_within_the_configured_bound() -> None:
    for path in sorted(SAMPLE.glob("*.md")):
        chunks = chunk_text(path.name, load_document(path).text, max_chars=900, min_chars=120)
        assert max(len(c.text) for c in chunks) <= 900 * 1.25, path.name


def test_chunk_ids_carry_the_document_version() -> None:
    chunk = chunk_text("folder/a.md", "Article 1 — Scope\n1. Applies.")[0]

    assert chunk.chunk_id("v1") == "folder/a.md::v1::0"


def test_empty_text_has_no_chunks() -> None:
    assert chunk_text("doc", "\n \n") == []


# --- paragraph_of -------------------------------------------------------------------------


def test_paragraph_of_finds_the_numbered_paragraph_holding_an_offset() -> None:
    text = "Article 5 — Procedure\n1. First rule.\n(2) Second rule text.\n٣. ثالثا\n"

    assert paragraph_of(text, text.index("Article")) is None
    assert paragraph_of(text, text.index("First")) == "1"
    assert paragraph_of(text, text.index("Second")) == "2"
    assert paragraph_of(text, text.index("ثالثا")) == "3"


def test_paragraph_of_unnumbered_text_is_none() -> None:
    assert paragraph_of("Just a report.\nAnother line.", 20) is None


# --- run-on articles as legal databases store them --------------------------------------------

RUN_ON_ARTICLE = (
    "Records of processing activities 1. Each controller shall maintain a record of processing "
    "activities under its responsibility. That record shall contain all of the following "
    "information: (a) the name and contact details of the controller; (b) the purposes of the "
    "processing; (c) a description of the categories of data subjects and of the categories of "
    "personal data; (d) the categories of recipients to whom the personal data have been or will "
    "be disclosed; (e) where possible, the envisaged time limits for erasure of the different "
    "categories of data. 2. Each processor shall maintain a record of all categories of "
    "processing activities carried out on behalf of a controller. 3. The records shall be in "
    "writing, including in electronic form. 4. The controller shall make the record available "
    "to the supervisory authority on request. 5. The obligations referred to in paragraphs 1 "
    "and 2 shall not apply to an enterprise employing fewer than 250 persons."
)


def run_on_chunks(max_chars: int = 900, **kwargs: str) -> list[Chunk]:
    meta = {"title": "GDPR Article 30", "article": "30", "language": "en", **kwargs}
    return chunk_text("gdpr-art-030.md", RUN_ON_ARTICLE, max_chars=max_chars, min_chars=60, **meta)


def test_run_on_article_takes_its_number_from_metadata_and_splits_paragraphs() -> None:
    chunks = run_on_chunks()

    assert all(c.locator.startswith("Article 30") for c in chunks)
    assert chunks[0].text.startswith("Records of processing activities\n1. Each controller")
    assert any("5. The obligations referred to" in c.text for c in chunks)
    assert all(c.header == "GDPR Article 30" for c in chunks)


def test_run_on_article_without_metadata_number_stays_plain_paragraphs() -> None:
    chunks = chunk_text("x.md", RUN_ON_ARTICLE, title="Some report")

    assert all(c.locator.startswith("¶") for c in chunks)


def test_article_word_follows_the_document_language_when_the_title_has_none() -> None:
    chunks = run_on_chunks(title="Bộ luật Lao động", article="35", language="vi")

    assert chunks[0].locator.startswith("Điều 35")


def test_long_paragraph_is_cut_between_points_and_each_piece_repeats_the_lead_in() -> None:
    chunks = run_on_chunks(max_chars=300)

    point_chunks = [c for c in chunks if re.search(r"\([b-e]\) ", c.text)]
    assert len(point_chunks) >= 2
    for chunk in point_chunks:
        first_body_line = chunk.text.splitlines()[1]
        assert first_body_line.startswith(("1. Each controller", "That record shall contain"))
        assert first_body_line.endswith("following information:") or "(a)" in first_body_line
    assert not any(re.match(r"\([b-e]\)", c.text.splitlines()[1]) for c in chunks)


def test_every_sentence_of_a_run_on_article_is_in_some_chunk() -> None:
    for max_chars in (250, 400, 900):
        joined = " ".join(" ".join(c.text.split()) for c in run_on_chunks(max_chars=max_chars))
        for piece in re.split(r"(?<=[.;:])\s+", RUN_ON_ARTICLE):
            assert piece in joined, (max_chars, piece)


@pytest.mark.parametrize(
    "line",
    [
        "Part-time officials are entitled to the same leave in proportion to their hours.",
        "Section 4 of this Directive applies to regional offices as well.",
        "Title to the property passes on registration.",
        "Dział kadr prowadzi rejestr oświadczeń.",
        "Bab ini berlaku bagi semua pegawai.",
    ],
)
def test_body_lines_starting_with_a_chapter_word_are_kept(line: str) -> None:
    text = f"Article 1 — Scope\n1. This Directive applies to all officials.\n{line}"

    chunks = chunk_text("doc", text)

    assert any(line in c.text for c in chunks)


def test_chapter_heading_becomes_context_of_the_following_articles() -> None:
    text = (
        "Article 1 — Scope\n1. This Directive applies to all officials.\n"
        "Chapter II — Registration\n"
        "Article 2 — Register\n1. Every petition is registered on the day of receipt."
    )

    chunks = chunk_text("doc", text, title="Petitions Directive")

    assert chunks[0].header == "Petitions Directive — Article 1"
    assert chunks[1].header == "Petitions Directive — Chapter II — Registration — Article 2"


def test_split_points_finds_the_lead_in_and_each_point() -> None:
    lead, points = split_points("It shall contain: (a) the name; (b) the purposes; and (c) a list.")

    assert lead == "It shall contain:"
    assert points == ["(a) the name;", "(b) the purposes; and", "(c) a list."]


def test_cross_references_to_points_are_not_points() -> None:
    assert split_points("as referred to in point (a) of Article 6(1) shall apply.")[1] == []


def test_a_heading_whose_number_goes_back_is_reported_not_taken_for_body_text_silently() -> None:
    text = "\n".join([
        "Article 1 - Loans", "1. Files may be lent for ten working days.",
        "Article 2 shall apply to confidential files.",  # a sentence, not a heading
        "Article 7 - Returns", "1. A lent file shall be returned in person.",
        "Article 3 - Requests", "1. A loan shall be requested on form AR-2.",  # misplaced
        "Article 1. That right shall not apply to files lent to another ministry for an inquiry "
        "ordered by the minister, which are governed by the inquiry's own rules.",  # a sentence
        "Article 8", "Article 8 Transposition",  # one heading set on two lines
        "1. Member States shall comply.",
    ])  # fmt: skip

    assert headings_out_of_order(text) == ["7 → 3"]
    _, articles = parse_articles(text)
    assert [a.label for a in articles] == ["Article 1", "Article 7", "Article 8"]  # as before


def test_a_title_on_the_line_under_the_number_heads_every_chunk_of_the_article() -> None:
    """Official journals set "Article 6" and its title on two lines; the title names the rule,
    so each chunk of a long article repeats it (before, only the first chunk had it, as body
    text, and the later paragraphs lost it from their text and vector)."""
    text = "\n".join([
        "Article 6",
        "Lawfulness of processing",
        "1. Processing shall be lawful only if the data subject has given consent to the "
        "processing of his or her personal data for one or more specific purposes.",
        "2. Member States may maintain more specific provisions to adapt the application of "
        "the rules of this Regulation with regard to processing for compliance.",
        "Article 7",
        "This Regulation shall enter into force on the twentieth day following publication.",
        "Article 8",
        "Article 8 Transposition",
        "1. Member States shall bring into force the laws necessary to comply with it.",
    ])  # fmt: skip

    _, articles = parse_articles(text)
    chunks = chunk_text("doc", text, max_chars=200, min_chars=50)

    assert [a.heading for a in articles] == [
        "Article 6 Lawfulness of processing",
        "Article 7",  # a sentence under the number is the body, not a title
        "Article 8 Transposition",  # the same heading again, on its own line
    ]
    assert [c.locator for c in chunks[:2]] == ["Article 6(1)", "Article 6(2)"]
    assert all(c.text.startswith("Article 6 Lawfulness of processing\n") for c in chunks[:2])
    assert chunks[2].text == (
        "Article 7\nThis Regulation shall enter into force on the twentieth day following "
        "publication."
    )
