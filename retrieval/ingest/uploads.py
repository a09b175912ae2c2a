"""Where a file uploaded to the bot is kept: a safe name under ``data_dir/uploads``, and the
version keys of its caption as its ``NAME.meta.yaml`` sidecar (read like any other sidecar, so a
re-ingest keeps them)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import yaml

from retrieval.ingest.front_matter import SIDECAR_SUFFIX

_UNSAFE_RE = re.compile(r"[^\w.\-]+")


def upload_name(filename: str) -> str:
    """The name an upload is stored under: no folders, no characters a shell would mind."""
    return _UNSAFE_RE.sub("_", Path(filename).name).strip("._") or "upload"


def write_sidecar(folder: Path, name: str, metadata: Mapping[str, str] | None) -> None:
    """Keep ``metadata`` beside the upload ``name``; an upload without any drops an old one."""
    sidecar = folder / (name + SIDECAR_SUFFIX)
    if metadata:
        sidecar.parent.mkdir(parents=True, exist_ok=True)
        sidecar.write_text(yaml.safe_dump(dict(metadata), allow_unicode=True), "utf-8")
    else:
        sidecar.unlink(missing_ok=True)
