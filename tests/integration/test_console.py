"""The web console over a real index (a copy of the sample corpus's), driven over HTTP with
Starlette's TestClient: sign-in links, sessions, CSRF, uploads, edits, removal, questions,
changes and health. The browser walk-through is in test_console_browser.py."""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from bot.console.app import COOKIE, create_app
from bot.console.server import build_console, login_url
from bot.console.signin import LoginLinks
from retrieval.assistant import Assistant
from retrieval.store.ownership import UPLOADS
from testkit.corpus import open_assistant
from tests.integration.bot_harness import ADMIN, VEHICLES
from tests.integration.helpers import IngestedCorpus, regula

pytestmark = pytest.mark.timeout(900)
OTHER_ADMIN = 104
ROUTES_GET = ["/", "/documents", "/documents/ig-2024-07.en.md", "/works/IG-2024/07", "/upload",
              "/questions", "/questions.csv", "/changes", "/health", "/jobs/x"]  # fmt: skip
ROUTES_POST = ["/upload", "/edit/ig-2024-07.en.md", "/remove/ig-2024-07.en.md", "/signout"]


@pytest.fixture(scope="module")
def console_assistant(
    sample_index: IngestedCorpus, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Assistant]:
    data_dir = tmp_path_factory.mktemp("console") / "data"
    shutil.copytree(sample_index.data_dir, data_dir)
    assistant = open_assistant(
        data_dir,
        access={"admin_user_ids": [ADMIN, OTHER_ADMIN]},
        console={"public_url": "http://testserver"},
    )
    yield assistant
    assistant.close()


@pytest.fixture(scope="module")
def client(console_assistant: Assistant) -> Iterator[TestClient]:
    console = build_console(console_assistant.settings, console_assistant)
    with TestClient(create_app(console), follow_redirects=False) as test_client:
        yield test_client
    console.audit.close()
    console.links.close()


def sign_in(client: TestClient, who: str = f"telegram:{ADMIN}") -> TestClient:
    """A fresh client signed in through a one-time link (as the bot or the CLI issues one)."""
    settings = client.app.state.console.settings  # type: ignore[attr-defined]
    url = login_url(settings, who)
    fresh = TestClient(client.app, follow_redirects=False)
    confirm = fresh.get(url)
    assert confirm.status_code == 200
    assert 'id="signin"' in confirm.text  # a GET only shows the button: previews spend nothing
    response = fresh.post(url)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/documents"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "samesite=strict" in cookie.lower()
    return fresh


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "no CSRF token on the page"
    return match.group(1)


def fingerprint_of(page: str) -> str:
    match = re.search(r'name="fingerprint" value="([^"]*)"', page)
    assert match is not None
    return match.group(1)


# -- security -----------------------------------------------------------------------------------


def test_no_page_or_action_without_a_session(
    client: TestClient, console_assistant: Assistant
) -> None:
    before = {d.doc_id: d.version for d in console_assistant.documents()}
    for path in ROUTES_GET:
        response = client.get(path)
        assert response.status_code in (303, 401), path
        assert "ig-2024-07" not in response.text, path
        assert "Petition" not in response.text, path
    for path in ROUTES_POST:
        response = client.post(
            path, data={"csrf": "x", "status": "repealed"},
            files={"file": ("vehicles.md", VEHICLES)} if path == "/upload" else None,
        )  # fmt: skip
        assert response.status_code == 401, path
    forged = client.get("/documents", cookies={COOKIE: "dGVsZWdyYW06MTAz|ZW4|OTk5OTk5OTk5OQ.bad"})
    assert forged.status_code == 303
    after = {d.doc_id: d.version for d in console_assistant.documents()}
    assert after == before  # a stranger's request never reached the index
    assert not (console_assistant.settings.storage.data_dir / UPLOADS / "vehicles.md").exists()


def test_posts_without_the_sessions_csrf_token_are_refused(
    client: TestClient, console_assistant: Assistant
) -> None:
    admin = sign_in(client)
    other = sign_in(client, f"telegram:{OTHER_ADMIN}")
    others_token = csrf_of(other.get("/upload").text)
    for data in ({}, {"csrf": "forged"}, {"csrf": others_token}):
        response = admin.post("/remove/ig-2024-07.en.md", data=data)
        assert response.status_code == 403
    assert "ig-2024-07.en.md" in {d.doc_id for d in console_assistant.documents()}


def test_links_work_once_and_expire(client: TestClient, console_assistant: Assistant) -> None:
    settings = console_assistant.settings
    url = login_url(settings, f"telegram:{ADMIN}")
    first = TestClient(client.app, follow_redirects=False).post(url)
    assert first.status_code == 303
    replayed = TestClient(client.app, follow_redirects=False).post(url)
    assert replayed.status_code == 403
    assert COOKIE not in replayed.cookies
    assert "not valid" in replayed.text

    two_minutes_ago = time.time() - 120
    links = LoginLinks(settings.storage.data_dir, clock=lambda: two_minutes_ago)
    token = links.issue(f"telegram:{ADMIN}", ttl_s=60)  # expired a minute ago
    links.close()
    expired = TestClient(client.app, follow_redirects=False).post(f"/signin/{token}")
    assert expired.status_code == 403
    unknown = TestClient(client.app, follow_redirects=False).post("/signin/not-a-token")
    assert unknown.status_code == 403


def test_a_link_is_spent_once_even_when_two_requests_race(
    console_assistant: Assistant,
) -> None:
    links = LoginLinks(console_assistant.settings.storage.data_dir)
    token = links.issue("operator:test", ttl_s=60)
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(links.redeem(token)))
               for _ in range(8)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    links.close()
    assert sum(r is not None for r in results) == 1


def test_non_admins_get_nothing_and_a_removed_admin_loses_the_session(
    client: TestClient, console_assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    stranger_link = login_url(console_assistant.settings, "telegram:666")
    refused = TestClient(client.app, follow_redirects=False).post(stranger_link)
    assert refused.status_code == 403
    other = sign_in(client, f"telegram:{OTHER_ADMIN}")
    assert other.get("/documents").status_code == 200
    access = console_assistant.settings.access
    monkeypatch.setattr(access, "admin_user_ids", [ADMIN])
    after = other.get("/documents")
    assert after.status_code == 303
    assert after.headers["location"] == "/signin"


def test_the_cli_prints_a_link_the_running_console_accepts(
    client: TestClient, console_assistant: Assistant
) -> None:
    data_dir = console_assistant.settings.storage.data_dir
    process = regula("console", "--login-url", "--data-dir", data_dir, "--port", "8123")
    assert process.returncode == 0, process.stderr
    url = process.stdout.strip()
    assert url.startswith("http://127.0.0.1:8123/signin/")
    path = url.removeprefix("http://127.0.0.1:8123")
    response = TestClient(client.app, follow_redirects=False).post(path)
    assert response.status_code == 303
    actions = client.app.state.console.audit.actions()  # type: ignore[attr-defined]
    assert any(a["who"].startswith("operator:") and a["action"] == "sign_in" for a in actions)


# -- documents, uploads, edits ------------------------------------------------------------------


def wait_for_job(admin: TestClient, location: str) -> str:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        page = admin.get(location).text
        if 'meta http-equiv="refresh" content="1"' not in page:
            return page
        time.sleep(0.5)
    raise AssertionError("the upload did not finish")


def test_upload_lists_articles_and_the_name_cannot_escape_the_uploads_folder(
    client: TestClient, console_assistant: Assistant
) -> None:
    admin = sign_in(client)
    token = csrf_of(admin.get("/upload").text)
    data_dir = console_assistant.settings.storage.data_dir
    response = admin.post(
        "/upload",
        data={"csrf": token, "work": "VEH-1", "valid_from": "2024-05-02", "aliases": "ODV"},
        files={"file": ("../../../vehicles.md", VEHICLES, "text/markdown")},
    )
    assert response.status_code == 303
    page = wait_for_job(admin, response.headers["location"])
    assert "Indexed vehicles.md: 1 added" in page
    stored = data_dir / UPLOADS / "vehicles.md"
    assert stored.read_bytes() == VEHICLES
    assert not (data_dir.parent.parent / "vehicles.md").exists()
    assert "work: VEH-1" in (data_dir / UPLOADS / "vehicles.md.meta.yaml").read_text()
    doc_id = re.search(r'href="/documents/([^"]+)"', page.split('id="open"')[1]).group(1)  # type: ignore[union-attr]
    document = admin.get(f"/documents/{doc_id}").text
    assert "2 articles or sections: 1–2" in document
    assert "<li>Article 1</li><li>Article 2</li>" in document
    assert "VEH-1" in document
    assert "ODV" in document

    bad = admin.post("/upload", data={"csrf": token},
                     files={"file": ("tool.exe", b"MZ", "application/octet-stream")})  # fmt: skip
    assert bad.status_code == 400
    assert ".pdf" in bad.text
    dotted = admin.post("/upload", data={"csrf": token}, files={"file": ("..", b"x")})
    assert dotted.status_code == 400
    assert sorted(p.name for p in (data_dir / UPLOADS).iterdir()) == [
        "vehicles.md", "vehicles.md.meta.yaml"
    ]  # fmt: skip


def test_two_admins_editing_at_once_never_lose_a_write(
    client: TestClient, console_assistant: Assistant
) -> None:
    leave = b"# Leave Rules\n\n## Article 1\n\nAnnual leave shall be requested ten days ahead.\n"
    console_assistant.ingest_bytes(leave, "leave.md", {"work": "LEAVE-1"})
    doc_id = next(d.doc_id for d in console_assistant.documents() if d.work == "LEAVE-1")
    first, second = sign_in(client), sign_in(client, f"telegram:{OTHER_ADMIN}")
    page_a, page_b = first.get(f"/documents/{doc_id}").text, second.get(f"/documents/{doc_id}").text
    saved = first.post(f"/edit/{doc_id}", data={
        "csrf": csrf_of(page_a), "fingerprint": fingerprint_of(page_a), "aliases": "Leave rules",
    })  # fmt: skip
    assert saved.headers["location"].endswith("notice=saved")
    lost = second.post(f"/edit/{doc_id}", data={
        "csrf": csrf_of(page_b), "fingerprint": fingerprint_of(page_b), "aliases": "Overwrite",
    })  # fmt: skip
    assert lost.headers["location"].endswith("notice=stale")
    shown = second.get(lost.headers["location"]).text
    assert "Someone else changed this document" in shown
    assert 'value="Leave rules"' in shown
    document = {d.doc_id: d for d in console_assistant.documents()}[doc_id]
    assert document.aliases == "Leave rules"
    actions = client.app.state.console.audit.actions()  # type: ignore[attr-defined]
    assert [(a["who"], a["target"]) for a in actions if a["action"] == "edit"][:1] == [
        (f"telegram:{ADMIN}", doc_id)
    ]


def test_marking_a_version_repealed_stops_regula_ask_quoting_it(
    client: TestClient, console_assistant: Assistant
) -> None:
    admin = sign_in(client)
    data_dir = console_assistant.settings.storage.data_dir
    question = "By what time must official vehicles be returned to the motor pool?"
    before = regula("ask", question, "--json", "--data-dir", data_dir)
    assert "19:00" in before.stdout, before.stdout + before.stderr
    doc_id = next(d.doc_id for d in console_assistant.documents() if d.work == "VEH-1")
    page = admin.get(f"/documents/{doc_id}").text
    saved = admin.post(f"/edit/{doc_id}", data={
        "csrf": csrf_of(page), "fingerprint": fingerprint_of(page), "status": "repealed",
        "work": "VEH-1", "valid_from": "2024-05-02",
    })  # fmt: skip
    assert saved.headers["location"].endswith("notice=saved")
    assert "status: repealed" in (data_dir / UPLOADS / "vehicles.md.meta.yaml").read_text()
    after = regula("ask", question, "--json", "--data-dir", data_dir)
    assert after.returncode == 0, after.stderr
    answer = json.loads(after.stdout)
    assert doc_id not in [c["doc_id"] for c in answer["citations"]]
    assert "19:00" not in answer["answer"]
    assert answer["outcome"] != "answer"
    assert answer["ended_rule"]["doc_id"] == doc_id  # it says the rule was repealed
    assert answer["ended_rule"]["status"] == "repealed"
    listed = admin.get("/documents?status=repealed").text
    assert doc_id in listed

    removed = admin.post(f"/remove/{doc_id}", data={"csrf": csrf_of(page), "confirm": "on"})
    assert removed.status_code == 303
    assert doc_id not in {d.doc_id for d in console_assistant.documents()}
    assert not (data_dir / UPLOADS / "vehicles.md").exists()


# -- questions, changes, health -----------------------------------------------------------------


def test_questions_table_gaps_chart_and_csv(
    client: TestClient, console_assistant: Assistant
) -> None:
    audit = client.app.state.console.audit  # type: ignore[attr-defined]
    asked = [
        ("How must an oral petition be recorded?", "answer", ["ig-2024-07.en.md"]),
        ("What is the minimum wage in the capital?", "not_covered", []),
        ("How much is the minimum wage in the capital region?", "not_covered", []),
        ("Quel est le salaire minimum dans la capitale ?", "closest", ["ig-2019-09.fr.md"]),
        ('=HYPERLINK("http://x") passport renewal?', "not_covered", []),
    ]
    for i, (question, outcome, cited) in enumerate(asked):
        audit.record(
            user_id=ADMIN + i, chat_id=ADMIN + i, question=question, cited_doc_ids=cited,
            refused=outcome == "not_covered", latency_ms=12.0, outcome=outcome,
            language="fr" if question.startswith("Quel") else "en",
            cited_versions=[{"doc_id": c, "version": "v", "work": "IG"} for c in cited],
        )  # fmt: skip
    admin = sign_in(client)
    page = admin.get("/questions").text
    assert page.count("<svg") == 2
    gaps = page.split('id="gaps"')[1].split("</ol>")[0]
    wage_topic = next(li for li in gaps.split("<li><strong>")[1:] if "minimum wage" in li)
    assert "(3 questions)" in wage_topic  # three wordings, two languages, one topic
    assert "oral petition" not in gaps  # answered: not a gap
    only_closest = admin.get("/questions?outcome=closest").text.split('id="questions"')[1]
    assert "Quel est le salaire" in only_closest
    assert "oral petition" not in only_closest
    exported = admin.get("/questions.csv?language=en")
    assert exported.headers["content-type"].startswith("text/csv")
    lines = exported.text.splitlines()
    assert lines[0].startswith("id,asked_at,user_id")
    assert any("How must an oral petition be recorded?" in line and ",answer," in line
               for line in lines)  # fmt: skip
    assert not any("Quel est" in line for line in lines)  # the language filter applies
    assert any("'=HYPERLINK" in line for line in lines)  # no formula reaches a spreadsheet


def test_changes_and_health(client: TestClient, console_assistant: Assistant) -> None:
    audit = client.app.state.console.audit  # type: ignore[attr-defined]
    audit.record(
        user_id=ADMIN, chat_id=ADMIN, question="Which objections rule applies?",
        cited_doc_ids=["ig-2021-04.en.md"], refused=False, latency_ms=10.0,
        cited_versions=[{"doc_id": "ig-2021-04.en.md", "version": "old", "title": "Objections",
                         "work": "IG-2021/04", "valid_from": "2021-05-01", "valid_until": ""}],
    )  # fmt: skip
    admin = sign_in(client)
    changes = admin.get("/changes").text
    assert "Which objections rule applies?" in changes
    assert "edited" in changes
    health = admin.get("/health").text
    documents = len(console_assistant.documents())
    assert f"<dt>Documents</dt><dd>{documents}</dd>" in health
    assert "embedded: reachable" in health
    assert "multilingual-e5-small" in health


def test_pages_follow_the_interface_language(client: TestClient) -> None:
    admin = sign_in(client)
    french = admin.get("/documents?lang=fr")
    assert french.status_code == 200
    assert '<html lang="fr">' in french.text
    assert '<html lang="fr">' in admin.get("/health").text  # kept in the session
    arabic = admin.get("/questions?lang=ar").text
    assert 'dir="rtl"' in arabic
