"""Telegram handlers: parse the update, call the assistant in a thread, format, reply.

The assistant is synchronous and CPU-bound, so every call goes through ``asyncio.to_thread``: one
slow question (or an admin's upload being indexed) never stalls the others. In LLM mode an answer is
shown while it is verified, in one edited message (``bot.telegram_bot.streaming``). The audit log is
written directly from the event loop: its writes take microseconds, and in the shared thread pool
they would wait behind every queued question, delaying all replies of a burst. Dependencies come
from ``bot_data`` (filled by ``app.build_application``); every user-facing string comes
from ``prompts/<lang>/bot.yaml``.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import secrets
import time
from collections import OrderedDict
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot.telegram_bot import alerts, asof, telegram_html
from bot.telegram_bot.access import addressed_text
from bot.telegram_bot.audit import AuditLog
from bot.telegram_bot.ops import Metrics
from bot.telegram_bot.ratelimit import SlidingWindow
from bot.telegram_bot.replies import Context, dep, prompt_text, reply, say, user_language
from bot.telegram_bot.sending import send_html, typing
from bot.telegram_bot.streaming import StreamedReply
from retrieval.answer.citations import source_label
from retrieval.errors import StoreError
from retrieval.hygiene import clean_text
from retrieval.models import Answer
from retrieval.prompts import Prompts
from retrieval.search.fusion import SearchFilters
from retrieval.versions import cited_versions

if TYPE_CHECKING:
    from retrieval.assistant import Assistant

log = logging.getLogger(__name__)

FOLLOWUP_MAX_WORDS = 5
UNAVAILABLE = (StoreError, httpx.TransportError, ConnectionError)
"""Failures to reach the index: the user is told to try again later, not that we failed."""
FOLLOWUP_WINDOW_S = 15 * 60


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


def _is_followup(question: str, markers: list[str]) -> bool:
    lowered = " ".join(question.lower().split())
    if len(lowered.split()) <= FOLLOWUP_MAX_WORDS:
        return True
    return any(lowered == m or lowered.startswith(m + " ") for m in markers)


def followup_markers(prompts: Prompts) -> list[str]:
    markers = {
        m.strip().lower()
        for lang in prompts.languages
        for m in prompts.get("bot_followup_markers", lang).split("|")
    }
    return sorted(m for m in markers if m)


def _keyboard(
    answer: Answer, key: str, row_id: int | None, prompts: Prompts
) -> InlineKeyboardMarkup | None:
    """Sources and Other languages when there is something to show, then 👍 👎."""

    def button(label: str, data: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(prompts.get(label, answer.language), callback_data=data)

    top = [button("bot_button_sources", f"src:{key}")] if answer.citations else []
    if any(c.translations for c in answer.citations):
        top.append(button("bot_button_translations", f"tr:{key}"))
    if any(c.superseded_by for c in answer.citations):
        top.append(button("bot_button_current", f"cur:{key}"))
    rows = [top] if top else []
    if row_id is not None:
        rows.append([button("bot_button_helpful", f"fb:{row_id}:1"),
                     button("bot_button_unhelpful", f"fb:{row_id}:-1")])  # fmt: skip
    return InlineKeyboardMarkup(rows) if rows else None


async def answer_question(
    update: Update, context: Context, question: str, *, user_date: bool = True
) -> None:
    """The core path: rate limit, follow-up context, assistant, audit, reply with buttons.

    The rules searched are those in force on the user's ``/asof`` date (``user_date``), else
    today."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    question = clean_text(question)
    if not question:
        return
    limiter: SlidingWindow = dep(context, "limiter")
    metrics: Metrics = dep(context, "metrics")
    wait = limiter.hit(user.id)
    if wait:
        metrics.rate_limited.inc()
        if limiter.first_refusal(user.id):
            await say(update, context, "bot_rate_limited", seconds=max(1, round(wait)))
        return
    previous: dict[int, tuple[str, float]] = dep(context, "previous")
    earlier = previous.get(user.id)
    follow_up = (
        earlier is not None
        and time.monotonic() - earlier[1] < FOLLOWUP_WINDOW_S
        and _is_followup(question, dep(context, "followup_markers"))
    )
    prior = earlier[0] if follow_up and earlier else None
    language = dep(context, "languages").get(user.id)
    assistant: Assistant = dep(context, "assistant")
    as_of = dep(context, "as_of").get(user.id) if user_date else None
    ask = functools.partial(
        assistant.ask, question, language=language, context=prior,
        filters=SearchFilters(as_of=as_of),
    )  # fmt: skip
    streamed: StreamedReply | None = None
    started = time.perf_counter()
    try:
        async with typing(context.bot, chat.id):
            if assistant.generator is None:
                answer = await asyncio.to_thread(ask)
            else:  # the model writes: one message shows what is verified, then the answer
                placeholder = prompt_text(context, "bot_searching", user_language(update, context))
                message = update.effective_message
                message_id = message.message_id if message else None
                streamed = await StreamedReply.start(context.bot, chat.id, message_id, placeholder)
                answer = await streamed.run(lambda report: ask(on_progress=report))
    except UNAVAILABLE as e:  # the index (or the Chroma server) cannot be read right now
        log.warning("index unavailable for update %s: %s", update.update_id, e)
        metrics.answered(language or user_language(update, context), "unavailable")
        await say(update, context, "bot_unavailable")
        return
    latency_ms = (time.perf_counter() - started) * 1000
    _log_answer(update, context, question, answer, latency_ms)
    if not follow_up:
        previous[user.id] = (question, time.monotonic())
    audit: AuditLog = dep(context, "audit")
    row_id = audit.record(  # a few microseconds; a thread would queue it behind other questions
        user_id=user.id,
        chat_id=chat.id,
        question=question,
        cited_doc_ids=[c.doc_id for c in answer.citations],
        refused=answer.refused,
        latency_ms=latency_ms,
        language=answer.language,
        cited_versions=cited_versions(answer.citations),
        as_of=answer.as_of or "",
    )
    key = dep(context, "answers").put(Asked(answer, row_id))
    prompts: Prompts = dep(context, "prompts")
    html_text = telegram_html.render_answer(answer, prompts)
    markup = _keyboard(answer, key, row_id, prompts)
    if streamed is not None:
        await streamed.finish(html_text, markup)
    else:
        await reply(update, context, html_text, markup=markup)


def _log_answer(
    update: Update, context: Context, question: str, answer: Answer, latency_ms: float
) -> None:
    """One INFO line per answer; the question text only with ``logging.questions``."""
    outcome = (
        "closest"
        if answer.outcome == "closest"
        else "refused"
        if answer.refused
        else "fallback"
        if answer.fallback
        else "answered"
    )
    dep(context, "metrics").answered(answer.language, outcome, latency_ms / 1000)
    fields = {"update_id": update.update_id, "language": answer.language, "outcome": outcome,
              "latency_ms": round(latency_ms, 1)}  # fmt: skip
    if dep(context, "settings").logging.questions:
        fields["question"] = question
    log.info(
        "update %s answered: language=%s outcome=%s latency_ms=%.0f",
        update.update_id, answer.language, outcome, latency_ms, extra=fields,
    )  # fmt: skip


async def start(update: Update, context: Context) -> None:
    user = update.effective_user
    await say(update, context, "bot_welcome", name=user.first_name if user else "")


async def help_command(update: Update, context: Context) -> None:
    lang = user_language(update, context)
    prompts: Prompts = dep(context, "prompts")
    available = ", ".join(prompts.languages)
    html_text = prompt_text(
        context, "bot_help", lang, username=context.bot.username, available=available
    )
    user = update.effective_user
    if user is not None and dep(context, "access").is_admin(user.id):
        html_text += "\n\n" + prompt_text(context, "bot_help_admin", lang)
    await reply(update, context, html_text)


async def private_message(update: Update, context: Context) -> None:
    """In a private chat every text message is a question."""
    if update.message and update.message.text:
        await answer_question(update, context, update.message.text.strip())


async def group_message(update: Update, context: Context) -> None:
    """In a group, answer only messages that mention us or reply to us."""
    message = update.message
    if message is None:
        return
    question = addressed_text(message, context.bot.id, context.bot.username)
    if question:
        await answer_question(update, context, question)


async def ask(update: Update, context: Context) -> None:
    question = " ".join(context.args or [])
    if not question:
        await say(update, context, "bot_ask_usage")
        return
    await answer_question(update, context, question)


async def docs(update: Update, context: Context) -> None:
    assistant: Assistant = dep(context, "assistant")
    documents = await asyncio.to_thread(assistant.documents)
    html_text = telegram_html.render_documents(
        documents, dep(context, "prompts"), user_language(update, context)
    )
    await reply(update, context, html_text)


async def lang(update: Update, context: Context) -> None:
    """/lang XX sets the language for answers and messages; /lang alone shows it."""
    prompts: Prompts = dep(context, "prompts")
    available = ", ".join(prompts.languages)
    user = update.effective_user
    if user is None:
        return
    if not context.args:
        current = user_language(update, context)
        await say(update, context, "bot_lang_current", language=current, available=available)
        return
    code = context.args[0].lower().split("-")[0]
    if not prompts.has(code):
        await say(update, context, "bot_lang_unknown", code=code, available=available)
        return
    dep(context, "languages")[user.id] = code
    await say(update, context, "bot_lang_set", language=prompts.language_name(code, code))


async def callback(update: Update, context: Context) -> None:
    """Buttons: ``src:KEY``, ``tr:KEY``, ``cur:KEY``, ``fb:ROW:±1``, ``again:ROW``."""
    query = update.callback_query
    if query is None or not isinstance(query.data, str):
        return
    kind, _, rest = query.data.partition(":")
    lang = user_language(update, context)
    if kind == "fb":
        await _feedback(update, context, rest, lang)
        return
    if kind == "again":
        await alerts.ask_again(update, context, rest)
        return
    asked: Asked | None = dep(context, "answers").get(rest)
    if asked is None:
        await query.answer(dep(context, "prompts").get("bot_expired", lang), show_alert=True)
        return
    await query.answer()
    prompts: Prompts = dep(context, "prompts")
    if kind == "cur":
        await asof.current_version(update, context, asked.answer)
        return
    if kind == "src":
        html_text = telegram_html.render_sources(asked.answer, prompts)
    else:
        assistant: Assistant = dep(context, "assistant")
        cited = [c for c in asked.answer.citations if c.translations]
        found = await asyncio.gather(
            *(asyncio.to_thread(assistant.translations_of, c.chunk_id) for c in cited)
        )
        versions = list(zip(cited, found, strict=True))
        html_text = telegram_html.render_translations(versions, prompts, asked.answer.language)
    if isinstance(query.message, Message):
        await send_html(
            context.bot, query.message.chat.id, html_text, reply_to=query.message.message_id
        )


async def _feedback(update: Update, context: Context, rest: str, lang: str) -> None:
    query = update.callback_query
    assert query is not None
    prompts: Prompts = dep(context, "prompts")
    row, _, value = rest.partition(":")
    audit: AuditLog = dep(context, "audit")
    try:
        recorded = audit.set_feedback(int(row), query.from_user.id, int(value))
    except ValueError:
        recorded = False
    await query.answer(
        prompts.get("bot_feedback_thanks" if recorded else "bot_feedback_unknown", lang)
    )
    markup = query.message.reply_markup if isinstance(query.message, Message) else None
    if recorded and markup is not None:
        kept = [
            buttons
            for buttons in markup.inline_keyboard
            if not any(str(b.callback_data or "").startswith("fb:") for b in buttons)
        ]
        await query.edit_message_reply_markup(InlineKeyboardMarkup(kept) if kept else None)


async def inline_query(update: Update, context: Context) -> None:
    """``@bot words`` in any chat: the top passages, each a message ready to send."""
    query = update.inline_query
    if query is None:
        return
    text = clean_text(query.query)
    if not text:
        await query.answer([], cache_time=0, is_personal=True)
        return
    assistant: Assistant = dep(context, "assistant")
    language = dep(context, "languages").get(query.from_user.id)
    passages = await asyncio.to_thread(assistant.search, text, k=5, language=language)
    results = [
        InlineQueryResultArticle(
            id=hashlib.sha256(p.chunk_id.encode()).hexdigest()[:32],
            title=telegram_html.clip(source_label(p.title, p.locator), 120),
            description=telegram_html.clip(p.text, 200),
            input_message_content=InputTextMessageContent(
                telegram_html.render_passage(p), parse_mode=ParseMode.HTML
            ),
        )
        for p in passages
    ]
    await query.answer(results, cache_time=30, is_personal=True)


async def on_error(update: object, context: Context) -> None:
    """Log everything with its traceback; tell the user only that something went wrong."""
    log.error("error while handling an update", exc_info=context.error)
    dep(context, "metrics").errors.inc()
    if not isinstance(update, Update):
        return
    if update.callback_query is not None:
        with suppress(TelegramError):
            await update.callback_query.answer()
    if update.effective_chat is not None and update.inline_query is None:
        with suppress(TelegramError):
            await say(update, context, "bot_error")
