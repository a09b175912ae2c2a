"""Helpers for the integration tests: the CLI as a subprocess, servers started and stopped.

What the benchmarks need too (paths, ports, settings, sample indexes) is in ``testkit``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from testkit import ROOT

CLI_TIMEOUT = 540
HEARTBEAT_WITHIN = 60.0


def cli_env() -> dict[str, str]:
    """The parent's environment without Regula or Telegram settings.

    The autouse ``clean_environ`` fixture does this per test, but session fixtures run first.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("REGULA_") and k != "TELEGRAM_BOT_TOKEN"
    }
    env["ANONYMIZED_TELEMETRY"] = "False"
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def regula(
    *args: str | Path,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = CLI_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m bot.terminal.cli ARGS`` from the repository root, as a user runs ``regula``.

    ``env`` adds variables to the cleaned environment.
    """
    return subprocess.run(
        [sys.executable, "-m", "bot.terminal.cli", *map(str, args)],
        cwd=ROOT,
        env={**cli_env(), **(env or {})},
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        check=False,
    )


def stop_process(process: subprocess.Popen[Any]) -> None:
    """Stop a server started by a test: politely, then for good (bounded either way)."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=20)


def json_lines(stdout: str) -> list[Any]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@dataclass(frozen=True)
class IngestedCorpus:
    data_dir: Path
    report: dict[str, Any]
    process: subprocess.CompletedProcess[str]


def texts_of(passages: Sequence[Any]) -> str:
    return "\n".join(p.text for p in passages)


# -- a real Chroma server (``chroma run``), for server mode ---------------------------------------


def chroma_binary() -> str:
    beside = Path(sys.executable).parent / "chroma"
    found = str(beside) if beside.exists() else shutil.which("chroma")
    if not found:
        pytest.fail("the `chroma` command of the chromadb package is not installed")
    return found


def wait_for_heartbeat(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + HEARTBEAT_WITHIN
    url = f"http://127.0.0.1:{port}/api/v2/heartbeat"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"chroma run exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"no Chroma heartbeat within {HEARTBEAT_WITHIN:.0f} s: {log.read_text()[-2000:]}")


def start_chroma(path: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """``chroma run --path PATH`` on 127.0.0.1:PORT, once it answers its heartbeat.

    The output is appended to ``log`` (a restart on the same path and port keeps the first
    run's lines); stop it with ``stop_process``.
    """
    with log.open("ab") as out:
        process = subprocess.Popen(
            [chroma_binary(), "run", "--path", str(path), "--host", "127.0.0.1",
             "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_for_heartbeat(port, process, log)
    except BaseException:
        stop_process(process)
        raise
    return process
