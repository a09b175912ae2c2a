"""The console's pure parts: session signing and CSRF, the console secret, metadata edits,
topic grouping of unanswered questions, and the server-drawn charts."""

from __future__ import annotations

import os
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import yaml

from bot.console.charts import OUTCOME_COLOURS, stacked_bars_svg, timeline_svg
from bot.console.signin import SECRET_ENV, SECRET_FILE, SessionSigner, console_secret
from retrieval.gaps import group_by_topic
from retrieval.metadata_edits import EditError, StaleEditError, read_sidecar, write_edit
from retrieval.models import Document


def test_a_session_cookie_is_read_back_and_any_change_to_it_is_refused() -> None:
    now = [1000.0]
    signer = SessionSigner(b"k" * 32, clock=lambda: now[0])
    session, cookie = signer.open("telegram:103", "fr", ttl_s=60)
    assert signer.read(cookie) == session
    payload, mac = cookie.rsplit(".", 1)
    forged_who = SessionSigner(b"k" * 32).cookie(session).replace(payload[:4], "AAAA")
    assert signer.read(forged_who) is None
    assert signer.read(payload + "." + mac[::-1]) is None
    assert SessionSigner(b"other-key" * 4, clock=lambda: now[0]).read(cookie) is None
    assert signer.read("") is None
    assert signer.read("no-dot") is None
    now[0] += 61
    assert signer.read(cookie) is None  # expired


def test_the_csrf_token_belongs_to_one_session() -> None:
    signer = SessionSigner(b"k" * 32)
    mine, _ = signer.open("operator:a", "en", 60)
    theirs, _ = signer.open("operator:a", "en", 60)
    token = signer.csrf_token(mine)
    assert signer.csrf_ok(mine, token)
    assert not signer.csrf_ok(theirs, token)
    assert not signer.csrf_ok(mine, "")
    assert not signer.csrf_ok(mine, None)


def test_the_console_secret_comes_from_the_environment_or_a_private_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = console_secret(tmp_path)
    assert len(first) == 64
    assert console_secret(tmp_path) == first  # kept, so sessions survive a restart
    assert stat.S_IMODE(os.stat(tmp_path / SECRET_FILE).st_mode) == 0o600
    monkeypatch.setenv(SECRET_ENV, "from-the-environment")
    assert console_secret(tmp_path) == b"from-the-environment"


def test_an_edit_writes_the_sidecar_and_a_stale_one_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "decree.pdf"
    source.write_bytes(b"%PDF")
    fields, fingerprint = read_sidecar(source)
    assert (fields, fingerprint) == ({}, "")
    written = write_edit(source, {"status": "repealed", "work": "D-1", "aliases": ""}, "")
    assert written == {"status": "repealed", "work": "D-1"}
    sidecar = tmp_path / "decree.pdf.meta.yaml"
    assert yaml.safe_load(sidecar.read_text()) == written
    with pytest.raises(StaleEditError):
        write_edit(source, {"work": "D-2"}, "")  # the editor saw no sidecar: someone saved since
    _, now = read_sidecar(source)
    assert write_edit(source, {"work": ""}, now) == {"status": "repealed"}  # empty removes
    with pytest.raises(EditError, match="status must be one of"):
        write_edit(source, {"status": "abolished"}, read_sidecar(source)[1])
    with pytest.raises(EditError, match="cannot be edited: title"):
        write_edit(source, {"title": "x"}, read_sidecar(source)[1])
    _, now = read_sidecar(source)
    write_edit(source, {"status": ""}, now)
    assert not sidecar.exists()  # nothing left to keep


def test_topics_group_near_vectors_and_come_out_largest_first() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 32))
    rows, truth = [], []
    for topic, size in ((0, 2), (1, 4), (2, 1)):
        for _ in range(size):
            rows.append(centres[topic] + rng.normal(scale=0.05, size=32))
            truth.append(topic)
    vectors = np.array(rows, dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    topics = group_by_topic(vectors, similarity=0.9)
    assert [len(t.members) for t in topics] == [4, 2, 1]
    for topic in topics:
        assert len({truth[i] for i in topic.members}) == 1
    assert len(group_by_topic(vectors, similarity=-1.0)) == 1
    assert len(group_by_topic(vectors, similarity=1.01)) == len(rows)


def test_charts_are_well_formed_svg_with_one_bar_per_count() -> None:
    days = ["2026-12-01", "2026-12-02", "2026-12-03"]
    counts = {"2026-12-01": {"answer": 2, "not_covered": 1}, "2026-12-03": {"closest": 4}}
    svg = stacked_bars_svg(days, counts, list(OUTCOME_COLOURS), {"answer": "a<b"}, OUTCOME_COLOURS)
    root = ET.fromstring(svg)
    titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert sorted(titles) == sorted(
        ["2026-12-01: a<b 2", "2026-12-01: not_covered 1", "2026-12-03: closest 4"]
    )
    versions = [
        Document("d1", "p", "Old", "en", "h", "v", valid_from="2020-01-01",
                 valid_until="2023-12-31", work="W", status="repealed"),
        Document("d2", "p", "New", "en", "h", "v", valid_from="2024-01-01", work="W"),
    ]  # fmt: skip
    timeline = ET.fromstring(timeline_svg(versions, "2026-12-07"))
    rects = list(timeline.iter("{http://www.w3.org/2000/svg}rect"))
    assert len(rects) == 2
    assert float(rects[0].get("x", 0)) < float(rects[1].get("x", 0))
