"""Versions of a work: as-of search, derived end dates, superseded citations, repeals, history.

One tiny corpus (``versions_corpus``) ingested once per module: two versions of DEC-7 (30 days
from 2020, 15 days from 2024-07-01, the later one also in French), a circular in force from 2018
and a decision that repeals it from 2023.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from retrieval.assistant import Assistant
from retrieval.search.fusion import SearchFilters
from testkit.corpus import open_assistant, write_files
from tests.integration import versions_corpus as vc
from tests.integration.helpers import regula

pytestmark = pytest.mark.timeout(600)

FILES = {
    "dec7-2020.en.md": vc.DEADLINE_2020,
    "dec7-2024.en.md": vc.DEADLINE_2024,
    "dec7-2024.fr.md": vc.DEADLINE_2024_FR,
    "circ3.en.md": vc.LAMPS_2018,
    "dec11.en.md": vc.REPEAL_2023,
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("versions")
    write_files(root / "corpus", FILES)
    process = regula("ingest", root / "corpus", "--json", "--data-dir", root / "data")
    assert process.returncode == 0, process.stderr
    report = json.loads(process.stdout)
    assert report["added"] == len(FILES)
    assert report["conflicts"] == []
    return root / "corpus", root / "data"


@pytest.fixture(scope="module")
def assistant(corpus: tuple[Path, Path]) -> Iterator[Assistant]:
    a = open_assistant(corpus[1])
    yield a
    a.close()


def _ask(assistant: Assistant, question: str, as_of: str | None = None) -> dict[str, Any]:
    answer = assistant.ask(question, filters=SearchFilters(as_of=as_of) if as_of else None)
    return answer.to_json()


def test_an_earlier_date_cites_the_first_version_with_its_derived_end(
    corpus: tuple[Path, Path],
) -> None:
    process = regula(
        "ask", vc.DEADLINE_Q, "--json", "--as-of", "2022-03-01", "--data-dir", corpus[1]
    )
    assert process.returncode == 0, process.stderr
    payload = json.loads(process.stdout)
    assert payload["as_of"] == "2022-03-01"
    assert not payload["refused"], payload
    cited = payload["citations"]
    assert {c["doc_id"] for c in cited} == {"dec7-2020.en.md"}
    first = cited[0]
    assert first["work"] == "DEC-7"
    assert first["valid_from"] == "2020-01-01"
    assert first["valid_until"] == "2024-06-30"
    assert first["status"] == "in_force"
    assert first["superseded_by"] == {"doc_id": "dec7-2024.en.md", "valid_from": "2024-07-01"}
    assert "30 days" in first["quote"]
    assert "changed on 2024-07-01" in payload["answer"]


@pytest.mark.parametrize("as_of", ["2025-01-01", None])
def test_a_later_date_and_today_cite_only_the_second_version(
    assistant: Assistant, as_of: str | None
) -> None:
    payload = _ask(assistant, vc.DEADLINE_Q, as_of)
    assert not payload["refused"], payload
    assert {c["doc_id"] for c in payload["citations"]} == {"dec7-2024.en.md"}
    citation = payload["citations"][0]
    assert citation["valid_until"] is None
    assert "superseded_by" not in citation
    assert "15 days" in citation["quote"]
    assert "30 days" not in payload["answer"]


def test_a_french_question_gets_the_french_version(assistant: Assistant) -> None:
    payload = _ask(assistant, vc.DEADLINE_Q_FR, "2025-01-01")
    assert not payload["refused"], payload
    assert payload["citations"][0]["doc_id"] == "dec7-2024.fr.md"
    assert "15 jours" in payload["citations"][0]["quote"]


def test_a_french_question_before_the_change_gets_the_english_first_version(
    assistant: Assistant,
) -> None:
    payload = _ask(assistant, vc.DEADLINE_Q_FR, "2021-05-05")
    assert {c["doc_id"] for c in payload["citations"]} == {"dec7-2020.en.md"}
    assert "2024-07-01" in payload["answer"]  # said in French, with the date


def test_a_repealed_work_is_quoted_inside_its_validity_only(assistant: Assistant) -> None:
    inside = _ask(assistant, vc.LAMPS_Q, "2020-06-01")
    assert "circ3.en.md" in {c["doc_id"] for c in inside["citations"]}
    lamp = next(c for c in inside["citations"] if c["doc_id"] == "circ3.en.md")
    assert lamp["valid_until"] == "2022-12-31"
    assert lamp["superseded_by"] == {"doc_id": "dec11.en.md", "valid_from": "2023-01-01"}
    for as_of in ("2023-01-01", "2024-06-01", None):
        after = _ask(assistant, vc.LAMPS_Q, as_of)
        assert "circ3.en.md" not in {c["doc_id"] for c in after["citations"]}, as_of
        assert "twice a year" not in after["answer"]


def test_translations_group_only_within_one_version(assistant: Assistant) -> None:
    docs = {d.doc_id: d for d in assistant.documents()}
    assert docs["dec7-2024.en.md"].group_id == docs["dec7-2024.fr.md"].group_id
    assert docs["dec7-2020.en.md"].group_id not in {
        docs["dec7-2024.en.md"].group_id,
        docs["dec7-2024.fr.md"].group_id,
    }


def test_docs_and_history_list_the_versions(corpus: tuple[Path, Path]) -> None:
    process = regula("docs", "--json", "--data-dir", corpus[1])
    assert process.returncode == 0, process.stderr
    docs = {d["doc_id"]: d for d in json.loads(process.stdout)}
    assert docs["dec7-2020.en.md"]["valid_until"] == "2024-06-30"
    assert docs["dec7-2024.fr.md"]["valid_until"] is None
    assert docs["dec11.en.md"]["repeals"] == ["CIRC-3"]
    assert {d["status"] for d in docs.values()} == {"in_force"}
    process = regula("history", "DEC-7", "--json", "--data-dir", corpus[1])
    assert process.returncode == 0, process.stderr
    history = json.loads(process.stdout)
    assert [v["doc_id"] for v in history["versions"]] == [
        "dec7-2020.en.md", "dec7-2024.en.md", "dec7-2024.fr.md",
    ]  # fmt: skip
    text = regula("history", "DEC-7", "--data-dir", corpus[1]).stdout
    assert "2020-01-01 – 2024-06-30" in text


def test_a_bad_as_of_date_is_a_usage_error(corpus: tuple[Path, Path]) -> None:
    process = regula("ask", "x", "--as-of", "2024-7-1", "--data-dir", corpus[1])
    assert process.returncode == 2
    assert "YYYY-MM-DD" in process.stderr


def test_chat_answers_as_of_a_date(corpus: tuple[Path, Path]) -> None:
    process = regula(
        "chat", "--as-of", "2022-03-01", "--data-dir", corpus[1], stdin=vc.DEADLINE_Q + "\n"
    )
    assert process.returncode == 0, process.stderr
    assert "30 days" in process.stdout
    assert "15 days" not in process.stdout


def test_overlapping_versions_are_reported_as_conflicts(tmp_path: Path) -> None:
    write_files(tmp_path / "corpus", {
        "a.en.md": vc.DEADLINE_2020.replace("valid_from: 2020-01-01",
                                            "valid_from: 2020-01-01\nvalid_until: 2025-12-31"),
        "b.en.md": vc.DEADLINE_2024,
        "bad.en.md": vc.DEADLINE_2024.replace("valid_from: 2024-07-01", "valid_from: 2024-7-1"),
    })  # fmt: skip
    process = regula("ingest", tmp_path / "corpus", "--json", "--data-dir", tmp_path / "data")
    assert process.returncode == 2  # one file failed
    report = json.loads(process.stdout)
    assert report["failed"][0]["error"] == (
        "valid_from: not a date in the form YYYY-MM-DD: '2024-7-1'"
    )
    (conflict,) = report["conflicts"]
    assert conflict["work"] == "DEC-7"
    assert conflict["doc_ids"] == ["a.en.md"]
    assert "overlaps the version valid from 2024-07-01; ended on 2024-06-30" in conflict["reason"]


def test_a_question_on_a_repealed_rule_says_so_instead_of_answering_from_another(
    assistant: Assistant,
) -> None:
    today = _ask(assistant, vc.LAMPS_Q)
    assert today["outcome"] != "answer", today
    assert today["ended_rule"]["doc_id"] == "circ3.en.md"
    assert (
        "The rule on this, Circular on Street Lamp Inspections, Article 1, was repealed by "
        "Decision on Public Lighting from 2023-01-01" in today["answer"]
    )
    inside = _ask(assistant, vc.LAMPS_Q, "2020-06-01")
    assert "ended_rule" not in inside
    assert inside["outcome"] == "answer"
    french = assistant.ask(
        "À quelle fréquence un électricien doit-il inspecter les lampadaires ?"
    ).to_json()
    assert (
        "a été abrogée par Decision on Public Lighting à compter du 2023-01-01"
        in (french["answer"])
    )


def test_a_superseded_rule_is_no_ended_rule(assistant: Assistant) -> None:
    payload = _ask(assistant, vc.DEADLINE_Q)
    assert "ended_rule" not in payload
    assert payload["outcome"] == "answer"


def test_the_only_rule_on_gifts_was_repealed_so_the_petition_rule_is_no_answer(
    tmp_path: Path,
) -> None:
    from testkit.corpus import ingest_sample_files

    data = ingest_sample_files(tmp_path, ["ig-2024-07.en.md", "ig-2024-07.fr.md"])
    write_files(tmp_path / "gifts", {"d2-2018.md": vc.GIFTS_2018})
    process = regula("ingest", tmp_path / "gifts", "--data-dir", data)
    assert process.returncode == 0, process.stderr
    today = json.loads(regula("ask", vc.GIFTS_Q, "--json", "--data-dir", data).stdout)
    assert today["outcome"] != "answer", today
    assert today["ended_rule"]["doc_id"] == "d2-2018.md"
    assert "Decree on the Gift Register, Article 3" in today["answer"]
    assert "ceased to apply on 2022-01-01" in today["answer"]
    french = regula(
        "ask", "Dans quel délai un cadeau doit-il être inscrit au registre ?", "--json",
        "--data-dir", data,
    )  # fmt: skip
    assert "a cessé de s'appliquer le 2022-01-01" in json.loads(french.stdout)["answer"]
    inside = json.loads(
        regula("ask", vc.GIFTS_Q, "--json", "--as-of", "2020-05-01", "--data-dir", data).stdout
    )
    assert inside["outcome"] == "answer", inside
    assert inside["citations"][0]["doc_id"] == "d2-2018.md"
    assert "5 days" in inside["citations"][0]["quote"]
