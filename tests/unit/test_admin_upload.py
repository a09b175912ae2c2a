"""The bot's upload limit: the configured ingest.max_file_mb, or Telegram's download cap for
bots when that is lower, each with its own message; the accepted types are the loaders'."""

from __future__ import annotations

import pytest

from bot.telegram_bot.admin import TELEGRAM_DOWNLOAD_CAP_MB, upload_limit
from retrieval.config import Settings
from retrieval.prompts import Prompts


def settings_with(max_file_mb: float) -> Settings:
    return Settings.model_validate({"ingest": {"max_file_mb": max_file_mb}})


@pytest.mark.parametrize("max_file_mb", [0.5, 5, TELEGRAM_DOWNLOAD_CAP_MB])
def test_a_configured_limit_within_telegrams_cap_is_the_limit(max_file_mb: float) -> None:
    assert upload_limit(settings_with(max_file_mb)) == (max_file_mb, "bot_upload_too_large")


def test_telegrams_cap_applies_above_it_and_says_so() -> None:
    limit_mb, key = upload_limit(settings_with(25))  # the default
    text = Prompts().get(key, "en", size_mb="21.0", limit_mb=f"{limit_mb:g}")

    assert (limit_mb, key) == (TELEGRAM_DOWNLOAD_CAP_MB, "bot_upload_too_large_for_telegram")
    assert "Telegram" in text
    assert "20 MB" in text
