"""Metadata a document declares about itself: YAML front-matter, or a ``NAME.meta.yaml`` sidecar.

A Markdown file may open with a ``---`` block; any file may have a sidecar beside it with the
same keys (front-matter for PDFs and Word files). Values become strings (dates in ISO form,
lists joined with ", "), keys lower case; ``clean_metadata`` normalises whatever a reader found
(a language code or name becomes ISO 639-1). A malformed block is a LoaderError naming the line.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from pathlib import Path
from typing import Any

import yaml

from retrieval.errors import LoaderError
from retrieval.hygiene import normalize_language

SIDECAR_SUFFIX = ".meta.yaml"
_FRONT_MATTER = re.compile(r"---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)


def sidecar_metadata(path: Path) -> tuple[dict[str, str], bytes]:
    """The keys of ``NAME.meta.yaml`` beside ``path`` (front-matter for any file type) and its
    bytes (they count in the file's content hash); empty when there is no sidecar."""
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if not sidecar.is_file():
        return {}, b""
    data = sidecar.read_bytes()
    text = data.decode("utf-8", errors="replace")
    return clean_metadata(parse_front_matter(text, str(sidecar))), data


def split_front_matter(text: str, label: str) -> tuple[dict[str, str], str]:
    """A Markdown text's front-matter keys and the text after the block (all of it if none)."""
    if not re.match(r"---[ \t]*\n", text):
        return {}, text
    match = _FRONT_MATTER.match(text)
    if match is None:
        raise LoaderError(label, "YAML front-matter is not closed by a '---' line")
    return parse_front_matter(match.group(1) or "", label), text[match.end() :]


def parse_front_matter(source: str, label: str) -> dict[str, str]:
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""  # line 1 is '---'
        problem = getattr(e, "problem", None) or "syntax error"
        raise LoaderError(label, f"invalid YAML front-matter{where}: {problem}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise LoaderError(label, "YAML front-matter must be a mapping of keys to values")
    meta: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, list) and all(not isinstance(v, list | dict) for v in value):
            meta[str(key).lower()] = ", ".join(_scalar(v) for v in value if v is not None)
        elif value is not None and not isinstance(value, list | dict):
            meta[str(key).lower()] = _scalar(value)
    return meta


def _scalar(value: Any) -> str:
    if isinstance(value, dt.date):  # datetime is a date too
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def clean_metadata(meta: dict[str, str]) -> dict[str, str]:
    cleaned: dict[str, str] = {}
    for key, value in meta.items():
        value = " ".join(unicodedata.normalize("NFC", value).split())
        if key == "language":  # ISO 639-1 from any code or name; unknown: detected later
            value = normalize_language(value) or ""
        if value:
            cleaned[key] = value
    return cleaned
