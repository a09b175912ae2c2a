"""load_settings: defaults, the repository's config.yaml, env overrides, and errors that name
the offending key."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.config import Settings, load_settings
from retrieval.errors import ConfigError
from retrieval.ingest.file_types import SUPPORTED_SUFFIXES
from testkit import ROOT


def write_config(tmp_path: Path, body: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def config_error(path: Path | None = None, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path, env=env or {})
    return str(excinfo.value)


def test_defaults_without_a_file() -> None:
    settings = load_settings(None, env={})

    assert settings == Settings()
    assert settings.retrieval.k == 4
    assert settings.vector_store.mode == "embedded"
    assert settings.answer.mode == "extractive"
    assert settings.access.allowed_user_ids == []
    assert settings.storage.data_dir == Path("data")


def test_the_repository_config_parses_and_matches_the_documented_defaults() -> None:
    settings = load_settings(ROOT / "config.yaml", env={})

    assert settings.storage.data_dir == ROOT / "data"
    assert settings.retrieval.mode == "auto"
    assert settings.retrieval_mode == "hybrid"
    assert settings.ingest.chunk_max_chars == 900
    assert settings.telegram.api_base_url.startswith("https://")


def test_every_settings_field_has_a_description() -> None:
    for section_name, section in Settings.model_fields.items():
        model = section.annotation
        assert model is not None
        for name, field in model.model_fields.items():  # type: ignore[union-attr]
            assert field.description, f"{section_name}.{name} has no description"


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, ""), env={})

    assert settings.retrieval == Settings().retrieval


def test_unknown_key_is_named_with_its_section(tmp_path: Path) -> None:
    message = config_error(write_config(tmp_path, "retrieval:\n  kk: 3\n"))

    assert "retrieval.kk" in message
    assert str(tmp_path / "config.yaml") in message


def test_the_retired_upload_limit_points_to_the_one_that_replaced_it(tmp_path: Path) -> None:
    from_file = config_error(write_config(tmp_path, "telegram:\n  max_upload_mb: 20\n"))
    from_env = config_error(env={"REGULA_TELEGRAM__MAX_UPLOAD_MB": "20"})

    for message in (from_file, from_env):
        assert "telegram.max_upload_mb: no longer exists" in message
        assert "ingest.max_file_mb" in message


def test_ingest_extensions_default_to_every_type_the_loaders_read() -> None:
    assert tuple(Settings().ingest.extensions) == SUPPORTED_SUFFIXES


def test_unknown_section_is_named(tmp_path: Path) -> None:
    message = config_error(write_config(tmp_path, "retreival:\n  k: 3\n"))

    assert "retreival" in message


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ("retrieval:\n  k: zero\n", "retrieval.k"),
        ("retrieval:\n  k: 0\n", "retrieval.k"),
        ("vector_store:\n  mode: cloud\n", "vector_store.mode"),
        ("ingest:\n  translation_threshold: 1.5\n", "ingest.translation_threshold"),
        ("access:\n  allowed_user_ids: [alice]\n", "access.allowed_user_ids.0"),
        ("telegram:\n  webhook_port: 70000\n", "telegram.webhook_port"),
    ],
)
def test_bad_value_names_the_key(tmp_path: Path, body: str, key: str) -> None:
    message = config_error(write_config(tmp_path, body))

    assert f"{key}:" in message


def test_invalid_yaml_is_a_config_error(tmp_path: Path) -> None:
    message = config_error(write_config(tmp_path, "retrieval: [k: 3\n"))

    assert "not valid YAML" in message


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    message = config_error(write_config(tmp_path, "- retrieval\n- answer\n"))

    assert "mapping" in message


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    message = config_error(tmp_path / "absent.yaml")

    assert "not found" in message


def test_env_overrides_a_scalar_over_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "retrieval:\n  k: 4\n  candidates: 30\n")

    settings = load_settings(path, env={"REGULA_RETRIEVAL__K": "7"})

    assert settings.retrieval.k == 7
    assert settings.retrieval.candidates == 30  # the rest of the section is kept


def test_env_list_is_read_as_json() -> None:
    settings = load_settings(None, env={"REGULA_ACCESS__ALLOWED_USER_IDS": "[1, 2]"})

    assert settings.access.allowed_user_ids == [1, 2]


def test_env_names_are_case_insensitive_after_the_prefix() -> None:
    settings = load_settings(None, env={"REGULA_Answer__Default_Language": "fr"})

    assert settings.answer.default_language == "fr"


def test_env_without_a_section_separator_is_ignored() -> None:
    settings = load_settings(None, env={"REGULA_CHROMA_TOKEN": "secret", "OTHER__K": "1"})

    assert settings == Settings()


def test_os_environ_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGULA_RETRIEVAL__K", "9")

    assert load_settings(None).retrieval.k == 9


def test_unknown_env_section_is_named() -> None:
    message = config_error(env={"REGULA_RETRIEVALS__K": "7"})

    assert "retrievals" in message
    assert "environment" in message


def test_unknown_env_key_is_named() -> None:
    message = config_error(env={"REGULA_RETRIEVAL__TOP_K": "7"})

    assert "retrieval.top_k" in message


def test_bad_env_value_names_the_key() -> None:
    message = config_error(env={"REGULA_RETRIEVAL__K": "seven"})

    assert "retrieval.k:" in message


def test_invalid_json_in_env_names_the_variable() -> None:
    message = config_error(env={"REGULA_ACCESS__ALLOWED_USER_IDS": "[1, 2"})

    assert "REGULA_ACCESS__ALLOWED_USER_IDS" in message
    assert "JSON" in message


def test_relative_data_dir_is_resolved_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    write_config(folder, "storage:\n  data_dir: index\n")
    monkeypatch.chdir(tmp_path)

    settings = load_settings(Path("etc/config.yaml"), env={})

    assert settings.storage.data_dir == folder / "index"


def test_absolute_data_dir_is_kept(tmp_path: Path) -> None:
    path = write_config(tmp_path, f"storage:\n  data_dir: {tmp_path / 'elsewhere'}\n")

    assert load_settings(path, env={}).storage.data_dir == tmp_path / "elsewhere"


def test_data_dir_argument_wins_over_file_and_env(tmp_path: Path) -> None:
    path = write_config(tmp_path, "storage:\n  data_dir: index\n")
    env = {"REGULA_STORAGE__DATA_DIR": str(tmp_path / "from-env")}

    settings = load_settings(path, env=env, data_dir=tmp_path / "from-cli")

    assert settings.storage.data_dir == tmp_path / "from-cli"


ENDPOINT = {"provider": "openai_compatible", "base_url": "http://127.0.0.1:1/v1", "model": "m"}


@pytest.mark.parametrize(
    ("embeddings", "mode", "expected"),
    [
        ({}, "auto", "hybrid"),
        (ENDPOINT, "auto", "dense"),
        ({**ENDPOINT, "provider": "ollama", "base_url": "http://127.0.0.1:1"}, "auto", "dense"),
        (ENDPOINT, "hybrid", "hybrid"),
        ({}, "lexical", "lexical"),
    ],
)
def test_auto_retrieval_fuses_the_bundled_models_signals_only_with_the_bundled_model(
    embeddings: dict[str, str], mode: str, expected: str
) -> None:
    settings = Settings.model_validate({"embeddings": embeddings, "retrieval": {"mode": mode}})

    assert settings.retrieval.mode == mode
    assert settings.retrieval_mode == expected
