"""Support shared by the tests and the benchmarks; the library (``retrieval/``, ``bot/``) never
imports it, and nothing outside ``tests/`` imports ``tests``.

- this module: where the repository's files are, and a free loopback port;
- ``testkit.corpus``: settings from the real ``config.yaml`` and sample-corpus indexes;
- ``testkit.loopback_botapi``: a loopback Telegram Bot API server.
"""

from __future__ import annotations

import socket
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config.yaml"
SAMPLE = ROOT / "corpus" / "sample"
SAMPLE_FILES = sorted(p.name for p in SAMPLE.glob("*.md"))
SHARED = ROOT.parent / "shared"  # the seeds and EU development sets, beside the checkout


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
