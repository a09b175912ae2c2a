"""The refusal decision: evidence score, two thresholds, where they come from, three outcomes
in the JSON, the terminal and Telegram HTML."""

from __future__ import annotations

import dataclasses

import pytest

from bot.telegram_bot import telegram_html
from bot.terminal import terminal_text
from retrieval.answer.refusal import (
    DEFAULT_THRESHOLD,
    Calibration,
    Thresholds,
    evidence_score,
    pick_thresholds,
    quantile,
    thresholds_for,
)
from retrieval.config import AnswerSettings
from retrieval.models import Answer, Citation, NearestDocument, Passage
from retrieval.prompts import Prompts
from testkit.loopback_botapi import visible_text

PROMPTS = Prompts()


def calibration(answer_above: float = 0.86, not_covered_below: float = 0.82) -> Calibration:
    return Calibration(answer_above, not_covered_below, "2026-01-01T00:00:00+00:00", "rev")


def passage(score: float) -> Passage:
    return Passage("d::v::0", "d", "text", "¶ 1", "Title", "en", "", "", "d", 0.1, score)


def cite() -> Citation:
    return Citation(1, "d::v::0", "d", "Directive on Petitions", "Article 3(2)",
                    "https://lex.example/d", "2024-03-18", "en",
                    "An oral petition shall be recorded.", "2. An oral petition shall be recorded.",
                    0.8)  # fmt: skip


@pytest.mark.parametrize(
    ("score", "outcome"),
    [(0.90, "answer"), (0.86, "answer"), (0.859, "closest"), (0.82, "closest"),
     (0.8199, "not_covered"), (0.0, "not_covered")],
)  # fmt: skip
def test_two_thresholds_give_three_outcomes(score: float, outcome: str) -> None:
    assert Thresholds(0.86, 0.82, "calibration").decide(score) == outcome


def test_evidence_score_is_the_best_passage_cosine() -> None:
    assert evidence_score([passage(0.7), passage(0.83), passage(0.8)]) == 0.83
    assert evidence_score([]) == 0.0


def test_centred_evidence_removes_each_languages_pull_before_taking_the_best() -> None:
    english, french = passage(0.83), dataclasses.replace(passage(0.80), language="fr")

    centred = evidence_score([english, french], {"en": 0.78, "fr": 0.70})

    assert centred == pytest.approx(0.10)  # the French passage: 0.80 - 0.70 beats 0.83 - 0.78


def test_unset_config_takes_the_calibration_then_the_default() -> None:
    unset = AnswerSettings()
    assert unset.answer_above is None
    assert unset.min_relevance is None

    assert thresholds_for(unset, calibration()) == Thresholds(0.86, 0.82, "calibration")
    default = thresholds_for(unset, None)
    assert default == Thresholds(DEFAULT_THRESHOLD, DEFAULT_THRESHOLD, "default")
    assert default.decide(0.78) == "not_covered"  # uncalibrated: today's behaviour


def test_config_overrides_each_threshold_and_min_relevance_fills_both() -> None:
    one = thresholds_for(AnswerSettings(answer_above=0.9), calibration())
    assert one == Thresholds(0.9, 0.82, "config/calibration")

    legacy = thresholds_for(AnswerSettings(min_relevance=0.7), calibration())
    assert legacy == Thresholds(0.7, 0.7, "config")

    # not_covered_below is never above answer_above
    clipped = thresholds_for(AnswerSettings(answer_above=0.8), calibration(0.86, 0.84))
    assert clipped.not_covered_below == 0.8


def test_calibration_round_trips_through_its_record_and_ignores_other_records() -> None:
    stored = calibration()
    assert Calibration.from_record({"kind": "calibration", **stored.record()}) == stored
    assert Calibration.from_record({"answer_above": 0.8}) is None
    assert Calibration.from_record({**stored.record(), "signal": "another"}) is None
    centred = {**stored.record(), "signal": "centred"}
    assert Calibration.from_record(centred) is None
    assert Calibration.from_record(centred, "centred") == dataclasses.replace(
        stored, signal="centred"
    )


def test_thresholds_are_quantiles_of_the_background_scores() -> None:
    background = [0.70 + i / 1000 for i in range(101)]  # 0.700 … 0.800

    assert quantile(background, 0.5) == pytest.approx(0.75)
    assert pick_thresholds(background) == (0.797, 0.75)  # above 97 in 100; the median
    assert pick_thresholds([]) == (DEFAULT_THRESHOLD, DEFAULT_THRESHOLD)


def test_labelled_questions_keep_false_refusals_within_five_percent() -> None:
    in_scope = [0.70] + [0.80 + i / 1000 for i in range(39)]  # 40 questions, one low

    answer_above, below = pick_thresholds([0.90, 0.95], in_scope)

    assert sum(s < answer_above for s in in_scope) <= 0.05 * len(in_scope)
    assert answer_above == 0.801  # two of forty (5 %) below it
    assert below < min(in_scope)  # no labelled in-scope question is "not covered"


def closest() -> Answer:
    text = PROMPTS.get("closest_intro", "en") + "\nAn oral petition shall be recorded. [1]"
    return Answer("q", "en", text, True, [cite()], outcome="closest")


def test_outcome_defaults_from_refused_and_is_in_the_json() -> None:
    assert Answer("q", "en", "a", False).outcome == "answer"
    assert Answer("q", "en", "n", True).outcome == "not_covered"
    payload = closest().to_json()
    assert payload["outcome"] == "closest"
    assert payload["refused"] is True
    assert payload["citations"][0]["quote"] == "An oral petition shall be recorded."


def test_every_language_words_the_closest_outcome_without_the_answer_framing() -> None:
    for language in PROMPTS.languages:
        intro = PROMPTS.get("closest_intro", language)
        assert intro != PROMPTS.get("answer_intro", language)
        assert language == "en" or intro != PROMPTS.get("closest_intro", "en")


def test_terminal_renders_closest_with_its_citations() -> None:
    shown = terminal_text.render_answer(closest(), PROMPTS)

    assert shown.startswith("I found no rule that answers this directly")
    assert "According to the indexed documents" not in shown
    assert "[1] Directive on Petitions, Article 3(2)" in shown
    assert '"An oral petition shall be recorded."' in shown


def test_telegram_renders_closest_under_its_own_header_and_refusal_without_sources() -> None:
    html_text = telegram_html.render_answer(closest(), PROMPTS)
    shown = visible_text(html_text, "HTML")
    assert "Closest passages" in shown
    assert PROMPTS.get("bot_sources_header", "en") not in shown
    assert "[1] Directive on Petitions, Article 3(2) (2024-03-18)" in shown

    nearest = [NearestDocument("d", "Directive on Petitions", "en", 0.7)]
    refusal = Answer("q", "en", "Not covered.\n- Directive on Petitions (d)", True, [], nearest)
    refused = visible_text(telegram_html.render_answer(refusal, PROMPTS), "HTML")
    assert refusal.outcome == "not_covered"
    assert "[1]" not in refused
    assert "Closest passages" not in refused
