"""``load_settings``: ``config.yaml`` plus ``REGULA_<SECTION>__<KEY>`` environment overrides,
validated against the schema, with errors that name the dotted key.

A bad file fails fast, before anything starts: a missing file, YAML that does not parse, an
unknown key (a retired key says what replaced it), a value out of range.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from retrieval.config.schema import Settings
from retrieval.errors import ConfigError

ENV_PREFIX = "REGULA_"
# Keys that once existed, with what to set instead: a config that still sets one is told so.
RETIRED_KEYS = {
    "telegram.max_upload_mb": "no longer exists: the one upload size limit is "
    "ingest.max_file_mb (uploads to the bot are also bound by the Bot API's download cap)",
}


def load_settings(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    data_dir: Path | None = None,
) -> Settings:
    """Read ``path`` (if given and present), apply env overrides, validate, resolve data_dir.

    A relative ``storage.data_dir`` is taken relative to the config file's folder, so the
    same config works whatever the current directory.
    """
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    origin = "defaults"
    if path is not None:
        raw = _read_yaml(path)
        origin = str(path)
    for section, values in _env_overrides(env).items():
        existing = raw.get(section)
        raw[section] = {**(existing if isinstance(existing, dict) else {}), **values}
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(_describe(e, f"{origin} + {ENV_PREFIX}* environment")) from e
    if data_dir is not None:
        settings.storage.data_dir = data_dir
    elif not settings.storage.data_dir.is_absolute() and path is not None:
        settings.storage.data_dir = path.resolve().parent / settings.storage.data_dir
    return settings


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        msg = f"config file not found: {path}"
        raise ConfigError(msg)
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        msg = f"{path}: not valid YAML: {e}"
        raise ConfigError(msg) from e
    if not isinstance(loaded, dict):
        msg = f"{path}: expected a mapping of sections at the top level"
        raise ConfigError(msg)
    return loaded


def _env_overrides(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Turn ``REGULA_SECTION__KEY=value`` into nested dicts; lists and objects as JSON."""
    overrides: dict[str, dict[str, Any]] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        value: Any = raw
        if raw.strip()[:1] in ("[", "{"):
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as e:
                msg = f"{name}: not valid JSON ({e.msg})"
                raise ConfigError(msg) from e
        overrides.setdefault(section, {})[key] = value
    return overrides


def _describe(error: ValidationError, origin: str) -> str:
    """One line per problem, each starting with the dotted key."""
    lines = [f"invalid configuration ({origin}):"]
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"])
        retired = RETIRED_KEYS.get(key) if item["type"] == "extra_forbidden" else None
        lines.append(f"  {key}: {retired or item['msg']}")
    return "\n".join(lines)
