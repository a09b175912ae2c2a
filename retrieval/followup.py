"""When a question continues the previous one: one rule for the bot, the terminal chat and
``Assistant.ask``.

A follow-up ("and for gifts?") is searched together with the question it continues, because on
its own it names nothing to search for. A question is one when it has at most ``MAX_WORDS``
words or starts with a marker word of its own language ("and", "what about": ``followup_markers``
in ``prompts/<lang>/answer.yaml``; a question that long is long enough to tell its language, and
one language's markers are another's ordinary words: Polish "a" and "i" open English questions),
and comes within ``WINDOW_S`` of the standalone question it
continues. Follow-ups chain: each one continues the standalone question, not the previous
follow-up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable

from retrieval.language import detect_language
from retrieval.prompts import Prompts

MAX_WORDS = 5
"""Up to this many words a question counts as a follow-up even without a marker word."""
WINDOW_S = 15 * 60.0
"""A question more than this long after the standalone one starts a new topic."""


class FollowUpRule:
    """Whether a question's wording makes it a follow-up (short, or a marker word first)."""

    def __init__(self, prompts: Prompts, max_words: int = MAX_WORDS) -> None:
        self.max_words = max_words
        self.markers: dict[str, list[str]] = {
            language: sorted(
                {m.strip().lower() for m in prompts.get("followup_markers", language).split("|")}
                - {""}
            )
            for language in prompts.languages
        }

    def applies(self, question: str) -> bool:
        lowered = " ".join(question.lower().split())
        if len(lowered.split()) <= self.max_words:
            return True
        language = detect_language(question, candidates=list(self.markers))
        markers = self.markers.get(language, [])
        return any(lowered == m or lowered.startswith(m + " ") for m in markers)


class Conversations:
    """Each asker's last standalone question and when it was asked (in memory only)."""

    def __init__(
        self,
        rule: FollowUpRule,
        window_s: float = WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rule = rule
        self.window_s = window_s
        self._clock = clock
        self._last: dict[Hashable, tuple[str, float]] = {}

    def context_for(self, question: str, asker: Hashable = None) -> str | None:
        """The standalone question ``question`` continues, or ``None`` if it stands alone."""
        earlier = self._last.get(asker)
        if earlier is None or self._clock() - earlier[1] >= self.window_s:
            return None
        return earlier[0] if self.rule.applies(question) else None

    def remember(self, question: str, context: str | None, asker: Hashable = None) -> None:
        """Keep an answered ``question`` for the follow-ups to come, unless it was one itself
        (``context``, from ``context_for``, is not ``None``)."""
        if context is None:
            self._last[asker] = (question, self._clock())
