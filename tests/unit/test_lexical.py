"""The SQLite FTS5 lexical index (a real database file in tmp_path)."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.store.latent import decode_latent, encode_latent
from retrieval.store.lexical import LexicalIndex

# --- latent terms encoding ----------------------------------------------------------------


def test_latent_encoding_roundtrips() -> None:
    features, weights = [3, 17, 250_000], [0.5, 1.25, 0.0001]

    decoded = decode_latent(encode_latent(features, weights))

    assert [f for f, _ in decoded] == features
    assert [w for _, w in decoded] == pytest.approx(weights, abs=1e-4)


def test_latent_encoding_of_nothing_is_empty() -> None:
    assert encode_latent([], []) == ""
    assert decode_latent("") == []


def test_latent_encoding_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError):
        encode_latent([1, 2], [0.5])


# --- LexicalIndex -----------------------------------------------------------------------------

DOC_A = [
    ("a::v1::0", "Article 3 — Petitions are registered in register P-2 on the day of receipt."),
    ("a::v1::1", "Article 4 — The acknowledgement is sent within three working days."),
]
DOC_B = [
    ("b::v1::0", "Article 1 — Gifts worth more than VLD 2,000 are handed over to the employer."),
]


@pytest.fixture
def index(tmp_path: Path) -> Iterator[LexicalIndex]:
    lexical = LexicalIndex(tmp_path / "lexical" / "lexical.sqlite3")
    lexical.replace_document("a", "v1", "en", DOC_A, [encode_latent([1, 2], [1.0, 0.5])] * 2)
    lexical.replace_document("b", "v1", "en", DOC_B, [encode_latent([2, 9], [0.2, 2.0])])
    yield lexical
    lexical.close()


def ids(hits: list[tuple[str, float]]) -> list[str]:
    return [chunk_id for chunk_id, _ in hits]


def test_search_finds_exact_terms_best_first(index: LexicalIndex) -> None:
    hits = index.search("Which register, P-2?", "en", 10)

    assert ids(hits)[0] == "a::v1::0"
    assert all(score > 0 for _, score in hits)


def test_search_finds_amounts_and_stems(index: LexicalIndex) -> None:
    assert ids(index.search("VLD 2,000", "en", 10))[0] == "b::v1::0"
    assert ids(index.search("VLD", "en", 10)) == ["b::v1::0"]
    assert ids(index.search("acknowledgements", "en", 10)) == ["a::v1::1"]


def test_search_without_a_match_is_empty(index: LexicalIndex) -> None:
    assert index.search("motorway speed limit", "en", 10) == []
    assert index.search("?!", "en", 10) == []


def test_search_can_be_restricted_to_documents(index: LexicalIndex) -> None:
    assert ids(index.search("Article", "en", 10, doc_ids=["b"])) == ["b::v1::0"]
    assert index.search("register", "en", 10, doc_ids=["b"]) == []


def test_search_respects_the_limit(index: LexicalIndex) -> None:
    assert len(index.search("Article", "en", 2)) == 2


def test_replace_document_swaps_all_rows_of_the_old_version(index: LexicalIndex) -> None:
    new = [("a::v2::0", "Article 3 — Petitions are now filed in the electronic register E-9.")]

    index.replace_document("a", "v2", "en", new, [encode_latent([7], [1.0])])

    assert index.versions() == {"a": "v2", "b": "v1"}
    assert ids(index.search("acknowledgement", "en", 10)) == []
    assert ids(index.search("E-9 electronic", "en", 10)) == ["a::v2::0"]
    assert all(not cid.startswith("a::v1") for cid in ids(index.search("Article", "en", 10)))
    assert ids(index.search_latent([1], [1.0], 10)) == []  # old latent rows are gone too


def test_replace_document_is_all_or_nothing(index: LexicalIndex) -> None:
    # The second row cannot be bound, so the insert fails after the old rows were deleted.
    broken = [("a::v2::0", "New text of the first chunk."), (object(), "Second chunk.")]

    with pytest.raises(sqlite3.ProgrammingError):
        index.replace_document("a", "v2", "en", broken, [])  # type: ignore[list-item]

    # The failed swap rolled back: version 1 is still whole.
    assert index.versions()["a"] == "v1"
    assert sorted(ids(index.search("Article", "en", 10, doc_ids=["a"]))) == ["a::v1::0", "a::v1::1"]


def test_remove_documents(index: LexicalIndex) -> None:
    index.remove_documents(["a", "never-indexed"])

    assert index.versions() == {"b": "v1"}
    assert index.search("register acknowledgement", "en", 10) == []
    assert ids(index.search_latent([1, 2], [1.0, 1.0], 10)) == ["b::v1::0"]


def test_search_latent_ranks_by_dot_product(index: LexicalIndex) -> None:
    hits = index.search_latent([2, 9], [1.0, 1.0], 10)

    assert dict(hits) == pytest.approx({"b::v1::0": 2.2, "a::v1::0": 0.5, "a::v1::1": 0.5})
    assert ids(hits)[0] == "b::v1::0"


def test_search_latent_filters_and_handles_empty_queries(index: LexicalIndex) -> None:
    assert ids(index.search_latent([2], [1.0], 10, doc_ids=["b"])) == ["b::v1::0"]
    assert index.search_latent([], [], 10) == []
    assert index.search_latent([12345], [1.0], 10) == []


def test_latent_offsets_are_the_query_dot_the_language_mean(tmp_path: Path) -> None:
    lexical = LexicalIndex(tmp_path / "lexical.sqlite3")
    lexical.replace_document(
        "en-doc", "v1", "en", [("e::v1::0", "one"), ("e::v1::1", "two")],
        [encode_latent([1], [1.0]), encode_latent([1, 2], [3.0, 2.0])],
    )  # fmt: skip
    lexical.replace_document(
        "fr-doc", "v1", "fr", [("f::v1::0", "un")], [encode_latent([2], [4.0])]
    )
    try:
        # en mean: {1: 2.0, 2: 1.0}; fr mean: {2: 4.0}
        assert lexical.latent_offsets([1, 2], [1.0, 0.5]) == pytest.approx({"en": 2.5, "fr": 2.0})
        lexical.replace_document(  # the sums follow a replaced document exactly
            "en-doc", "v2", "en", [("e::v2::0", "one")], [encode_latent([2], [0.3])]
        )
        assert lexical.latent_offsets([1, 2], [1.0, 1.0]) == pytest.approx({"en": 0.3, "fr": 4.0})
        lexical.remove_documents(["fr-doc"])
        assert lexical.latent_offsets([2], [1.0]) == pytest.approx({"en": 0.3})
        assert lexical.latent.offsets([2], [1.0], {}) == {}
    finally:
        lexical.close()


def test_search_latent_reads_only_the_heaviest_postings_of_a_feature(tmp_path: Path) -> None:
    lexical = LexicalIndex(tmp_path / "lexical.sqlite3", latent_per_term=10)
    chunks = [(f"d::v1::{i}", f"text {i}") for i in range(30)]
    latent = [encode_latent([1], [0.01 * (i + 1)]) for i in range(30)]
    latent[0] = encode_latent([1, 2], [0.01, 5.0])  # lightest on 1, but alone on feature 2
    lexical.replace_document("d", "v1", "en", chunks, latent)
    try:
        heaviest = ids(lexical.search_latent([1], [1.0], 40, in_language="en"))
        assert heaviest == [f"d::v1::{i}" for i in range(29, 19, -1)]  # 10 postings read
        both = ids(lexical.search_latent([1, 2], [1.0, 1.0], 3, in_language="en"))
        assert both[0] == "d::v1::0"  # found through its short list, scored on what was read
        filtered = lexical.search_latent([1], [1.0], 40, doc_ids=["d"], in_language="en")
        assert len(filtered) == 30  # a restriction reads the full lists
    finally:
        lexical.close()


def test_latent_scores_from_memory_equal_the_full_sql_join(tmp_path: Path) -> None:
    """Unfiltered searches sum the kept lists with NumPy; a document restriction sums in SQL.
    With lists shorter than ``per_term`` both are the exact dot product, for any query."""
    rng = random.Random(7)
    lexical = LexicalIndex(tmp_path / "lexical.sqlite3")
    for d in range(20):
        chunks = [(f"d{d}::v1::{i}", f"text {d} {i}") for i in range(10)]
        latent = []
        for _ in chunks:
            features = rng.sample(range(60), 8)
            weights = [round(rng.uniform(0.01, 3), 4) for _ in features]
            latent.append(encode_latent(features, weights))
        lexical.replace_document(f"d{d}", "v1", "en", chunks, latent)
    every_document = [f"d{d}" for d in range(20)]
    try:
        for _ in range(5):
            features = rng.sample(range(60), 12)
            weights = [rng.uniform(0.1, 2) for _ in features]
            kept = lexical.search_latent(features, weights, 30)
            joined = lexical.search_latent(features, weights, 30, doc_ids=every_document)
            assert [round(score, 6) for _, score in kept] == [
                round(score, 6) for _, score in joined
            ]
            assert dict(kept) == pytest.approx(dict(joined))
    finally:
        lexical.close()


def test_kept_latent_lists_follow_writes_here_and_elsewhere(tmp_path: Path) -> None:
    path = tmp_path / "lexical.sqlite3"
    reader, writer = LexicalIndex(path), LexicalIndex(path)
    reader.replace_document("a", "v1", "en", [("a::v1::0", "one")], [encode_latent([1], [1.0])])
    try:
        assert ids(reader.search_latent([1, 2], [1.0, 1.0], 10)) == ["a::v1::0"]
        reader.replace_document(  # a write here drops the kept lists at once
            "b", "v1", "en", [("b::v1::0", "two")], [encode_latent([2], [3.0])]
        )
        assert ids(reader.search_latent([1, 2], [1.0, 1.0], 10)) == ["b::v1::0", "a::v1::0"]
        writer.remove_documents(["b"])  # another process: the searcher forgets on its revision
        reader.forget_cached()
        assert ids(reader.search_latent([1, 2], [1.0, 1.0], 10)) == ["a::v1::0"]
        assert reader.chunk_counts() == {"en": 1}
    finally:
        reader.close()
        writer.close()


def test_index_persists_across_connections(tmp_path: Path) -> None:
    path = tmp_path / "lexical.sqlite3"
    first = LexicalIndex(path)
    first.replace_document("a", "v1", "en", DOC_A)
    first.close()

    second = LexicalIndex(path)
    try:
        assert second.versions() == {"a": "v1"}
        assert ids(second.search("P-2", "en", 10)) == ["a::v1::0"]
    finally:
        second.close()


def test_searches_can_be_restricted_to_a_language(tmp_path: Path) -> None:
    lexical = LexicalIndex(tmp_path / "lexical.sqlite3")
    lexical.replace_document("en-doc", "v1", "en", DOC_A, [encode_latent([1], [1.0])] * 2)
    french = [("f::v1::0", "Article 3 — registre P-2")]
    lexical.replace_document("fr-doc", "v1", "fr", french, [encode_latent([1], [2.0])])
    try:
        assert ids(lexical.search("Article P-2", "en", 10, in_language="fr")) == ["f::v1::0"]
        assert "f::v1::0" not in ids(lexical.search("Article P-2", "en", 10, in_language="en"))
        assert ids(lexical.search_latent([1], [1.0], 10, in_language="fr")) == ["f::v1::0"]
        assert sorted(ids(lexical.search_latent([1], [1.0], 10, in_language="en"))) == [
            "a::v1::0", "a::v1::1",
        ]  # fmt: skip
        assert lexical.search_latent([1], [1.0], 10, in_language="de") == []
    finally:
        lexical.close()


def test_an_older_cache_layout_is_dropped_for_a_rebuild(tmp_path: Path) -> None:
    path = tmp_path / "lexical.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        """
        CREATE TABLE latent_terms (feature INTEGER, weight REAL, chunk_id TEXT, doc_id TEXT);
        CREATE TABLE lexical_docs (doc_id TEXT PRIMARY KEY, version TEXT, language TEXT,
                                   chunk_count INTEGER);
        INSERT INTO lexical_docs VALUES ('a', 'v0', 'en', 1);
        """
    )
    old.close()

    lexical = LexicalIndex(path)
    try:
        assert lexical.versions() == {}  # emptied: lexical_sync rebuilds it from Chroma
        lexical.replace_document("a", "v1", "en", DOC_A, [encode_latent([1], [1.0])] * 2)
        assert len(lexical.search_latent([1], [1.0], 10, in_language="en")) == 2
    finally:
        lexical.close()


def test_known_terms_are_the_ones_some_chunk_holds(tmp_path: Path) -> None:
    index = LexicalIndex(tmp_path / "lexical.sqlite3")
    index.replace_document(
        "nis2.md", "v1", "en", [("nis2.md::v1::0", "NIS2: the CSIRT is notified.")]
    )

    assert index.known_terms(["nis2", "csirt", "psd2"]) == {"nis2", "csirt"}
    assert index.known_terms([]) == set()
    index.close()
