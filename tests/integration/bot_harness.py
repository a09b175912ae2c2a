"""What the bot's end-to-end tests share: the people and questions, and a Harness around the real
Application and the loopback Bot API server (the fixtures that start it are in conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from bot.telegram_bot.audit import AuditLog
from retrieval.assistant import Assistant
from retrieval.prompts import Prompts
from testkit.loopback_botapi import LoopbackBotAPI, Updates, visible_text

ALICE, BRUNO, ADMIN, STRANGER = 101, 102, 103, 666
GROUP = -100200
BURST = list(range(1000, 1030))
TITLE_EN = "Directive on the Handling of Petitions and Denunciations"
SOURCE_EN = "https://lex.valdoria.example/ig-2024-07/en"
ORAL = "How must an oral petition be recorded?"
CORPUS_WORDS = ("Directive", "Petition", "petition", "Article", "P-2", "Inspectorate")
PROMPTS = Prompts()
u = Updates()

VEHICLES = b"""---
title: "Directive on the Use of Official Vehicles"
date: "2024-05-02"
language: en
---

# Directive on the Use of Official Vehicles

## Article 1 - Return of vehicles

1. Official vehicles shall be returned to the central motor pool by 19:00 on the day of use.
2. The driver shall record the odometer reading in the vehicle logbook when returning the vehicle.

## Article 2 - Fuel cards

1. Fuel cards may be used only for vehicles registered to the Inspectorate General.
"""


@dataclass
class Harness:
    api: LoopbackBotAPI
    app: Any
    audit: AuditLog

    def chat(self, user_id: int, language: str = "en") -> tuple[dict[str, Any], dict[str, Any]]:
        user = u.user(user_id, language)
        return user, self.api.add_chat(u.private_chat(user))

    async def send(
        self, update: dict[str, Any], chat_id: int, expect: int = 1, within: float = 180
    ) -> list[dict[str, Any]]:
        """Push an update; return the next ``expect`` messages the bot sends to ``chat_id``."""
        before = len(self.api.sent_to(chat_id))
        self.api.push_update(update)
        await self.api.wait_for(lambda: len(self.api.sent_to(chat_id)) >= before + expect, within)
        return self.api.sent_to(chat_id)[before:]

    async def say(self, user_id: int, text: str, expect: int = 1) -> list[dict[str, Any]]:
        user, chat = self.chat(user_id)
        return await self.send(u.message(user, chat, text), user_id, expect)

    def sent_message(self, chat_id: int, index: int = -1) -> dict[str, Any]:
        """The Message object Telegram returned for a sendMessage (for callbacks)."""
        calls = [c for c in self.api.calls_of("sendMessage") if c.params["chat_id"] == chat_id]
        return dict(calls[index].result)


def visible(message: dict[str, Any]) -> str:
    return visible_text(message["text"], message.get("parse_mode"))


def buttons(message: dict[str, Any]) -> dict[str, str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return {b["text"]: b["callback_data"] for row in rows for b in row}


async def settle(seconds: float = 1.0) -> None:
    """Give the bot time to send anything it should not have sent."""
    await asyncio.sleep(seconds)


class Spy:
    """Counts calls to the assistant's methods (wrapping the real ones)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, assistant: Assistant) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        for name in ("ask", "search", "translations_of", "documents", "ingest_bytes", "stats"):
            real = getattr(assistant, name)
            monkeypatch.setattr(assistant, name, self._wrap(name, real))

    def _wrap(self, name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args, kwargs))
            return real(*args, **kwargs)

        return wrapper
