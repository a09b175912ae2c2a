"""Index terms: the words BM25 matches and the answer check compares, the same way in both.

Text is case-folded, digits are normalised (٢٠٢٤ -> 2024), words are stemmed with Snowball in
the text's language (folded only where Snowball has no stemmer) and accents are stripped, so
"Pétitions" in a question meets "petition" in a passage. Used by the lexical index
(``retrieval.store.lexical``) and by the verification of generated claims
(``retrieval.answer.verify``).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Any

import Stemmer

from retrieval.language import normalize_digits

_WORD_RE = re.compile(r"\w+")
_STEMMER_NAMES = {
    "ar": "arabic", "ca": "catalan", "da": "danish", "de": "german", "el": "greek",
    "en": "english", "es": "spanish", "eu": "basque", "fi": "finnish", "fr": "french",
    "ga": "irish", "hi": "hindi", "hu": "hungarian", "hy": "armenian", "id": "indonesian",
    "it": "italian", "lt": "lithuanian", "ne": "nepali", "nl": "dutch", "no": "norwegian",
    "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian", "sv": "swedish",
    "ta": "tamil", "tr": "turkish", "uk": "russian", "yi": "yiddish",
}  # fmt: skip


@cache
def _stemmer(language: str) -> Any:
    name = _STEMMER_NAMES.get(language)
    if name is None or name not in Stemmer.algorithms():
        return None
    return Stemmer.Stemmer(name)


def _strip_marks(word: str) -> str:
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tokenize(text: str, language: str) -> list[str]:
    """Index terms of ``text``: folded, digit-normalised, stemmed, accent-free."""
    words = _WORD_RE.findall(normalize_digits(unicodedata.normalize("NFC", text)).casefold())
    words = [w for w in words if len(w) >= 2 or w.isdigit()]
    stemmer = _stemmer(language)
    if stemmer is not None:
        stems = stemmer.stemWords(words)
        words = [w if w.isdigit() else stem for w, stem in zip(words, stems, strict=True)]
    return [_strip_marks(w) for w in words]
