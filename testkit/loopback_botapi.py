"""A loopback Telegram Bot API server for tests and benchmarks (127.0.0.1, ephemeral port).

It implements the methods python-telegram-bot calls and validates like Telegram does: message
length (4096 UTF-16 units after parsing), HTML markup (allowed tags, balance, entities), unknown
chats, edits of messages that do not exist or that would not change ("message is not
modified"), and it can answer the next N calls of a method with a 429 flood-control error.
Tests push updates with ``push_update``; getUpdates long-polls them. Every call is recorded in
``calls``; ``messages`` holds the bot's messages as they look now (after edits and deletions).

Runs in a daemon thread; ``stop()`` wakes pending long polls so the test ends promptly.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote

TOKEN = "123456789:TEST-loopback-token"
BOT_USER = {
    "id": 123456789,
    "is_bot": True,
    "first_name": "Regula",
    "username": "regula_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": True,
}
_JSON_FIELDS = {
    "reply_markup", "results", "entities", "reply_parameters", "link_preview_options",
    "commands", "scope", "allowed_updates", "button", "caption_entities",
}  # fmt: skip
_INT_FIELDS = {
    "chat_id", "message_id", "offset", "limit", "timeout", "cache_time", "user_id",
    "from_chat_id", "reply_to_message_id",
}  # fmt: skip
_BOOL_FIELDS = {"is_personal", "show_alert", "disable_notification", "drop_pending_updates"}
_ALLOWED_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
    "blockquote", "tg-spoiler", "span", "tg-emoji",
}  # fmt: skip
_NAMED_ENTITIES = {"lt", "gt", "amp", "quot"}
_STRAY = re.compile(r"<(?![a-zA-Z/])|&(?!(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);)")


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


def _decode(key: str, value: str) -> Any:
    """Form fields as Telegram reads them: JSON objects, integers and booleans by name."""
    if key in _JSON_FIELDS:
        return json.loads(value)
    if key in _INT_FIELDS and re.fullmatch(r"-?\d+", value):
        return int(value)
    if key in _BOOL_FIELDS:
        return value.lower() == "true"
    return value


def _u16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class _TelegramHTML(HTMLParser):
    """Telegram's HTML rules; ``text`` is the message as the user would see it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.parts: list[str] = []

    def error_at(self, what: str) -> ApiError:
        return ApiError(400, f"Bad Request: can't parse entities: {what}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _ALLOWED_TAGS:
            raise self.error_at(f'Unsupported start tag "{tag}"')
        if tag == "a" and not dict(attrs).get("href"):
            raise self.error_at("Can't find href in a tag")
        if tag == "span" and dict(attrs).get("class") != "tg-spoiler":
            raise self.error_at('Tag "span" must have class "tg-spoiler"')
        if tag == "blockquote" and "blockquote" in self.stack:
            raise self.error_at("Blockquote entities can't be nested")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise self.error_at(f'Unmatched end tag "{tag}"')
        self.stack.pop()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise self.error_at(f'Unsupported start tag "{tag}/"')

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in _NAMED_ENTITIES:
            raise self.error_at(f'Unsupported HTML entity "&{name};"')
        self.parts.append(unescape(f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.parts.append(unescape(f"&#{name};"))

    def handle_comment(self, data: str) -> None:
        raise self.error_at("Unsupported comment")

    def handle_decl(self, decl: str) -> None:
        raise self.error_at("Unsupported declaration")


def visible_text(text: str, parse_mode: str | None) -> str:
    """The text Telegram would show, or ApiError 400 as Telegram would answer."""
    if (parse_mode or "").upper() != "HTML":
        return text
    stray = _STRAY.search(text)
    if stray:
        msg = f"Bad Request: can't parse entities: unexpected {stray.group()!r} at byte offset "
        raise ApiError(400, msg + str(len(text[: stray.start()].encode())))
    parser = _TelegramHTML()
    parser.feed(text)
    parser.close()
    if parser.rawdata:
        raise parser.error_at("Unclosed start tag")
    if parser.stack:
        raise parser.error_at(
            f'Can\'t find end tag corresponding to start tag "{parser.stack[-1]}"'
        )
    return "".join(parser.parts)


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int
    result: Any
    at: float = field(default_factory=time.monotonic)


class _Server(ThreadingHTTPServer):
    # the default listen backlog of 5 overflows when a burst of users is answered at once,
    # and the client then sees a connection closed under it, which real Telegram never does
    request_queue_size = 128


class LoopbackBotAPI:
    """The server plus its state: chats, files, queued updates, recorded calls."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.chats: dict[int, dict[str, Any]] = {}
        self.files: dict[str, tuple[str, bytes]] = {}
        self.calls: list[Call] = []
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.webhook: dict[str, Any] = {}
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._next_message_id = 1000
        self._fail: dict[str, int] = {}
        self._drop: list[tuple[str, str, int]] = []  # method, text it holds, times left
        self._cond = threading.Condition()
        self._stopping = False
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def file_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    def start(self) -> LoopbackBotAPI:
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackBotAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test controls ------------------------------------------------------------------------
    def add_chat(self, chat: dict[str, Any]) -> dict[str, Any]:
        self.chats[int(chat["id"])] = chat
        return chat

    def add_file(self, file_id: str, content: bytes, name: str = "document") -> dict[str, Any]:
        self.files[file_id] = (f"documents/{file_id}_{name}", content)
        return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(content)}

    def push_update(self, update: dict[str, Any]) -> int:
        with self._cond:
            update = {"update_id": self._next_update_id, **update}
            self._next_update_id = max(self._next_update_id, update["update_id"]) + 1
            self._updates.append(update)
            self._cond.notify_all()
            return int(update["update_id"])

    def fail_next(self, method: str = "sendMessage", count: int = 1) -> None:
        """Answer the next ``count`` calls of ``method`` with 429 retry after 1 s."""
        with self._cond:
            self._fail[method] = self._fail.get(method, 0) + count

    def drop_next(self, method: str = "sendMessage", count: int = 1, containing: str = "") -> None:
        """Close the connection without an answer on the next ``count`` calls of ``method``
        whose text holds ``containing``: a network failure, as the client sees it."""
        with self._cond:
            self._drop.append((method, containing, count))

    def _dropped(self, path: str, params: dict[str, Any]) -> bool:
        with self._cond:
            for i, (method, containing, left) in enumerate(self._drop):
                if path.endswith(f"/{method}") and containing in str(params.get("text", "")):
                    self._drop[i] = (method, containing, left - 1)
                    if left == 1:
                        del self._drop[i]
                    self.calls.append(Call(method, params, 0, None))
                    return True
        return False

    def calls_of(self, method: str, ok: bool | None = True) -> list[Call]:
        with self._cond:
            return [
                c
                for c in self.calls
                if c.method == method and (ok is None or (c.status == 200) == ok)
            ]

    def edits_of(self, chat_id: int, message_id: int, ok: bool | None = True) -> list[Call]:
        """Every editMessageText of one message, in order."""
        return [
            c
            for c in self.calls_of("editMessageText", ok)
            if c.params.get("chat_id") == chat_id and c.params.get("message_id") == message_id
        ]

    def sent_to(self, chat_id: int) -> list[dict[str, Any]]:
        """Params of every successful sendMessage to ``chat_id``, in order."""
        return [c.params for c in self.calls_of("sendMessage") if c.params["chat_id"] == chat_id]

    async def wait_for(
        self, predicate: Callable[[], Any], within: float = 60.0, interval: float = 0.05
    ) -> Any:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            await asyncio.sleep(interval)
        msg = f"condition not met within {within} s"
        raise TimeoutError(msg)

    # -- HTTP ---------------------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up (a cancelled long poll)

            def _file(self) -> bool:
                """Serve ``/file/bot<token>/<path>`` (PTB URL-encodes the token's colon)."""
                path = unquote(self.path)
                prefix = f"/file/bot{api.token}/"
                if not path.startswith(prefix):
                    return False
                wanted = path[len(prefix) :]
                content = next((c for p, c in api.files.values() if p == wanted), None)
                if content is None:
                    self._send(404, b"Not Found", "text/plain")
                else:
                    self._send(200, content, "application/octet-stream")
                return True

            def do_GET(self) -> None:
                if not self._file():
                    self._dispatch({})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if self._file():
                    return
                kind = self.headers.get("Content-Type", "")
                if "json" in kind:
                    params = json.loads(raw or b"{}")
                else:
                    params = {
                        k: _decode(k, v) for k, v in parse_qsl(raw.decode(), keep_blank_values=True)
                    }
                self._dispatch(params)

            def _dispatch(self, params: dict[str, Any]) -> None:
                if api._dropped(self.path, params):
                    self.close_connection = True
                    return
                status, payload = api._call(self.path, params)
                self._send(status, json.dumps(payload).encode(), "application/json")

        return Handler

    def _call(self, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        prefix = "/bot"
        token, _, method = (
            path[len(prefix) :].partition("/") if path.startswith(prefix) else ("", "", "")
        )
        if token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        handler = getattr(self, f"_m_{method}", None)
        status, payload, result = 200, {}, None
        try:
            with self._cond:
                if self._fail.get(method, 0) > 0:
                    self._fail[method] -= 1
                    raise ApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})
            if handler is None:
                raise ApiError(404, "Not Found")
            result = handler(params)
            payload = {"ok": True, "result": result}
        except ApiError as e:
            status = e.code
            payload = {"ok": False, "error_code": e.code, "description": e.description}
            if e.parameters:
                payload["parameters"] = e.parameters
        if method != "getUpdates" or result:
            with self._cond:
                self.calls.append(Call(method, params, status, payload.get("result")))
        return status, payload

    # -- methods ------------------------------------------------------------------------------
    def _chat(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            chat = self.chats[int(params.get("chat_id", 0))]
        except (KeyError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None
        return chat

    def _message(self, chat: dict[str, Any], text: str) -> dict[str, Any]:
        with self._cond:
            self._next_message_id += 1
            mid = self._next_message_id
        return {"message_id": mid, "date": int(time.time()), "chat": chat, "from": BOT_USER,
                "text": text}  # fmt: skip

    def _stored(self, params: dict[str, Any], action: str) -> dict[str, Any]:
        """The bot's message a call names, or Telegram's 400 for it."""
        chat = self._chat(params)
        with self._cond:
            message = self.messages.get((int(chat["id"]), int(params.get("message_id") or 0)))
        if message is None:
            raise ApiError(400, f"Bad Request: message to {action} not found")
        return message

    @staticmethod
    def _not_modified() -> ApiError:
        return ApiError(400, "Bad Request: message is not modified: specified new message "
                        "content and reply markup are exactly the same as a current content "
                        "and reply markup of the message")  # fmt: skip

    def _check_text(self, text: str, parse_mode: str | None) -> str:
        shown = visible_text(text, parse_mode)
        if not shown.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if _u16(shown) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        return shown

    def _m_getMe(self, params: dict[str, Any]) -> Any:
        return BOT_USER

    def _m_getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        with self._cond:
            while True:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                if self._updates or self._stopping or time.monotonic() >= deadline:
                    return self._updates[: int(params.get("limit") or 100)]
                self._cond.wait(timeout=min(0.5, deadline - time.monotonic()))

    def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        chat = self._chat(params)
        shown = self._check_text(params.get("text", ""), params.get("parse_mode"))
        message = self._message(chat, shown)
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        with self._cond:
            self.messages[(int(chat["id"]), message["message_id"])] = {
                **message,
                "source": (params.get("text", ""), params.get("parse_mode")),
            }
        return message

    def _m_editMessageText(self, params: dict[str, Any]) -> Any:
        """Text, entities (here: the markup source) and keyboard; no keyboard removes it."""
        message = self._stored(params, "edit")
        shown = self._check_text(params.get("text", ""), params.get("parse_mode"))
        source = (params.get("text", ""), params.get("parse_mode"))
        markup = params.get("reply_markup") or None
        with self._cond:
            if (shown, source, markup) == (
                message["text"],
                message["source"],
                message.get("reply_markup"),
            ):
                raise self._not_modified()
            message.update(text=shown, source=source, edit_date=int(time.time()))
            message.pop("reply_markup", None)
            if markup:
                message["reply_markup"] = markup
            return {k: v for k, v in message.items() if k != "source"}

    def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        message = self._stored(params, "edit")
        markup = params.get("reply_markup") or None
        with self._cond:
            if markup == message.get("reply_markup"):
                raise self._not_modified()
            message.pop("reply_markup", None)
            if markup:
                message["reply_markup"] = markup
            return {k: v for k, v in message.items() if k != "source"}

    def _m_deleteMessage(self, params: dict[str, Any]) -> Any:
        message = self._stored(params, "delete")
        with self._cond:
            del self.messages[(int(message["chat"]["id"]), int(message["message_id"]))]
        return True

    def _m_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        if len(params.get("text", "")) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        return True

    def _m_answerInlineQuery(self, params: dict[str, Any]) -> Any:
        results = params.get("results", [])
        if len(results) > 50:
            raise ApiError(400, "Bad Request: RESULTS_TOO_MUCH")
        for r in results:
            if len(str(r.get("id", "")).encode()) > 64:
                raise ApiError(400, "Bad Request: RESULT_ID_INVALID")
            content = r.get("input_message_content") or {}
            self._check_text(content.get("message_text", ""), content.get("parse_mode"))
        return True

    def _m_sendChatAction(self, params: dict[str, Any]) -> Any:
        self._chat(params)
        return True

    def _m_getFile(self, params: dict[str, Any]) -> Any:
        file_id = params.get("file_id", "")
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        path, content = self.files[file_id]
        return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(content),
                "file_path": path}  # fmt: skip

    def _m_setWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = dict(params)
        return True

    def _m_deleteWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = {}
        return True

    def _m_getWebhookInfo(self, params: dict[str, Any]) -> Any:
        return {"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                "pending_update_count": len(self._updates)}  # fmt: skip

    def _m_setMyCommands(self, params: dict[str, Any]) -> Any:
        return True

    def _m_close(self, params: dict[str, Any]) -> Any:
        return True

    def _m_logOut(self, params: dict[str, Any]) -> Any:
        return True


class Updates:
    """Builds real Bot API update payloads (the JSON Telegram would send)."""

    def __init__(self) -> None:
        self._message_id = 0
        self._query_id = 0

    @staticmethod
    def user(user_id: int, language_code: str = "en") -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}",
                "language_code": language_code}  # fmt: skip

    @staticmethod
    def private_chat(user: dict[str, Any]) -> dict[str, Any]:
        return {"id": user["id"], "type": "private", "first_name": user["first_name"]}

    @staticmethod
    def group_chat(chat_id: int, title: str = "Officials") -> dict[str, Any]:
        return {"id": chat_id, "type": "supergroup", "title": title}

    def message(
        self,
        user: dict[str, Any] | None,
        chat: dict[str, Any],
        text: str | None = None,
        *,
        edited: bool = False,
        **extra: Any,
    ) -> dict[str, Any]:
        self._message_id += 1
        message: dict[str, Any] = {"message_id": self._message_id, "date": int(time.time()),
                                   "chat": chat, **extra}  # fmt: skip
        if user is not None:
            message["from"] = user
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                length = len(text.split()[0])
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        if edited:
            message["edit_date"] = int(time.time())
            return {"edited_message": message}
        return {"message": message}

    def document(
        self, user: dict[str, Any], chat: dict[str, Any], file: dict[str, Any], name: str
    ) -> dict[str, Any]:
        doc = {**file, "file_name": name, "mime_type": "application/octet-stream"}
        return self.message(user, chat, document=doc)

    def callback(self, user: dict[str, Any], message: dict[str, Any], data: str) -> dict[str, Any]:
        self._query_id += 1
        return {"callback_query": {"id": str(self._query_id), "from": user, "message": message,
                                   "chat_instance": "ci", "data": data}}  # fmt: skip

    def inline(self, user: dict[str, Any], query: str) -> dict[str, Any]:
        self._query_id += 1
        return {"inline_query": {"id": str(self._query_id), "from": user, "query": query,
                                 "offset": ""}}  # fmt: skip
