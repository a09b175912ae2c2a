"""Answers a language model writes, shown while they are verified: one message, edited.

In ``answer.mode: llm`` the bot sends a placeholder at once ("Searching the documents…"), then
edits it with what the generator reports (only claims already verified against the passages,
or a "writing…" status), at most once per ``EDIT_EVERY_S`` and only when the text changed, and
finally edits it into the formatted answer with its buttons; the rest of an answer longer than
one message follows as new messages.

The assistant runs in a worker thread and reports from there: ``report`` hands each report to
the event loop with ``call_soon_threadsafe``, and one task on the loop does the edits, so a slow
edit never holds up the model. A progress edit that fails (flood control, "message is not
modified", the network) is skipped: only the final edit matters, and if that fails too the
answer is sent as new messages.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from html import escape
from typing import TYPE_CHECKING, Any

from telegram import Bot, InlineKeyboardMarkup, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, RetryAfter, TelegramError

from bot.telegram_bot.sending import (
    NO_PREVIEW,
    is_markup_error,
    retry_seconds,
    send_pieces,
    with_retry,
)
from bot.telegram_bot.telegram_html import split_message, to_plain
from retrieval.models import Answer

if TYPE_CHECKING:
    from retrieval.answer.generative import Progress

log = logging.getLogger(__name__)

EDIT_EVERY_S = 1.0


def _not_modified(error: BadRequest) -> bool:
    return "message is not modified" in error.message.lower()


class StreamedReply:
    """One message that shows an answer's verified progress, then the answer itself."""

    def __init__(
        self, bot: Bot, chat_id: int, reply_to: int | None, every: float = EDIT_EVERY_S
    ) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.reply_to = reply_to
        self.every = every
        self.message: Message | None = None
        self._loop = asyncio.get_running_loop()
        self._latest = self._shown = ""
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._quiet_until = 0.0

    @classmethod
    async def start(
        cls, bot: Bot, chat_id: int, reply_to: int | None, placeholder_html: str
    ) -> StreamedReply:
        """Send the placeholder; if Telegram refuses it, the answer comes as new messages."""
        reply = cls(bot, chat_id, reply_to)
        parameters = (
            ReplyParameters(reply_to, allow_sending_without_reply=True)
            if reply_to is not None
            else None
        )
        try:
            reply.message = await with_retry(
                lambda: bot.send_message(
                    chat_id,
                    placeholder_html,
                    parse_mode=ParseMode.HTML,
                    reply_parameters=parameters,
                    link_preview_options=NO_PREVIEW,
                )
            )
        except TelegramError:
            log.warning("could not send the placeholder; the answer will be sent", exc_info=True)
        reply._shown = placeholder_html
        return reply

    def report(self, partial: str) -> None:
        """The verified text so far (plain text), from any thread."""
        with suppress(RuntimeError):  # the loop has closed: nobody will show it any more
            self._loop.call_soon_threadsafe(self._update, escape(partial))

    def _update(self, html_text: str) -> None:
        self._latest = html_text
        self._wake.set()

    async def run(self, ask: Callable[[Progress], Answer]) -> Answer:
        """``ask(report)`` in a worker thread, while the placeholder follows its reports.

        If ``ask`` raises, the placeholder is deleted (the error handler apologises).
        """
        pump = asyncio.create_task(self._pump()) if self.message is not None else None
        try:
            answer = await asyncio.to_thread(ask, self.report)
        except BaseException as e:
            await self._stop_pump(pump)
            if isinstance(e, Exception):
                await self.discard()
            raise
        await self._stop_pump(pump)
        return answer

    async def _stop_pump(self, pump: asyncio.Task[None] | None) -> None:
        """Stop the edits; an edit under way is awaited, so it cannot land after the answer."""
        self._stop.set()
        self._wake.set()
        if pump is None:
            return
        try:
            await pump
        except Exception:  # progress is a courtesy: it never costs the answer
            log.warning("progress edits stopped", exc_info=True)

    async def _pump(self) -> None:
        """The newest report, at most one edit per ``every`` (the placeholder counts as one)."""
        while True:
            with suppress(TimeoutError):  # stopping cuts the pause short
                await asyncio.wait_for(self._stop.wait(), self.every)
            await self._wake.wait()
            self._wake.clear()
            if self._stop.is_set():
                return
            if self._latest != self._shown and time.monotonic() >= self._quiet_until:
                await self._show(self._latest)

    async def _show(self, html_text: str) -> None:
        try:
            await self._edit(html_text, ParseMode.HTML, None)
        except RetryAfter as e:
            self._quiet_until = time.monotonic() + retry_seconds(e)
            log.info("flood control: progress edits paused for %.0f s", retry_seconds(e))
            return
        except BadRequest as e:
            if not _not_modified(e):
                log.warning("Telegram refused a progress edit: %s", e.message)
                return
        except TelegramError:
            log.warning("a progress edit failed", exc_info=True)
            return
        self._shown = html_text

    def _edit(
        self, text: str, mode: str | None, markup: InlineKeyboardMarkup | None
    ) -> Awaitable[Any]:
        assert self.message is not None
        return self.bot.edit_message_text(
            text,
            chat_id=self.chat_id,
            message_id=self.message.message_id,
            parse_mode=mode,
            reply_markup=markup,
            link_preview_options=NO_PREVIEW,
        )

    async def finish(self, html_text: str, markup: InlineKeyboardMarkup | None) -> None:
        """Edit the placeholder into the answer; what does not fit follows as new messages."""
        pieces = split_message(html_text)
        if self.message is None or not pieces:
            await send_pieces(self.bot, self.chat_id, pieces, reply_to=self.reply_to, markup=markup)
            return
        first, rest = pieces[0], pieces[1:]
        try:
            await self._edit_final(first, None if rest else markup)
        except TelegramError:
            log.warning("could not edit the placeholder into the answer; sending it", exc_info=True)
            await self.discard()
            await send_pieces(self.bot, self.chat_id, pieces, reply_to=self.reply_to, markup=markup)
            return
        if rest:
            await send_pieces(self.bot, self.chat_id, rest, markup=markup)

    async def _edit_final(self, piece: str, markup: InlineKeyboardMarkup | None) -> None:
        """The final edit, waiting out flood control; plain text if Telegram refuses the HTML."""
        try:
            await with_retry(lambda: self._edit(piece, ParseMode.HTML, markup))
        except BadRequest as e:
            if _not_modified(e):
                return
            if not is_markup_error(e):
                raise
            log.warning("Telegram refused our HTML (%s); editing in plain text", e.message)
            await with_retry(lambda: self._edit(to_plain(piece), None, markup))

    async def discard(self) -> None:
        """Delete the placeholder (best effort)."""
        if self.message is not None:
            with suppress(TelegramError):
                await self.bot.delete_message(self.chat_id, self.message.message_id)
            self.message = None
