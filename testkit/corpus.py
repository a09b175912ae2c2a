"""Settings and indexes built the way the CLI builds them: from the repository's ``config.yaml``."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from retrieval.assistant import Assistant
from retrieval.config import Settings, load_settings
from retrieval.embedding.encoders import DenseEmbeddings
from testkit import CONFIG, SAMPLE


def settings_for(data_dir: Path, **sections: dict[str, Any]) -> Settings:
    """The repository's config.yaml (what the CLI uses), pointed at ``data_dir``.

    ``sections`` override single keys, e.g. ``answer={"mode": "llm"}``.
    """
    settings = load_settings(CONFIG, env={}, data_dir=data_dir)
    if sections:
        merged = settings.model_dump()
        for name, values in sections.items():
            merged[name].update(values)
        settings = Settings.model_validate(merged)
    return settings


def open_assistant(
    data_dir: Path, embeddings: DenseEmbeddings | None = None, **sections: dict[str, Any]
) -> Assistant:
    """An Assistant over ``data_dir`` with ``settings_for``'s settings."""
    return Assistant.from_settings(settings_for(data_dir, **sections), embeddings=embeddings)


def write_files(folder: Path, files: dict[str, str | bytes]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in files.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        paths.append(path)
    return paths


def ingest_sample_files(root: Path, names: Sequence[str]) -> Path:
    """Copy sample-corpus files under ``root/corpus``, index them in ``root/data``; the data dir."""
    corpus = root / "corpus"
    corpus.mkdir()
    for name in names:
        shutil.copy(SAMPLE / name, corpus / name)
    assistant = open_assistant(root / "data")
    try:
        report = assistant.ingest([corpus], progress=False)
    finally:
        assistant.close()
    assert report.added == len(names), report.failed
    return root / "data"
