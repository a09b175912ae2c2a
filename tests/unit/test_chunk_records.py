"""The searcher's kept chunk records: bounded, most recently used kept, emptied on demand."""

from __future__ import annotations

from retrieval.search.chunk_records import ChunkRecord, ChunkRecords


def record(text: str) -> ChunkRecord:
    return ChunkRecord(text, {"doc_id": "d"}, None)


def test_the_least_recently_used_record_goes_first_when_full() -> None:
    records = ChunkRecords(capacity=2)
    records.put_many({"a": record("A"), "b": record("B")})
    records.get_many(["a"])  # "a" used: "b" is now the oldest

    records.put_many({"c": record("C")})

    assert set(records.get_many(["a", "b", "c"])) == {"a", "c"}
    assert len(records) == 2


def test_clear_forgets_everything() -> None:
    records = ChunkRecords()
    records.put_many({"a": record("A")})

    records.clear()

    assert records.get_many(["a"]) == {}
