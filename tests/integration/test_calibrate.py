"""Refusal thresholds on a tiny corpus: ``regula ingest`` measures them on the index (the
background questions), ``regula calibrate`` again on demand; they are stored with the index,
``stats`` shows them and when they were made, and ``ask`` decides on them (CLI as a
subprocess)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.integration.helpers import json_lines, regula

DOCUMENTS = {
    "vehicles.md": """---
title: "Directive on the Use of Official Vehicles"
language: en
---

## Article 1 - Return of vehicles

1. Official vehicles shall be returned to the central motor pool by 19:00 on the day of use.
2. The driver shall record the odometer reading in the vehicle logbook when returning it.

## Article 2 - Fuel cards

1. Fuel cards may be used only for vehicles registered to the Inspectorate General.
2. A lost fuel card shall be reported to the finance office within two working days.
""",
    "petitions.md": """---
title: "Directive on the Handling of Petitions"
language: en
---

## Article 1 - Receipt

1. Every petition shall be registered on the day it is received by the registry office.
2. The petitioner shall receive an acknowledgement of receipt within three working days.

## Article 2 - Answer

1. A petition shall be answered in writing within thirty days of its registration.
2. The head of the office may extend that period once by fifteen days, giving reasons.
""",
    "leave.md": """---
title: "Regulation on Annual Leave of Civil Servants"
language: en
---

## Article 1 - Entitlement

1. A civil servant is entitled to twenty-six working days of paid annual leave per year.
2. Leave not taken by the end of March of the following year shall lapse without payment.

## Article 2 - Requests

1. Leave requests shall be submitted to the direct supervisor at least ten days in advance.
2. The supervisor shall decide on the request within five working days of its submission.
""",
}
GIFTS = """---
title: "Regulation on Gifts to Civil Servants"
language: en
---

## Article 1 - Register

1. A gift worth more than fifty euros shall be entered in the gift register within ten days.
"""
QA = [
    {"id": "q1", "lang": "en", "kind": "in_scope",
     "question": "Within how many days must a petition be answered?",
     "gold": [{"doc": "petitions.md", "evidence": "within thirty days"}]},
    {"id": "q2", "lang": "en", "kind": "in_scope",
     "question": "By what time must official vehicles be returned?",
     "gold": [{"doc": "vehicles.md", "evidence": "by 19:00"}]},
    {"id": "q3", "lang": "en", "kind": "out_of_scope",
     "question": "What is the speed limit for cars on the motorway?", "gold": []},
]  # fmt: skip


def run_json(*args: str | Path, env: dict[str, str] | None = None) -> Any:
    process = regula(*args, env=env)
    assert process.returncode == 0, process.stderr
    (payload,) = json_lines(process.stdout)
    return payload


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    corpus = tmp_path_factory.mktemp("corpus")
    for name, text in DOCUMENTS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    data_dir = tmp_path_factory.mktemp("index")
    report = run_json("ingest", corpus, "--json", "--data-dir", data_dir)
    assert report["added"] == len(DOCUMENTS)
    return data_dir


@pytest.fixture(scope="module")
def calibration(data_dir: Path) -> dict[str, Any]:
    return dict(run_json("calibrate", "--json", "--data-dir", data_dir))


def test_an_ingest_measures_the_thresholds_on_the_index_it_changed(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "leave.md").write_text(DOCUMENTS["leave.md"], encoding="utf-8")
    empty = regula("calibrate", "--data-dir", tmp_path / "index")
    assert empty.returncode == 1
    assert "holds no document" in empty.stderr

    first = run_json("ingest", corpus, "--json", "--data-dir", tmp_path / "index")
    again = run_json("ingest", corpus, "--json", "--data-dir", tmp_path / "index")
    text = regula("ingest", corpus, "--data-dir", tmp_path / "index2")

    measured = first["calibration"]
    assert measured["method"] == "background"
    assert 0 < measured["not_covered_below"] <= measured["answer_above"] < 1
    assert "calibration" not in again  # nothing changed: the thresholds are current
    refusal = run_json("stats", "--json", "--data-dir", tmp_path / "index")["refusal"]
    assert refusal["source"] == "calibration"
    assert refusal["answer_above"] == measured["answer_above"]
    assert refusal["calibration"]["stale"] is False
    assert refusal["calibration"]["background_questions"] == 300
    assert "refusal thresholds measured on the index: answer from" in text.stdout


def test_with_calibrate_on_ingest_off_an_index_uses_the_default(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "leave.md").write_text(DOCUMENTS["leave.md"], encoding="utf-8")
    off = {"REGULA_ANSWER__CALIBRATE_ON_INGEST": "false"}
    report = run_json("ingest", corpus, "--json", "--data-dir", tmp_path / "index", env=off)

    assert "calibration" not in report
    stats = run_json("stats", "--json", "--data-dir", tmp_path / "index")
    assert stats["refusal"] == {
        "answer_above": 0.785, "not_covered_below": 0.785, "source": "default",
        "evidence": "best_cosine", "calibrated_at": None,
    }  # fmt: skip


def test_calibrate_stores_thresholds_that_stats_shows(
    calibration: dict[str, Any], data_dir: Path
) -> None:
    assert calibration["method"] == "background"
    assert calibration["background_questions"] == 300
    assert calibration["background_median"] <= calibration["background_max"]
    assert 0 < calibration["not_covered_below"] <= calibration["answer_above"] <= 1
    assert calibration["seconds"] > 0

    refusal = run_json("stats", "--json", "--data-dir", data_dir)["refusal"]
    assert refusal["source"] == "calibration"
    assert refusal["answer_above"] == calibration["answer_above"]
    assert refusal["not_covered_below"] == calibration["not_covered_below"]
    assert refusal["calibrated_at"] == calibration["made_at"]
    assert refusal["calibration"]["stale"] is False


def test_ask_decides_on_the_calibration_and_says_which_outcome(
    calibration: dict[str, Any], data_dir: Path
) -> None:
    payload = run_json("ask", QA[0]["question"], "--json", "--data-dir", data_dir)

    outcome = payload["outcome"]
    assert payload["refused"] is (outcome != "answer")
    if payload["relevance"] >= calibration["answer_above"]:
        assert outcome == "answer"
    elif payload["relevance"] >= calibration["not_covered_below"]:
        assert outcome == "closest"
        assert payload["citations"]
    else:
        assert outcome == "not_covered"
        assert payload["citations"] == []


def test_a_config_value_overrides_the_calibration(
    calibration: dict[str, Any], data_dir: Path
) -> None:
    env = {"REGULA_ANSWER__ANSWER_ABOVE": "0.999", "REGULA_ANSWER__NOT_COVERED_BELOW": "0.0"}
    process = regula("ask", QA[0]["question"], "--json", "--data-dir", data_dir, env=env)
    (payload,) = json_lines(process.stdout)
    assert payload["outcome"] == "closest"
    assert payload["answer"].startswith("I found no rule that answers this directly")
    assert payload["citations"]


def test_a_labelled_file_refines_the_calibration(
    calibration: dict[str, Any], data_dir: Path, tmp_path: Path
) -> None:
    qa = tmp_path / "qa.jsonl"
    qa.write_text("\n".join(json.dumps(line) for line in QA) + "\n", encoding="utf-8")

    index = tmp_path / "index"
    shutil.copytree(data_dir, index)
    refined = run_json("calibrate", "--qa", qa, "--json", "--data-dir", index)
    corpus = tmp_path / "more"
    corpus.mkdir()
    (corpus / "gifts.md").write_text(GIFTS, encoding="utf-8")
    changed = run_json("ingest", corpus, "--json", "--data-dir", index)

    assert refined["method"] == "background+qa"
    assert refined["qa_questions"] == 3
    assert refined["qa_file"] == str(qa.resolve())
    assert refined["qa"]["false_refusals"] == 0.0
    assert refined["qa"]["false_not_covered"] == 0.0
    assert changed["calibration"]["method"] == "background+qa"  # the labels, used again
    text = regula("calibrate", "--data-dir", index)  # back to the corpus alone, as text
    assert text.returncode == 0, text.stderr
    assert "answer_above" in text.stdout
    assert "took" in text.stdout


def test_a_calibration_is_used_only_under_the_evidence_signal_it_was_made_on(
    calibration: dict[str, Any], data_dir: Path, tmp_path: Path
) -> None:
    """``answer.evidence: centred`` is on another scale: the stored best-cosine calibration is
    not read under it, and a calibration made under it is not read under the default."""
    index = tmp_path / "index"
    shutil.copytree(data_dir, index)
    centred = {"REGULA_ANSWER__EVIDENCE": "centred"}

    before = run_json("stats", "--json", "--data-dir", index, env=centred)["refusal"]
    made = run_json("calibrate", "--json", "--data-dir", index, env=centred)
    after = run_json("stats", "--json", "--data-dir", index, env=centred)["refusal"]
    default = run_json("stats", "--json", "--data-dir", index)["refusal"]
    raw = run_json("ask", QA[0]["question"], "--json", "--data-dir", index)
    lowered = run_json("ask", QA[0]["question"], "--json", "--data-dir", index, env=centred)

    assert (calibration["signal"], made["signal"]) == ("best_cosine", "centred")
    assert (before["source"], before["evidence"]) == ("default", "centred")
    assert (after["source"], after["answer_above"]) == ("calibration", made["answer_above"])
    assert (default["source"], default["evidence"]) == ("default", "best_cosine")
    assert lowered["relevance"] < raw["relevance"]  # minus the pull towards English text
