"""The deployment example in deploy/: every variable is a valid setting, the health check
points at the ops port, and the systemd unit passes ``systemd-analyze verify`` here."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
import yaml

from retrieval.config import ENV_PREFIX, load_settings
from testkit import ROOT

DEPLOY = ROOT / "deploy"
SECRETS = {"TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "REGULA_CHROMA_TOKEN",
           "REGULA_LLM_API_KEY", "REGULA_EMBEDDINGS_API_KEY"}  # fmt: skip


def env_file() -> dict[str, str]:
    values = {}
    for line in (DEPLOY / "regula.env").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


def test_the_env_file_holds_only_valid_settings_and_known_secrets() -> None:
    values = env_file()
    assert all(key in SECRETS or key.startswith(ENV_PREFIX) for key in values)
    settings = load_settings(None, env=values)  # unknown keys or bad values raise ConfigError
    assert settings.ops.http_port == 9464
    assert settings.logging.format == "json"
    assert not settings.logging.questions
    assert settings.access.admin_user_ids


@pytest.mark.parametrize("worker", ["worker-a", "worker-b"])
def test_compose_workers_are_valid_webhook_workers_on_the_shared_server(worker: str) -> None:
    services = compose()["services"]
    service = services[worker]
    env = {**env_file(), **{k: str(v) for k, v in service["environment"].items()}}
    settings = load_settings(None, env=env)
    assert settings.vector_store.mode == "server"
    assert settings.vector_store.host in services
    assert settings.telegram.mode == "webhook"
    assert settings.telegram.webhook_url.startswith("https://")
    probe = " ".join(service["healthcheck"]["test"])
    assert f":{settings.ops.http_port}/healthz" in probe
    assert settings.ops.http_host == "0.0.0.0"  # reachable by the container's health check


def test_the_systemd_unit_verifies() -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not available on this machine")
    process = subprocess.run(
        ["systemd-analyze", "verify", str(DEPLOY / "regula.service")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    problems = [
        line
        for line in (process.stdout + process.stderr).splitlines()
        if line.strip() and "is not executable" not in line  # /opt/regula is not installed here
    ]
    assert problems == []
