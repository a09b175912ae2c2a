"""Which language a text is in, and digits from any script made ASCII.

py3langid's bundled model (no download) does the work; on one-line questions it is right
almost always. Three checks cover where it is not: when none of its n-grams occur in the text
(common for one or two short words) it scores every language the same and returns the first
label, usually "ar", so we answer from the script or the default instead; it never gets to
pick a language written in another script than the text; and Vietnamese tone-marked letters,
which no other language uses, settle Vietnamese before the model (it calls "nghị" Igbo).
"""

from __future__ import annotations

import copy
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from functools import cache, lru_cache
from typing import Any

from py3langid.langid import MODEL_FILE, LanguageIdentifier

SAMPLE_CHARS = 2000

_VIETNAMESE = frozenset("ơƠưƯđĐ" + "".join(map(chr, range(0x1EA0, 0x1EFA))))
_SCRIPTS = {  # languages written in one script only, by the Unicode name prefix of the letters
    "ARABIC": {"ar", "fa", "ur", "ps", "ug", "sdh", "arz", "ary"},
    "CYRILLIC": {"ru", "uk", "bg", "sr", "mk", "be", "kk", "ky", "mn", "tg", "tt", "ba"},
    "CJK": {"zh", "ja", "yue", "wuu"},
    "HIRAGANA": {"ja"},
    "KATAKANA": {"ja"},
    "HANGUL": {"ko"},
    "THAI": {"th"},
    "DEVANAGARI": {"hi", "mr", "ne", "sa", "gom"},
    "GREEK": {"el", "grc"},
    "HEBREW": {"he", "hbo"},
}
_NOT_LATIN = set().union(*_SCRIPTS.values()) - {"sr", "kk", "tt"}


_NON_ASCII_DIGIT = re.compile(r"(?![0-9])\d")  # \d: every Unicode decimal digit


def normalize_digits(text: str) -> str:
    """Arabic-Indic, Persian, Devanagari, fullwidth… decimal digits become ASCII 0-9."""
    if text.isascii():
        return text
    return _NON_ASCII_DIGIT.sub(lambda m: str(unicodedata.decimal(m.group())), text)


def detect_language(text: str, candidates: Sequence[str] | None = None, default: str = "en") -> str:
    """ISO 639-1 code of ``text``'s language, one of ``candidates`` when given.

    Returns ``default`` when the text has no letters, the model finds no evidence in it (one or
    two short words) and ``default`` is written in its script, or no candidate is known.
    """
    sample = text[:SAMPLE_CHARS]
    letters = [c for c in sample if c.isalpha()]
    labels = _labels()
    allowed = tuple(sorted({c for c in candidates if c in labels})) if candidates else None
    if not letters or allowed == ():
        return default
    if allowed is not None and len(allowed) == 1:
        return allowed[0]
    if _is_allowed("vi", allowed) and _share(letters, _VIETNAMESE) >= 0.03:
        return "vi"
    ranked = _identifier(allowed).rank(sample)
    script = Counter(unicodedata.name(c, "?").split(" ")[0] for c in letters).most_common(1)[0][0]
    fitting = [str(code) for code, _ in ranked if _written_in(str(code), script)]
    fitting = fitting or [str(ranked[0][0])]
    if ranked[0][1] == ranked[-1][1]:  # no evidence: every language scored the same
        return default if default in fitting else fitting[0]
    return fitting[0]


def _is_allowed(language: str, allowed: tuple[str, ...] | None) -> bool:
    return allowed is None or language in allowed


def _written_in(language: str, script: str) -> bool:
    if script == "LATIN":
        return language not in _NOT_LATIN
    return language in _SCRIPTS.get(script, {language})


def _share(letters: list[str], alphabet: frozenset[str]) -> float:
    return sum(c in alphabet for c in letters) / len(letters)


@cache
def _model() -> Any:
    return LanguageIdentifier.from_model_file(MODEL_FILE)


@cache
def _labels() -> frozenset[str]:
    return frozenset(_model().labels)


@lru_cache(maxsize=8)
def _identifier(allowed: tuple[str, ...] | None) -> Any:
    """The model restricted to ``allowed``; a copy, so the shared instance is never mutated."""
    if allowed is None:
        return _model()
    identifier = copy.copy(_model())
    identifier.set_languages(allowed)
    return identifier
