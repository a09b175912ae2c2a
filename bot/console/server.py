"""Running the console: on its own (``regula console``), or on a thread inside ``regula
serve`` (``console.http_port``); and the one-time sign-in links for the operator and the bot."""

from __future__ import annotations

import getpass
import logging
import socket
import threading
from typing import TYPE_CHECKING

import uvicorn

from bot.console.app import OPERATOR_PREFIX, Console, create_app
from bot.console.signin import LoginLinks, SessionSigner, console_secret
from bot.telegram_bot.audit import AuditLog
from retrieval.config import Settings
from retrieval.errors import ConfigError

if TYPE_CHECKING:
    from retrieval.assistant import Assistant

log = logging.getLogger(__name__)
DEFAULT_PORT = 8090


def base_url(settings: Settings, host: str | None = None, port: int | None = None) -> str:
    """Where admins open the console: ``console.public_url``, else http://HOST:PORT."""
    if settings.console.public_url:
        return settings.console.public_url.rstrip("/")
    host = host or settings.console.http_host
    port = port or settings.console.http_port or DEFAULT_PORT
    return f"http://{host}:{port}"


def login_url(
    settings: Settings, who: str, language: str = "en", *, host: str | None = None,
    port: int | None = None,
) -> str:  # fmt: skip
    """A new one-time sign-in link for ``who`` (``operator:NAME`` or ``telegram:ID``)."""
    links = LoginLinks(settings.storage.data_dir)
    try:
        token = links.issue(who, settings.console.login_link_ttl_s, language)
    finally:
        links.close()
    return f"{base_url(settings, host, port)}/signin/{token}"


def operator() -> str:
    """Who signs in with a link printed on the host: the shell user on this machine."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{OPERATOR_PREFIX}{user}@{socket.gethostname()}"


def build_console(
    settings: Settings, assistant: Assistant, audit: AuditLog | None = None
) -> Console:
    data_dir = settings.storage.data_dir
    return Console(
        settings=settings,
        assistant=assistant,
        audit=audit or AuditLog.from_settings(settings),
        links=LoginLinks(data_dir),
        signer=SessionSigner(console_secret(data_dir)),
        prompts=assistant.prompts,
    )


def _server(console: Console, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(console), host=host, port=port, log_level="warning", access_log=False,
        proxy_headers=True, forwarded_allow_ips="127.0.0.1",
    )  # fmt: skip
    return uvicorn.Server(config)


def run_console(settings: Settings, assistant: Assistant, host: str, port: int) -> None:
    """Serve the console in the foreground until SIGINT/SIGTERM."""
    console = build_console(settings, assistant)
    log.info("console on http://%s:%s (sign in: regula console --login-url)", host, port)
    try:
        _server(console, host, port).run()
    finally:
        console.links.close()


class ConsoleThread:
    """The console on a daemon thread beside the bot (``regula serve``)."""

    def __init__(self, console: Console, host: str, port: int) -> None:
        self.console = console
        self._server = _server(console, host, port)
        self._thread = threading.Thread(target=self._server.run, name="console", daemon=True)

    def start(self) -> ConsoleThread:
        self._thread.start()
        return self

    @property
    def started(self) -> bool:
        return bool(self._server.started)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.console.links.close()


def console_beside_bot(
    settings: Settings, assistant: Assistant, audit: AuditLog
) -> ConsoleThread | None:
    """The console inside ``regula serve`` when ``console.http_port`` is set."""
    port = settings.console.http_port
    if port is None:
        return None
    host = settings.console.http_host
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as e:
        msg = f"console.http_port: cannot listen on {host}:{port} ({e.strerror or e})"
        raise ConfigError(msg) from e
    return ConsoleThread(build_console(settings, assistant, audit), host, port).start()
