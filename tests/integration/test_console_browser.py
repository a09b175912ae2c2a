"""The console in a real headless Chromium (Debian's, driven by Selenium), beside the real bot
on the loopback Bot API: an admin gets a one-time link with /console, signs in, uploads a PDF
with its version fields and sees its articles, marks it repealed and `regula ask` stops quoting
it, finds an official's question with its outcome, and exports the CSV. Every page is
screenshotted into ``build/screenshots`` (``REGULA_SCREENSHOTS`` to change), at desktop and
phone width."""

from __future__ import annotations

import asyncio
import csv
import datetime as dtm
import io
import json
import os
import re
import shutil
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.console.server import ConsoleThread, build_console
from bot.telegram_bot.app import build_application
from retrieval.assistant import Assistant
from retrieval.config import Settings
from testkit.corpus import open_assistant
from testkit.loopback_botapi import TOKEN, LoopbackBotAPI
from tests.fixtures_files import make_pdf
from tests.integration.bot_harness import ADMIN, ALICE, ORAL, STRANGER, Harness, visible
from tests.integration.helpers import ROOT, IngestedCorpus, regula

pytestmark = pytest.mark.timeout(900)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOTS = Path(os.environ.get("REGULA_SCREENSHOTS", ROOT / "build" / "screenshots"))
ARCHIVES_PDF = [
    "Decree AR-9 on the Keeping of Municipal Archives",
    "Article 1 - Retention of registers",
    "1. Municipal registers of births and marriages shall be kept for seventy-five years.",
    "Article 2 - Transfer to the state archive",
    "1. After the retention period, registers shall be transferred to the state archive "
    "within ninety days.",
    "Article 3 - Damaged registers",
    "1. A damaged register shall be reported to the archive inspector within five days.",
]
ARCHIVES_QUESTION = "For how many years must municipal registers of births be kept?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def index_copy(sample_index: IngestedCorpus, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("console_browser") / "data"
    shutil.copytree(sample_index.data_dir, data_dir)
    return data_dir


@pytest.fixture(scope="module")
def browser_assistant(index_copy: Path) -> Iterator[Assistant]:
    assistant = open_assistant(index_copy)
    yield assistant
    assistant.close()


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Any]:
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("Chromium and chromedriver are not installed (apt-get install chromium "
                    "chromium-driver; .ci/run does)")  # fmt: skip
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never try to download a driver
    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,1000", "--lang=en-US"):  # fmt: skip
        options.add_argument(argument)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads),
                  "download.prompt_for_download": False},
    )  # fmt: skip
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.downloads = downloads
    browser.implicitly_wait(2)
    yield browser
    browser.quit()


@pytest.fixture
async def bot_and_console(
    browser_assistant: Assistant, tmp_path: Path
) -> AsyncIterator[tuple[Harness, str, Settings]]:
    """The real Application on a loopback Bot API, and the console on a free port, sharing
    the assistant and the audit log as in ``regula serve`` with ``console.http_port``."""
    api = LoopbackBotAPI().start()
    port = free_port()
    settings = Settings.model_validate({
        "storage": {"data_dir": str(tmp_path / "bot")},
        "telegram": {"api_base_url": api.base_url, "file_base_url": api.file_base_url},
        "access": {"allowed_user_ids": [ALICE], "admin_user_ids": [ADMIN]},
        "console": {"http_port": port, "public_url": f"http://127.0.0.1:{port}"},
    })  # fmt: skip
    app = build_application(settings, browser_assistant, TOKEN)
    console = ConsoleThread(
        build_console(settings, browser_assistant, app.bot_data["audit"]), "127.0.0.1", port
    ).start()
    await app.initialize()
    await app.post_init(app)
    await app.start()
    await app.updater.start_polling(poll_interval=0, timeout=dtm.timedelta(seconds=1))
    await asyncio.to_thread(wait_until, lambda: console.started, 30)
    yield Harness(api, app, app.bot_data["audit"]), f"http://127.0.0.1:{port}", settings
    await app.updater.stop()
    await app.stop()
    await app.post_shutdown(app)
    await app.shutdown()
    console.stop()
    api.stop()


def shoot(driver: Any, name: str) -> None:
    """Screenshots at desktop and phone width (the pages must work on a phone)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    driver.set_window_size(390, 844)
    driver.save_screenshot(str(SCREENSHOTS / f"{name}-phone.png"))
    wide = driver.execute_script("return document.documentElement.scrollWidth")
    assert wide <= 400, f"{name}: the page is {wide}px wide on a phone"
    driver.set_window_size(1280, 1000)


def wait_until(condition: Any, within: float = 240) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError("timed out")


async def test_a_keeper_signs_in_uploads_repeals_and_reviews_questions(
    bot_and_console: tuple[Harness, str, Settings],
    driver: Any,
    browser_assistant: Assistant,
    index_copy: Path,
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    bot, base, _ = bot_and_console
    [answer] = await bot.say(ALICE, ORAL)  # an official's question, answered from the corpus
    assert "[1]" in visible(answer)
    [refused] = await bot.say(ALICE, "/console")
    assert "Only administrators" in visible(refused)
    [link_message] = await bot.say(ADMIN, "/console")
    match = re.search(r"http://127\.0\.0\.1:\d+/signin/\S+", visible(link_message))
    assert match, visible(link_message)
    link = match.group(0)

    def browse() -> None:
        driver.get(base + "/documents")
        assert driver.current_url.endswith("/signin")  # no session: only the sign-in page
        assert "ig-2024-07" not in driver.page_source
        shoot(driver, "01-signin")
        driver.get(link)
        driver.find_element(By.ID, "signin").click()
        wait_until(lambda: driver.current_url.endswith("/documents"))
        assert "ig-2024-07.en.md" in driver.page_source
        shoot(driver, "02-documents")

        pdf = make_pdf(tmp_path / "archives-decree.pdf", ARCHIVES_PDF)
        driver.get(base + "/upload")
        shoot(driver, "03-upload")
        driver.find_element(By.ID, "file").send_keys(str(pdf))
        driver.find_element(By.ID, "work").send_keys("AR-9")
        driver.execute_script(
            "document.getElementById('valid_from').value = '2025-01-01'"
        )  # a date input takes typed digits in the locale's order; set the value itself
        driver.find_element(By.ID, "aliases").send_keys("Archives Decree")
        driver.find_element(By.ID, "send").click()
        wait_until(lambda: "/documents/" in driver.current_url)  # progress, then the document
        page = driver.find_element(By.ID, "articles").text
        assert "3 articles or sections: 1–3" in page
        items = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "ul.articles li")]
        assert items == ["Article 1", "Article 2", "Article 3"]
        assert "AR-9" in driver.page_source
        shoot(driver, "04-document")

    await asyncio.to_thread(browse)
    doc_id = driver.find_element(By.ID, "doc-id").text
    asked = await asyncio.to_thread(
        regula, "ask", ARCHIVES_QUESTION, "--json", "--data-dir", index_copy
    )
    before = json.loads(asked.stdout)
    assert doc_id in [c["doc_id"] for c in before["citations"]], asked.stdout

    def repeal() -> None:
        Select(driver.find_element(By.ID, "status")).select_by_value("repealed")
        driver.find_element(By.ID, "save").click()
        wait_until(lambda: "notice=saved" in driver.current_url)
        assert "repealed" in driver.find_element(By.ID, "doc-status").text
        shoot(driver, "05-repealed")
        driver.get(base + "/works/AR-9")
        assert doc_id in driver.page_source
        shoot(driver, "06-work")

    await asyncio.to_thread(repeal)
    asked = await asyncio.to_thread(
        regula, "ask", ARCHIVES_QUESTION, "--json", "--data-dir", index_copy
    )
    after = json.loads(asked.stdout)
    assert doc_id not in [c["doc_id"] for c in after["citations"]]
    assert after["outcome"] != "answer"
    assert after["ended_rule"]["doc_id"] == doc_id

    def review() -> None:
        driver.get(base + "/questions")
        rows = driver.find_elements(By.CSS_SELECTOR, "#questions tbody tr")
        oral = [r.text for r in rows if ORAL in r.text]
        assert oral, [r.text for r in rows]
        assert "answer" in oral[0]
        assert len(driver.find_elements(By.CSS_SELECTOR, "svg.chart")) == 2
        shoot(driver, "07-questions")
        driver.find_element(By.ID, "csv").click()
        wait_until(lambda: any(p.suffix == ".csv" for p in driver.downloads.iterdir()), 30)
        for name, path in (("08-changes", "/changes"), ("09-health", "/health")):
            driver.get(base + path)
            shoot(driver, name)

    await asyncio.to_thread(review)
    [exported] = [p for p in driver.downloads.iterdir() if p.suffix == ".csv"]
    rows = list(csv.DictReader(io.StringIO(exported.read_text("utf-8"))))
    assert any(r["question"] == ORAL and r["outcome"] == "answer" for r in rows)
    assert {r["user_id"] for r in rows} == {str(ALICE)}  # the admin's /console is not a question
    actions = [(a["who"], a["action"]) for a in bot.audit.actions()]
    assert (f"telegram:{ADMIN}", "upload") in actions
    assert (f"telegram:{ADMIN}", "edit") in actions
    assert STRANGER not in {r["user_id"] for r in bot.audit.rows()}
