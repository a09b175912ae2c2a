"""Fixtures for the whole suite.

Like httpx's ``tests/conftest.py``, an autouse fixture keeps ``os.environ`` clean per test: a
developer's ``REGULA_*`` overrides or bot token must never change what a test sees.
Subprocesses started by a test inherit the cleaned environment.
"""

from __future__ import annotations

import os

import pytest

CLEARED_PREFIXES = ("REGULA_",)
CLEARED_NAMES = ("TELEGRAM_BOT_TOKEN",)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(CLEARED_PREFIXES) or name in CLEARED_NAMES:
            monkeypatch.delenv(name)
