"""Translation detection: shared numbers, passage alignment on synthetic vectors, and groups."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from numpy.typing import NDArray

from retrieval.config import Settings
from retrieval.ingest.translations import (
    BUNDLED_MODEL_THRESHOLD,
    ENDPOINT_MODEL_THRESHOLD,
    GroupMap,
    PairScore,
    alignment,
    length_compatible,
    merge_translations,
    number_overlap,
    number_signature,
    translation_threshold,
)

DIM = 384


def unit_rows(x: NDArray[np.float64]) -> NDArray[np.float32]:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


class FakeEncoder:
    """Vectors shaped like e5's: every text shares a strong common direction (cosine ~0.8)."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        common = self.rng.normal(size=DIM)
        self.common = common / np.linalg.norm(common)

    def passages(self, n: int) -> NDArray[np.float32]:
        return unit_rows(2.0 * self.common + self.rng.normal(size=(n, DIM)) / np.sqrt(DIM))

    def translate(self, rows: NDArray[np.float32], order: NDArray[np.int64]) -> NDArray[np.float32]:
        """The same passages in another order, each moved a little (another language)."""
        noise = 0.5 * self.rng.normal(size=(len(order), DIM)) / np.sqrt(DIM)
        return unit_rows(rows[order] + noise)


# --- numbers ----------------------------------------------------------------------------------


def test_number_signature_normalises_digits_and_separators() -> None:
    text = "Law No. 112/2017: VLD 2,000 within 30 days; ١١٢ and 30 again; 2.000"

    assert number_signature(text) == Counter({"112": 2, "30": 2, "2000": 2, "2017": 1})


def test_number_signature_of_text_without_numbers_is_empty() -> None:
    assert number_signature("No numbers in this sentence at all.") == Counter()


def test_translations_share_their_numbers() -> None:
    english = "A denunciation shall be resolved within 60 days (Law No. 112/2017, Article 9)."
    arabic = "يُبت في البلاغ خلال ٦٠ يومًا (القانون رقم ١١٢/٢٠١٧، المادة ٩)."

    assert number_overlap(number_signature(english), number_signature(arabic)) == 1.0


def test_number_overlap_is_a_weighted_jaccard() -> None:
    a, b = Counter({"1": 1, "2": 1, "3": 1, "30": 1}), Counter({"1": 1, "2": 1, "4": 1})

    assert number_overlap(a, b) == pytest.approx(2 / 5)
    assert number_overlap(Counter({"30": 2}), Counter({"30": 1})) == pytest.approx(1 / 2)
    assert number_overlap(a, Counter()) == 0.0
    assert number_overlap(Counter(), Counter()) == 0.0


# --- alignment --------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_permuted_noisy_copy_aligns_with_its_original(seed: int) -> None:
    encoder = FakeEncoder(seed)
    original = encoder.passages(12)
    order = encoder.rng.permutation(12)
    translation = encoder.translate(original, order)

    score, best = alignment(translation, original)
    reverse, _ = alignment(original, translation)

    assert score >= 0.9
    assert reverse >= 0.9
    assert best.tolist() == order.tolist()  # each translated passage finds its source


@pytest.mark.parametrize("seed", range(5))
def test_unrelated_documents_score_low(seed: int) -> None:
    encoder = FakeEncoder(seed)
    a, b = encoder.passages(12), encoder.passages(9)

    assert float((a @ b.T).mean()) > 0.7  # as similar overall as same-subject texts are
    assert alignment(a, b)[0] < 0.3
    assert alignment(b, a)[0] < 0.3


def test_translation_with_a_missing_passage_still_aligns() -> None:
    encoder = FakeEncoder(7)
    original = encoder.passages(12)
    partial = encoder.translate(original, np.arange(10))  # the last two passages untranslated

    score, best = alignment(partial, original)

    assert score >= 0.9
    assert best.tolist() == list(range(10))


def test_alignment_with_an_empty_side_is_zero() -> None:
    vectors = FakeEncoder(1).passages(3)
    empty = np.zeros((0, DIM), dtype=np.float32)

    score, best = alignment(empty, vectors)
    assert score == 0.0
    assert best.tolist() == []
    assert alignment(vectors, empty)[0] == 0.0


def test_alignment_score_stays_within_bounds() -> None:
    vectors = FakeEncoder(2).passages(5)

    score, _ = alignment(vectors, vectors)

    assert score == pytest.approx(1.0)


# --- pair scores and length ---------------------------------------------------------------


def test_pair_score_combines_alignment_and_numbers() -> None:
    assert PairScore("a", "b", 0.5, 1.0, declared=False).score == pytest.approx(0.7)
    assert PairScore("a", "b", 0.0, 0.0, declared=True).score == 1.0


@pytest.mark.parametrize(
    ("len_a", "len_b", "expected"),
    [(1000, 1200, True), (1000, 2500, True), (1000, 2600, False), (0, 10, False)],
)
def test_length_compatible(len_a: int, len_b: int, expected: bool) -> None:
    assert length_compatible(len_a, len_b) is expected
    assert length_compatible(len_b, len_a) is expected


# --- GroupMap ---------------------------------------------------------------------------------


def test_merge_names_the_group_by_its_smallest_doc_id() -> None:
    groups = GroupMap({"b.fr": "b.fr", "a.en": "a.en", "c.ar": "c.ar"})

    groups.merge("b.fr", "c.ar")
    groups.merge("c.ar", "a.en")

    assert groups.as_dict() == {"a.en": "a.en", "b.fr": "a.en", "c.ar": "a.en"}


def test_merge_of_documents_already_grouped_is_a_no_op() -> None:
    groups = GroupMap({"a": "a", "b": "a"})

    groups.merge("b", "a")

    assert groups.as_dict() == {"a": "a", "b": "a"}


def test_merge_joins_two_existing_groups() -> None:
    groups = GroupMap({"a": "a", "b": "a", "c": "c", "d": "c", "e": "e"})

    groups.merge("d", "b")

    assert groups.as_dict() == {"a": "a", "b": "a", "c": "a", "d": "a", "e": "e"}


def test_merge_of_unknown_documents_adds_them() -> None:
    groups = GroupMap({})

    groups.merge("y", "x")

    assert groups.as_dict() == {"x": "x", "y": "x"}


def test_detach_a_member_leaves_the_rest_grouped() -> None:
    groups = GroupMap({"a": "a", "b": "a", "c": "a"})

    groups.detach("b")

    assert groups.as_dict() == {"a": "a", "b": "b", "c": "a"}


def test_detach_the_group_name_renames_the_rest() -> None:
    groups = GroupMap({"a": "a", "b": "a", "c": "a"})

    groups.detach("a")

    assert groups.as_dict() == {"a": "a", "b": "b", "c": "b"}


def test_detach_a_lone_document_keeps_it_alone() -> None:
    groups = GroupMap({"a": "a", "b": "a"})

    groups.detach("z")
    groups.detach("b")
    groups.detach("b")

    assert groups.as_dict() == {"a": "a", "b": "b", "z": "z"}


def test_group_map_does_not_alias_its_input() -> None:
    initial = {"a": "a", "b": "b"}
    groups = GroupMap(initial)

    groups.merge("a", "b")
    snapshot = groups.as_dict()
    snapshot["a"] = "changed"

    assert initial == {"a": "a", "b": "b"}
    assert groups.as_dict() == {"a": "a", "b": "a"}


# --- choosing the groups -------------------------------------------------------------------------

LANGUAGES = {"a.en": "en", "b.fr": "fr", "c.en": "en", "d.ar": "ar"}


def pair(a: str, b: str, alignment_score: float, declared: bool = False) -> PairScore:
    return PairScore(a, b, alignment_score, alignment_score, declared=declared)


def test_pairs_are_grouped_best_first_and_never_two_documents_of_one_language() -> None:
    groups = GroupMap({d: d for d in LANGUAGES})

    # c.en-b.fr comes first in the list but scores lower than a.en-b.fr: a.en wins b.fr, and
    # c.en, a second English text, stays alone; d.ar joins the pair.
    pairs = [pair("c.en", "b.fr", 0.6), pair("a.en", "b.fr", 0.8), pair("d.ar", "c.en", 0.5),
             pair("d.ar", "b.fr", 0.7)]  # fmt: skip
    merge_translations(groups, pairs, LANGUAGES, threshold=0.45)

    assert groups.as_dict() == {"a.en": "a.en", "b.fr": "a.en", "c.en": "c.en", "d.ar": "a.en"}


def test_pairs_below_the_threshold_stay_apart_and_a_declared_pair_always_joins() -> None:
    groups = GroupMap({d: d for d in LANGUAGES})

    pairs = [pair("a.en", "b.fr", 0.44), pair("c.en", "d.ar", 0.0, declared=True)]
    merge_translations(groups, pairs, LANGUAGES, threshold=0.45)

    assert groups.as_dict() == {"a.en": "a.en", "b.fr": "b.fr", "c.en": "c.en", "d.ar": "c.en"}


@pytest.mark.parametrize(
    ("embeddings", "ingest", "expected"),
    [
        ({}, {}, BUNDLED_MODEL_THRESHOLD),
        ({"provider": "openai_compatible", "base_url": "http://127.0.0.1:1/v1", "model": "m"},
         {}, ENDPOINT_MODEL_THRESHOLD),
        ({"provider": "openai_compatible", "base_url": "http://127.0.0.1:1/v1", "model": "m"},
         {"translation_threshold": 0.5}, 0.5),
    ],
)  # fmt: skip
def test_the_threshold_defaults_to_the_embedding_models_scale(
    embeddings: dict[str, str], ingest: dict[str, float], expected: float
) -> None:
    settings = Settings.model_validate({"embeddings": embeddings, "ingest": ingest})

    assert translation_threshold(settings) == expected
