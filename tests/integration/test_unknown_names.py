"""A question naming something the corpus never mentions, on the real sample index."""

from __future__ import annotations

from pathlib import Path

from retrieval.assistant import Assistant
from retrieval.prompts import Prompts
from testkit.corpus import open_assistant, write_files
from tests.integration.helpers import IngestedCorpus

NAMED = "Under PSD2, within how many days must an initial asset declaration be submitted?"


def test_a_follow_up_to_a_question_naming_an_unknown_act_is_not_answered_either(
    sample_assistant: Assistant,
) -> None:
    answer = sample_assistant.ask("and for gifts?", context=NAMED)

    assert answer.outcome == "closest", answer.answer
    assert answer.unknown_names == ["PSD2"]


def test_the_note_is_in_the_askers_language(sample_assistant: Assistant) -> None:
    french = (
        "Selon la PSD2, dans quel délai le pétitionnaire doit-il recevoir un accusé de réception ?"
    )

    answer = sample_assistant.ask(french)

    assert answer.outcome == "closest", answer.answer
    assert answer.answer.splitlines()[:2] == [
        Prompts().get("closest_intro", "fr"),
        "Aucun document indexé ne mentionne PSD2.",
    ]


def test_switched_off_the_same_question_is_answered(sample_index: IngestedCorpus) -> None:
    assistant = open_assistant(sample_index.data_dir, answer={"unknown_names": False})
    try:
        answer = assistant.ask(NAMED)
    finally:
        assistant.close()

    assert answer.outcome == "answer", answer.answer
    assert answer.unknown_names == []


def test_a_question_not_covered_still_says_which_name_no_document_mentions(
    sample_assistant: Assistant,
) -> None:
    answer = sample_assistant.ask("What is the speed limit for cars on the motorway under TRVB?")

    assert answer.outcome == "not_covered", answer.answer
    assert answer.unknown_names == ["TRVB"]
    assert answer.answer.splitlines()[1] == "No indexed document mentions TRVB."


def test_a_documents_aliases_are_names_it_mentions(tmp_path: Path) -> None:
    """A corpus that spells the regulation out: its declared aliases make the acronym known."""
    body = (
        "# Data Protection Rules\n\n"
        "## Article 4 — Breach notification\n\n"
        "The controller shall notify a personal data breach to the supervisory authority "
        "within 72 hours of becoming aware of it.\n"
    )
    write_files(tmp_path / "corpus", {
        "dpr.md": "---\ntitle: Data Protection Rules\naliases: [GDPR, RGPD]\n---\n" + body,
        "plain.md": "---\ntitle: Plain Rules\n---\n" + body.replace("Data Protection", "Plain"),
    })  # fmt: skip
    assistant = open_assistant(tmp_path / "data")
    try:
        assistant.ingest([tmp_path / "corpus"])
        [declared] = [d for d in assistant.documents() if d.doc_id == "dpr.md"]
        question = "Under the GDPR, within how many hours must a breach be notified? And CCPA?"
        answer = assistant.ask(question)
    finally:
        assistant.close()

    assert declared.aliases == "GDPR, RGPD"
    assert answer.unknown_names == ["CCPA"]
