"""Input hygiene at the edges: dates, language codes, document ids, undecodable text."""

from __future__ import annotations

import pytest

from bot.terminal.cli import main
from retrieval.hygiene import clean_text, iso_date, normalize_language, safe_doc_id
from retrieval.ingest.loaders import load_bytes
from retrieval.search.fusion import SearchFilters


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("por", "pt"), ("spa", "es"), ("French", "fr"), ("fre", "fr"), ("fra", "fr"),
        ("ger", "de"), ("deu", "de"), ("Deutsch", "de"), ("pt-BR", "pt"), ("EN_us", "en"),
        ("ara", "ar"), ("Bahasa Indonesia", "id"), ("vie", "vi"), ("pl", "pl"), ("RU", "ru"),
    ],
)  # fmt: skip
def test_language_codes_and_names_become_iso_639_1(value: str, code: str) -> None:
    assert normalize_language(value) == code


@pytest.mark.parametrize("value", ["", None, "xx", "klingon", "zzz", "p"])
def test_unknown_languages_are_none_so_they_get_detected(value: str | None) -> None:
    assert normalize_language(value) is None


@pytest.mark.parametrize(("declared", "expected"), [("por", "pt"), ("Spanish", "es")])
def test_front_matter_language_is_normalised(declared: str, expected: str) -> None:
    text = f"---\ntitle: T\nlanguage: {declared}\n---\n\nArticle 1\n\nSome text here.\n"
    loaded = load_bytes(text.encode(), "doc.md", max_bytes=10_000)
    assert loaded.metadata["language"] == expected


def test_an_unknown_front_matter_language_is_left_to_detection() -> None:
    text = "---\ntitle: T\nlanguage: elvish\n---\n\nArticle 1\n\nSome text here.\n"
    loaded = load_bytes(text.encode(), "doc.md", max_bytes=10_000)
    assert "language" not in loaded.metadata


def test_dates_must_be_complete_iso_dates() -> None:
    assert iso_date(" 2024-02-29 ") == "2024-02-29"
    for bad in ("2024-1-1", "2024", "2024-13-01", "2023-02-29", "01/02/2024", ""):
        with pytest.raises(ValueError, match="not a date in the form YYYY-MM-DD"):
            iso_date(bad)


def test_search_filters_refuse_partial_dates() -> None:
    with pytest.raises(ValueError, match="'2024-1'"):
        SearchFilters(date_from="2024-1")
    assert SearchFilters(date_to="2024-12-31").chroma_where() == {"date_num": {"$lte": 20241231}}


@pytest.mark.parametrize("argv", [["ask", "q", "--since", "2024-1-1"], ["ask", "-", "--json",
                                  "--until", "31.12.2024"]])  # fmt: skip
def test_a_bad_date_on_the_command_line_is_a_usage_error(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "not a date in the form YYYY-MM-DD" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("ig-2024-07.en.md", "ig-2024-07.en.md"),  # ordinary ids never change
        ("a::b.md", "a%3A%3Ab.md"),
        ("ends-with:", "ends-with%3A"),
        ("a:::b", "a%3A%3A:b"),
        ("tab\there", "tab%09here"),
        ("bytes-\udcff.md", "bytes-%FF.md"),  # a file name that was not UTF-8
        ("lone-\ud800", "lone-%ED%A0%80"),
    ],
)
def test_doc_ids_cannot_break_chunk_ids(raw: str, safe: str) -> None:
    doc_id = safe_doc_id(raw)
    assert doc_id == safe
    assert f"{doc_id}::v1::3".split("::")[0] == doc_id
    doc_id.encode("utf-8")  # storable


def test_clean_text_drops_lone_surrogates_and_controls() -> None:
    assert clean_text(" petition\ud800 \x00deadline\n") == "petition deadline"
    assert clean_text("Срок\tответа").encode("utf-8")
