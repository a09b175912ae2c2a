"""The wording files in prompts/: they parse, every English key resolves in every language, and
translations use the same placeholders as English."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
import yaml

from retrieval.errors import ConfigError
from retrieval.prompts import DEFAULT_PROMPTS_DIR, FALLBACK_LANGUAGE, Prompts
from testkit import ROOT

PROMPTS_DIR = ROOT / "prompts"
LANGUAGES = sorted(p.name for p in PROMPTS_DIR.iterdir() if p.is_dir())
FILES = sorted(PROMPTS_DIR.glob("*/*.yaml"))


def table(language: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for file in sorted((PROMPTS_DIR / language).glob("*.yaml")):
        merged.update(yaml.safe_load(file.read_text(encoding="utf-8")) or {})
    return merged


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


ENGLISH = table(FALLBACK_LANGUAGE)


def test_the_default_directory_is_the_repositorys() -> None:
    assert DEFAULT_PROMPTS_DIR == PROMPTS_DIR
    assert FALLBACK_LANGUAGE in LANGUAGES
    assert len(LANGUAGES) >= 8


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_prompt_file_is_a_flat_mapping_of_strings(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))

    assert isinstance(data, dict)
    for key, value in data.items():
        assert isinstance(key, str)
        assert isinstance(value, str), f"{path}: {key} is not a string"
        assert value.strip(), f"{path}: {key} is empty"


def test_every_language_has_the_same_files_as_english() -> None:
    english_files = {p.name for p in (PROMPTS_DIR / FALLBACK_LANGUAGE).glob("*.yaml")}
    for language in LANGUAGES:
        assert {p.name for p in (PROMPTS_DIR / language).glob("*.yaml")} == english_files


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_english_key_resolves_in_every_language(language: str) -> None:
    prompts = Prompts()
    sample = {name: "X" for template in ENGLISH.values() for name in fields(template)}

    for key in ENGLISH:
        text = prompts.get(key, language, **sample)
        assert text.strip(), f"{language}: {key}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_have_no_keys_english_lacks(language: str) -> None:
    extra = sorted(set(table(language)) - set(ENGLISH))

    assert extra == [], f"{language} has keys missing from en/ (typos?): {extra}"


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != FALLBACK_LANGUAGE])
def test_placeholders_match_the_english_ones(language: str) -> None:
    mismatched = {
        key: (sorted(fields(text)), sorted(fields(ENGLISH[key])))
        for key, text in table(language).items()
        if key in ENGLISH and fields(text) != fields(ENGLISH[key])
    }

    assert mismatched == {}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_names_itself(language: str) -> None:
    prompts = Prompts()

    assert prompts.language_name(language, language) != language


def test_missing_key_falls_back_to_english(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "answer.yaml").write_text("greet: Hello {name}\nbye: Goodbye\n")
    (tmp_path / "fr").mkdir()
    (tmp_path / "fr" / "answer.yaml").write_text("greet: Bonjour {name}\n")

    prompts = Prompts(tmp_path)

    assert prompts.languages == ["en", "fr"]
    assert prompts.get("greet", "fr", name="Anne") == "Bonjour Anne"
    assert prompts.get("bye", "fr") == "Goodbye"
    assert prompts.get("bye", "xx") == "Goodbye"
    assert prompts.get("greet", "fr") == "Bonjour {name}"  # a missing field is left visible
    with pytest.raises(KeyError):
        prompts.get("absent", "fr")
    assert prompts.language_name("de", "fr") == "de"


def test_a_prompts_directory_without_english_is_refused(tmp_path: Path) -> None:
    (tmp_path / "fr").mkdir()
    (tmp_path / "fr" / "answer.yaml").write_text("greet: Bonjour\n")

    with pytest.raises(ConfigError, match="English fallback"):
        Prompts(tmp_path)


def test_a_prompt_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "answer.yaml").write_text("- one\n- two\n")

    with pytest.raises(ConfigError, match="mapping"):
        Prompts(tmp_path)
