"""Flow control both ways: our per-user question limit, and Telegram's limits on us.

``SlidingWindow`` keeps one official from monopolising the assistant (the embedding model is
shared by everyone). ``send_html`` is how every reply leaves the bot: split to Telegram's size,
retried after a 429 ``RetryAfter``, and resent as plain text if Telegram refuses the markup, so
an answer is delivered even when something on either side misbehaves. ``typing`` keeps the
"typing…" indicator alive while the assistant works, so a slow answer does not look like silence.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager, suppress
from typing import TypeVar

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, Message, ReplyParameters
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, RetryAfter, TelegramError

from bot.telegram_bot.telegram_html import split_message, to_plain

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRIES = 2
TYPING_EVERY_S = 4.0
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class SlidingWindow:
    """At most ``limit`` events per key in any ``window`` seconds.

    Runs on the event loop only, so it needs no lock. Keys idle for a whole window are swept
    so memory stays bounded by the number of recently active users.
    """

    def __init__(
        self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._events: dict[Hashable, deque[float]] = {}
        self._warned: set[Hashable] = set()
        self._last_sweep = clock()

    def hit(self, key: Hashable) -> float:
        """Record an event; 0.0 if allowed, else the seconds until the next one would be."""
        now = self._clock()
        self._sweep(now)
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(events) >= self.limit:
            return max(events[0] + self.window - now, 0.001)
        events.append(now)
        self._warned.discard(key)
        return 0.0

    def first_refusal(self, key: Hashable) -> bool:
        """True once per blocked streak, so the "slow down" message is not itself a flood."""
        if key in self._warned:
            return False
        self._warned.add(key)
        return True

    def _sweep(self, now: float) -> None:
        if now - self._last_sweep < self.window:
            return
        self._last_sweep = now
        idle = [k for k, ev in self._events.items() if not ev or ev[-1] <= now - self.window]
        for key in idle:
            del self._events[key]
            self._warned.discard(key)


def retry_seconds(error: RetryAfter) -> float:
    value = error.retry_after  # int today, timedelta once PTB_TIMEDELTA is the default
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


async def with_retry(call: Callable[[], Awaitable[T]], retries: int = RETRIES) -> T:
    """Await ``call()``, waiting out Telegram's flood control up to ``retries`` times."""
    for attempt in range(retries + 1):
        try:
            return await call()
        except RetryAfter as e:
            if attempt == retries:
                raise
            delay = retry_seconds(e)
            log.warning("Telegram flood control: retrying in %.1f s", delay)
            await asyncio.sleep(delay)
    msg = "unreachable"
    raise AssertionError(msg)


def is_markup_error(error: BadRequest) -> bool:
    return "can't parse entities" in error.message.lower()


async def send_html(
    bot: Bot,
    chat_id: int,
    html_text: str,
    *,
    reply_to: int | None = None,
    markup: InlineKeyboardMarkup | None = None,
) -> list[Message]:
    """Send ``html_text`` in as many messages as needed; ``markup`` goes on the last one.

    The first piece replies to message ``reply_to`` (if it still exists).
    """
    return await send_pieces(
        bot, chat_id, split_message(html_text), reply_to=reply_to, markup=markup
    )


async def send_pieces(
    bot: Bot,
    chat_id: int,
    pieces: list[str],
    *,
    reply_to: int | None = None,
    markup: InlineKeyboardMarkup | None = None,
) -> list[Message]:
    """Send pieces of ``split_message`` one message each, with ``send_html``'s fallbacks."""
    sent: list[Message] = []
    for i, piece in enumerate(pieces):
        reply = (
            ReplyParameters(reply_to, allow_sending_without_reply=True)
            if reply_to is not None and i == 0
            else None
        )
        keyboard = markup if i == len(pieces) - 1 else None
        sent.extend(await _send_piece(bot, chat_id, piece, reply, keyboard))
    return sent


async def _send_piece(
    bot: Bot,
    chat_id: int,
    piece: str,
    reply: ReplyParameters | None,
    markup: InlineKeyboardMarkup | None,
) -> list[Message]:
    def attempt(
        text: str, mode: str | None, keyboard: InlineKeyboardMarkup | None
    ) -> Callable[[], Awaitable[Message]]:
        return lambda: bot.send_message(
            chat_id,
            text,
            parse_mode=mode,
            reply_parameters=reply,
            reply_markup=keyboard,
            link_preview_options=NO_PREVIEW,
        )

    try:
        return [await with_retry(attempt(piece, ParseMode.HTML, markup))]
    except BadRequest as e:
        if not is_markup_error(e):
            raise
        log.warning("Telegram refused our HTML (%s); resending as plain text", e.message)
    plain = split_message(to_plain(piece), html=False)
    sent = []
    for i, text in enumerate(plain):
        keyboard = markup if i == len(plain) - 1 else None
        sent.append(await with_retry(attempt(text, None, keyboard)))
    return sent


@asynccontextmanager
async def typing(bot: Bot, chat_id: int) -> AsyncIterator[None]:
    """Show "typing…" until the block ends (Telegram clears it after ~5 s, so repeat)."""

    async def keep_typing() -> None:
        while True:
            with suppress(TelegramError):
                await bot.send_chat_action(chat_id, ChatAction.TYPING)
            await asyncio.sleep(TYPING_EVERY_S)

    task = asyncio.create_task(keep_typing())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
