"""Who may talk to the bot; a gate in handler group -1 that stops everyone else.

The corpus may hold internal directives, so the default is closed: with empty allowlists nobody
gets an answer. The rules:

- a private chat (or an inline query, which has no chat) is allowed for ``allowed_user_ids``
  and ``admin_user_ids``;
- a group is allowed as a whole when its id is in ``allowed_chat_ids``; an allowed user in a
  group that is not allowed is refused, because the other members would read the answers;
- anonymous group admins (``sender_chat`` set, GroupAnonymousBot), posts sent as a channel,
  channel posts and other bots are strangers, since we cannot tell who they are.

A stranger's update gets one polite refusal (once per cooldown, so it cannot be used to make the
bot spam), an empty inline answer, or a refusal toast on a callback, and then
``ApplicationHandlerStop``: no other handler sees it, so nothing of the corpus leaks. The stop is
raised even when sending the refusal fails, because PTB runs the next handler group after an
ordinary exception.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from telegram import Message, Update
from telegram.constants import ChatType, MessageEntityType
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.telegram_bot.ops import Metrics
from retrieval.config import AccessSettings
from retrieval.prompts import Prompts

log = logging.getLogger(__name__)

GROUP_ANONYMOUS_BOT = 1087968824
CHANNEL_BOT = 136817688
TELEGRAM_SERVICE = 777000
_UNIDENTIFIABLE = frozenset({GROUP_ANONYMOUS_BOT, CHANNEL_BOT, TELEGRAM_SERVICE})


class AccessPolicy:
    """The allowlists, plus a bounded memory of whom we already refused."""

    def __init__(
        self,
        access: AccessSettings,
        refusal_cooldown: float = 86400.0,
        remembered: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.users = frozenset(access.allowed_user_ids)
        self.chats = frozenset(access.allowed_chat_ids)
        self.admins = frozenset(access.admin_user_ids)
        self.refusal_cooldown = refusal_cooldown
        self._remembered = remembered
        self._clock = clock
        self._refused: OrderedDict[int, float] = OrderedDict()

    @property
    def closed(self) -> bool:
        """True when nobody at all is allowed (worth a warning at startup)."""
        return not (self.users or self.chats or self.admins)

    def is_admin(self, user_id: int) -> bool:
        return user_id in self.admins

    def allows(self, update: Update) -> bool:
        user = update.effective_user
        if user is None or user.is_bot or user.id in _UNIDENTIFIABLE:
            return False
        message = update.effective_message
        if message is not None and message.sender_chat is not None:
            return False
        chat = update.effective_chat
        if chat is None or chat.type == ChatType.PRIVATE:
            return user.id in self.users or user.id in self.admins
        if chat.type == ChatType.CHANNEL:
            return False
        return chat.id in self.chats

    def first_refusal(self, key: int) -> bool:
        """True if ``key`` (a user or sender chat) has not been refused within the cooldown."""
        now = self._clock()
        last = self._refused.get(key)
        if last is not None and now - last < self.refusal_cooldown:
            return False
        self._refused[key] = now
        self._refused.move_to_end(key)
        while len(self._refused) > self._remembered:
            self._refused.popitem(last=False)
        return True


def addressed_text(message: Message, bot_id: int, bot_username: str) -> str | None:
    """The text of a group message meant for the bot, mention removed; None if not for us.

    A message is for us when it replies to one of ours or mentions us (``@name`` or a text
    mention). Commands are routed by ``CommandHandler``, which already checks ``/cmd@name``.
    """
    text = message.text or message.caption or ""
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot_id:
        return text.strip()
    mention = f"@{bot_username}".lower()
    entities = message.parse_entities([MessageEntityType.MENTION, MessageEntityType.TEXT_MENTION])
    for entity, value in entities.items():
        is_us = (entity.type == MessageEntityType.MENTION and value.lower() == mention) or (
            entity.user is not None and entity.user.id == bot_id
        )
        if is_us:
            return " ".join(text.replace(value, " ").split())
    return None


def _language(update: Update, prompts: Prompts) -> str:
    code = (update.effective_user.language_code or "") if update.effective_user else ""
    code = code.split("-")[0].lower()
    return code if prompts.has(code) else "en"


def _wants_reply(message: Message, bot_id: int, bot_username: str) -> bool:
    if message.chat.type == ChatType.PRIVATE:
        return True
    if message.chat.type == ChatType.CHANNEL:
        return False
    is_command = (
        bool(message.entities)
        and message.entities[0].type == (MessageEntityType.BOT_COMMAND)
        and message.entities[0].offset == 0
    )
    return is_command or addressed_text(message, bot_id, bot_username) is not None


def _allowed(update: object, policy: AccessPolicy) -> bool:
    try:
        return isinstance(update, Update) and policy.allows(update)
    except Exception:  # fail closed: a bug here must never open the bot
        log.exception("access check failed; treating the update as a stranger's")
        return False


async def gate(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """TypeHandler callback for group -1: let allowed updates through, refuse the rest."""
    policy: AccessPolicy = context.bot_data["access"]
    allowed = _allowed(update, policy)
    metrics: Metrics | None = context.bot_data.get("metrics")
    if metrics is not None and isinstance(update, Update):
        kind = next((str(t) for t in Update.ALL_TYPES if getattr(update, t, None)), "other")
        metrics.updates.labels(type=kind, allowed=str(allowed).lower()).inc()
    if allowed:
        return
    if isinstance(update, Update):
        user_id = update.effective_user.id if update.effective_user else None
        log.info("refused update %s from user %s", update.update_id, user_id)
        try:
            await _refuse(update, context, policy)
        except Exception:  # the refusal is a courtesy; stopping the update is not optional
            log.warning("could not send the refusal", exc_info=True)
    raise ApplicationHandlerStop


async def _refuse(update: Update, context: ContextTypes.DEFAULT_TYPE, policy: AccessPolicy) -> None:
    prompts: Prompts = context.bot_data["prompts"]
    refusal = prompts.get("bot_denied", _language(update, prompts))
    if update.inline_query is not None:
        await update.inline_query.answer([], cache_time=0, is_personal=True)
    elif update.callback_query is not None:
        await update.callback_query.answer(refusal, show_alert=True)
    elif (message := update.message or update.edited_message) is not None:
        user = update.effective_user
        key = message.sender_chat.id if message.sender_chat else (user.id if user else None)
        bot = context.bot
        if (
            key is not None
            and _wants_reply(message, bot.id, bot.username)
            and policy.first_refusal(key)
        ):
            await message.reply_text(refusal, do_quote=False)
