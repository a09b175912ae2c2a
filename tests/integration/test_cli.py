"""``regula`` as a user runs it: a subprocess from the repository root, over the session's
sample index (ingested by ``regula ingest corpus/sample --json`` itself, see conftest).

Each expensive command runs once per module; several tests read its output.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from retrieval.answer.citations import check_markers
from retrieval.answer.refusal import DEFAULT_THRESHOLD
from retrieval.config import load_settings
from retrieval.prompts import Prompts
from testkit import CONFIG, ROOT, SAMPLE_FILES, free_port
from tests.integration.helpers import IngestedCorpus, json_lines, regula

# README, "JSON answer".
ANSWER_KEYS = {
    "question", "language", "answer", "refused", "outcome", "citations", "nearest", "relevance",
    "timings_ms",
}  # fmt: skip
CITATION_KEYS = {
    "n", "chunk_id", "doc_id", "title", "locator", "source", "date", "language", "quote",
    "text", "score", "translations",
}  # fmt: skip
NEAREST_KEYS = {"doc_id", "title", "language", "score"}
FRENCH = "Dans quel délai le pétitionnaire doit-il recevoir un accusé de réception ?"
ENGLISH = "Within how many days must an initial asset declaration be submitted?"
GERMAN = "Bis wann muss ich einen möglichen Interessenkonflikt meinem Vorgesetzten melden?"
NAMING_AN_UNKNOWN_ACT = (
    "Under PSD2, within how many days must an initial asset declaration be submitted?"
)
OUT_OF_SCOPE = "What is the speed limit for cars on the motorway?"
PROMPTS = Prompts()
# The session's index is not calibrated and config.yaml leaves the thresholds unset.
MIN_RELEVANCE = load_settings(CONFIG, env={}).answer.answer_above or DEFAULT_THRESHOLD


def check_answer(payload: dict[str, Any]) -> None:
    """The documented JSON answer: keys, resolvable markers, verbatim quotes."""
    assert set(payload) >= ANSWER_KEYS, sorted(payload)
    assert isinstance(payload["refused"], bool)
    assert payload["outcome"] in {"answer", "closest", "not_covered"}
    assert payload["refused"] is (payload["outcome"] != "answer")
    assert payload["timings_ms"]["total"] > 0
    numbers = {c["n"] for c in payload["citations"]}
    assert sorted(numbers) == list(range(1, len(numbers) + 1))
    assert check_markers(payload["answer"], numbers) == []
    for citation in payload["citations"]:
        assert set(citation) >= CITATION_KEYS, sorted(citation)
        assert citation["quote"], citation
        assert citation["quote"] in citation["text"], (citation["quote"], citation["text"])
        assert citation["chunk_id"].startswith(citation["doc_id"] + "::")
        assert citation["doc_id"] in SAMPLE_FILES
        assert isinstance(citation["translations"], list)
        assert f"[{citation['n']}]" in payload["answer"]  # every citation is used


# --- ingest -----------------------------------------------------------------------------------


def test_ingest_json_report(sample_index: IngestedCorpus) -> None:
    report = sample_index.report

    assert report == {
        "added": len(SAMPLE_FILES), "updated": 0, "unchanged": 0, "removed": 0,
        "chunks": report["chunks"], "failed": [], "conflicts": [], "doubts": [],
        "read": report["read"], "calibration": report["calibration"],
    }  # fmt: skip
    assert report["calibration"]["method"] == "background"  # measured on the new index
    read = {r["doc_id"]: r for r in report["read"]}  # what the reader found, per file
    assert set(read) == set(SAMPLE_FILES)
    assert read["ig-2024-07.en.md"]["articles"] == "1–12"
    assert read["ig-2024-07.en.md"]["ocr_pages"] == 0
    assert sum(r["chunks"] for r in read.values()) == report["chunks"]
    assert report["chunks"] >= 100
    assert sample_index.process.stdout.count("\n") == 1  # one JSON line, no progress bar
    assert "Traceback" not in sample_index.process.stderr


# --- ask --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def french_answer(sample_index: IngestedCorpus) -> dict[str, Any]:
    process = regula("ask", FRENCH, "--json", "--data-dir", sample_index.data_dir)
    assert process.returncode == 0, process.stderr
    (payload,) = json_lines(process.stdout)
    return dict(payload)


def test_ask_json_has_the_documented_schema(french_answer: dict[str, Any]) -> None:
    check_answer(french_answer)
    assert "id" not in french_answer
    assert french_answer["question"] == FRENCH
    assert french_answer["language"] == "fr"
    assert french_answer["refused"] is False
    assert french_answer["answer"].startswith(PROMPTS.get("answer_intro", "fr"))


def test_ask_cites_the_french_version_with_its_translations(french_answer: dict[str, Any]) -> None:
    citation = next(c for c in french_answer["citations"] if "trois jours" in c["quote"])

    assert citation["doc_id"] == "ig-2024-07.fr.md"
    assert citation["language"] == "fr"
    assert citation["locator"].startswith("Article 4")
    assert citation["source"] == "https://lex.valdoria.example/ig-2024-07/fr"
    assert sorted(citation["translations"]) == ["ar", "en"]


@pytest.fixture(scope="module")
def batch(sample_index: IngestedCorpus) -> subprocess.CompletedProcess[str]:
    lines = [
        ENGLISH,
        "",
        json.dumps({"id": "x1", "question": FRENCH}, ensure_ascii=False),
        "{not json",
        NAMING_AN_UNKNOWN_ACT,
        json.dumps({"id": 7, "question": OUT_OF_SCOPE}),
    ]
    return regula(
        "ask", "-", "--json", "--data-dir", sample_index.data_dir, stdin="\n".join(lines) + "\n"
    )


def test_batch_prints_one_json_line_per_question(
    batch: subprocess.CompletedProcess[str],
) -> None:
    assert batch.returncode == 0, batch.stderr
    plain, tagged, bad, named, out_of_scope = json_lines(batch.stdout)

    assert "id" not in plain
    assert plain["question"] == ENGLISH
    assert plain["language"] == "en"
    assert tagged["id"] == "x1"
    assert tagged["question"] == FRENCH
    assert tagged["language"] == "fr"
    assert bad == {"error": "not a question line", "line": "{not json"}
    assert out_of_scope["id"] == "7"
    for payload in (plain, tagged, named, out_of_scope):
        check_answer(payload)


def test_a_question_naming_an_act_no_document_mentions_gets_the_closest_passages(
    batch: subprocess.CompletedProcess[str],
) -> None:
    """Without "PSD2" the question is answered (test_batch_answers_…); with it, the same
    passages are shown as the closest ones and the reply names what the corpus never mentions."""
    named = json_lines(batch.stdout)[3]

    assert named["outcome"] == "closest", named["answer"]
    assert named["unknown_names"] == ["PSD2"]
    intro, note, *_ = named["answer"].splitlines()
    assert intro == PROMPTS.get("closest_intro", "en")
    assert note == PROMPTS.get("unknown_names", "en", names="PSD2")
    assert named["citations"][0]["doc_id"] == "nic-2023-12.en.md"


def test_batch_answers_in_scope_questions_from_the_right_directive(
    batch: subprocess.CompletedProcess[str],
) -> None:
    plain, tagged, *_ = json_lines(batch.stdout)

    assert not plain["refused"], plain["answer"]
    assert plain["citations"][0]["doc_id"] == "nic-2023-12.en.md"
    assert any("30 days" in c["quote"] for c in plain["citations"])
    assert not tagged["refused"], tagged["answer"]
    assert any(c["doc_id"] == "ig-2024-07.fr.md" for c in tagged["citations"])


def test_out_of_scope_question_is_refused_with_nearest_documents(
    batch: subprocess.CompletedProcess[str],
) -> None:
    refusal = json_lines(batch.stdout)[-1]

    assert refusal["refused"] is True, refusal["answer"]
    assert refusal["outcome"] == "not_covered"
    assert refusal["citations"] == []
    assert refusal["relevance"] < MIN_RELEVANCE
    assert "[1]" not in refusal["answer"]
    assert refusal["answer"].startswith(PROMPTS.get("not_covered", "en"))
    assert 1 <= len(refusal["nearest"]) <= 3
    for document in refusal["nearest"]:
        assert set(document) == NEAREST_KEYS
        assert document["doc_id"] in SAMPLE_FILES
        assert f"({document['doc_id']})" in refusal["answer"]
    groups = {d["doc_id"].rsplit(".", 2)[0] for d in refusal["nearest"]}
    assert len(groups) == len(refusal["nearest"])  # translations listed once


# --- chat -------------------------------------------------------------------------------------


def test_chat_answers_each_piped_question_and_exits_at_eof(sample_index: IngestedCorpus) -> None:
    process = regula("chat", "--data-dir", sample_index.data_dir, stdin=f"{ENGLISH}\n\n{GERMAN}\n")

    assert process.returncode == 0, process.stderr
    assert "Traceback" not in process.stderr
    out = process.stdout
    assert PROMPTS.get("chat_welcome", "en") not in out  # not a terminal: no banner, no prompt
    assert PROMPTS.get("chat_prompt", "en") not in out
    assert out.count(PROMPTS.get("answer_intro", "en")) == 1
    assert out.count(PROMPTS.get("answer_intro", "de")) == 1
    assert out.index(PROMPTS.get("answer_intro", "en")) < out.index(
        PROMPTS.get("answer_intro", "de")
    )
    assert re.search(r"^\[1\] .+, Article \d+", out, flags=re.MULTILINE)
    assert re.search(r"^\[1\] .+, Artikel \d+", out, flags=re.MULTILINE)


def test_chat_on_an_empty_index_says_so(tmp_path: Path) -> None:
    process = regula("chat", "--data-dir", tmp_path / "empty", stdin="")

    assert process.returncode == 0, process.stderr
    assert process.stdout.strip() == PROMPTS.get("empty_index", "en")


# --- docs and stats ---------------------------------------------------------------------------


def test_docs_lists_every_document(sample_index: IngestedCorpus) -> None:
    process = regula("docs", "--data-dir", sample_index.data_dir)

    assert process.returncode == 0, process.stderr
    lines = process.stdout.splitlines()
    assert [line.split()[0] for line in lines] == SAMPLE_FILES
    french = next(line for line in lines if line.startswith("ig-2024-07.fr.md"))
    assert "  fr  2024-03-18  Directive relative au traitement des pétitions" in french
    assert "[translations: ig-2024-07.ar.md]" in french


def test_docs_json(sample_index: IngestedCorpus) -> None:
    process = regula("docs", "--json", "--data-dir", sample_index.data_dir)

    assert process.returncode == 0, process.stderr
    (documents,) = json_lines(process.stdout)
    assert [d["doc_id"] for d in documents] == SAMPLE_FILES
    english = next(d for d in documents if d["doc_id"] == "nic-2023-12.en.md")
    assert english["language"] == "en"
    assert english["number"] == "NIC-2023/12"
    assert english["chunk_count"] > 0
    assert sum(d["chunk_count"] for d in documents) == sample_index.report["chunks"]


def test_stats_json(sample_index: IngestedCorpus) -> None:
    process = regula("stats", "--json", "--data-dir", sample_index.data_dir)

    assert process.returncode == 0, process.stderr
    (stats,) = json_lines(process.stdout)
    assert stats["documents"] == len(SAMPLE_FILES)
    assert stats["chunks"] == sample_index.report["chunks"]
    assert stats["languages"] == {
        "ar": 1, "de": 1, "en": 5, "es": 1, "fr": 3, "id": 1, "pl": 1, "pt": 1, "vi": 1,
    }  # fmt: skip
    assert ["ig-2024-07.ar.md", "ig-2024-07.en.md", "ig-2024-07.fr.md"] in stats[
        "translation_groups"
    ]
    assert stats["data_dir"] == str(sample_index.data_dir)
    assert stats["vector_store"] == "embedded"
    assert stats["retrieval"] == "hybrid"  # mode auto with the bundled model


# --- eval -------------------------------------------------------------------------------------


def test_eval_in_llm_mode_prints_the_verification_totals(
    sample_index: IngestedCorpus, tmp_path: Path
) -> None:
    qa = tmp_path / "qa.jsonl"
    lines = (ROOT / "eval" / "sample_qa.jsonl").read_text(encoding="utf-8").splitlines()
    qa.write_text("\n".join(lines[:2]) + "\n", encoding="utf-8")
    port = free_port()  # nothing listens there: the model is down
    env = {"REGULA_ANSWER__MODE": "llm", "REGULA_LLM__BASE_URL": f"http://127.0.0.1:{port}/v1"}

    text = regula("eval", qa, "--details", "--data-dir", sample_index.data_dir, env=env)
    as_json = regula("eval", qa, "--json", "--data-dir", sample_index.data_dir, env=env)

    assert text.returncode == 0, text.stderr
    assert as_json.returncode == 0, as_json.stderr
    payload = json.loads(as_json.stdout)
    answered = [q for q in payload["questions"] if not q["refused"]]
    assert answered
    assert all(q["fallback"] and q["verification"] is None for q in answered)
    fallbacks = len(answered)
    assert payload["llm"] == {"claims": 0, "kept": 0, "unknown_markers": 0, "fallbacks": fallbacks}
    assert (
        f"LLM claims: 0 written, 0 kept, 0 markers to no passage; {fallbacks} fallbacks"
        in text.stdout
    )
    assert "llm=fallback" in text.stdout


# --- configuration errors ---------------------------------------------------------------------


def test_unknown_config_key_exits_1_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("retrieval:\n  k: 4\n  top_k: 9\n", encoding="utf-8")

    process = regula("ask", "anything", "--config", config, "--data-dir", tmp_path / "data")

    assert process.returncode == 1
    assert process.stdout == ""
    assert process.stderr.startswith("regula: invalid configuration")
    assert "retrieval.top_k" in process.stderr
    assert "Traceback" not in process.stderr
    assert not (tmp_path / "data").exists()  # failed before touching the index


def test_missing_config_file_exits_1(tmp_path: Path) -> None:
    process = regula("stats", "--config", tmp_path / "absent.yaml")

    assert process.returncode == 1
    assert "config file not found" in process.stderr
    assert "Traceback" not in process.stderr


def test_bad_environment_override_exits_1_naming_the_key(tmp_path: Path) -> None:
    process = regula("stats", "--data-dir", tmp_path / "data", env={"REGULA_RETRIEVAL__K": "many"})

    assert process.returncode == 1
    assert "retrieval.k" in process.stderr
    assert "Traceback" not in process.stderr
