"""Recent answers, kept so their buttons (Sources, Other languages, Current version) still work.

Callback data holds at most 64 bytes, so a button carries a short random key, not the answer;
the answer and its audit row wait here, the oldest dropped first once ``size`` are kept (an
expired button tells the user so).
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass

from retrieval.models import Answer


@dataclass
class Asked:
    """An answer kept for its buttons (Sources, Other languages) and its audit row."""

    answer: Answer
    row_id: int | None


class AnswerCache:
    """The last ``size`` answers by a short random key that fits in callback data."""

    def __init__(self, size: int = 2000) -> None:
        self.size = size
        self._items: OrderedDict[str, Asked] = OrderedDict()

    def put(self, asked: Asked) -> str:
        key = secrets.token_hex(6)
        self._items[key] = asked
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return key

    def get(self, key: str) -> Asked | None:
        return self._items.get(key)
