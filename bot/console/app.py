"""The console's Starlette application: who may see it, how pages are rendered, sign-in.

Every route but sign-in and the stylesheet goes through ``signed_in``: no valid session cookie
(or a session whose Telegram admin was since removed from ``access.admin_user_ids``) gets the
sign-in page and nothing else; a POST also needs the session's CSRF token. The pages themselves
live in ``documents``, ``editing``, ``questions`` and ``status``; each calls the core
(``retrieval``) off the event loop, because search and ingest are CPU-bound.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from bot.console.jobs import JobBoard
from bot.console.signin import LoginLinks, Session, SessionSigner
from bot.telegram_bot.audit import AuditLog
from retrieval.config import Settings
from retrieval.prompts import Prompts

if TYPE_CHECKING:
    from retrieval.assistant import Assistant

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
COOKIE = "regula_console"
OPERATOR_PREFIX = "operator:"
TELEGRAM_PREFIX = "telegram:"
Page = Callable[[Request], Awaitable[Response]]


@dataclass
class Console:
    """What every page needs: the core, the audit log, sign-in and the templates."""

    settings: Settings
    assistant: Assistant
    audit: AuditLog
    links: LoginLinks
    signer: SessionSigner
    prompts: Prompts
    jobs: JobBoard = field(default_factory=JobBoard)
    templates: Jinja2Templates = field(
        default_factory=lambda: Jinja2Templates(directory=HERE / "templates")
    )

    def allowed(self, who: str) -> bool:
        """Operators (links printed on the host) always; Telegram users while still admins."""
        if who.startswith(OPERATOR_PREFIX):
            return True
        if who.startswith(TELEGRAM_PREFIX):
            user_id = who.removeprefix(TELEGRAM_PREFIX)
            return user_id.isdigit() and int(user_id) in self.settings.access.admin_user_ids
        return False

    def language(self, request: Request) -> str:
        session: Session | None = getattr(request.state, "session", None)
        if session is not None and self.prompts.has(session.language):
            return session.language
        for part in request.headers.get("accept-language", "").split(","):
            code = part.split(";")[0].strip().split("-")[0].lower()
            if code and self.prompts.has(code):
                return code
        return "en"

    def render(
        self, request: Request, template: str, status_code: int = 200, **context: Any
    ) -> Response:
        language = self.language(request)
        session: Session | None = getattr(request.state, "session", None)

        def text(key: str, **fields: Any) -> str:
            return self.prompts.get(key, language, **fields)

        context.update(
            t=text,
            language=language,
            rtl=language in ("ar", "fa", "he", "ur"),
            session=session,
            csrf=self.signer.csrf_token(session) if session else "",
            languages=self.prompts.languages,
            language_name=lambda code: self.prompts.language_name(code, language),
        )
        response = self.templates.TemplateResponse(request, template, context, status_code)
        response.headers.update(SECURITY_HEADERS)
        return response

    def secure_cookies(self, request: Request) -> bool:
        return request.url.scheme == "https" or self.settings.console.public_url.startswith(
            "https://"
        )

    def act(self, request: Request, action: str, target: str = "", detail: str = "") -> None:
        """Write an admin action to the audit log, with who did it."""
        session: Session = request.state.session
        self.audit.record_action(session.who, action, target, detail)


SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self';"
    " form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def signed_in(page: Page) -> Page:
    """Let a request through only with a valid session (and, for a POST, its CSRF token);
    the form, when there is one, is parsed once here and left on ``request.state.form``."""

    @functools.wraps(page)
    async def guarded(request: Request) -> Response:
        console = console_of(request)
        session = console.signer.read(request.cookies.get(COOKIE))
        if session is None or not console.allowed(session.who):
            return _to_signin(request, console)
        request.state.session = session
        if request.method == "POST":
            if _too_large(request, console):
                return Response("request too large", 413)
            form = await _form(request, console)
            if not console.signer.csrf_ok(session, _text(form, "csrf")):
                return console.render(
                    request, "signin.html", 403, message=console.prompts.get("console_forbidden")
                )
            request.state.form = form
        wanted = request.query_params.get("lang", "")
        if wanted and console.prompts.has(wanted) and wanted != session.language:
            request.state.session = Session(session.who, wanted, session.expires, session.nonce)
            response = await page(request)
            _set_cookie(response, console, request, console.signer.cookie(request.state.session))
            return response
        return await page(request)

    return guarded


async def _form(request: Request, console: Console) -> FormData:
    limit = int(console.settings.ingest.max_file_mb * 1024 * 1024)
    return await request.form(max_files=1, max_fields=64, max_part_size=min(limit, 1 << 20))


def _too_large(request: Request, console: Console) -> bool:
    """A body past the upload limit is refused before it is read (the form's own overhead
    allowed for); the upload page then checks the file itself."""
    declared = request.headers.get("content-length", "")
    limit = console.settings.ingest.max_file_mb * 1024 * 1024 + 65536
    return declared.isdigit() and int(declared) > limit


def _text(form: FormData, key: str) -> str:
    value = form.get(key)
    return value if isinstance(value, str) else ""


def _to_signin(request: Request, console: Console) -> Response:
    if request.method == "GET":
        return RedirectResponse("/signin", 303)
    return console.render(
        request, "signin.html", 401, message=console.prompts.get("console_forbidden")
    )


def _set_cookie(response: Response, console: Console, request: Request, value: str) -> None:
    response.set_cookie(
        COOKIE,
        value,
        max_age=console.settings.console.session_ttl_s,
        httponly=True,
        samesite="strict",
        secure=console.secure_cookies(request),
    )


async def signin_page(request: Request) -> Response:
    return console_of(request).render(request, "signin.html")


async def signin_link(request: Request) -> Response:
    """GET shows a button (link previews must not spend the link); POST redeems it."""
    console = console_of(request)
    token = request.path_params["token"]
    if request.method == "GET":
        return console.render(request, "signin.html", confirm=token)
    redeemed = console.links.redeem(token)
    if redeemed is None or not console.allowed(redeemed[0]):
        log.warning("console sign-in refused (used, expired, unknown or no longer an admin)")
        return console.render(
            request, "signin.html", 403, message=console.prompts.get("console_signin_failed")
        )
    who, language = redeemed
    _, cookie = console.signer.open(who, language, console.settings.console.session_ttl_s)
    response = RedirectResponse("/documents", 303)
    _set_cookie(response, console, request, cookie)
    console.audit.record_action(who, "sign_in")
    return response


@signed_in
async def sign_out(request: Request) -> Response:
    response = RedirectResponse("/signin", 303)
    response.delete_cookie(COOKIE)
    return response


@signed_in
async def home(request: Request) -> Response:
    return RedirectResponse("/documents", 303)


def create_app(console: Console) -> Starlette:
    """The console as an ASGI app (served by ``bot.console.server``)."""
    from bot.console import documents, editing, questions, status

    routes: list[BaseRoute] = [
        Route("/", home),
        Route("/signin", signin_page),
        Route("/signin/{token}", signin_link, methods=["GET", "POST"]),
        Route("/signout", sign_out, methods=["POST"]),
        *documents.routes,
        *editing.routes,
        *questions.routes,
        *status.routes,
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes)
    app.state.console = console
    return app
