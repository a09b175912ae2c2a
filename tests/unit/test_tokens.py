"""Index terms: folding, digit normalisation, stemming per language, accent stripping."""

from __future__ import annotations

import pytest

from retrieval.tokens import tokenize


def test_digits_from_any_script_are_normalised() -> None:
    assert tokenize("القانون رقم ١١٢/٢٠١٧", "ar")[-2:] == ["112", "2017"]
    assert "2024" in tokenize("Délai ٢٠٢٤", "fr")
    assert tokenize("۱۴۰۳", "") == ["1403"]  # Persian digits


@pytest.mark.parametrize(
    ("language", "text", "stem"),
    [
        ("en", "petitions", "petit"),
        ("en", "registered", "regist"),
        ("fr", "pétitions", "petit"),
        ("es", "peticiones", "peticion"),
        ("de", "Anzeigen", "anzeig"),
        ("id", "pelaporan", "lapor"),
        ("ar", "البلاغ", "بلاغ"),
    ],
)
def test_words_are_stemmed_in_their_language(language: str, text: str, stem: str) -> None:
    assert tokenize(text, language) == [stem]


def test_same_word_in_singular_and_plural_meets_after_stemming() -> None:
    assert tokenize("petition", "en") == tokenize("petitions", "en")
    assert tokenize("dénonciation", "fr") == tokenize("dénonciations", "fr")


def test_accents_are_stripped_and_case_folded() -> None:
    assert tokenize("Pétition ÉCRITE", "") == ["petition", "ecrite"]
    assert tokenize("Quà tặng", "vi") == ["qua", "tang"]  # no Vietnamese stemmer: folded only
    assert tokenize("geprüft", "de") == ["gepruft"]


def test_single_letters_are_dropped_but_single_digits_kept() -> None:
    assert tokenize("a I x 5 is", "en") == ["5", "is"]


def test_unknown_language_is_not_stemmed() -> None:
    assert tokenize("petitions registered", "xx") == ["petitions", "registered"]
