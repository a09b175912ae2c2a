"""``vector_store.mode: server`` end to end: a real ``chroma run``, ``regula`` as subprocesses.

Several Regula processes share one Chroma server; each keeps its own lexical cache (BM25 and
latent-term postings) in its own data dir, rebuilt from Chroma by ``Assistant.refresh``. So the
tests ingest through data dir A and ask through data dir B (empty): B must find the documents
and rebuild the same lexical rows A wrote while ingesting.

The Chroma server bundled with chromadb 1.5 (``chroma run``, written in Rust) has no token
authentication, so the token tests put a small header-checking proxy in front of it, standing
in for the reverse proxy (or Chroma's Python server) that would check it in a deployment.
"""

from __future__ import annotations

import http.client
import json
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from retrieval.assistant import Assistant
from testkit import SAMPLE, free_port
from testkit.corpus import settings_for, write_files
from tests.integration.helpers import json_lines, regula, start_chroma, stop_process

FILES = ("ig-2024-07.en.md", "ig-2024-07.fr.md")
LATER_FILE = "nic-2023-12.en.md"
QUESTION = "Within how many days must a petition be answered?"
TOKEN = "s3cret-test-token"


@dataclass(frozen=True)
class Server:
    port: int
    corpus: Path
    data_a: Path
    data_b: Path

    def env(self, port: int | None = None, **extra: str) -> dict[str, str]:
        return {
            "REGULA_VECTOR_STORE__MODE": "server",
            "REGULA_VECTOR_STORE__PORT": str(port or self.port),
            **extra,
        }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``chroma run`` on a free port, stopped at teardown."""
    work = tmp_path_factory.mktemp("server")
    port = free_port()
    process = start_chroma(work / "chroma", port, work / "chroma.log")
    try:
        corpus = work / "corpus"
        corpus.mkdir()
        for name in FILES:
            shutil.copy(SAMPLE / name, corpus / name)
        yield Server(port, corpus, work / "a", work / "b")
    finally:
        stop_process(process)


LexicalRows = tuple[dict[str, str], set[tuple[str, str]], set[tuple[int, int, str]]]


def _lexical_rows(data_dir: Path) -> LexicalRows:
    """(doc versions, (chunk_id, terms), (feature, weight, chunk_id)) of a lexical cache."""
    conn = sqlite3.connect(data_dir / "lexical.sqlite3")
    try:
        versions = dict(conn.execute("SELECT doc_id, version FROM lexical_docs").fetchall())
        terms = set(
            conn.execute(
                "SELECT c.chunk_id, t.terms FROM chunks c JOIN chunk_terms t ON t.rowid = c.id"
            ).fetchall()
        )
        latent = set(
            conn.execute(
                "SELECT p.feature, p.weight, c.chunk_id "
                "FROM latent_postings p JOIN chunks c ON c.id = p.chunk"
            ).fetchall()
        )
    finally:
        conn.close()
    return versions, terms, latent


@pytest.fixture(scope="module")
def ingested(server: Server) -> dict[str, object]:
    process = regula(
        "ingest", server.corpus, "--json", "--data-dir", server.data_a, env=server.env()
    )
    assert process.returncode == 0, process.stderr
    report: dict[str, object] = json.loads(process.stdout)
    return report


def test_ingest_writes_to_the_server_not_the_data_dir(
    server: Server, ingested: dict[str, object]
) -> None:
    assert ingested["added"] == len(FILES)
    assert ingested["failed"] == []
    assert not (server.data_a / "chroma").exists()  # no embedded store was opened


def test_another_process_with_another_data_dir_answers_with_citations(
    server: Server, ingested: dict[str, object]
) -> None:
    process = regula("ask", QUESTION, "--json", "--data-dir", server.data_b, env=server.env())

    assert process.returncode == 0, process.stderr
    answer = json.loads(process.stdout)
    assert not answer["refused"], answer
    assert answer["citations"], answer
    assert {c["doc_id"] for c in answer["citations"]} <= set(FILES)
    assert any("30 days" in c["quote"] for c in answer["citations"]), answer["citations"]
    for citation in answer["citations"]:
        assert citation["quote"] in citation["text"]
    # B's lexical cache was rebuilt from Chroma: the same rows A wrote while ingesting.
    versions_a, terms_a, latent_a = _lexical_rows(server.data_a)
    versions_b, terms_b, latent_b = _lexical_rows(server.data_b)
    assert set(versions_b) == set(FILES)
    assert versions_b == versions_a
    assert terms_b == terms_a
    assert latent_b == latent_a
    assert len(latent_b) > 100


def test_processes_sharing_the_server_see_each_others_writes(
    server: Server, ingested: dict[str, object]
) -> None:
    shutil.copy(SAMPLE / LATER_FILE, server.corpus / LATER_FILE)
    added = regula("ingest", server.corpus, "--json", "--data-dir", server.data_b, env=server.env())
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["added"] == 1

    # A's lexical cache predates that ingest; the next query in A notices the new revision.
    batch = regula(
        "ask", "-", "--json", "--data-dir", server.data_a, env=server.env(),
        stdin='{"id": "q1", "question": "Who must declare a conflict of interest?"}\n',
    )  # fmt: skip
    assert batch.returncode == 0, batch.stderr
    (answer,) = json_lines(batch.stdout)
    assert answer["id"] == "q1"
    versions_a, _, latent_a = _lexical_rows(server.data_a)
    assert set(versions_a) == {*FILES, LATER_FILE}
    assert any(chunk_id.startswith(LATER_FILE + "::") for _, _, chunk_id in latent_a)
    docs = regula("docs", "--json", "--data-dir", server.data_a, env=server.env())
    assert docs.returncode == 0, docs.stderr
    assert {d["doc_id"] for d in json.loads(docs.stdout)} == {*FILES, LATER_FILE}


def test_an_unreachable_server_is_a_clear_error(tmp_path: Path, server: Server) -> None:
    process = regula(
        "ask", QUESTION, "--json", "--data-dir", tmp_path, env=server.env(port=free_port())
    )

    assert process.returncode == 1
    assert process.stderr.startswith("regula: cannot reach the Chroma server at 127.0.0.1:")
    assert "Traceback" not in process.stderr


# --- token authentication, through a header-checking proxy -----------------------------------


class _AuthProxy(ThreadingHTTPServer):
    """Forwards requests to Chroma when ``Authorization: Bearer TOKEN``; 403 otherwise."""

    daemon_threads = True

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.refused = 0
        super().__init__(("127.0.0.1", 0), _ProxyHandler)


class _ProxyHandler(BaseHTTPRequestHandler):
    server: _AuthProxy

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _forward(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.server.refused += 1
            body = json.dumps({"error": "AuthError", "message": "Forbidden"}).encode()
            self.send_response(403)
        else:
            length = int(self.headers.get("Content-Length") or 0)
            payload = self.rfile.read(length) if length else None
            port = self.server.upstream_port
            upstream = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            skip = ("host", "connection")
            headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
            upstream.request(self.command, self.path, body=payload, headers=headers)
            response = upstream.getresponse()
            body = response.read()
            upstream.close()
            self.send_response(response.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward


@pytest.fixture
def auth_proxy(server: Server) -> Iterator[_AuthProxy]:
    proxy = _AuthProxy(server.port)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    yield proxy
    proxy.shutdown()
    proxy.server_close()
    thread.join(timeout=10)


def test_the_token_is_sent_and_a_wrong_one_is_a_clear_error(
    tmp_path: Path, server: Server, ingested: dict[str, object], auth_proxy: _AuthProxy
) -> None:
    port = auth_proxy.server_address[1]
    assert isinstance(port, int)

    right = regula(
        "stats", "--json", "--data-dir", tmp_path / "right",
        env=server.env(port=port, REGULA_CHROMA_TOKEN=TOKEN),
    )  # fmt: skip
    wrong = regula(
        "stats", "--json", "--data-dir", tmp_path / "wrong",
        env=server.env(port=port, REGULA_CHROMA_TOKEN="not-the-token"),
    )  # fmt: skip
    missing = regula("stats", "--json", "--data-dir", tmp_path / "none", env=server.env(port=port))

    assert right.returncode == 0, right.stderr
    assert json.loads(right.stdout)["documents"] >= len(FILES)
    for process in (wrong, missing):
        assert process.returncode == 1, process.stdout
        assert process.stderr.startswith("regula: the Chroma server at 127.0.0.1:"), process.stderr
        assert "REGULA_CHROMA_TOKEN" in process.stderr
        assert "Traceback" not in process.stderr
        assert "not-the-token" not in process.stderr  # never echo the secret
    assert auth_proxy.refused >= 2


# -- two workers, one server: pruning never crosses owners ---------------------------------------


def test_neither_workers_prune_or_reindex_removes_the_others_documents(
    tmp_path: Path, server: Server
) -> None:
    """Workers A and B (own data dirs, same folder layout, different disks) share a collection.
    A cannot see B's file; whatever A prunes or re-indexes, B's document stays, and B's
    re-index leaves A's alone."""
    sections = {"vector_store": {"mode": "server", "port": server.port, "collection": "owners"}}
    env = server.env(REGULA_VECTOR_STORE__COLLECTION="owners")
    shared = tmp_path / "srv"  # the same path on both hosts
    data_a, data_b = tmp_path / "data-a", tmp_path / "data-b"
    a1, a2, b1 = write_files(shared, {
        "a1.md": (SAMPLE / LATER_FILE).read_text(encoding="utf-8"),
        "a2.md": (SAMPLE / "ig-2024-02.pl.md").read_text(encoding="utf-8"),
        "b1.md": (SAMPLE / FILES[1]).read_text(encoding="utf-8"),
    })  # fmt: skip
    for data_dir, files in ((data_a, (a1, a2)), (data_b, (b1,))):
        ingested = regula("ingest", *files, "--json", "--data-dir", data_dir, env=env)
        assert ingested.returncode == 0, ingested.stderr

    def docs() -> set[str]:
        listed = regula("docs", "--json", "--data-dir", data_a, env=env)
        return {d["doc_id"] for d in json.loads(listed.stdout)}

    assert docs() == {"a1.md", "a2.md", "b1.md"}
    hidden = tmp_path / "b-disk.md"
    b1.rename(hidden)  # from now on B's file is on a disk A cannot see
    pruned = regula("ingest", shared, "--prune", "--json", "--data-dir", data_a, env=env)
    assert pruned.returncode == 0, pruned.stderr
    assert json.loads(pruned.stdout)["removed"] == 0  # b1.md is under srv/ and gone, but B's
    worker_a = Assistant.from_settings(settings_for(data_a, **sections))
    try:
        report = worker_a.reindex()
        assert (report.removed, report.foreign, report.unchanged) == (0, 1, 2)
        assert docs() == {"a1.md", "a2.md", "b1.md"}
        a2.unlink()  # A's own file gone: A's re-index removes it
        report = worker_a.reindex()
        assert (report.removed, report.foreign) == (1, 1)
    finally:
        worker_a.close()
    assert docs() == {"a1.md", "b1.md"}
    hidden.rename(b1)
    a1.unlink()  # on B's disk, A's file does not exist: B must not judge it
    worker_b = Assistant.from_settings(settings_for(data_b, **sections))
    try:
        report = worker_b.reindex()
        assert (report.removed, report.foreign, report.unchanged) == (0, 1, 1)
    finally:
        worker_b.close()
    assert docs() == {"a1.md", "b1.md"}
