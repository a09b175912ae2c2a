"""Parts of one act versus versions of it (pure: documents as the manifest records them)."""

from __future__ import annotations

from dataclasses import replace

from retrieval import succession, versions
from retrieval.ingest.chunking import chunk_text
from retrieval.models import Document
from retrieval.parts import (
    describe_keys,
    encode_parts,
    group_acts,
    later_effect,
    part_key,
    part_keys,
)


def doc(doc_id: str, parts: str = "", language: str = "en", **meta: str) -> Document:
    fields = versions.declared_validity(meta, doc_id)
    return Document(doc_id, f"/{doc_id}", doc_id, language, "h", "v1", parts=parts, **fields)


def resolved(*docs: Document) -> tuple[dict[str, Document], succession.Resolution]:
    resolution = succession.resolve(docs)
    return {d.doc_id: resolution.apply(d) for d in docs}, resolution


def test_article_keys_come_from_the_labels_in_any_script() -> None:
    assert [part_key(label) for label in ("Điều 35", "Article 5a", "المادة ٣", "Pasal 12")] == [
        "35", "5a", "3", "12",
    ]  # fmt: skip
    assert part_key("Preamble") == ""
    chunks = chunk_text(
        "code.md",
        "# Labour Code\n\nĐiều 1. Phạm vi\n\nNội dung một.\n\nĐiều 2. Đối tượng\n\nNội dung hai.",
        language="vi",
    )
    assert encode_parts(c.part for c in chunks) == "1@1-1,2@2-2"  # chunk 0 is the title
    single = chunk_text("gdpr-33.md", "Notification 1. The controller shall notify.", article="33")
    assert part_keys(encode_parts(c.part for c in single)) == {"33"}


def test_per_article_files_sharing_the_acts_number_are_parts_all_in_force() -> None:
    articles = [
        doc(f"art-{n:03}.md", f"{n}@0-0", "vi", number="45/2019/QH14", date="2019-11-20")
        for n in range(1, 220)
    ]
    docs, resolution = resolved(*articles)
    assert resolution.conflicts == []
    assert resolution.doubts == []
    assert all(versions.in_force(d, "2024-01-01") for d in docs.values())
    assert not versions.may_be_translations(articles[0], replace(articles[1], language="en"))
    assert versions.may_be_translations(articles[0], replace(articles[0], language="en"))
    (act,) = group_acts(docs.values())
    assert act.in_parts
    assert describe_keys(act.keys) == "1–219"


def test_the_same_article_twice_on_one_day_is_still_a_conflict() -> None:
    _, resolution = resolved(
        doc("a.md", "35@0-0", number="N", date="2019-11-20"),
        doc("b.md", "35@0-0", number="N", date="2019-11-20"),
        doc("c.md", "36@0-0", number="N", date="2019-11-20"),
    )
    assert [(c.doc_ids, c.kept) for c in resolution.conflicts] == [(("a.md", "b.md"), "a.md")]
    assert resolution.conflict == {"b.md": "a.md"}


def test_an_amending_text_replaces_one_article_of_a_whole_act_from_its_date() -> None:
    act = doc("act.md", "1@0-1,2@2-3,3@4-4", work="DEC-9", valid_from="2020-01-01")
    amendment = doc("amend.md", "2@0-0", work="DEC-9", valid_from="2024-07-01")
    docs, resolution = resolved(act, amendment)
    assert docs["act.md"].valid_until == ""  # the act stays in force
    assert docs["act.md"].part_until == "2=2024-06-30"
    assert versions.part_windows(docs["act.md"]) == {2: 20240630, 3: 20240630}
    assert versions.in_force(docs["amend.md"], "2024-07-01")
    assert not versions.in_force(docs["amend.md"], "2024-06-30")
    assert resolution.doubts == []


def test_a_later_whole_version_replaces_the_act_even_without_a_repealed_article() -> None:
    v1 = doc("v1.md", "1@0-0,2@1-1,3@2-2,4@3-3", work="W", valid_from="2020-01-01")
    v2 = doc("v2.md", "1@0-0,2@1-1,4@2-2", work="W", valid_from="2024-01-01")  # art. 3 dropped
    docs, _ = resolved(v1, v2)
    assert docs["v1.md"].valid_until == "2023-12-31"
    assert docs["v1.md"].part_until == ""


def test_per_article_versions_end_only_their_own_article() -> None:
    docs, _ = resolved(
        doc("a1-2019.md", "1@0-0", number="N", date="2019-01-01"),
        doc("a1-2023.md", "1@0-0", number="N", date="2023-01-01"),
        doc("a2-2019.md", "2@0-0", number="N", date="2019-01-01"),
    )
    assert docs["a1-2019.md"].valid_until == "2022-12-31"
    assert docs["a2-2019.md"].valid_until == ""


def test_texts_without_articles_sharing_only_a_number_stay_searchable_with_a_doubt() -> None:
    docs, resolution = resolved(
        doc("annex-a.md", number="N", date="2019-01-01"),
        doc("annex-b.md", number="N", date="2021-01-01"),
        doc("annex-c.md", number="N", date="2021-01-01"),
    )
    assert all(d.valid_until == "" and not d.conflict for d in docs.values())
    (doubt,) = resolution.doubts
    assert doubt.doc_ids == ("annex-a.md", "annex-b.md", "annex-c.md")
    assert "may be versions or parts" in doubt.reason
    assert docs["annex-a.md"].doubt
    # declared, the same texts are versions again
    docs, resolution = resolved(
        doc("v1.md", work="N", valid_from="2019-01-01"),
        doc("v2.md", work="N", valid_from="2021-01-01"),
    )
    assert docs["v1.md"].valid_until == "2020-12-31"
    assert resolution.doubts == []


def test_later_effect_rules() -> None:
    from retrieval.parts import Holding

    def h(*keys: str, declared: bool = False) -> Holding:
        return Holding(frozenset(keys), declared)

    assert later_effect(h("1"), h("2")) == "none"
    assert later_effect(h("2"), h("1", "2", "3")) == frozenset({"2"})
    assert later_effect(h("1", "2", "3"), h("2")) == "all"
    assert later_effect(h(), h()) == "unclear"
    assert later_effect(h(declared=True), h()) == "all"
    assert later_effect(h("1", declared=True), h(declared=True)) == "unclear"
