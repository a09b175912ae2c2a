# ruff: noqa: E501
"""Parts of one act stay whole: an act kept one file per article (all carrying the act's number
and date), an act in one file whose article is replaced by a later text, and texts that cannot
be told apart. Real ingest (CLI), real Chroma, the bundled model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from retrieval.assistant import Assistant
from retrieval.search.fusion import SearchFilters
from testkit.corpus import open_assistant, write_files
from tests.integration.helpers import regula

pytestmark = pytest.mark.timeout(600)

HEAD = '---\ntitle: "Civil Service Code 2019"\nnumber: "45/2019/CS"\ndate: "2019-11-20"\nlanguage: en\n---\n\n'
ARTICLES = {
    1: ("Probation", "A newly appointed official shall serve a probation period of six months."),
    2: (
        "Annual leave",
        "Every official is entitled to twenty-four working days of paid annual leave each calendar year.",
    ),
    3: (
        "Overtime",
        "Overtime shall not exceed forty hours in any month and shall be compensated with time off.",
    ),
    4: (
        "Notice of resignation",
        "An official who resigns shall give written notice forty-five days before leaving the service.",
    ),
    5: (
        "Gifts",
        "Gifts worth more than fifty euros shall be entered in the gift register within eight days of receipt.",
    ),
    6: (
        "Travel expenses",
        "Travel expenses shall be reimbursed within thirty days of the submission of receipts.",
    ),
}
PER_ARTICLE = {
    f"cs-art-{n:03}.md": f"{HEAD}## Article {n} - {title}\n\n1. {body}\n"
    for n, (title, body) in ARTICLES.items()
}
QUESTIONS = {
    1: ("How long is the probation period of a newly appointed official?", "six months"),
    2: ("How many days of paid annual leave does an official get?", "twenty-four working days"),
    3: ("What is the maximum overtime per month?", "forty hours"),
    4: ("How much notice must an official give before resigning?", "forty-five days"),
    5: ("Within how many days must a gift be entered in the gift register?", "eight days"),
    6: ("When are travel expenses reimbursed?", "thirty days"),
}

WHOLE_ACT = """---
title: "Decision on Municipal Archives"
work: DEC-9
date: "2019-12-01"
valid_from: 2020-01-01
language: en
---

# Decision DEC-9 on Municipal Archives

## Article 1 - Opening hours

1. The municipal archive shall be open to the public on at least four weekdays.

## Article 2 - Copies

1. A copy of an archived record shall be delivered within 20 days of the request.

## Article 3 - Fees

1. Copies of archived records are free of charge for residents.
"""
AMENDMENT = """---
title: "Decision DEC-14 amending the Decision on Municipal Archives"
work: DEC-9
date: "2024-05-02"
valid_from: 2024-07-01
language: en
---

## Article 2 - Copies

1. A copy of an archived record shall be delivered within 5 days of the request.
"""
UNTOLD = {
    "notice-a.md": '---\ntitle: "Notice on snow clearing"\nnumber: "N-7"\ndate: "2022-01-10"\nlanguage: en\n---\n\nSidewalks in front of public buildings shall be cleared of snow by seven in the morning.\n',
    "notice-b.md": '---\ntitle: "Notice on street markets"\nnumber: "N-7"\ndate: "2023-03-01"\nlanguage: en\n---\n\nStreet markets may operate on Saturdays from six in the morning until two in the afternoon.\n',
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("parts")
    write_files(
        root / "corpus", {**PER_ARTICLE, "dec9.md": WHOLE_ACT, "dec14.md": AMENDMENT, **UNTOLD}
    )
    process = regula("ingest", root / "corpus", "--json", "--data-dir", root / "data")
    assert process.returncode == 0, process.stderr
    return root / "data", json.loads(process.stdout)


@pytest.fixture(scope="module")
def assistant(corpus: tuple[Path, dict[str, Any]]) -> Iterator[Assistant]:
    a = open_assistant(corpus[0])
    yield a
    a.close()


def _ask(assistant: Assistant, question: str, as_of: str | None = None) -> dict[str, Any]:
    answer = assistant.ask(question, filters=SearchFilters(as_of=as_of) if as_of else None)
    return answer.to_json()


def test_the_ingest_reports_no_conflict_for_parts_and_a_doubt_for_untold_texts(
    corpus: tuple[Path, dict[str, Any]],
) -> None:
    report = corpus[1]
    assert report["failed"] == []
    assert report["conflicts"] == []
    (doubt,) = report["doubts"]
    assert doubt["work"] == "N-7"
    assert doubt["doc_ids"] == ["notice-a.md", "notice-b.md"]


@pytest.mark.parametrize("article", sorted(QUESTIONS))
def test_every_article_of_an_act_kept_per_file_is_answerable(
    assistant: Assistant, article: int
) -> None:
    question, evidence = QUESTIONS[article]
    payload = _ask(assistant, question)
    first = payload["citations"][0]
    assert first["doc_id"] == f"cs-art-{article:03}.md", payload
    assert first["locator"].startswith(f"Article {article}")
    assert evidence in first["quote"]
    assert first["valid_until"] is None


def test_both_texts_that_cannot_be_told_apart_stay_searchable(assistant: Assistant) -> None:
    snow = _ask(assistant, "By what time must sidewalks be cleared of snow?")
    market = _ask(assistant, "On which day may street markets operate?")
    assert snow["citations"][0]["doc_id"] == "notice-a.md"
    assert market["citations"][0]["doc_id"] == "notice-b.md"


COPY_Q = "Within how many days must a copy of an archived record be delivered?"


def test_a_replaced_article_answers_with_its_new_text_from_its_date(assistant: Assistant) -> None:
    for as_of in ("2024-07-01", None):
        payload = _ask(assistant, COPY_Q, as_of)
        cited = {c["doc_id"]: c for c in payload["citations"]}
        assert "dec14.md" in cited, payload
        assert "5 days" in cited["dec14.md"]["quote"]
        assert "20 days" not in payload["answer"]


def test_the_replaced_article_answers_with_its_old_text_before_that_date(
    assistant: Assistant,
) -> None:
    payload = _ask(assistant, COPY_Q, "2024-06-30")
    first = payload["citations"][0]
    assert first["doc_id"] == "dec9.md"
    assert "20 days" in first["quote"]
    assert first["valid_until"] == "2024-06-30"
    assert first["superseded_by"] == {"doc_id": "dec14.md", "valid_from": "2024-07-01"}
    assert "5 days" not in payload["answer"]


def test_the_rest_of_the_act_stays_in_force(assistant: Assistant) -> None:
    payload = _ask(assistant, "Are copies of archived records free for residents?")
    first = payload["citations"][0]
    assert first["doc_id"] == "dec9.md"
    assert first["locator"].startswith("Article 3")
    assert first["valid_until"] is None


def test_docs_and_history_group_the_parts_under_their_act(
    corpus: tuple[Path, dict[str, Any]],
) -> None:
    data = corpus[0]
    listed = json.loads(regula("docs", "--json", "--data-dir", data).stdout)
    by_id = {d["doc_id"]: d for d in listed}
    assert {by_id[f"cs-art-{n:03}.md"]["act"] for n in ARTICLES} == {"45/2019/CS"}
    assert by_id["cs-art-005.md"]["parts"] == ["5"]
    assert by_id["dec9.md"]["part_until"] == {"2": "2024-06-30"}
    assert by_id["notice-a.md"]["doubt"]
    acts = {
        a["act"]: a
        for a in json.loads(regula("docs", "--json", "--by-act", "--data-dir", data).stdout)
    }
    assert acts["45/2019/CS"]["in_parts"]
    assert acts["45/2019/CS"]["articles"] == "1–6"
    assert [d["doc_id"] for d in acts["45/2019/CS"]["documents"]] == sorted(PER_ARTICLE)
    assert acts["DEC-9"]["articles"] == "1–3"
    assert [d["doc_id"] for d in acts["DEC-9"]["documents"]] == ["dec9.md", "dec14.md"]
    text = regula("docs", "--data-dir", data).stdout
    assert "act 45/2019/CS: 6 documents, articles 1–6" in text
    assert "[DOUBT: versions or parts of N-7? all searched]" in text
    history = regula("history", "45/2019/CS", "--data-dir", data).stdout
    assert "6 articles with one version each (1–6)" in history
    dec9 = regula("history", "DEC-9", "--data-dir", data).stdout
    assert "article 1–3:" in dec9
    assert "article 2:" in dec9
    ingest_text = regula("ingest", "--data-dir", data, Path(by_id["notice-a.md"]["path"]).parent)
    assert "DOUBT N-7: 2 documents of N-7 (notice-a.md, notice-b.md)" in ingest_text.stdout
