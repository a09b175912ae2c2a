"""Version metadata, derived end dates, conflicts and the as-of filters (pure, no model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval import succession, versions
from retrieval.ingest.front_matter import sidecar_metadata
from retrieval.models import Document
from retrieval.search.fusion import SearchFilters
from retrieval.store.lexical import LexicalIndex


def doc(doc_id: str, language: str = "en", **meta: str) -> Document:
    fields = versions.declared_validity(meta, doc_id)
    return Document(doc_id, f"/{doc_id}", doc_id, language, "h", "v1", **fields)  # type: ignore[arg-type]


def resolved(*docs: Document) -> dict[str, Document]:
    resolution = succession.resolve(docs)
    return {d.doc_id: resolution.apply(d) for d in docs}


def test_defaults_come_from_number_and_date() -> None:
    d = doc("a.md", number="IG-1", date="2024-03-18")
    assert (d.work, d.valid_from, d.valid_until, d.status) == ("IG-1", "2024-03-18", "", "in_force")
    assert doc("b.md", date="March 2024").valid_from == ""  # a loose date is no validity
    assert doc("c.md").work == "c.md"


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"valid_from": "2024-7-1"}, "valid_from: not a date in the form YYYY-MM-DD"),
        ({"valid_until": "2024-02-30"}, "valid_until: not a date"),
        ({"valid_from": "2024-07-01", "valid_until": "2024-01-01"}, "is before valid_from"),
        ({"status": "abolished"}, "status: 'abolished' is not one of in_force, repealed, draft"),
    ],
)
def test_bad_version_metadata_is_refused_with_the_key(meta: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        versions.declared_validity(meta, "x.md")


def test_a_later_version_ends_the_earlier_one_the_day_before() -> None:
    docs = resolved(
        doc("v1.en", work="W", valid_from="2020-01-01"),
        doc("v2.en", work="W", valid_from="2024-07-01"),
        doc("v2.fr", "fr", work="W", valid_from="2024-07-01"),
        doc("draft", work="W", valid_from="2025-01-01", status="draft"),
    )
    assert docs["v1.en"].valid_until == "2024-06-30"
    assert docs["v2.en"].valid_until == docs["v2.fr"].valid_until == ""  # a draft ends nothing
    assert versions.in_force(docs["v1.en"], "2024-06-30")
    assert not versions.in_force(docs["v1.en"], "2024-07-01")
    assert not versions.in_force(docs["draft"], "2026-01-01")
    assert versions.in_force(docs["draft"], "2026-01-01", drafts=True)
    assert versions.successor(docs["v1.en"], docs, "2025-01-01") == docs["v2.en"]
    assert versions.successor(docs["v2.en"], docs, "2025-01-01") is None
    assert versions.window(docs["v2.en"]) == (20240701, versions.OPEN_END)


def test_a_repeal_ends_the_repealed_work_and_names_the_repealer() -> None:
    docs = resolved(
        doc("old", work="OLD", valid_from="2018-01-01"),
        doc("new", work="NEW", valid_from="2023-01-01", repeals="OLD, OTHER"),
        doc("gone", work="GONE", valid_from="2018-01-01", status="repealed"),
    )
    assert docs["old"].valid_until == "2022-12-31"
    assert versions.successor(docs["old"], docs, "2024-01-01") == docs["new"]
    assert versions.window(docs["gone"])[1] == versions.NEVER  # repealed, end unknown


def test_overlaps_are_reported_and_answered_from_once() -> None:
    resolution = succession.resolve(
        [
            doc("a", work="W", valid_from="2020-01-01", valid_until="2025-12-31"),
            doc("b", work="W", valid_from="2024-01-01"),
            doc("c", work="W", valid_from="2024-01-01"),
        ]
    )
    reasons = {c.doc_ids: c.reason for c in resolution.conflicts}
    assert "overlaps the version valid from 2024-01-01" in reasons[("a",)]
    assert resolution.until["a"] == "2023-12-31"
    assert reasons[("b", "c")] == "2 'en' versions valid from 2024-01-01"
    assert resolution.conflict == {"c": "b"}


def test_translations_never_group_across_versions() -> None:
    v1, v2 = (
        doc("v1", work="W", valid_from="2020-01-01"),
        doc("v2", work="W", valid_from="2024-07-01"),
    )
    assert not versions.may_be_translations(v1, v2)
    assert versions.may_be_translations(v1, doc("x", "fr", work="X", valid_from="2020-01-01"))


def test_sidecar_metadata_is_read_beside_the_file(tmp_path: Path) -> None:
    (tmp_path / "rule.pdf").write_bytes(b"%PDF-")
    (tmp_path / "rule.pdf.meta.yaml").write_text("work: DEC-7\nvalid_from: 2024-07-01\n")
    meta, raw = sidecar_metadata(tmp_path / "rule.pdf")
    assert meta == {"work": "DEC-7", "valid_from": "2024-07-01"}
    assert raw
    assert sidecar_metadata(tmp_path / "other.pdf") == ({}, b"")


def test_as_of_filters_chroma_and_the_lexical_index_on_day_numbers(tmp_path: Path) -> None:
    filters = SearchFilters(as_of="2022-03-01")
    assert filters.chroma_where() == {
        "$and": [
            {"valid_from_num": {"$lte": 20220301}},
            {"valid_until_num": {"$gte": 20220301}},
            {"status": {"$ne": "draft"}},
        ]
    }
    assert filters.chroma_where(validity=False) is None
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        SearchFilters(as_of="2022-3-1")
    index = LexicalIndex(tmp_path / "lexical.sqlite3")
    index.replace_document(
        "v1", "a", "en", [("v1::a::0", "within 30 days")], (), (20200101, 20240630, False)
    )
    index.replace_document(
        "v2", "b", "en", [("v2::b::0", "within 15 days")], (), (20240701, versions.OPEN_END, False)
    )
    index.replace_document(
        "d", "c", "en", [("d::c::0", "within 10 days")], (), (20200101, versions.OPEN_END, True)
    )

    def found(day: int, drafts: bool = False) -> set[str]:
        return {c for c, _ in index.search("days", "en", 10, valid_on=day, drafts=drafts)}

    assert found(20220301) == {"v1::a::0"}
    assert found(20250101) == {"v2::b::0"}
    assert found(20250101, drafts=True) == {"v2::b::0", "d::c::0"}
    assert index.excluded_on(20250101) == 2
    index.set_windows({"v1": (20200101, versions.OPEN_END, False)})
    assert index.windows()["v1"] == (20200101, versions.OPEN_END, False)
    index.close()


def test_an_upload_caption_gives_version_keys() -> None:
    caption = "New version. work: DEC-7 valid_from: 2024-07-01 repeals: [CIRC-3, CIRC-4]"
    assert versions.caption_metadata(caption) == {
        "work": "DEC-7",
        "valid_from": "2024-07-01",
        "repeals": "CIRC-3, CIRC-4",
    }
    assert versions.caption_metadata("just a file") == {}


def test_changes_name_what_happened_to_a_cited_version() -> None:
    v1 = doc("v1", work="W", valid_from="2020-01-01")
    cited = [{"doc_id": "v1", "version": "v1", "title": "T", "valid_until": ""},
             {"doc_id": "gone", "version": "x", "title": "G", "valid_until": ""}]  # fmt: skip
    assert [c.kind for c in versions.changes(cited, {"v1": v1})] == ["removed"]
    docs = resolved(v1, doc("v2", work="W", valid_from="2024-07-01"))
    (change, removed) = versions.changes(cited, docs)
    assert change.to_json() == {"doc_id": "v1", "title": "T", "kind": "superseded",
                                "since": "2024-07-01", "by": "v2"}  # fmt: skip
    assert removed.kind == "removed"
    edited = {"v1": Document("v1", "/v1", "v1", "en", "h", "v9", work="W")}
    assert versions.changes(cited[:1], edited)[0].kind == "edited"
    repealed = resolved(v1, doc("r", work="R", valid_from="2023-01-01", repeals="W"))
    assert versions.changes(cited[:1], repealed)[0].to_json()["kind"] == "repealed"
