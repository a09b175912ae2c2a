"""LLM mode with ``llm.provider: ollama``, over real HTTP, against a stand-in Ollama daemon.

Ollama itself cannot be installed here, so ``FakeOllama`` plays the daemon: a small HTTP server
in a thread on a free loopback port, speaking the one endpoint ``ChatOllama`` uses,
``POST /api/chat``, the way ollama-python 0.6 expects it (``ollama/_client.py``): the request
is a JSON ``ChatRequest``; the reply is NDJSON ``ChatResponse`` lines (content fragments, then
a ``"done": true`` line) when ``"stream"`` is true, else one JSON object; a non-2xx status or
an ``{"error": ...}`` line is a ``ResponseError``. It records every request and answers with
recorded text. Everything else is real: settings from config.yaml plus ``REGULA_*`` variables
as an operator sets them, ``build_chat_model`` -> ``ChatOllama`` -> ``ollama.Client`` -> httpx,
two sample directives ingested into Chroma with the real embedding model, and verification.

Note: ``ChatOllama`` sends ``"stream": true`` for ``invoke`` too (it aggregates the chunks), so
Regula's requests always take the NDJSON path.
"""

from __future__ import annotations

import base64
import html
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from retrieval.adapters.chat_models import build_chat_model
from retrieval.answer.citations import markers, split_sentences, verify_quote
from retrieval.answer.generative import format_passages
from retrieval.assistant import Assistant
from retrieval.config import LLMSettings, load_settings
from retrieval.models import Passage
from retrieval.prompts import Prompts
from testkit import CONFIG
from testkit.corpus import ingest_sample_files

FILES = ["ig-2024-07.en.md", "nic-2023-12.en.md"]
QUESTION = "Within how many days must the petitioner complete a submission?"
MODEL = "qwen2.5:3b-instruct"
MAX_TOKENS = 160
API_KEY = "sk-regula-test-0123"
PROMPTS = Prompts()
_LIST_NUMBER = re.compile(r"^\s*\d{1,2}[.)]\s+")


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]  # names in lower case
    body: dict[str, Any]


@dataclass
class FakeOllama:
    """Stands in for an Ollama daemon: ``POST /api/chat`` only, replying ``reply``.

    ``status``: answer every chat request with this HTTP status and an ``{"error"}`` body
    instead. ``error_after``: stream that many content lines, then an ``{"error"}`` line, as
    Ollama does when the model runner dies mid-answer. Streams in 4-character fragments, so
    a ``[n]`` marker or a sentence end can arrive split across two lines.
    """

    reply: str = "NO_ANSWER"
    status: int = 200
    error_after: int | None = None
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive and chunked NDJSON, as Ollama serves

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                headers = {k.lower(): v for k, v in self.headers.items()}
                fake.requests.append(Request(self.path, headers, body))
                if self.path != "/api/chat":
                    self._send(404, "text/plain", b"404 page not found")
                elif fake.status != 200:
                    error = {"error": "llama runner process has terminated"}
                    self._send(fake.status, "application/json", json.dumps(error).encode())
                elif body.get("stream", True):
                    self._stream(fake.lines(body["model"]))
                else:
                    done = fake.done(body["model"], fake.reply)
                    self._send(200, "application/json; charset=utf-8", json.dumps(done).encode())

            def _send(self, status: int, content_type: str, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, lines: Iterator[dict[str, Any]]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for line in lines:
                    data = json.dumps(line).encode() + b"\n"
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def lines(self, model: str) -> Iterator[dict[str, Any]]:
        pieces = [self.reply[i : i + 4] for i in range(0, len(self.reply), 4)]
        for i, piece in enumerate(pieces):
            if i == self.error_after:
                yield {"error": "llama runner process has terminated"}
                return
            yield self.message(model, piece) | {"done": False}
        yield self.done(model, "")

    @staticmethod
    def message(model: str, content: str) -> dict[str, Any]:
        return {
            "model": model,
            "created_at": "2025-01-01T00:00:00.000000Z",
            "message": {"role": "assistant", "content": content},
        }

    def done(self, model: str, content: str) -> dict[str, Any]:
        return self.message(model, content) | {
            "done": True,
            "done_reason": "stop",
            "total_duration": 1_200_000_000,
            "load_duration": 10_000_000,
            "prompt_eval_count": 900,
            "prompt_eval_duration": 800_000_000,
            "eval_count": len(self.reply) // 4 + 1,
            "eval_duration": 400_000_000,
        }

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ingest_sample_files(tmp_path_factory.mktemp("ollama_corpus"), FILES)


@pytest.fixture(autouse=True)
def no_ambient_client_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """ollama-python reads OLLAMA_API_KEY / OLLAMA_HOST and httpx the proxy variables."""
    for name in ("OLLAMA_API_KEY", "OLLAMA_HOST", "ALL_PROXY", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def ollama() -> Iterator[FakeOllama]:
    fake = FakeOllama()
    yield fake
    fake.stop()


@pytest.fixture
def assistant(
    data_dir: Path, ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Assistant]:
    """An Assistant configured as an operator would: config.yaml plus REGULA_* variables."""
    env = {
        "REGULA_ANSWER__MODE": "llm",
        "REGULA_LLM__PROVIDER": "ollama",
        "REGULA_LLM__BASE_URL": ollama.url,
        "REGULA_LLM__MODEL": MODEL,
        "REGULA_LLM__MAX_TOKENS": str(MAX_TOKENS),
        "REGULA_LLM__TIMEOUT_S": "20",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(CONFIG, data_dir=data_dir)
    assert settings.llm.provider == "ollama"
    opened = Assistant.from_settings(settings)
    yield opened
    opened.close()


def retrieved(assistant: Assistant) -> list[Passage]:
    """The passages ``ask`` gives the model for QUESTION (the same search, run again)."""
    return assistant.search(QUESTION, k=assistant.settings.retrieval.k, language="en")


def claims_from(passage: Passage) -> list[str]:
    """Full sentences of the passage with a number in them, list numbering removed."""
    sentences = [_LIST_NUMBER.sub("", s.text) for s in split_sentences(passage.text)]
    return [s for s in sentences if s.endswith(".") and re.search(r"\d", s)]


def cited(claim: str, n: int) -> str:
    """``claim`` with marker ``[n]`` before its full stop, as the system prompt asks."""
    return f"{claim.removesuffix('.')} [{n}]."


@pytest.mark.parametrize("api_key", [API_KEY, None], ids=["with-key", "without-key"])
def test_the_request_carries_model_prompts_options_and_key(
    assistant: Assistant,
    ollama: FakeOllama,
    monkeypatch: pytest.MonkeyPatch,
    api_key: str | None,
) -> None:
    if api_key:
        monkeypatch.setenv("REGULA_LLM_API_KEY", api_key)
    passages = retrieved(assistant)

    answer = assistant.ask(QUESTION)

    assert answer.refused  # the recorded reply is NO_ANSWER
    assert answer.language == "en"
    [request] = ollama.requests
    assert request.path == "/api/chat"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("ollama-python/")
    if api_key:
        assert request.headers["authorization"] == f"Bearer {api_key}"
    else:
        assert "authorization" not in request.headers
    body = request.body
    assert body["model"] == MODEL
    assert body["stream"] is True
    assert body["options"] == {"num_predict": MAX_TOKENS, "temperature": 0}
    name = PROMPTS.language_name("en", "en")
    user = PROMPTS.get(
        "llm_user", "en", passages=format_passages(passages), question=QUESTION, language_name=name
    )
    assert body["messages"] == [
        {"role": "system", "content": PROMPTS.get("llm_system", "en", language_name=name)},
        {"role": "user", "content": user},
    ]
    # The passages are numbered data inside delimiters, in retrieval order, escaped.
    content = body["messages"][1]["content"]
    block, _, rest = content.removeprefix("<passages>\n").partition("\n</passages>")
    assert f"Question: {QUESTION}" in rest
    elements = block.split("\n</passage>")
    assert elements.pop() == ""
    assert len(elements) == len(passages) >= 2
    for n, (element, passage) in enumerate(zip(elements, passages, strict=True), start=1):
        assert element.removeprefix("\n").startswith(f'<passage n="{n}" ')
        assert element.endswith("\n" + html.escape(passage.text, quote=False))


@pytest.mark.parametrize("streamed", [False, True], ids=["invoke", "stream"])
def test_a_correctly_cited_reply_is_kept_with_its_citation(
    assistant: Assistant, ollama: FakeOllama, streamed: bool
) -> None:
    passages = retrieved(assistant)
    # The first passage with two numbered claims; the model cites it by its place in the list.
    n, passage = next((i, p) for i, p in enumerate(passages, 1) if len(claims_from(p)) >= 2)
    first, second, *_ = claims_from(passage)
    ollama.reply = f"{cited(first, n)} {cited(second, n)}"
    progress: list[str] = []

    answer = assistant.ask(QUESTION, on_progress=progress.append if streamed else None)

    assert not answer.refused
    assert not answer.fallback
    assert answer.verification == {"claims": 2, "kept": 2, "unknown_markers": 0}
    assert answer.answer == f"{cited(first, 1)}\n{cited(second, 1)}"  # renumbered from n
    [citation] = answer.citations
    assert (citation.n, citation.chunk_id) == (1, passage.chunk_id)
    assert citation.text == passage.text
    assert verify_quote(citation.quote, passage.text)
    assert answer.timings_ms["llm"] > 0
    if streamed:  # the first claim was shown, verified, while the second was being written
        assert progress[0] == PROMPTS.get("llm_writing", "en")
        assert progress[1:] == [cited(first, 1)]


@pytest.mark.parametrize("target", ["other-passage", "no-such-passage"])
def test_a_reply_citing_the_wrong_number_is_dropped(
    assistant: Assistant, ollama: FakeOllama, target: str
) -> None:
    passages = retrieved(assistant)
    claim = claims_from(passages[0])[0]
    numbers = set(re.findall(r"\d+", claim))
    if target == "other-passage":  # a passage without the claim's numbers cannot support it
        n = next(
            i
            for i, p in enumerate(passages, start=1)
            if i > 1 and not numbers & set(re.findall(r"\d+", p.text))
        )
    else:
        n = len(passages) + 1
    ollama.reply = cited(claim, n)

    answer = assistant.ask(QUESTION)

    assert len(ollama.requests) == 1
    assert answer.refused
    assert not answer.fallback
    assert answer.citations == []
    assert answer.answer.startswith(PROMPTS.get("not_covered", "en"))
    assert claim.removesuffix(".") not in answer.answer
    unknown = 1 if target == "no-such-passage" else 0
    assert answer.verification == {"claims": 1, "kept": 0, "unknown_markers": unknown}


@pytest.mark.parametrize("failure", ["http-500", "error-mid-stream", "daemon-down"])
def test_a_failing_daemon_falls_back_to_the_extractive_answer(
    assistant: Assistant, ollama: FakeOllama, failure: str
) -> None:
    passages = retrieved(assistant)
    ollama.reply = cited(claims_from(passages[0])[0], 1)
    if failure == "http-500":
        ollama.status = 500
    elif failure == "error-mid-stream":
        ollama.error_after = 3
    else:
        ollama.stop()

    answer = assistant.ask(QUESTION)

    assert len(ollama.requests) == (0 if failure == "daemon-down" else 1)  # no retries
    notice = PROMPTS.get("llm_unavailable", "en")
    assert answer.fallback
    assert not answer.refused
    assert answer.answer.startswith(f"{notice}\n")
    assert answer.verification is None
    assert answer.citations
    assert set(markers(answer.answer)) == {c.n for c in answer.citations}
    assert {c.chunk_id for c in answer.citations} <= {p.chunk_id for p in passages}
    assert "15 days" in answer.answer


def test_the_stand_in_also_answers_non_streaming_requests(ollama: FakeOllama) -> None:
    """The single-object reply, for completeness (Regula's own requests always stream)."""
    model = build_chat_model(LLMSettings(provider="ollama", base_url=ollama.url, model=MODEL))
    ollama.reply = "The petitioner has 15 days [1]."

    message = model.invoke([("human", "How long?")], stream=False)

    assert message.content == ollama.reply
    assert ollama.requests[-1].body["stream"] is False


def ask_directly(base_url: str) -> Callable[[], Any]:
    model = build_chat_model(LLMSettings(provider="ollama", base_url=base_url, model=MODEL))
    return lambda: model.invoke([("human", "How long?")])


def test_no_key_but_regula_s_own_is_sent(
    ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "a-key-for-something-else")

    ask_directly(ollama.url)()

    assert "authorization" not in ollama.requests[-1].headers


def test_a_base_url_with_credentials_sends_them(ollama: FakeOllama) -> None:
    with_credentials = ollama.url.replace("http://", "http://regula:s3cret@")

    ask_directly(with_credentials)()

    basic = base64.b64encode(b"regula:s3cret").decode()
    assert ollama.requests[-1].headers["authorization"] == f"Basic {basic}"
