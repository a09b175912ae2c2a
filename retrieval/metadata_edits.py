"""Editing a document's version fields where the ingest reads them: its ``NAME.meta.yaml``
sidecar, which overrides the file's own front-matter, so a later re-ingest keeps the edit.

An edit names the sidecar's fingerprint as the editor saw it; when someone saved in between,
the edit is refused (``StaleEditError``) instead of silently overwriting their write.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from pathlib import Path

import yaml

from retrieval.errors import RegulaError
from retrieval.ingest.front_matter import SIDECAR_SUFFIX

EDITABLE_KEYS = ("work", "valid_from", "valid_until", "status", "repeals", "amends", "aliases")
"""The version fields a keeper may set on an indexed document (the ingest reads each)."""
STATUSES = ("in_force", "repealed", "draft")

_LOCKS: dict[Path, threading.Lock] = {}
_REGISTRY = threading.Lock()


class StaleEditError(RegulaError):
    """Someone else saved this document's fields after the editor loaded them."""


class EditError(RegulaError):
    """An edit that cannot be written (a bad value, or a folder that is not writable)."""


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def read_sidecar(path: Path) -> tuple[dict[str, str], str]:
    """The sidecar's keys beside ``path`` and its fingerprint ("" when there is none)."""
    sidecar = sidecar_path(path)
    if not sidecar.is_file():
        return {}, ""
    data = sidecar.read_bytes()
    loaded = yaml.safe_load(data.decode("utf-8", errors="replace")) or {}
    fields = {str(k): "" if v is None else str(v) for k, v in dict(loaded).items()}
    return fields, hashlib.sha256(data).hexdigest()[:16]


def edit_lock(path: Path) -> threading.Lock:
    """One lock per edited file in this process: check-then-write happens under it."""
    with _REGISTRY:
        return _LOCKS.setdefault(path.resolve(), threading.Lock())


def write_edit(path: Path, changes: Mapping[str, str], expected: str) -> dict[str, str]:
    """Set ``changes`` (empty values remove the key) in the sidecar beside ``path`` when its
    fingerprint is still ``expected``; returns the fields now written. Call under
    ``edit_lock(path)``."""
    unknown = sorted(set(changes) - set(EDITABLE_KEYS))
    if unknown:
        msg = f"these fields cannot be edited: {', '.join(unknown)}"
        raise EditError(msg)
    status = changes.get("status", "")
    if status and status not in STATUSES:
        msg = f"status must be one of {', '.join(STATUSES)}, not {status!r}"
        raise EditError(msg)
    current, fingerprint = read_sidecar(path)
    if fingerprint != expected:
        msg = f"{path.name} was changed by someone else since you opened it; reload and retry"
        raise StaleEditError(msg)
    fields = dict(current)
    for key, value in changes.items():
        if value.strip():
            fields[key] = value.strip()
        else:
            fields.pop(key, None)
    sidecar = sidecar_path(path)
    try:
        if fields:
            temporary = sidecar.with_name(sidecar.name + ".tmp")
            temporary.write_text(yaml.safe_dump(fields, allow_unicode=True), "utf-8")
            temporary.replace(sidecar)
        else:
            sidecar.unlink(missing_ok=True)
    except OSError as e:
        msg = f"cannot write {sidecar}: {e.strerror or e}"
        raise EditError(msg) from e
    return fields
