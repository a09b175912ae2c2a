"""What `regula eval` reports of the outcomes an official acts on: precision, coverage, shown."""

from __future__ import annotations

from retrieval.evaluation import QAItem, evaluate
from retrieval.models import Answer, Citation

GOLD = [{"doc": "a.md", "evidence": "within 15 days"}]


def _answer(outcome: str, text: str) -> Answer:
    citation = Citation(1, "a.md::v::0", "a.md", "A", "Article 1", "", "", "en", text, text, 0.9)
    refused = outcome != "answer"
    return Answer("q", "en", "…", refused, [citation], outcome=outcome)  # type: ignore[arg-type]


def test_precision_coverage_shown_and_out_of_scope_answered() -> None:
    items = [
        QAItem("1", "en", "q1", "in_scope", GOLD),  # answered, right
        QAItem("2", "en", "q2", "in_scope", GOLD),  # answered, wrong passage
        QAItem("3", "en", "q3", "in_scope", GOLD),  # closest, right passage shown
        QAItem("4", "en", "q4", "in_scope", GOLD),  # closest, wrong
        QAItem("5", "en", "q5", "out_of_scope", []),  # answered: an error
        QAItem("6", "en", "q6", "out_of_scope", []),  # closest: handled
    ]
    answers = {
        "1": _answer("answer", "It is answered within 15 days."),
        "2": _answer("answer", "Another rule."),
        "3": _answer("closest", "It is answered within 15 days."),
        "4": _answer("closest", "Another rule."),
        "5": _answer("answer", "Another rule."),
        "6": _answer("closest", "Another rule."),
    }
    _, rows = evaluate(items, lambda item: answers[item.id])
    overall = rows[-1]
    assert overall["precision"] == 0.5
    assert overall["coverage"] == 0.5
    assert overall["shown"] == 0.5
    assert overall["oos_answered"] == 0.5
    assert overall["hit"] == 0.25  # a closest outcome is no hit
