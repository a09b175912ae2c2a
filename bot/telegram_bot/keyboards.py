"""The inline keyboards under the bot's messages, and the callback data their buttons carry.

Callback data (read back by ``handlers.callback``): ``src:KEY`` Sources, ``tr:KEY`` Other
languages, ``cur:KEY`` Current version (``KEY`` from ``AnswerCache``), ``fb:ROW:±1`` feedback on
audit row ``ROW``, ``again:ROW`` ask a changed answer's question again. Labels come from
``prompts/<lang>/bot.yaml``.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from retrieval.models import Answer
from retrieval.prompts import Prompts

FEEDBACK_PREFIX = "fb:"


def answer_keyboard(
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
        rows.append([button("bot_button_helpful", f"{FEEDBACK_PREFIX}{row_id}:1"),
                     button("bot_button_unhelpful", f"{FEEDBACK_PREFIX}{row_id}:-1")])  # fmt: skip
    return InlineKeyboardMarkup(rows) if rows else None


def without_feedback(markup: InlineKeyboardMarkup) -> InlineKeyboardMarkup | None:
    """``markup`` minus its 👍 👎 row, once feedback is recorded (``None`` if nothing is left)."""
    kept = [
        buttons
        for buttons in markup.inline_keyboard
        if not any(str(b.callback_data or "").startswith(FEEDBACK_PREFIX) for b in buttons)
    ]
    return InlineKeyboardMarkup(kept) if kept else None


def ask_again_keyboard(row_id: int, prompts: Prompts, language: str) -> InlineKeyboardMarkup:
    """The one button under a change notice: ask audit row ``row_id``'s question again."""
    label = prompts.get("bot_button_ask_again", language)
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=f"again:{row_id}")]])
