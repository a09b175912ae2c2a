"""The JSON shape of documents that ``regula docs --json`` and ``history --json`` print: one
record per document, or (``docs --json --by-act``) the documents grouped under their act."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from retrieval.models import Document
from retrieval.parts import decode_part_until, describe_keys, group_acts, part_spans


def document_json(document: Document) -> dict[str, Any]:
    """A manifest record, its lists as lists and open dates as null."""
    payload = dict(vars(document))
    payload["valid_until"] = payload["valid_until"] or None
    payload["valid_from"] = payload["valid_from"] or None
    for key in ("repeals", "amends"):
        payload[key] = [w.strip() for w in payload[key].split(",") if w.strip()]
    payload["act"] = document.work or document.doc_id
    payload["parts"] = list(part_spans(document.parts))  # its articles, in reading order
    payload["part_until"] = decode_part_until(document.part_until)
    return payload


def acts_json(documents: Iterable[Document]) -> list[dict[str, Any]]:
    """Every act (work) with its articles and documents, in article order."""
    return [
        {
            "act": act.work,
            "in_parts": act.in_parts,
            "articles": describe_keys(act.keys),
            "documents": [document_json(d) for d in act.documents],
        }
        for act in group_acts(documents)
    ]
