"""Names a question gives that the corpus never mentions: "PSD2", "SFDR", "KRITIS", "EUCC".

A question that names a legal instrument, body or scheme by its acronym or code asks about that
thing. When no indexed passage and no document's title, number, issuer, work or aliases contain
the name, the passages retrieved for the question are about something else, however close their
topic: the evidence score alone cannot tell (README, "Refusal"), the vocabulary can. Such a
question gets ``closest`` instead of ``answer``, and the reply says which name the documents
never mention.

A name is a word of at least ``MIN_NAME_CHARS`` characters written without lowercase letters,
with at least two capitals or a capital and a digit. Shorter acronyms are left alone: they are
often the asker's language's own abbreviation of a term the corpus spells differently ("UE",
"KI", "IKT", "TIC" in questions over English text). The length was chosen on the EU development
set's tuning half (2 of 54 in-scope questions flagged, 4 of 15 out-of-scope); on the test half
it flags 0 of 66 in-scope and 5 of 15 out-of-scope questions. A question mostly in capitals is
shouted, not naming anything, and is not checked.

Matching is on the lexical index's terms (``retrieval.tokens``), whatever the language: a name
is known if its case-folded form, or its stem in any indexed language, is an index term.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from functools import lru_cache

from retrieval.models import Document
from retrieval.tokens import tokenize

MIN_NAME_CHARS = 4
_WORD = re.compile(r"\w+")
_ROMAN_NUMERAL = re.compile(r"^[IVXLCDM]+$")


def _is_name(word: str) -> bool:
    if len(word) < MIN_NAME_CHARS or any(c.islower() for c in word):
        return False
    if word.isdigit() or _ROMAN_NUMERAL.match(word):
        return False
    capitals = sum(c.isupper() for c in word)
    return capitals >= 2 or (capitals == 1 and any(c.isdigit() for c in word))


def named_terms(question: str) -> list[str]:
    """The names ``question`` gives, in order, once each (none when it is mostly capitals)."""
    words = [w for w in _WORD.findall(question) if not w.isdigit()]
    shouted = [w for w in words if len(w) > 1 and w == w.upper() != w.lower()]
    if len(shouted) * 2 > len(words):
        return []
    return list(dict.fromkeys(w for w in words if _is_name(w)))


@lru_cache(maxsize=65536)
def _label_terms(labels: tuple[str, ...], language: str) -> frozenset[str]:
    """A document's labels as index terms; kept, so a question does not stem every title."""
    return frozenset(t for label in labels for t in tokenize(label, language) + tokenize(label, ""))


def unknown_terms(
    question: str,
    documents: Iterable[Document],
    known: Callable[[Collection[str]], set[str]],
) -> list[str]:
    """The names of ``question`` that neither a passage nor a document's title, number, issuer,
    work or aliases contain.

    ``documents``: the manifest (its languages and labels); ``known``: which of the given
    terms the passages hold (``LexicalIndex.known_terms``)."""
    names = named_terms(question)
    if not names:
        return []
    documents = list(documents)
    languages = sorted({d.language for d in documents} | {""})
    forms = {
        name: {name.casefold()} | {t for language in languages for t in tokenize(name, language)}
        for name in names
    }
    labels = set().union(
        *(_label_terms((d.title, d.number, d.issuer, d.work, d.aliases), d.language)
          for d in documents)
    )  # fmt: skip
    found = known({form for variants in forms.values() for form in variants}) | labels
    return [name for name in names if not forms[name] & found]
