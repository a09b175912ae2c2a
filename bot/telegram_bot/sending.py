"""How every message leaves the bot: within Telegram's limits on us, and always delivered.

``send_html`` splits a reply to Telegram's size, waits out a 429 ``RetryAfter`` (``with_retry``),
and resends as plain text if Telegram refuses the markup, so an answer is delivered even when
something on either side misbehaves. ``typing`` keeps the "typing…" indicator alive while the
assistant works, so a slow answer does not look like silence.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import TypeVar

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, Message, ReplyParameters
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError, TimedOut

from bot.telegram_bot.telegram_html import split_message, to_plain

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRIES = 2
RECONNECT_AFTER_S = 0.5
TYPING_EVERY_S = 4.0
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def retry_seconds(error: RetryAfter) -> float:
    value = error.retry_after  # int today, timedelta once PTB_TIMEDELTA is the default
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


async def with_retry(call: Callable[[], Awaitable[T]], retries: int = RETRIES) -> T:
    """Await ``call()``, waiting out Telegram's flood control up to ``retries`` times.

    A connection that broke under the request is tried again too (PTB's ``NetworkError``, which
    ``BadRequest`` subclasses: a refusal is not retried). A time-out is not: Telegram may have
    delivered the message, and a second copy is worse than a late error.
    """
    for attempt in range(retries + 1):
        try:
            return await call()
        except RetryAfter as e:
            if attempt == retries:
                raise
            delay = retry_seconds(e)
            log.warning("Telegram flood control: retrying in %.1f s", delay)
            await asyncio.sleep(delay)
        except NetworkError as e:
            if attempt == retries or isinstance(e, TimedOut | BadRequest):  # BadRequest is one
                raise
            log.warning("connection to Telegram broke (%s); retrying", e.message)
            await asyncio.sleep(RECONNECT_AFTER_S)
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
