"""The follow-up rule (``retrieval.followup``); the terminal chat decides by it as the bot does."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.terminal import cli
from retrieval.followup import MAX_WORDS, WINDOW_S, Conversations, FollowUpRule
from retrieval.models import Answer
from retrieval.prompts import Prompts

RULE = FollowUpRule(Prompts())
STANDALONE = "Who signs the report on an official's declaration of gifts received?"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    "question",
    [
        "and for gifts?",
        "Who signs it?",
        " ".join(["word"] * MAX_WORDS),
        "And what about a gift received from a supplier abroad?",  # English marker
        "Et pour un cadeau reçu d'un fournisseur étranger ?",  # the question's own language
        "a co z darowiznami od rodziny i znajomych?",
        "what   about gifts received from a supplier in another country?",  # spacing ignored
    ],
)
def test_short_questions_and_marker_words_are_follow_ups(question: str) -> None:
    assert RULE.applies(question)


@pytest.mark.parametrize(
    "question",
    [
        STANDALONE,
        " ".join(["word"] * (MAX_WORDS + 1)),
        "Andorra officials must declare gifts received within which deadline?",  # not "and"
        "A controller who misses the deadline must notify whom?",  # Polish "a", English text
        "I need to know who signs the petition register",  # Polish "i"
    ],
)
def test_longer_questions_without_a_marker_stand_alone(question: str) -> None:
    assert not RULE.applies(question)


def test_a_follow_up_continues_the_standalone_question_within_the_window() -> None:
    clock = Clock()
    conversations = Conversations(RULE, clock=clock)
    assert conversations.context_for("and for gifts?", asker=1) is None  # nothing to continue
    conversations.remember(STANDALONE, None, asker=1)
    clock.now += WINDOW_S - 1
    assert conversations.context_for("and for gifts?", asker=1) == STANDALONE
    assert conversations.context_for("and for gifts?", asker=2) is None  # per asker
    assert conversations.context_for(STANDALONE + " Again.", asker=1) is None
    clock.now += 1
    assert conversations.context_for("and for gifts?", asker=1) is None  # a new topic


def test_follow_ups_chain_to_the_standalone_question() -> None:
    clock = Clock()
    conversations = Conversations(RULE, clock=clock)
    conversations.remember(STANDALONE, None)
    prior = conversations.context_for("and for gifts?")
    conversations.remember("and for gifts?", prior)  # a follow-up is not kept, nor re-dated
    clock.now += WINDOW_S - 1
    assert conversations.context_for("and for loans?") == STANDALONE


class RecordingAssistant:
    """Stands in for ``Assistant`` in ``regula chat``: records the context of each question."""

    def __init__(self) -> None:
        self.prompts = Prompts()
        self.contexts: list[str | None] = []

    def documents(self) -> list[Any]:
        return [object()]

    def ask(self, question: str, **kwargs: Any) -> Answer:
        self.contexts.append(kwargs["context"])
        return Answer(question, "en", "", True)


def test_the_terminal_chat_decides_follow_ups_by_the_same_rule(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assistant = RecordingAssistant()
    monkeypatch.setattr(cli, "_assistant", lambda settings: assistant)
    lines = [STANDALONE, "and for gifts?", "and for loans?", STANDALONE + " Again."]
    stdin = io.TextIOWrapper(io.BytesIO("\n".join(lines).encode() + b"\n"), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)

    assert cli.main(["chat", "--data-dir", str(tmp_path)]) == 0
    assert assistant.contexts == [None, STANDALONE, STANDALONE, None]
