"""Change notices: tell each user, once per answer, that a rule quoted to them has changed.

With ``audit.notify_changes`` a ``ChangeWatcher`` task runs beside the bot. Every
``audit.notify_interval_s`` it reads the index revision (one small read; another process's
``regula ingest`` changes it too) and, when it moved (and once at start), compares the versions
each logged answer cited with the manifest (``retrieval.versions.changes``). Each affected
answer is claimed in the audit log before its message is sent, so it is notified at most once;
users who sent ``/alerts off`` are skipped. The message repeats the question, says what changed
and from when, and carries an "Ask again" button (``again:ROW``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from telegram import Update

from bot.telegram_bot import telegram_html
from bot.telegram_bot.audit import AuditLog
from bot.telegram_bot.keyboards import ask_again_keyboard
from bot.telegram_bot.replies import Context, dep, say
from bot.telegram_bot.sending import send_html
from retrieval.prompts import Prompts
from retrieval.versions import changes

if TYPE_CHECKING:
    from telegram import Bot

    from retrieval.assistant import Assistant

log = logging.getLogger(__name__)


class ChangeWatcher:
    """The polling task; ``check`` is one pass (tests call it directly)."""

    def __init__(
        self, bot: Bot, assistant: Assistant, audit: AuditLog, prompts: Prompts, interval: float
    ) -> None:
        self.bot = bot
        self.assistant = assistant
        self.audit = audit
        self.prompts = prompts
        self.interval = interval
        self._seen: str | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="regula-change-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:  # a failed pass is logged; the next one tries again
                log.exception("checking cited rules for changes failed")
            await asyncio.sleep(self.interval)

    async def check(self) -> int:
        """Send the notices due since the index last changed; returns how many were sent."""
        revision = await asyncio.to_thread(self.assistant.store.revision)
        if revision == self._seen:
            return 0
        manifest = await asyncio.to_thread(self.assistant.refresh)  # reopens if foreign
        sent = 0
        for row in self.audit.with_citations(pending=True):
            found = changes(row["cited_versions"], manifest)
            if not found or not self.audit.alerts_enabled(int(row["user_id"])):
                continue
            if not self.audit.mark_notified(int(row["id"])):
                continue
            language = str(row["language"] or "en")
            html_text = telegram_html.render_change_notice(
                str(row["question"]), found, self.prompts, language
            )
            markup = ask_again_keyboard(int(row["id"]), self.prompts, language)
            await send_html(self.bot, int(row["chat_id"]), html_text, markup=markup)
            sent += 1
        self._seen = revision
        return sent


async def alerts(update: Update, context: Context) -> None:
    """``/alerts off`` stops change notices, ``/alerts on`` resumes them; alone: the state."""
    user = update.effective_user
    if user is None:
        return
    audit: AuditLog = dep(context, "audit")
    choice = (context.args or [""])[0].lower()
    if choice in ("on", "off"):
        audit.set_alerts(user.id, choice == "on")
    elif choice:
        await say(update, context, "bot_alerts_usage")
        return
    await say(
        update, context, "bot_alerts_on" if audit.alerts_enabled(user.id) else "bot_alerts_off"
    )


async def ask_again(update: Update, context: Context, row: str) -> None:
    """The "Ask again" button under a notice: the original question, answered today."""
    from bot.telegram_bot.handlers import (
        answer_question,  # the handlers import this module's neighbours
    )

    query = update.callback_query
    if query is None:
        return
    audit: AuditLog = dep(context, "audit")
    asked: dict[str, Any] | None = None
    with contextlib.suppress(ValueError):
        asked = audit.question_of(int(row), query.from_user.id)
    await query.answer()
    if asked is not None:
        await answer_question(update, context, str(asked["question"]), user_date=False)
