"""Names a question gives (acronyms, codes) and whether the corpus mentions them."""

from __future__ import annotations

from collections.abc import Collection

import pytest

from retrieval.answer.named_terms import named_terms, unknown_terms
from retrieval.models import Document


@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("Under PSD2, by when must the bank refund the amount?", ["PSD2"]),
        ("Bis wann müssen Betreiber nach dem KRITIS-Dachgesetz planen?", ["KRITIS"]),
        ("ما الفرق بين صناديق المادة ٨ وصناديق المادة ٩ بموجب لائحة (SFDR)؟", ["SFDR"]),
        ("Does the GDPR apply, and does the GDPR fine cap apply too?", ["GDPR"]),
        ("Under ESRS E1, which Scope 3 categories are disclosed?", ["ESRS"]),
        # Short acronyms are often the asker's own abbreviation of a corpus term: not names.
        ("Quelles obligations de l'UE pour les systèmes d'IA à haut risque ?", []),
        ("Welche IKT-Risiken muss ein KI-Anbieter melden?", []),
        # Roman numerals, numbers, ordinary and capitalised words are not names.
        ("What does Chapter XIII say about 2024 reports by the Inspectorate?", []),
        # A question in capitals is shouted, not naming anything.
        ("WITHIN HOW MANY DAYS MUST A PETITION BE ANSWERED?", []),
    ],
)
def test_names_are_long_acronyms_and_codes(question: str, names: list[str]) -> None:
    assert named_terms(question) == names


def document(title: str, language: str = "en") -> Document:
    return Document(f"{title}.md", f"{title}.md", title, language, content_hash="h", version="v")


class Vocabulary:
    """The lexical index's ``known_terms`` over a fixed set of terms, recording the lookups."""

    def __init__(self, terms: set[str]) -> None:
        self.terms = terms
        self.asked: list[set[str]] = []

    def __call__(self, candidates: Collection[str]) -> set[str]:
        self.asked.append(set(candidates))
        return self.terms & set(candidates)


def test_a_name_no_passage_or_title_contains_is_unknown() -> None:
    vocabulary = Vocabulary({"nis2", "csirt"})
    documents = [document("NIS2 Article 23"), document("DORA Article 19")]

    question = "Under NIS2 and DORA, must a CSIRT notify under PSD2 or the EUCC?"
    unknown = unknown_terms(question, documents, vocabulary)

    assert unknown == ["PSD2", "EUCC"]  # NIS2, CSIRT: passages; DORA: a title


def test_a_documents_number_issuer_and_work_count_as_mentions() -> None:
    labelled = Document(
        "kip.md", "kip.md", "Public Information Act", "id", content_hash="h", version="v",
        number="UU KIP 14/2008", issuer="KOMINFO", work="UU-KIP",
    )  # fmt: skip

    question = "Menurut UU KIP, berapa hari KOMINFO harus menjawab? Apakah PPID wajib?"
    assert unknown_terms(question, [labelled], Vocabulary(set())) == ["PPID"]


def test_a_name_is_matched_as_a_stem_of_each_indexed_language() -> None:
    # An index term is stemmed in its document's language: German "Anlagen" -> "anlag".
    vocabulary = Vocabulary({"anlag"})
    documents = [document("Gesetz", "de")]

    assert unknown_terms("Was gilt für ANLAGEN nach dem Gesetz?", documents, vocabulary) == []
    assert "anlag" in vocabulary.asked[0]


def test_no_lookup_when_the_question_names_nothing() -> None:
    vocabulary = Vocabulary(set())

    assert unknown_terms("Who signs the petition register?", [document("X")], vocabulary) == []
    assert vocabulary.asked == []
