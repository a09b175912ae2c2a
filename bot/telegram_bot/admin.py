"""Admin commands: /stats, /reindex, /forget, and documents sent to the bot to be indexed."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from telegram import Update
from telegram.constants import ChatType

from bot.telegram_bot import telegram_html
from bot.telegram_bot.audit import AuditLog
from bot.telegram_bot.replies import Context, dep, prompt_text, reply, say, user_language
from bot.telegram_bot.sending import typing
from retrieval.config import Settings
from retrieval.ingest.file_types import SUPPORTED_SUFFIXES
from retrieval.prompts import Prompts
from retrieval.versions import caption_metadata

if TYPE_CHECKING:
    from retrieval.assistant import Assistant

T = TypeVar("T")
DOUBT_FILES_SHOWN = 5  # files named in an upload's doubt notice
# The Bot API's getFile serves files of at most 20 MB to bots: a fact of Telegram, not a setting.
TELEGRAM_DOWNLOAD_CAP_MB = 20.0


async def _is_admin(update: Update, context: Context) -> bool:
    user = update.effective_user
    if user is not None and dep(context, "access").is_admin(user.id):
        return True
    await say(update, context, "bot_admin_only")
    return False


async def _serialised(update: Update, context: Context, operation: Callable[[], T]) -> T:
    """Run an index write in a worker thread, one at a time: a second one is told it is
    queued (``bot_admin_busy``) and starts when the first ends, instead of failing."""
    lock: asyncio.Lock = dep(context, "admin_lock")
    if lock.locked():
        await say(update, context, "bot_admin_busy")
    async with lock:
        return await asyncio.to_thread(operation)


async def stats(update: Update, context: Context) -> None:
    """Admins: index figures from the assistant and usage from the audit log."""
    if not await _is_admin(update, context):
        return
    lang = user_language(update, context)
    assistant: Assistant = dep(context, "assistant")
    figures = await asyncio.to_thread(assistant.stats)
    prompts: Prompts = dep(context, "prompts")
    html_text = telegram_html.render_mapping(prompts.get("bot_stats_header", lang), figures)
    audit: AuditLog = dep(context, "audit")
    if audit.enabled:
        days = dep(context, "settings").audit.retention_days
        usage = audit.summary(days)
        html_text += "\n\n" + prompt_text(context, "bot_audit_summary", lang, days=days, **usage)
    await reply(update, context, html_text)


async def reindex(update: Update, context: Context) -> None:
    if not await _is_admin(update, context):
        return
    await say(update, context, "bot_reindex_started")
    assistant: Assistant = dep(context, "assistant")
    report = await _serialised(update, context, assistant.reindex)
    dep(context, "metrics").ingested(report)
    counts = report.to_json() | {"failed": len(report.failed)}
    await say(update, context, "bot_reindex_done", **counts)
    if dep(context, "settings").vector_store.mode == "server":  # say what was (not) checked
        await say(update, context, "bot_reindex_server_scope", foreign=report.foreign)


async def forget(update: Update, context: Context) -> None:
    if not await _is_admin(update, context):
        return
    if not context.args:
        await say(update, context, "bot_forget_usage")
        return
    doc_id = context.args[0]
    assistant: Assistant = dep(context, "assistant")
    removed = await _serialised(update, context, functools.partial(assistant.forget, doc_id))
    await say(
        update, context, "bot_forget_done" if removed else "bot_forget_missing", doc_id=doc_id
    )


async def console(update: Update, context: Context) -> None:
    """Admins: a one-time sign-in link to the web console, in a private chat only (anyone
    in a group would read it)."""
    if not await _is_admin(update, context):
        return
    chat, user = update.effective_chat, update.effective_user
    assert user is not None
    if chat is None or chat.type != ChatType.PRIVATE:
        await say(update, context, "bot_console_private")
        return
    settings: Settings = dep(context, "settings")
    if settings.console.http_port is None and not settings.console.public_url:
        await say(update, context, "bot_console_off")
        return
    from bot.console.server import login_url

    language = user_language(update, context)
    url = await asyncio.to_thread(login_url, settings, f"telegram:{user.id}", language)
    dep(context, "audit").record_action(f"telegram:{user.id}", "console_link")
    minutes = max(1, settings.console.login_link_ttl_s // 60)
    await say(update, context, "bot_console_link", minutes=minutes, url=url)


def upload_limit(settings: Settings) -> tuple[float, str]:
    """The largest upload in MB, and the message key that says whose limit it is: the
    configured ``ingest.max_file_mb``, or Telegram's download cap when that is lower."""
    if settings.ingest.max_file_mb <= TELEGRAM_DOWNLOAD_CAP_MB:
        return settings.ingest.max_file_mb, "bot_upload_too_large"
    return TELEGRAM_DOWNLOAD_CAP_MB, "bot_upload_too_large_for_telegram"


async def upload(update: Update, context: Context) -> None:
    """Admins send a document to index it; size and type are checked before downloading."""
    message = update.message
    if message is None or message.document is None or not await _is_admin(update, context):
        return
    document = message.document
    filename = Path(document.file_name or "upload").name
    suffix = Path(filename).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        extensions = ", ".join(SUPPORTED_SUFFIXES)
        await say(update, context, "bot_upload_bad_type", extensions=extensions)
        return
    limit_mb, too_large = upload_limit(dep(context, "settings"))
    size = document.file_size or 0
    if size > limit_mb * 1024 * 1024:
        size_mb = f"{size / 1048576:.1f}"
        await say(update, context, too_large, size_mb=size_mb, limit_mb=f"{limit_mb:g}")
        return
    await say(update, context, "bot_upload_started", filename=filename)
    telegram_file = await document.get_file()
    data = bytes(await telegram_file.download_as_bytearray())
    assistant: Assistant = dep(context, "assistant")
    async with typing(context.bot, message.chat_id):
        metadata = caption_metadata(message.caption or "")  # "work: DEC-7 valid_from: …"
        report = await _serialised(
            update,
            context,
            functools.partial(assistant.ingest_bytes, data, filename, metadata=metadata),
        )
    dep(context, "metrics").ingested(report)
    if report.failed:
        reason = "; ".join(f.error for f in report.failed)
        await say(update, context, "bot_upload_failed", filename=filename, reason=reason)
        return
    await say(update, context, "bot_upload_done", filename=filename, **report.to_json())
    for found in report.read:  # what the reader found: the admin checks the structure at once
        if found["articles"]:
            await say(update, context, "bot_upload_articles", articles=found["articles"])
        else:
            await say(update, context, "bot_upload_no_articles")
        if found["ocr_pages"]:
            await say(update, context, "bot_upload_ocr", pages=found["ocr_pages"])
        if found["empty_pages"]:
            pages = ", ".join(str(p) for p in found["empty_pages"])
            await say(update, context, "bot_upload_empty_pages", pages=pages)
        if found["out_of_order"]:
            headings = "; ".join(found["out_of_order"])
            await say(update, context, "bot_upload_out_of_order", headings=headings)
    for doubt in report.doubts:  # the upload may be a version or a part of a work: say so
        files = ", ".join(doubt["doc_ids"][:DOUBT_FILES_SHOWN])
        await say(update, context, "bot_upload_doubt", count=len(doubt["doc_ids"]),
                  work=doubt["work"], files=files)  # fmt: skip
