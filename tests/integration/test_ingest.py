"""Ingest against the real stores: Chroma in tmp_path, the SQLite lexical index and the bundled
embedding model. Incremental updates, pruning, per-file failures, crash atomicity, the writer
lock and translation groups.

Tests that change an index use a tiny corpus of their own (three two-article circulars, six
chunks); the translation tests read the session's sample index.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from retrieval.answer.citations import verify_quote
from retrieval.assistant import Assistant
from retrieval.errors import IndexLockedError
from retrieval.store.chunk_collections import SEARCH_BREADTH
from retrieval.store.index import VectorStore
from testkit.corpus import open_assistant, write_files
from tests.fixtures_files import make_binary_named, make_corrupt_pdf, write_text
from tests.integration.helpers import IngestedCorpus, regula, texts_of

VEHICLES = """---
title: "Circular on Official Vehicles"
language: en
date: "2024-05-02"
---

Article 1 — Return of vehicles
1. Official vehicles shall be returned to the central motor pool by 19:00 on the day of use.

Article 2 — Logbook
1. The driver records the odometer reading in the vehicle logbook when returning the vehicle.
"""

VEHICLES_EDITED = VEHICLES.replace(
    "returned to the central motor pool by 19:00", "returned to the Eastgate garage by 17:30"
)

GIFTS = """---
title: "Circular on Gifts"
language: en
date: "2023-06-14"
---

Article 1 — Declaration of gifts
1. Any gift worth more than VLD 2,000 shall be declared to the ethics officer within 5 days.

Article 2 — Register of gifts
1. The ethics officer keeps the register of gifts and publishes it every quarter.
"""

LEAVE = """---
title: "Circular on Annual Leave"
language: en
date: "2022-01-10"
---

Article 1 — Requests
1. Requests for annual leave are submitted through the personnel portal Horizon.

Article 2 — Approval
1. The head of unit approves or refuses a leave request within three working days.
"""

TINY = {"gifts.md": GIFTS, "leave.md": LEAVE, "vehicles.md": VEHICLES}
TINY_CHUNKS = 6


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    write_files(folder, dict(TINY))
    return folder


@pytest.fixture
def assistant(tmp_path: Path) -> Iterator[Assistant]:
    # the thresholds measured after each ingest are test_calibrate's; these are the writes
    a = open_assistant(tmp_path / "data", answer={"calibrate_on_ingest": False})
    yield a
    a.close()


@pytest.fixture
def ingested(assistant: Assistant, corpus: Path) -> Assistant:
    report = assistant.ingest([corpus], progress=False)
    payload = report.to_json()
    assert {k: v for k, v in payload.items() if k != "read"} == {
        "added": 3, "updated": 0, "unchanged": 0, "removed": 0, "chunks": TINY_CHUNKS,
        "failed": [], "conflicts": [], "doubts": [],
    }  # fmt: skip
    assert len(payload["read"]) == 3
    return assistant


def live_chunk_count(assistant: Assistant) -> int:
    return sum(d.chunk_count for d in assistant.documents())


def chunk_ids_of(assistant: Assistant, doc_id: str) -> list[str]:
    return assistant.store.stored_chunk_ids(doc_id)


# --- incremental ingest -----------------------------------------------------------------------


def test_first_ingest_indexes_every_file(ingested: Assistant, corpus: Path) -> None:
    documents = {d.doc_id: d for d in ingested.documents()}

    assert sorted(documents) == ["gifts.md", "leave.md", "vehicles.md"]
    assert documents["gifts.md"].title == "Circular on Gifts"
    assert documents["gifts.md"].language == "en"
    assert documents["gifts.md"].path == str((corpus / "gifts.md").resolve())
    assert ingested.store.count_chunks() == live_chunk_count(ingested) == TINY_CHUNKS
    assert ingested.lexical.versions() == {d.doc_id: d.version for d in documents.values()}
    hits = ingested.search("Who keeps the register of gifts?", k=2)
    assert hits[0].doc_id == "gifts.md"
    assert hits[0].locator == "Article 2"


def test_reingest_of_unchanged_files_changes_nothing(ingested: Assistant, corpus: Path) -> None:
    before = {d.doc_id: d.version for d in ingested.documents()}
    revision = ingested.store.revision()

    report = ingested.ingest([corpus], progress=False)

    assert report.to_json() == {
        "added": 0, "updated": 0, "unchanged": 3, "removed": 0, "chunks": 0, "failed": [],
        "conflicts": [], "doubts": [], "read": [],  # nothing was read again
    }  # fmt: skip
    assert ingested.store.count_chunks() == TINY_CHUNKS
    assert {d.doc_id: d.version for d in ingested.documents()} == before
    assert ingested.store.revision() == revision  # nothing was written at all


def test_edited_file_replaces_its_chunks(ingested: Assistant, corpus: Path) -> None:
    old = {d.doc_id: d for d in ingested.documents()}
    old_ids = chunk_ids_of(ingested, "vehicles.md")
    (corpus / "vehicles.md").write_text(VEHICLES_EDITED, encoding="utf-8")

    report = ingested.ingest([corpus], progress=False)

    assert (report.added, report.updated, report.unchanged, report.removed) == (0, 1, 2, 0)
    assert report.chunks == 2
    new = {d.doc_id: d for d in ingested.documents()}
    assert new["vehicles.md"].version != old["vehicles.md"].version
    assert new["gifts.md"].version == old["gifts.md"].version
    new_ids = chunk_ids_of(ingested, "vehicles.md")
    assert set(new_ids).isdisjoint(old_ids)  # the old version's chunks are gone
    assert all(f"::{new['vehicles.md'].version}::" in cid for cid in new_ids)
    assert ingested.store.count_chunks() == live_chunk_count(ingested) == TINY_CHUNKS

    found = texts_of(ingested.search("By what time must official vehicles be returned?", k=3))
    assert "Eastgate garage by 17:30" in found
    assert "central motor pool" not in found
    lexical_hits = ingested.lexical.search("motor pool 19:00", "en", 10)
    assert all(not cid.startswith("vehicles.md::") for cid, _ in lexical_hits)
    assert ingested.lexical.versions()["vehicles.md"] == new["vehicles.md"].version


def test_records_kept_for_lexical_hits_never_outlive_the_index_they_came_from(
    tmp_path: Path, corpus: Path
) -> None:
    """With five dense candidates for six chunks, a passage the lexical or latent search finds
    beyond them arrives without its record, which is then kept
    (``retrieval.search.chunk_records``)."""
    narrow = {"retrieval": {"candidates": 5}, "answer": {"calibrate_on_ingest": False}}
    assistant = open_assistant(tmp_path / "data", **narrow)
    try:
        assistant.ingest([corpus], progress=False)
        question = "By what time must official vehicles be returned to the motor pool?"
        first = assistant.search(question, k=4)
        kept = len(assistant.searcher._records)
        again = assistant.search(question, k=4)
        fresh = open_assistant(tmp_path / "data", **narrow)
        try:
            unkept = fresh.search(question, k=4)
        finally:
            fresh.close()
        (corpus / "vehicles.md").write_text(VEHICLES_EDITED, encoding="utf-8")
        assistant.ingest([corpus], progress=False)
        emptied = len(assistant.searcher._records)
        edited = texts_of(assistant.search(question, k=4))
    finally:
        assistant.close()

    assert kept > 0
    assert [(p.chunk_id, p.text, p.dense_score) for p in again] == [
        (p.chunk_id, p.text, p.dense_score) for p in first
    ]
    assert [(p.chunk_id, p.dense_score) for p in first] == [
        (p.chunk_id, p.dense_score) for p in unkept
    ]
    assert emptied == 0  # the ingest changed the revision
    assert "Eastgate garage by 17:30" in edited
    assert "central motor pool" not in edited


def test_deleted_file_is_removed_only_with_prune(ingested: Assistant, corpus: Path) -> None:
    (corpus / "leave.md").unlink()

    kept = ingested.ingest([corpus], progress=False)
    assert (kept.removed, kept.unchanged) == (0, 2)
    assert "leave.md" in {d.doc_id for d in ingested.documents()}

    report = ingested.ingest([corpus], prune=True, progress=False)

    assert (report.added, report.updated, report.unchanged, report.removed) == (0, 0, 2, 1)
    assert {d.doc_id for d in ingested.documents()} == {"gifts.md", "vehicles.md"}
    assert chunk_ids_of(ingested, "leave.md") == []
    assert ingested.store.count_chunks() == live_chunk_count(ingested) == TINY_CHUNKS - 2
    assert "leave.md" not in ingested.lexical.versions()
    hits = ingested.search("How is annual leave requested in the Horizon portal?", k=4)
    assert all(p.doc_id != "leave.md" for p in hits)


# --- files that cannot be read ----------------------------------------------------------------

POLISH = (
    "Okólnik w sprawie skarg\n\n"
    "Art. 1. Rejestracja skarg\n"
    "1. Skargę rejestruje się w dzienniku podawczym w dniu jej wpływu; "
    "urzędnik wydaje zaświadczenie o złożeniu skargi.\n"
)


def test_bad_files_are_reported_one_by_one_and_the_rest_indexed(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_files(corpus, {"gifts.md": GIFTS, "empty.txt": ""})
    make_corrupt_pdf(corpus / "broken.pdf")
    make_binary_named(corpus / "noise.docx")
    write_text(corpus / "skargi.txt", POLISH, "cp1250")
    data_dir = tmp_path / "data"

    process = regula("ingest", corpus, "--json", "--data-dir", data_dir)

    assert process.returncode == 2, process.stderr
    assert "Traceback" not in process.stderr
    report = json.loads(process.stdout)
    assert set(report) == {
        "added", "updated", "unchanged", "removed", "chunks", "failed", "conflicts", "doubts",
        "read", "calibration",
    }  # fmt: skip
    assert report["calibration"]["method"] == "background"  # broken files stop no step
    assert len(report["read"]) == 2  # one record per file indexed, none for the failed ones
    assert (report["added"], report["updated"], report["unchanged"], report["removed"]) == (
        2, 0, 0, 0,
    )  # fmt: skip
    failed = {Path(f["path"]).name: f["error"] for f in report["failed"]}
    assert all(set(f) == {"path", "error"} for f in report["failed"])
    assert sorted(failed) == ["broken.pdf", "empty.txt", "noise.docx"]
    assert "not a readable PDF" in failed["broken.pdf"]
    assert "not a Word .docx" in failed["noise.docx"]
    assert "empty" in failed["empty.txt"]
    assert all(Path(f["path"]).is_absolute() for f in report["failed"])

    # The text report names each failure; unchanged good files are skipped on the re-run.
    again = regula("ingest", corpus, "--data-dir", data_dir)
    assert again.returncode == 2
    assert again.stdout.startswith("added 0, updated 0, unchanged 2, removed 0, chunks 0, failed 3")
    for name in failed:
        assert f"FAILED {corpus / name}: {failed[name]}" in again.stdout

    assistant = open_assistant(data_dir)
    try:
        assert [d.doc_id for d in assistant.documents()] == ["gifts.md", "skargi.txt"]
        assert assistant.store.count_chunks() == report["chunks"]
        hits = assistant.search("Kiedy rejestruje się skargę w dzienniku podawczym?", k=2)
        assert hits[0].doc_id == "skargi.txt"
        assert "zaświadczenie o złożeniu skargi" in hits[0].text  # cp1250 decoded correctly
    finally:
        assistant.close()


# --- crash atomicity --------------------------------------------------------------------------


class CrashOnManifest:
    """Wraps the manifest collection: the commit (upsert) of ``doc_id`` dies like a killed process,
    after that document's chunks were written."""

    def __init__(self, records: Any, doc_id: str) -> None:
        self._records = records
        self._doc_id = doc_id

    def upsert(self, *, ids: list[str], **kwargs: Any) -> Any:
        if self._doc_id in ids:
            raise KeyboardInterrupt  # not caught per file: the whole run stops here
        return self._records.upsert(ids=ids, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._records, name)


def test_crash_before_the_manifest_commit_leaves_no_half_document(
    assistant: Assistant, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = assistant.store
    monkeypatch.setattr(
        store, "_document_records", CrashOnManifest(store._document_records, "leave.md")
    )

    with pytest.raises(KeyboardInterrupt):
        assistant.ingest([corpus], progress=False)  # gifts.md commits, leave.md dies
    monkeypatch.undo()
    assistant.refresh(force=True)

    assert [d.doc_id for d in assistant.documents()] == ["gifts.md"]
    assert len(chunk_ids_of(assistant, "leave.md")) == 2  # written, but never made live
    assert "leave.md" not in assistant.lexical.versions()
    hits = assistant.search("How are requests for annual leave submitted?", k=4)
    assert hits, "the committed document is still searchable"
    assert all(p.doc_id == "gifts.md" for p in hits)
    answer = assistant.ask("How are requests for annual leave submitted?")
    assert all(c.doc_id != "leave.md" for c in answer.citations)
    gifts = assistant.search("Which gifts must be declared to the ethics officer?", k=4)
    assert {p.locator for p in gifts} == {"Article 1", "Article 2"}  # whole: both its chunks

    # The writer lock was released, and a re-run completes the job.
    report = assistant.ingest([corpus], progress=False)

    assert (report.added, report.unchanged, report.failed) == (2, 1, [])
    assert [d.doc_id for d in assistant.documents()] == ["gifts.md", "leave.md", "vehicles.md"]
    assert assistant.store.count_chunks() == live_chunk_count(assistant) == TINY_CHUNKS
    leave = next(d for d in assistant.documents() if d.doc_id == "leave.md")
    assert all(f"::{leave.version}::" in cid for cid in chunk_ids_of(assistant, "leave.md"))
    hits = assistant.search("How are requests for annual leave submitted?", k=1)
    assert hits[0].doc_id == "leave.md"


def test_write_document_crash_is_invisible_to_a_new_reader(
    assistant: Assistant, corpus: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    original = VectorStore.write_document
    calls: list[str] = []

    def crash_on_second(self: VectorStore, document: Any, *args: Any, **kwargs: Any) -> None:
        calls.append(document.doc_id)
        if len(calls) == 2:
            self._document_records = CrashOnManifest(self._document_records, document.doc_id)
        original(self, document, *args, **kwargs)

    monkeypatch.setattr(VectorStore, "write_document", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        assistant.ingest([corpus], progress=False)
    monkeypatch.undo()
    assistant.close()

    reader = open_assistant(tmp_path / "data")  # a new reader sees what was committed
    try:
        assert calls == ["gifts.md", "leave.md"]
        assert [d.doc_id for d in reader.documents()] == ["gifts.md"]
        assert reader.stats()["documents"] == 1
        report = reader.ingest([corpus], prune=True, progress=False)
        assert (report.added, report.unchanged, report.removed) == (2, 1, 0)
        assert reader.store.count_chunks() == live_chunk_count(reader) == TINY_CHUNKS
    finally:
        reader.close()


class CrashOnChunkDelete:
    """Wraps a chunk collection: deleting chunks dies, i.e. the process is killed after the
    new version's manifest record was committed but before the old version was swept."""

    def __init__(self, records: Any) -> None:
        self._records = records

    def delete(self, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    def __getattr__(self, name: str) -> Any:
        return getattr(self._records, name)


def test_crash_after_the_commit_leaves_the_new_version_and_sweeps_the_old_later(
    ingested: Assistant, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = next(d for d in ingested.documents() if d.doc_id == "vehicles.md")
    (corpus / "vehicles.md").write_text(VEHICLES_EDITED, encoding="utf-8")
    records = ingested.store.chunks._records("en")
    monkeypatch.setattr(
        ingested.store.chunks, "_records", lambda *a, **k: CrashOnChunkDelete(records)
    )

    with pytest.raises(KeyboardInterrupt):
        ingested.ingest([corpus], progress=False)
    monkeypatch.undo()
    ingested.refresh(force=True)

    new = next(d for d in ingested.documents() if d.doc_id == "vehicles.md")
    assert new.version != old.version  # committed
    assert len(ingested.store.stored_chunk_ids("vehicles.md")) == 4  # both versions stored
    hits = ingested.search("By what time must official vehicles be returned?", k=4)
    assert all(f"::{old.version}::" not in p.chunk_id for p in hits)
    assert any("Eastgate" in p.text for p in hits)

    report = ingested.ingest([corpus], progress=False)  # the next writer sweeps the old version

    assert (report.updated, report.unchanged) == (0, 3)
    assert sorted(ingested.store.stored_chunk_ids("vehicles.md")) == [
        f"vehicles.md::{new.version}::0", f"vehicles.md::{new.version}::1",
    ]  # fmt: skip
    assert ingested.store.count_chunks() == live_chunk_count(ingested) == TINY_CHUNKS


def test_an_index_of_the_single_collection_layout_is_migrated_without_re_embedding(
    ingested: Assistant, tmp_path: Path
) -> None:
    """Indexes written before chunks were stored per language had one ``<name>_chunks``."""
    client = ingested.store._client
    gifts = next(d for d in ingested.documents() if d.doc_id == "gifts.md")
    before = ingested.store.chunks_of(gifts, with_vectors=True)
    legacy = client.create_collection("regula_chunks", embedding_function=None)
    for language in ingested.store.chunk_languages():
        got = ingested.store.chunks._records(language).get(
            include=["embeddings", "documents", "metadatas"]
        )
        legacy.add(
            ids=got["ids"], embeddings=got["embeddings"], documents=got["documents"],
            metadatas=got["metadatas"],
        )  # fmt: skip
        client.delete_collection(f"regula_chunks_{language}")
    ingested.close()

    reopened = open_assistant(tmp_path / "data")
    try:
        names = {c.name for c in reopened.store._client.list_collections()}
        assert "regula_chunks" not in names
        assert "regula_chunks_en" in names
        assert reopened.store.count_chunks() == live_chunk_count(reopened) == TINY_CHUNKS
        hits = reopened.search("Who keeps the register of gifts?", k=2)
        assert (hits[0].doc_id, hits[0].locator) == ("gifts.md", "Article 2")
        after = reopened.store.chunks_of(gifts, with_vectors=True)
        assert after["ids"] == before["ids"]
        copied = np.asarray(after["embeddings"])
        # Copied, not re-embedded (float32 storage may round the last bit).
        assert np.allclose(copied, np.asarray(before["embeddings"]), rtol=0, atol=1e-6)
    finally:
        reopened.close()


def test_chunk_collections_are_searched_wide_enough_to_be_exact_and_old_ones_are_widened(
    ingested: Assistant, tmp_path: Path
) -> None:
    """Chroma's default breadth (ef_search 100 for 40 candidates) missed a different few of the
    nearest chunks in each process; an index written before keeps that until it is opened."""
    wanted = SEARCH_BREADTH * ingested.settings.retrieval.candidates
    collection = ingested.store.chunks._records("en")
    assert collection.configuration_json["hnsw"]["ef_search"] == wanted
    collection.modify(configuration={"hnsw": {"ef_search": 100}})  # as older releases left it
    ingested.close()

    reopened = open_assistant(tmp_path / "data")
    try:
        assert reopened.search("Who keeps the register of gifts?", k=1)[0].doc_id == "gifts.md"
        widened = reopened.store._client.get_collection("regula_chunks_en")
        assert widened.configuration_json["hnsw"]["ef_search"] == wanted
    finally:
        reopened.close()


# --- a second writer --------------------------------------------------------------------------


def test_second_writer_is_refused_with_a_clear_message(
    assistant: Assistant, corpus: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    # Another process's lock: a flock on a file descriptor of its own, holder written in it.
    # (A WriterLock in this process would make the ingest wait its turn instead.)
    lock = (data_dir / "writer.lock").open("a+", encoding="utf-8")
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    lock.write("pid 424242")
    lock.flush()
    try:
        with pytest.raises(IndexLockedError) as excinfo:
            assistant.ingest([corpus], progress=False)
        message = str(excinfo.value)
        assert str(data_dir) in message
        assert "being written by pid" in message
        assert "vector_store.mode: server" in message

        process = regula("ingest", corpus, "--data-dir", data_dir)
        assert process.returncode == 1
        assert process.stderr.startswith("regula: the index in")
        assert "being written by pid" in process.stderr
        assert "Traceback" not in process.stderr
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()

    assert assistant.documents() == []
    report = assistant.ingest([corpus / "gifts.md"], progress=False)  # free again
    assert report.added == 1


# --- translation groups (session sample index, read-only) ---------------------------------


def test_translations_are_grouped(
    sample_index: IngestedCorpus, sample_assistant: Assistant
) -> None:
    groups = sample_assistant.stats()["translation_groups"]

    assert ["ig-2024-07.ar.md", "ig-2024-07.en.md", "ig-2024-07.fr.md"] in groups
    assert ["nic-2023-12.en.md", "nic-2023-12.es.md", "nic-2023-12.id.md"] in groups
    # each version of IG-2021/04 is grouped with its translation, never with the other version
    assert ["ig-2021-04.en.md", "ig-2021-04.fr.md"] in groups
    assert ["ig-2021-04.v2024.en.md", "ig-2021-04.v2024.fr.md"] in groups
    assert len(groups) == 4  # the single-language directives stay alone
    documents = {d.doc_id: d for d in sample_assistant.documents()}
    assert {documents[f"ig-2024-07.{lang}.md"].group_id for lang in ("en", "fr", "ar")} == {
        "ig-2024-07.ar.md"
    }
    assert documents["ig-2022-15.de.md"].group_id == "ig-2022-15.de.md"


def test_french_question_cites_the_french_version_and_lists_translations(
    sample_assistant: Assistant,
) -> None:
    answer = sample_assistant.ask(
        "Dans quel délai le pétitionnaire doit-il recevoir un accusé de réception ?"
    )

    assert not answer.refused, answer.answer
    assert answer.language == "fr"
    petitions = [c for c in answer.citations if c.doc_id.startswith("ig-2024-07.")]
    assert petitions, [c.doc_id for c in answer.citations]
    for citation in petitions:
        assert citation.doc_id == "ig-2024-07.fr.md"
        assert citation.language == "fr"
        assert {"en", "ar"} <= set(citation.translations)
        assert verify_quote(citation.quote, citation.text)
    assert any("trois jours ouvrables" in c.text for c in petitions)


def test_translations_of_a_passage_are_its_aligned_versions(sample_assistant: Assistant) -> None:
    french = next(d for d in sample_assistant.documents() if d.doc_id == "ig-2024-07.fr.md")
    chunks = sample_assistant.store.chunks_of(french)
    rows = zip(chunks["ids"], chunks["documents"], chunks["metadatas"], strict=True)
    chunk_id, locator = next(
        (cid, meta["locator"]) for cid, text, meta in rows if "trois jours ouvrables" in text
    )

    versions = {p.language: p for p in sample_assistant.translations_of(chunk_id)}

    assert set(versions) == {"en", "ar"}
    assert versions["en"].locator == locator == "Article 4"
    assert versions["ar"].locator == "المادة 4"
    assert "within three working days of registration" in versions["en"].text
    assert sample_assistant.translations_of(chunk_id.replace(french.version, "stale")) == []


@pytest.mark.parametrize("mode", ["dense", "lexical", "latent", "hybrid"])
def test_every_retrieval_mode_answers_on_its_own(sample_assistant: Assistant, mode: str) -> None:
    settings = sample_assistant.settings
    previous = settings.retrieval.mode
    settings.retrieval.mode = mode  # type: ignore[assignment]
    try:
        answer = sample_assistant.ask("Within how many days must a petition be answered?")
    finally:
        settings.retrieval.mode = previous
    assert not answer.refused, (mode, answer.answer)
    assert all(p.dense_score > 0 for p in answer.retrieved), mode
    assert any(c.doc_id.startswith("ig-2024-07.") for c in answer.citations), mode


def test_the_quotes_sentences_are_embedded_at_ingest_not_at_the_first_question(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.integration.test_parts import PER_ARTICLE

    write_files(tmp_path / "corpus", PER_ARTICLE)
    assistant = open_assistant(tmp_path / "data")
    try:
        assistant.ingest([tmp_path / "corpus"], progress=False)
        passages_encoded: list[int] = []
        real_encode = assistant.embeddings.bundled.encode

        def counting(texts: Any, is_query: bool) -> Any:
            if not is_query:
                passages_encoded.append(len(texts))
            return real_encode(texts, is_query)

        monkeypatch.setattr(assistant.embeddings.bundled, "encode", counting)
        answer = assistant.ask("How many days of paid annual leave does an official get?")
        assert "twenty-four working days" in answer.citations[0].quote
        assert passages_encoded == []  # every sentence vector came from the ingest
    finally:
        assistant.close()
