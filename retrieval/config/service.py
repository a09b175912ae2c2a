"""The sections of ``config.yaml`` about running Regula as a service: logging, the health and
metrics endpoints, and the corpus keepers' web console."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from retrieval.config.base import Section


class LoggingSettings(Section):
    """How ``regula`` logs (configured once, by the entry point)."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Lowest level logged to stderr; '-v' on the command line means DEBUG."
    )
    format: Literal["text", "json"] = Field(
        "text",
        description="'text': one readable line per record; 'json': one JSON object per line "
        "with time, level, logger and message (answers add update_id, language, outcome and "
        "latency_ms), for log collectors.",
    )
    questions: bool = Field(
        False,
        description="Also log the text of each question (off: questions may be personal; the "
        "audit log keeps them under its own retention).",
    )

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class OpsSettings(Section):
    """Health and metrics endpoints served beside the bot by ``regula serve``."""

    http_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Port for GET /healthz and GET /metrics (Prometheus); unset: not served.",
    )
    http_host: str = Field("127.0.0.1", description="Address the health and metrics server binds.")


class ConsoleSettings(Section):
    """The corpus keepers' web console (``regula console``, or inside ``regula serve``)."""

    http_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Serve the console inside `regula serve` on this port; unset: not served "
        "there (`regula console` runs it on its own).",
    )
    http_host: str = Field(
        "127.0.0.1",
        description="Address the console binds; keep 127.0.0.1 and reach it through an SSH "
        "tunnel or a TLS reverse proxy.",
    )
    public_url: str = Field(
        "",
        description="The console's address as admins open it (https://console.example.org "
        "behind a proxy), used in sign-in links; empty: http://HOST:PORT. An https address "
        "makes the session cookie Secure.",
    )
    login_link_ttl_s: int = Field(
        600, ge=30, le=86400, description="Seconds a one-time sign-in link stays valid."
    )
    session_ttl_s: int = Field(
        28800, ge=300, le=604800, description="Seconds a console session lasts after sign-in."
    )
    gap_similarity: float = Field(
        0.86,
        ge=0.0,
        le=1.0,
        description="Cosine (embedding model) at which unanswered questions count as one topic "
        "on the console's gaps list.",
    )
