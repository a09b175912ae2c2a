"""Per-update helpers for the handlers: dependencies, the user's language, prompts, replies."""

from __future__ import annotations

from html import escape
from typing import Any

from telegram import Update
from telegram.ext import ContextTypes

from bot.telegram_bot.sending import send_html
from retrieval.prompts import Prompts

Context = ContextTypes.DEFAULT_TYPE


def dep(context: Context, name: str) -> Any:
    return context.bot_data[name]


def user_language(update: Update, context: Context) -> str:
    """The user's /lang choice, else their Telegram language if we have prompts for it."""
    prompts: Prompts = dep(context, "prompts")
    user = update.effective_user
    if user is None:
        return "en"
    chosen: str | None = dep(context, "languages").get(user.id)
    if chosen:
        return chosen
    code = (user.language_code or "").split("-")[0].lower()
    return code if prompts.has(code) else "en"


def prompt_text(context: Context, key: str, language: str, /, **fields: Any) -> str:
    """A prompt, HTML-escaped: prompts are data, never markup."""
    prompts: Prompts = dep(context, "prompts")
    return escape(prompts.get(key, language, **fields))


async def reply(update: Update, context: Context, html_text: str, **kwargs: Any) -> None:
    chat = update.effective_chat
    message = update.effective_message
    if chat is None:
        return
    reply_to = message.message_id if message is not None else None
    await send_html(context.bot, chat.id, html_text, reply_to=reply_to, **kwargs)


async def say(update: Update, context: Context, key: str, /, **fields: Any) -> None:
    await reply(
        update, context, prompt_text(context, key, user_language(update, context), **fields)
    )
