"""What a whole act's first page says about it: title, number, date, short name, abbreviations;
declared metadata always wins."""

from __future__ import annotations

from retrieval.ingest.act_identity import abbreviations, first_page_title, identify, short_name

NIS2 = (
    "DIRECTIVE (EU) 2022/2555 OF THE EUROPEAN PARLIAMENT AND OF THE COUNCIL of 14 December 2022 "
    "on measures for a high common level of cybersecurity across the Union (NIS 2 Directive)"
)
BODY = "\n\nArticle 1\n\nSubject matter\n\n1. This Directive lays down measures."


def test_the_title_number_date_and_short_name_come_from_the_first_page() -> None:
    found = identify("L 333/80\n\n" + NIS2 + BODY, {"title": NIS2[:80]})  # a truncated PDF title
    assert found == {
        "title": NIS2,
        "number": "2022/2555",
        "date": "2022-12-14",
        "short_title": "NIS 2 Directive (NIS 2, NIS2)",
        "aliases": "NIS 2 Directive, NIS 2, NIS2",
    }


def test_declared_metadata_wins_and_a_text_without_a_title_block_gets_nothing() -> None:
    declared = {"title": "Network security rules", "number": "X-1", "aliases": "NSR"}
    assert identify(NIS2 + BODY, declared) == {}
    kept = identify(NIS2 + BODY, {"number": "X-1", "date": "2023-01-16", "aliases": "NSR"})
    assert "number" not in kept
    assert "date" not in kept
    assert kept["aliases"] == "NSR, NIS 2 Directive, NIS 2, NIS2"
    assert identify("Article 1\n\n1. Officials shall record petitions.", {}) == {}
    assert identify("Minutes of the meeting of 3 May\n\nPresent: …", {}) == {}


def test_the_preamble_joined_by_a_reflow_is_cut_off_the_title() -> None:
    joined = (
        "DIRECTIVE (EU) 2022/2464 OF THE EUROPEAN PARLIAMENT AND OF THE COUNCIL of 14 "
        "December 2022 as regards corporate sustainability reporting THE EUROPEAN "
        "PARLIAMENT AND THE COUNCIL OF THE EUROPEAN UNION, Having regard to the Treaty"
    )
    assert first_page_title(joined + BODY).endswith("corporate sustainability reporting")


def test_short_names_and_their_abbreviations() -> None:
    assert (
        short_name("… (General Data Protection Regulation)") == "General Data Protection Regulation"
    )
    assert short_name("REGULATION (EU) 2016/679") == ""
    assert short_name("… free movement of such data (EU)") == ""
    assert abbreviations("General Data Protection Regulation") == ["GDPR"]
    assert abbreviations("Cyber Resilience Act") == ["CRA"]
    assert abbreviations("NIS 2 Directive") == ["NIS 2", "NIS2"]
    assert abbreviations("Digital operational resilience") == []  # not a proper name


def test_an_act_without_a_citation_title_is_headed_by_its_designation() -> None:
    dora = (
        "REGULATION (EU) 2022/2554 OF THE EUROPEAN PARLIAMENT AND OF THE COUNCIL of 14 December "
        "2022 on digital operational resilience for the financial sector"
    )
    found = identify(dora + BODY, {})
    assert found["short_title"] == "REGULATION (EU) 2022/2554"
    assert "aliases" not in found
    assert "short_title" not in identify("Decree on petitions\n\nArticle 1\n\n1. Officials.", {})
