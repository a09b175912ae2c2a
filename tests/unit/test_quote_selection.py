"""Which passages an extractive answer quotes: a share of the score spread, not a fixed cosine."""

from __future__ import annotations

import pytest

from retrieval.answer.citations import Sentence
from retrieval.answer.extractive import AnswerComposer, ScoredSentence
from retrieval.config import Settings
from retrieval.prompts import Prompts


def composer(spread: float = 0.5) -> AnswerComposer:
    settings = Settings()
    settings.answer.sentence_spread = spread
    return AnswerComposer(settings, embeddings=None, prompts=Prompts())  # type: ignore[arg-type]


def scored(scores: list[list[float]]) -> list[ScoredSentence]:
    """One list of sentence scores per passage, in retrieval order."""
    return [
        ScoredSentence(p, Sentence(0, 1, f"s{p}.{i}"), score, score)
        for p, passage in enumerate(scores)
        for i, score in enumerate(passage)
    ]


# Passage bests 0.90, 0.86, 0.80; average of all seven sentences 0.81: at 0.5 the cut is 0.855.
BUNDLED_SCALE = [[0.90, 0.78], [0.86, 0.76], [0.80, 0.78, 0.79]]


def test_each_passage_close_enough_to_the_best_gives_its_best_sentence_in_retrieval_order() -> None:
    chosen = composer().select(scored(BUNDLED_SCALE))

    assert [(c.passage_index, c.sentence.text) for c in chosen] == [(0, "s0.0"), (1, "s1.0")]


@pytest.mark.parametrize(("scale", "shift"), [(1.0, 0.0), (3.5, -2.4), (0.4, 0.1)])
def test_the_choice_does_not_depend_on_the_models_cosine_scale(scale: float, shift: float) -> None:
    """Another model's cosines, an affine map of these, quote the same passages; a fixed
    margin of 0.02 would quote one passage at scale 3.5 and all three at 0.4."""
    rescaled = [[score * scale + shift for score in passage] for passage in BUNDLED_SCALE]

    chosen = composer().select(scored(rescaled))

    assert [c.passage_index for c in chosen] == [0, 1]


def test_spread_zero_quotes_only_the_best_and_one_quotes_every_passage_above_average() -> None:
    assert [c.passage_index for c in composer(0.0).select(scored(BUNDLED_SCALE))] == [0]
    assert [c.passage_index for c in composer(1.0).select(scored(BUNDLED_SCALE))] == [0, 1]
    spread_out = [[0.90, 0.50], [0.86, 0.50], [0.80, 0.50]]
    assert [c.passage_index for c in composer(1.0).select(scored(spread_out))] == [0, 1, 2]


def test_unset_spread_keeps_the_fixed_margin_of_the_bundled_model() -> None:
    default = AnswerComposer(Settings(), embeddings=None, prompts=Prompts())  # type: ignore[arg-type]
    rescaled = [[score * 3.5 - 2.4 for score in passage] for passage in BUNDLED_SCALE]

    assert [c.passage_index for c in default.select(scored(BUNDLED_SCALE))] == [0]  # 0.88 cut
    assert [c.passage_index for c in default.select(scored(rescaled))] == [0]


def test_unset_spread_with_another_model_is_a_share_of_the_spread() -> None:
    """The fixed margin is a cosine on the bundled model's scale: an endpoint model's own
    cosines (here spread 3.5 times wider) get the scale-free rule without any setting."""
    settings = Settings()
    settings.embeddings = settings.embeddings.model_copy(
        update={
            "provider": "openai_compatible",
            "base_url": "http://127.0.0.1:8090/v1",
            "model": "embeddinggemma-300m",
        }
    )
    other = AnswerComposer(settings, embeddings=None, prompts=Prompts())  # type: ignore[arg-type]
    rescaled = [[score * 3.5 - 2.4 for score in passage] for passage in BUNDLED_SCALE]

    assert [c.passage_index for c in other.select(scored(rescaled))] == [0, 1]
