"""What the reader found in a file, as ``regula ingest`` and the bot's upload reply show it.

An official who indexes a ministry's PDF checks at once whether the structure came through:
the articles, the pages, how many were read through OCR, and the warnings (pages still
without text, article headings out of order) that say where to look.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retrieval.models import Document
from retrieval.parts import describe_keys, part_keys


def metadata_count(metadata: Mapping[str, str], key: str) -> int:
    """A count a reader put in the file's metadata (0 when absent)."""
    value = metadata.get(key, "")
    return int(value) if value.isdigit() else 0


def reader_findings(document: Document, chunks: int) -> dict[str, Any]:
    """One file's entry in ``IngestReport.read``."""
    return {
        "doc_id": document.doc_id,
        "articles": describe_keys(part_keys(document.parts)),
        "chunks": chunks,
        "pages": document.pages,
        "ocr_pages": document.ocr_pages,
        "empty_pages": [int(p) for p in document.empty_pages.split(",") if p.isdigit()],
        "footnotes": document.footnotes,
        "column_pages": document.column_pages,
        "out_of_order": [item for item in document.out_of_order.split("; ") if item],
    }
