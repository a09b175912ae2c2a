"""``/asof`` (the date whose rules a user's answers use) and the "Current version" button.

The per-user date lives in ``bot_data["as_of"]`` (memory only, like ``/lang``); the handlers
pass it to ``Assistant.ask`` through ``SearchFilters.as_of``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from telegram import Message, Update

from bot.telegram_bot import telegram_html
from bot.telegram_bot.replies import Context, dep, say
from bot.telegram_bot.sending import send_html
from retrieval.hygiene import iso_date
from retrieval.models import Answer
from retrieval.search.fusion import SearchFilters
from retrieval.versions import in_force, today

if TYPE_CHECKING:
    from retrieval.assistant import Assistant


async def asof(update: Update, context: Context) -> None:
    """``/asof YYYY-MM-DD`` answers from the rules in force that day; ``/asof`` resets."""
    user = update.effective_user
    if user is None:
        return
    dates: dict[int, str] = dep(context, "as_of")
    if not context.args:
        dates.pop(user.id, None)
        await say(update, context, "bot_asof_reset")
        return
    try:
        date = iso_date(context.args[0])
    except ValueError:
        await say(update, context, "bot_asof_bad")
        return
    dates[user.id] = date
    await say(update, context, "bot_asof_set", date=date)


def current_filters(assistant: Assistant, answer: Answer) -> SearchFilters | None:
    """Today's versions of the works whose cited version was superseded (``None``: none)."""
    now = today()
    works = {c.work for c in answer.citations if c.superseded_by is not None and c.work}
    docs = [d.doc_id for d in assistant.documents() if d.work in works and in_force(d, now)]
    return SearchFilters(doc_ids=docs, as_of=now) if docs else None


async def current_version(update: Update, context: Context, answer: Answer) -> None:
    """The same question answered from the version in force today of each superseded rule."""
    query = update.callback_query
    if query is None or not isinstance(query.message, Message):
        return
    assistant: Assistant = dep(context, "assistant")
    filters = await asyncio.to_thread(current_filters, assistant, answer)
    if filters is None:
        await say(update, context, "bot_current_none")
        return
    current = await asyncio.to_thread(
        assistant.ask, answer.question, language=answer.language, filters=filters
    )
    html_text = telegram_html.render_answer(current, dep(context, "prompts"))
    await send_html(
        context.bot, query.message.chat.id, html_text, reply_to=query.message.message_id
    )
