"""Sign-in without passwords: one-time links, signed session cookies and CSRF tokens.

A link is a random token whose SHA-256 is kept in ``data_dir/console.sqlite3`` with who it is
for and when it expires; redeeming it is one ``UPDATE … WHERE used IS NULL``, so a link works
once even when two requests race, and ``regula console --login-url`` (another process) can issue
links the running console accepts. A session is a cookie ``who|language|expires|nonce|mac``
signed with HMAC-SHA256 under the console secret (``REGULA_CONSOLE_SECRET``, else a random key
kept in ``data_dir/console.secret``, mode 0600); its CSRF token is an HMAC of its nonce.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SECRET_ENV = "REGULA_CONSOLE_SECRET"  # noqa: S105 (a variable's name)
LINKS_FILE = "console.sqlite3"
SECRET_FILE = "console.secret"  # noqa: S105 (a file name)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS login_links (
    token_hash TEXT PRIMARY KEY,
    who TEXT NOT NULL,
    language TEXT NOT NULL DEFAULT 'en',
    expires REAL NOT NULL,
    used REAL
);
"""


def console_secret(data_dir: Path) -> bytes:
    """The key sessions are signed with: from the environment, else kept in the data dir."""
    configured = os.environ.get(SECRET_ENV, "").strip()
    if configured:
        return configured.encode()
    path = data_dir / SECRET_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class LoginLinks:
    """One-time sign-in tokens, shared by every process on the data dir."""

    def __init__(self, data_dir: Path, clock: Callable[[], float] = time.time) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            data_dir / LINKS_FILE, check_same_thread=False, isolation_level=None, timeout=10
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def issue(self, who: str, ttl_s: float, language: str = "en") -> str:
        """A new token for ``who``, valid once within ``ttl_s`` seconds."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            self._db.execute("DELETE FROM login_links WHERE expires < ?", (now - 86400,))
            self._db.execute(
                "INSERT INTO login_links (token_hash, who, language, expires) VALUES (?, ?, ?, ?)",
                (_digest(token), who, language, now + ttl_s),
            )
        return token

    def redeem(self, token: str) -> tuple[str, str] | None:
        """(who, language) for a valid token, which is spent; None when unknown, expired or
        already used."""
        now = self._clock()
        with self._lock:
            claimed = self._db.execute(
                "UPDATE login_links SET used = ? WHERE token_hash = ? AND used IS NULL"
                " AND expires >= ?",
                (now, _digest(token), now),
            ).rowcount
            if claimed != 1:
                return None
            row = self._db.execute(
                "SELECT who, language FROM login_links WHERE token_hash = ?", (_digest(token),)
            ).fetchone()
        return (str(row[0]), str(row[1])) if row else None

    def close(self) -> None:
        with self._lock:
            self._db.close()


@dataclass(frozen=True)
class Session:
    who: str
    language: str
    expires: float
    nonce: str


class SessionSigner:
    """Makes and checks the session cookie and its CSRF token."""

    def __init__(self, secret: bytes, clock: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self._clock = clock

    def _mac(self, payload: str) -> str:
        mac = hmac.new(self._secret, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def open(self, who: str, language: str, ttl_s: float) -> tuple[Session, str]:
        """A new session and its cookie value."""
        session = Session(who, language, self._clock() + ttl_s, secrets.token_urlsafe(16))
        return session, self.cookie(session)

    def cookie(self, session: Session) -> str:
        fields = [session.who, session.language, f"{session.expires:.0f}", session.nonce]
        payload = "|".join(base64.urlsafe_b64encode(f.encode()).decode() for f in fields)
        return f"{payload}.{self._mac(payload)}"

    def read(self, cookie: str | None) -> Session | None:
        """The session a cookie carries; None when missing, forged or expired."""
        if not cookie or "." not in cookie:
            return None
        payload, mac = cookie.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            who, language, expires, nonce = (
                base64.urlsafe_b64decode(part.encode()).decode() for part in payload.split("|")
            )
            session = Session(who, language, float(expires), nonce)
        except ValueError:
            return None
        return session if session.expires >= self._clock() else None

    def csrf_token(self, session: Session) -> str:
        return self._mac("csrf|" + session.nonce)

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token), self.csrf_token(session))
