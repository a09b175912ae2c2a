"""Input hygiene through the real CLI: a ``::`` in a file name, a three-letter language code in
front-matter, and a batch on stdin with a line that is not UTF-8 and one with a lone surrogate.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from testkit import ROOT, SAMPLE
from testkit.corpus import write_files
from tests.integration.helpers import cli_env, json_lines, regula

VEHICLES = """---
title: "Directive on the Use of Official Vehicles"
date: "2024-05-02"
language: eng
---

# Directive on the Use of Official Vehicles

## Article 1 - Return of vehicles

1. Official vehicles shall be returned to the central motor pool by 19:00 on the day of use.
2. The driver shall record the odometer reading in the vehicle logbook when returning the vehicle.

## Article 2 - Fuel cards

1. Fuel cards may be used only for vehicles registered to the Inspectorate General.
"""
VEHICLES_ID = "vehicles%3A%3Av2.md"  # the file is "vehicles::v2.md"
RETURN_Q = "By what time must official vehicles be returned to the motor pool?"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hygiene")
    portuguese = (SAMPLE / "ig-2025-03.pt.md").read_text(encoding="utf-8")
    portuguese = portuguese.replace("language: pt\n", "language: por\n", 1)
    write_files(root / "corpus", {"vehicles::v2.md": VEHICLES, "whistle.md": portuguese})
    process = regula("ingest", root / "corpus", "--json", "--data-dir", root / "data")
    assert process.returncode == 0, process.stderr
    report = json.loads(process.stdout)
    assert (report["added"], report["failed"]) == (2, [])
    return root / "data"


def test_ids_are_escaped_and_languages_normalised(data_dir: Path) -> None:
    process = regula("docs", "--json", "--data-dir", data_dir)
    assert process.returncode == 0, process.stderr
    languages = {d["doc_id"]: d["language"] for d in json.loads(process.stdout)}
    assert languages == {VEHICLES_ID: "en", "whistle.md": "pt"}  # not "eng"/"po"


def test_a_doc_id_with_the_separator_is_found_and_cited(data_dir: Path) -> None:
    # Hybrid mode runs the lexical and latent lookups that split chunk ids on "::". (The
    # single-retriever modes hit a missing numpy import in VectorStore.get_chunks that is
    # being fixed on main, so they are not exercised here.)
    process = regula("ask", RETURN_Q, "--json", "--data-dir", data_dir)
    assert process.returncode == 0, process.stderr
    answer = json.loads(process.stdout)
    assert not answer["refused"]
    assert answer["citations"][0]["doc_id"] == VEHICLES_ID
    assert answer["citations"][0]["chunk_id"].startswith(VEHICLES_ID + "::")


def test_one_bad_line_never_ends_a_batch(data_dir: Path) -> None:
    stdin = b"\n".join([
        RETURN_Q.encode(),
        b"\xff\xfe not UTF-8 \xc3\x28",
        json.dumps({"id": "s1", "question": "Where is the odometer reading recorded?\ud800"},
                   ensure_ascii=True).encode(),
        b'{"id": "s2", "question": "Who may use the fuel cards?\\udc00"}',
    ]) + b"\n"  # fmt: skip
    process = subprocess.run(
        [sys.executable, "-m", "bot.terminal.cli", "ask", "-", "--json",
         "--data-dir", str(data_dir)],
        cwd=ROOT, env=cli_env(), input=stdin, capture_output=True, timeout=540, check=False,
    )  # fmt: skip
    err = process.stderr.decode()
    assert process.returncode == 0, err
    assert "Traceback" not in err
    first, bad, second, third = json_lines(process.stdout.decode())
    assert first["citations"][0]["doc_id"] == VEHICLES_ID
    assert bad == {"error": "line is not valid UTF-8", "line_number": 2}
    assert (second["id"], second["question"]) == ("s1", "Where is the odometer reading recorded?")
    assert second["citations"][0]["doc_id"] == VEHICLES_ID
    assert third["id"] == "s2"
    assert "\ud800" not in process.stdout.decode("utf-8")


def test_bad_dates_fail_before_any_work_also_in_batch_mode(data_dir: Path) -> None:
    for args in (["ask", RETURN_Q, "--since", "2024-1-1"], ["ask", "-", "--until", "2024-02-30"]):
        process = regula(*args, "--data-dir", data_dir, stdin=RETURN_Q + "\n")
        assert process.returncode == 2
        assert "not a date in the form YYYY-MM-DD" in process.stderr
        assert "Traceback" not in process.stderr
        assert process.stdout == ""


def test_chat_reports_an_undecodable_line_and_goes_on(data_dir: Path) -> None:
    process = subprocess.run(
        [sys.executable, "-m", "bot.terminal.cli", "chat",
         "--data-dir", str(data_dir), "--lang", "en"],
        cwd=ROOT, env=cli_env(), input=b"\xff\xff\n" + RETURN_Q.encode() + b"\n",
        capture_output=True, timeout=540, check=False,
    )  # fmt: skip
    out = process.stdout.decode()
    assert process.returncode == 0, process.stderr.decode()
    assert "not valid UTF-8" in out
    assert "19:00" in out
