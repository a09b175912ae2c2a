"""The reply helper: Telegram's flood control waited out, refused markup resent as plain text,
long text split with the keyboard on the last piece."""

from __future__ import annotations

from typing import Any

import pytest
from telegram.error import BadRequest, RetryAfter

from bot.telegram_bot import sending
from bot.telegram_bot.sending import send_html, with_retry


class FakeBot:
    """Records send_message calls; raises the queued errors first."""

    def __init__(self, errors: list[Exception] | None = None) -> None:
        self.errors = list(errors or [])
        self.sent: list[dict[str, Any]] = []

    async def send_message(self, chat_id: int, text: str, **kwargs: Any) -> dict[str, Any]:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append({"chat_id": chat_id, "text": text, **kwargs})
        return self.sent[-1]


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(sending.asyncio, "sleep", fake_sleep)
    return slept


async def test_retry_after_is_waited_out(no_sleep: list[float]) -> None:
    bot = FakeBot([RetryAfter(3), RetryAfter(1)])
    await send_html(bot, 7, "<b>hi</b>")  # type: ignore[arg-type]
    assert no_sleep == [3.0, 1.0]
    assert [m["text"] for m in bot.sent] == ["<b>hi</b>"]


async def test_gives_up_after_the_retries(no_sleep: list[float]) -> None:
    calls = 0

    async def always_flooded() -> None:
        nonlocal calls
        calls += 1
        raise RetryAfter(1)

    with pytest.raises(RetryAfter):
        await with_retry(always_flooded, retries=2)
    assert calls == 3


async def test_rejected_markup_is_resent_as_plain_text(no_sleep: list[float]) -> None:
    bot = FakeBot([BadRequest("Bad Request: can't parse entities: unsupported start tag")])
    markup = object()
    await send_html(bot, 7, 'See <a href="https://x.example">A &amp; B</a>', markup=markup)  # type: ignore[arg-type]
    assert len(bot.sent) == 1
    assert bot.sent[0]["text"] == "See A & B (https://x.example)"
    assert bot.sent[0]["parse_mode"] is None
    assert bot.sent[0]["reply_markup"] is markup


async def test_other_bad_requests_propagate(no_sleep: list[float]) -> None:
    bot = FakeBot([BadRequest("Bad Request: chat not found")])
    with pytest.raises(BadRequest, match="Chat not found"):
        await send_html(bot, 7, "hi")  # type: ignore[arg-type]


async def test_long_text_is_split_and_markup_goes_on_the_last_piece() -> None:
    bot = FakeBot()
    markup = object()
    text = "\n\n".join("paragraph " * 100 for _ in range(10))
    await send_html(bot, 7, text, reply_to=42, markup=markup)  # type: ignore[arg-type]
    assert len(bot.sent) >= 2
    assert bot.sent[0]["reply_parameters"].message_id == 42
    assert all(m["reply_parameters"] is None for m in bot.sent[1:])
    assert [m["reply_markup"] for m in bot.sent] == [None] * (len(bot.sent) - 1) + [markup]
