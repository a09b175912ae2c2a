"""Telegram handlers: parse the update, call the assistant in a thread, format, reply.

The assistant is synchronous and CPU-bound, so it never runs on the event loop: a question
goes to the bounded ``workers.QuestionPool`` (as many threads as cores, in arrival order, one at
a time per user), other calls through ``asyncio.to_thread``; an admin's upload being indexed never
stalls the questions. In LLM mode the model's answer is awaited in a thread of its own (it
waits on the model server, not on the cores). In LLM mode an answer is
shown while it is verified, in one edited message (``bot.telegram_bot.streaming``). The audit log is
written directly from the event loop: its writes take microseconds, and in the shared thread pool
they would wait behind every queued question, delaying all replies of a burst. Dependencies come
from ``bot_data`` (filled by ``app.build_application``); every user-facing string comes
from ``prompts/<lang>/bot.yaml``. Whether a message follows up on the previous question is
``retrieval.followup``'s call; the buttons are built in ``keyboards`` and the answers they refer
to kept in ``answer_cache``.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import time
from contextlib import suppress
from typing import TYPE_CHECKING

import httpx
from telegram import InlineQueryResultArticle, InputTextMessageContent, Message, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot.telegram_bot import alerts, asof, telegram_html
from bot.telegram_bot.access import addressed_text
from bot.telegram_bot.answer_cache import Asked
from bot.telegram_bot.audit import AuditLog
from bot.telegram_bot.keyboards import answer_keyboard, without_feedback
from bot.telegram_bot.ratelimit import SlidingWindow
from bot.telegram_bot.replies import Context, dep, prompt_text, reply, say, user_language
from bot.telegram_bot.sending import send_html, typing
from bot.telegram_bot.streaming import StreamedReply
from bot.telegram_bot.workers import QuestionPool
from retrieval.answer.citations import source_label
from retrieval.errors import StoreError
from retrieval.followup import Conversations
from retrieval.hygiene import clean_text
from retrieval.models import Answer
from retrieval.prompts import Prompts
from retrieval.search.fusion import SearchFilters
from retrieval.versions import cited_versions

if TYPE_CHECKING:
    from retrieval.assistant import Assistant

log = logging.getLogger(__name__)

UNAVAILABLE = (StoreError, httpx.TransportError, ConnectionError)
"""Failures to reach the index: the user is told to try again later, not that we failed."""


async def answer_question(
    update: Update, context: Context, question: str, *, user_date: bool = True
) -> None:
    """The core path: rate limit, follow-up context, assistant, audit, reply with buttons.

    The rules searched are those in force on the user's ``/asof`` date (``user_date``), else
    today."""
    user, chat = update.effective_user, update.effective_chat
    question = clean_text(question)
    if user is None or chat is None or not question or await _rate_limited(update, context):
        return
    conversations: Conversations = dep(context, "conversations")
    prior = conversations.context_for(question, user.id)
    as_of = dep(context, "as_of").get(user.id) if user_date else None
    started = time.perf_counter()
    try:
        answer, streamed = await _ask(update, context, question, prior, as_of)
    except UNAVAILABLE as e:  # the index (or the Chroma server) cannot be read right now
        log.warning("index unavailable for update %s: %s", update.update_id, e)
        language = dep(context, "languages").get(user.id) or user_language(update, context)
        dep(context, "metrics").answered(language, "unavailable")
        await say(update, context, "bot_unavailable")
        return
    latency_ms = (time.perf_counter() - started) * 1000
    _log_answer(update, context, question, answer, latency_ms)
    conversations.remember(question, prior, user.id)
    row_id = _audit(update, context, question, answer, latency_ms)
    await _reply_with_buttons(update, context, answer, row_id, streamed)


async def _rate_limited(update: Update, context: Context) -> bool:
    """True if the user asked too often; the first refusal of a streak tells them how long."""
    user = update.effective_user
    assert user is not None
    limiter: SlidingWindow = dep(context, "limiter")
    wait = limiter.hit(user.id)
    if not wait:
        return False
    dep(context, "metrics").rate_limited.inc()
    if limiter.first_refusal(user.id):
        await say(update, context, "bot_rate_limited", seconds=max(1, round(wait)))
    return True


async def _ask(
    update: Update, context: Context, question: str, prior: str | None, as_of: str | None
) -> tuple[Answer, StreamedReply | None]:
    """The assistant in a worker thread under "typing…"; in LLM mode one message shows what is
    verified while the model writes (returned, to be edited into the answer)."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None
    assert chat is not None
    assistant: Assistant = dep(context, "assistant")
    language = dep(context, "languages").get(user.id)
    ask = functools.partial(
        assistant.ask, question, language=language, context=prior,
        filters=SearchFilters(as_of=as_of),
    )  # fmt: skip
    async with typing(context.bot, chat.id):
        if assistant.generator is None:  # CPU-bound: the bounded pool, in arrival order
            pool: QuestionPool = dep(context, "pool")

            async def queued(ahead: int) -> None:
                try:  # a courtesy: failing to send it must not cost the answer
                    await say(update, context, "bot_queued", ahead=ahead)
                except TelegramError as e:
                    log.warning("could not tell user %s their question is queued: %s", user.id, e)

            return await pool.run(user.id, ask, queued), None
        placeholder = prompt_text(context, "bot_searching", user_language(update, context))
        message_id = update.effective_message.message_id if update.effective_message else None
        streamed = await StreamedReply.start(context.bot, chat.id, message_id, placeholder)
        return await streamed.run(lambda report: ask(on_progress=report)), streamed


def _audit(
    update: Update, context: Context, question: str, answer: Answer, latency_ms: float
) -> int | None:
    """The answer's audit row (a few microseconds: a thread would queue it behind questions)."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None
    assert chat is not None
    audit: AuditLog = dep(context, "audit")
    return audit.record(
        user_id=user.id,
        chat_id=chat.id,
        question=question,
        cited_doc_ids=[c.doc_id for c in answer.citations],
        refused=answer.refused,
        latency_ms=latency_ms,
        language=answer.language,
        cited_versions=cited_versions(answer.citations),
        as_of=answer.as_of or "",
        outcome=answer.outcome or "",
    )


async def _reply_with_buttons(
    update: Update,
    context: Context,
    answer: Answer,
    row_id: int | None,
    streamed: StreamedReply | None,
) -> None:
    """The formatted answer with its keyboard: edited into the streamed message, or sent."""
    key = dep(context, "answers").put(Asked(answer, row_id))
    prompts: Prompts = dep(context, "prompts")
    html_text = telegram_html.render_answer(answer, prompts)
    markup = answer_keyboard(answer, key, row_id, prompts)
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
    work = " ".join(context.args or []) or None  # /docs WORK: the parts of one act
    html_text = telegram_html.render_documents(
        documents, dep(context, "prompts"), user_language(update, context), work
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
        html_text = await _translations(context, asked.answer)
    if isinstance(query.message, Message):
        await send_html(
            context.bot, query.message.chat.id, html_text, reply_to=query.message.message_id
        )


async def _translations(context: Context, answer: Answer) -> str:
    """The Other languages view: each cited passage's indexed translations."""
    assistant: Assistant = dep(context, "assistant")
    cited = [c for c in answer.citations if c.translations]
    found = await asyncio.gather(
        *(asyncio.to_thread(assistant.translations_of, c.chunk_id) for c in cited)
    )
    versions = list(zip(cited, found, strict=True))
    return telegram_html.render_translations(versions, dep(context, "prompts"), answer.language)


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
        await query.edit_message_reply_markup(without_feedback(markup))


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
