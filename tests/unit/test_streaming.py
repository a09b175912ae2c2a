"""Streamed generative answers: progress shows verified claims only, and the streamed answer is
the one the model's whole reply gives without streaming. Recorded replies, no model server."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from retrieval.answer.generative import Generated, Generator
from retrieval.answer.verify import settled_length
from retrieval.config import Settings
from retrieval.errors import LLMError
from retrieval.models import Answer, Passage
from retrieval.prompts import Prompts
from tests.chat_models import RecordedChatModel
from tests.unit.test_verify import (
    GOOD,
    INVENTED_NUMBER,
    PASSAGES,
    UNCITED,
    WRONG_MARKER,
    FailingModel,
    StubEmbeddings,
)

WRITING = Prompts().get("llm_writing", "en")
MIXED = (
    "The inspection report is signed by the head of the inspection team [2]. "
    "Something invented happens within 99 days [1]. "
    "The competent authority shall answer a petition within 30 days of its registration [1].\n"
    "Appeals go to the minister, who rules on them in person [1]. "
    "The time limit may be extended once by 15 days [1]."
)
INVENTED = ("99 days", "minister")


def generate(
    model: Any, progress: list[str] | None, passages: list[Passage] = PASSAGES
) -> tuple[Generated, dict[str, float]]:
    generator = Generator(Settings(), StubEmbeddings(), Prompts(), model=model)  # type: ignore[arg-type]
    timings: dict[str, float] = {}
    on_progress = progress.append if progress is not None else None
    generated = generator.generate("q", "q", "en", passages, timings, on_progress)
    return generated, timings


def answer_of(generated: Generated) -> Answer:
    assert generated.answer is not None
    return generated.answer


@pytest.mark.parametrize(
    "reply",
    [GOOD, MIXED, WRONG_MARKER, INVENTED_NUMBER, UNCITED, "NO_ANSWER"],
    ids=["good", "mixed", "wrong-marker", "invented-number", "uncited", "no-answer"],
)
@pytest.mark.parametrize("chunk_chars", [1, 4, 1000])
def test_the_streamed_answer_is_the_invoked_one(reply: str, chunk_chars: int) -> None:
    invoked, _ = generate(FakeListChatModel(responses=[reply]), None)
    progress: list[str] = []
    model = RecordedChatModel(replies=[reply], chunk_chars=chunk_chars)

    streamed, timings = generate(model, progress)

    assert streamed == invoked
    assert model.calls == ["stream"]
    assert progress[0] == WRITING
    assert timings["llm"] >= 0


def test_progress_shows_verified_claims_only_as_they_complete() -> None:
    progress: list[str] = []

    generated, _ = generate(RecordedChatModel(replies=[MIXED], chunk_chars=3), progress)

    final = answer_of(generated).answer.splitlines()
    assert len(final) == 3
    # The last sentence is settled only by the end of the reply: the final answer shows it.
    assert progress == [WRITING, "\n".join(final[:1]), "\n".join(final[:2])]
    assert not any(word in p for p in progress for word in INVENTED)


def test_a_claim_is_not_shown_before_its_sentence_ends() -> None:
    progress: list[str] = []
    text = GOOD.split(". ")[0]  # the first claim without its full stop: never settled

    generated, _ = generate(RecordedChatModel(replies=[text]), progress)

    assert progress == [WRITING]
    assert not answer_of(generated).refused  # the whole reply is still checked at the end


def test_an_error_mid_stream_is_raised_after_what_was_shown() -> None:
    progress: list[str] = []
    first_sentence = len(MIXED.split(". ")[0]) + 2
    model = RecordedChatModel(replies=[MIXED], chunk_chars=1, fail_after=first_sentence + 20)
    generator = Generator(Settings(), StubEmbeddings(), Prompts(), model=model)  # type: ignore[arg-type]
    timings: dict[str, float] = {}

    with pytest.raises(LLMError, match="connection reset"):
        generator.generate("q", "q", "en", PASSAGES, timings, progress.append)

    # Shown, then replaced by the caller's fallback (Assistant.ask: the extractive answer).
    assert progress[-1].startswith("The inspection report is signed")
    assert "llm" in timings


def test_a_provider_that_cannot_stream_is_invoked() -> None:
    progress: list[str] = []
    model = RecordedChatModel(replies=[GOOD], streams=False)

    generated, _ = generate(model, progress)

    assert model.calls == ["stream", "invoke"]
    assert progress == [WRITING]
    assert generated == generate(FakeListChatModel(responses=[GOOD]), None)[0]


def test_a_model_without_stream_is_invoked_and_its_failure_raised() -> None:
    progress: list[str] = []

    with pytest.raises(LLMError, match="connection refused"):
        generate(FailingModel(), progress)

    assert progress == [WRITING]


@pytest.mark.parametrize(
    ("text", "settled"),
    [
        ("The report is signed [1]", ""),
        ("The report is signed [1].", ""),
        ("The report is signed [1]. It is", "The report is signed [1]."),
        ("One [1]. Two [2]! Thr", "One [1]. Two [2]!"),
        ("A list:\n- first [1]", "A list:"),
        ("Decimals like 1.5 stay [1]", ""),
    ],
)
def test_only_complete_sentences_are_settled(text: str, settled: str) -> None:
    assert text[: settled_length(text)] == settled
