"""The Telegram application: every handler registered here, and the ``regula serve`` loop.

``build_application`` wires the assistant and the bot's helpers into ``bot_data`` and registers
the handlers in one place, the access gate first (group -1) so no other handler ever sees a
stranger's update. ``serve`` reads the token from the environment (never from config files)
and runs polling or a webhook until SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from telegram import BotCommand, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.telegram_bot import admin, alerts, asof, handlers
from bot.telegram_bot.access import AccessPolicy, gate
from bot.telegram_bot.answer_cache import AnswerCache
from bot.telegram_bot.audit import AuditLog
from bot.telegram_bot.ops import Metrics, OpsServer, index_health
from bot.telegram_bot.ratelimit import SlidingWindow
from bot.telegram_bot.workers import QuestionPool
from retrieval.config import Settings
from retrieval.errors import ConfigError
from retrieval.followup import Conversations, FollowUpRule

if TYPE_CHECKING:
    from bot.console.server import ConsoleThread
    from retrieval.assistant import Assistant

log = logging.getLogger(__name__)

# Names of environment variables, not secrets.
TOKEN_ENV = "TELEGRAM_BOT_TOKEN"  # noqa: S105
WEBHOOK_SECRET_ENV = "TELEGRAM_WEBHOOK_SECRET"  # noqa: S105
COMMANDS = ("start", "help", "ask", "docs", "lang", "asof", "alerts")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

App = Application[Any, Any, Any, Any, Any, Any]


def build_application(settings: Settings, assistant: Assistant, token: str) -> App:
    """A ready-to-run Application talking to ``settings.telegram.api_base_url``."""
    app = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.telegram.api_base_url)
        .base_file_url(settings.telegram.file_base_url)
        .concurrent_updates(settings.telegram.concurrent_updates)
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .build()
    )
    access = AccessPolicy(settings.access)
    app.bot_data.update(
        settings=settings,
        assistant=assistant,
        prompts=assistant.prompts,
        access=access,
        audit=AuditLog.from_settings(settings),
        limiter=SlidingWindow(settings.telegram.rate_limit_per_minute),
        answers=AnswerCache(),
        metrics=Metrics(),
        admin_lock=asyncio.Lock(),
        languages={},
        as_of={},
        conversations=Conversations(FollowUpRule(assistant.prompts)),
        pool=QuestionPool(settings.telegram.workers, settings.telegram.queue_notice_after),
    )
    private = filters.ChatType.PRIVATE
    groups = filters.ChatType.GROUPS
    new_text = filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND
    app.add_handler(TypeHandler(Update, gate), group=-1)
    commands = {
        "start": handlers.start,
        "help": handlers.help_command,
        "ask": handlers.ask,
        "docs": handlers.docs,
        "lang": handlers.lang,
        "asof": asof.asof,
        "alerts": alerts.alerts,
        "stats": admin.stats,
        "reindex": admin.reindex,
        "forget": admin.forget,
        "console": admin.console,
    }
    for name, callback in commands.items():  # an edited command is not run a second time
        app.add_handler(CommandHandler(name, callback, filters.UpdateType.MESSAGE))
    app.add_handler(MessageHandler(new_text & private, handlers.private_message))
    app.add_handler(MessageHandler(new_text & groups, handlers.group_message))
    app.add_handler(
        MessageHandler(filters.UpdateType.MESSAGE & filters.Document.ALL & private, admin.upload)
    )
    app.add_handler(CallbackQueryHandler(handlers.callback))
    app.add_handler(InlineQueryHandler(handlers.inline_query))
    app.add_error_handler(handlers.on_error)
    return app


async def _post_init(app: App) -> None:
    """Publish the command menu in every language we have prompts for."""
    prompts = app.bot_data["prompts"]
    for language in [None, *prompts.languages]:
        commands = [BotCommand(c, prompts.get(f"bot_cmd_{c}", language or "en")) for c in COMMANDS]
        await app.bot.set_my_commands(commands, language_code=language)
    if app.bot_data["access"].closed:
        log.warning("access lists are empty: the bot will refuse everyone")
    settings: Settings = app.bot_data["settings"]
    if settings.audit.notify_changes and app.bot_data["audit"].enabled:
        watcher = alerts.ChangeWatcher(
            app.bot, app.bot_data["assistant"], app.bot_data["audit"], prompts,
            settings.audit.notify_interval_s,
        )  # fmt: skip
        app.bot_data["watcher"] = watcher
        watcher.start()
    log.info("bot @%s ready", app.bot.username)


async def _post_shutdown(app: App) -> None:
    watcher: alerts.ChangeWatcher | None = app.bot_data.get("watcher")
    if watcher is not None:
        await watcher.stop()
    app.bot_data["pool"].shutdown()
    app.bot_data["audit"].close()


def serve(settings: Settings, assistant: Assistant) -> None:
    """Run the bot until SIGINT/SIGTERM, then close the assistant (which it now owns)."""
    ops: OpsServer | None = None
    console: ConsoleThread | None = None
    try:
        token = os.environ.get(TOKEN_ENV, "").strip()
        if not token:
            msg = f"{TOKEN_ENV} is not set: export the token BotFather gave you"
            raise ConfigError(msg)
        tg = settings.telegram
        if tg.mode == "webhook" and not tg.webhook_url:
            msg = "telegram.webhook_url is required when telegram.mode is 'webhook'"
            raise ConfigError(msg)
        app = build_application(settings, assistant, token)
        ops = _ops_server(settings, assistant, app.bot_data["metrics"])
        from bot.console.server import console_beside_bot

        console = console_beside_bot(settings, assistant, app.bot_data["audit"])
        if tg.mode == "webhook":
            secret = os.environ.get(WEBHOOK_SECRET_ENV) or secrets.token_urlsafe(32)
            app.run_webhook(
                listen=tg.webhook_listen,
                port=tg.webhook_port,
                url_path=urlparse(tg.webhook_url).path.lstrip("/"),
                webhook_url=tg.webhook_url,
                secret_token=secret,
                allowed_updates=Update.ALL_TYPES,
                stop_signals=STOP_SIGNALS,
            )
        else:
            app.run_polling(allowed_updates=Update.ALL_TYPES, stop_signals=STOP_SIGNALS)
    finally:
        if ops is not None:
            ops.stop()
        if console is not None:
            console.stop()
        assistant.close()
    log.info("bot stopped")


def _ops_server(settings: Settings, assistant: Assistant, metrics: Metrics) -> OpsServer | None:
    """/healthz and /metrics on ``ops.http_port``, when it is set."""
    if settings.ops.http_port is None:
        return None
    started = time.monotonic()
    host, port = settings.ops.http_host, settings.ops.http_port
    try:
        server = OpsServer(host, port, metrics, lambda: index_health(assistant, metrics, started))
    except OSError as e:
        msg = f"ops.http_port: cannot listen on {host}:{port} ({e.strerror or e})"
        raise ConfigError(msg) from e
    return server.start()
