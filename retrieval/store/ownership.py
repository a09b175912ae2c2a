"""Who owns an indexed document, and so who may prune it.

Several workers (data dirs) can share one Chroma server, each seeing only its own disk, so
"the file is gone" means nothing about another worker's documents. Each document therefore
records ``owner`` (the id of the data dir whose ingest wrote it, kept in ``data_dir/worker_id``)
and ``source_root`` (the folder, or file, it was ingested from). A document may be pruned only
when:

- this worker owns it; a document from before ownership was recorded counts as owned in
  embedded mode (its index lives in this data dir) and as foreign in server mode;
- it is not a bot upload (``data_dir/uploads``): uploads leave only through ``/forget``;
- ``ingest --prune PATH...``: its file was under one of ``PATH...``;
- and its file is gone.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

from retrieval.models import Document

OWNER_FILE = "worker_id"
UPLOADS = "uploads"


def owner_id(data_dir: Path) -> str:
    """This data dir's worker id, created on first use."""
    path = data_dir / OWNER_FILE
    try:
        existing = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing
    data_dir.mkdir(parents=True, exist_ok=True)
    value = uuid.uuid4().hex[:16]
    path.write_text(value + "\n", encoding="utf-8")
    return value


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def owned(document: Document, owner: str, *, embedded: bool) -> bool:
    """Whether ``owner`` wrote ``document`` (see the module docstring for older records)."""
    return document.owner == owner or (not document.owner and embedded)


def prunable(
    document: Document,
    owner: str,
    *,
    embedded: bool,
    uploads: Path,
    roots: Sequence[Path] | None = None,
) -> bool:
    """Whether ``document`` may be removed because its file is gone (module docstring)."""
    if not owned(document, owner, embedded=embedded):
        return False
    path = Path(document.path)
    if _within(path, uploads.resolve()):
        return False
    if roots is not None and not any(_within(path, root.resolve()) for root in roots):
        return False
    return not path.exists()
