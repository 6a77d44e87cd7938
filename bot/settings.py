"""One typed settings object, read from the environment (and `.env` if present).

Every process (action server, Telegram connector, scheduler, console, CLI) reads
its configuration through :func:`get_settings`, so a deployment is described by
environment variables alone. Defaults are the embedded profile: SQLite files under
``var/`` and everything listening on 127.0.0.1.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"


def _sqlite_url(name: str) -> str:
    return f"sqlite:///{VAR_DIR / name}"


class Settings(BaseSettings):
    """Memnun's configuration. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(
        env_file=str(PROJECT_ROOT / ".env"),
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    # --- storage ---------------------------------------------------------------
    database_url: str = Field(
        default_factory=lambda: _sqlite_url("memnun.db"),
        description="Our data (customers, loyalty, tickets, surveys, outbox, console). "
        "SQLite by default, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/memnun in production.",
    )
    tracker_database_url: str | None = Field(
        default=None,
        description="Rasa's SQL tracker store. Defaults to DATABASE_URL on PostgreSQL and to "
        "a separate SQLite file on the embedded profile (SQLite has one writer at a time).",
    )
    redis_url: str | None = Field(default=None, description="Redis for Rasa's lock store; unset = in-memory.")
    rabbitmq_url: str | None = Field(default=None, description="RabbitMQ for Rasa's event broker; unset = none.")

    # --- Rasa ------------------------------------------------------------------
    rasa_host: str = "127.0.0.1"
    rasa_port: int = 5005
    rasa_token: SecretStr = Field(
        default=SecretStr("change-me-rasa-token"),
        description="Token for Rasa's HTTP API (`--auth-token`); our services send it.",
    )
    rasa_instances: int = Field(
        default=1,
        ge=1,
        description="Rasa server processes on consecutive ports from RASA_PORT. Each conversation is "
        "routed by its sender id to the same process (Rasa's open-source lock stores are not race-free "
        "across processes).",
    )
    action_host: str = "127.0.0.1"
    action_port: int = 5055
    rasa_request_timeout_s: float = 10.0

    # --- our services ------------------------------------------------------------
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    secret_key: SecretStr = Field(
        default=SecretStr("dev-only-secret-change-me"),
        description="Signs console sessions and CSRF tokens. Set a long random value in production.",
    )
    secure_cookies: bool = False
    webchat_socket_url: str | None = Field(
        default=None,
        description="Rasa's socket.io address as the browser reaches it (behind a reverse proxy); unset = the "
        "Rasa URL our services use.",
    )
    webchat_socket_path: str = "/socket.io"

    # --- console -----------------------------------------------------------------
    console_low_confidence_threshold: float = Field(
        default=0.6,
        description="User turns below this NLU confidence are flagged for review.",
    )

    # --- Telegram ----------------------------------------------------------------
    telegram_token: SecretStr | None = None
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_base_file_url: str = "https://api.telegram.org/file/bot"
    telegram_mode: Literal["polling", "webhook"] = "polling"
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_webhook_port: int = 8443
    telegram_webhook_listen: str = Field(
        default="127.0.0.1", description="Address the webhook server binds (a reverse proxy forwards to it)."
    )

    # --- business rules ------------------------------------------------------------
    timezone: str = "Europe/Istanbul"
    default_language: Literal["tr", "en"] = "tr"
    tier_thresholds: str = Field(
        default="Bronze:0,Silver:1000,Gold:5000,Platinum:15000",
        description="Lifetime-points thresholds per tier, lowest first.",
    )
    identification_max_attempts: int = 3
    identification_lock_minutes: int = 15
    points_expiry_warning_days: int = 30
    quiet_hours_start: str = "21:00"
    quiet_hours_end: str = "09:00"
    survey_frequency_cap_days: int = 30
    survey_answer_window_days: int = 7
    handover_timeout_minutes: int = 10

    # --- privacy -------------------------------------------------------------------
    privacy_tracker_purge_delay_s: float = Field(
        default=120.0,
        ge=0,
        description="After an erasure, the erased conversations' Rasa events are deleted once more this many "
        "seconds later (Rasa re-saves a conversation whose erasure was asked for in the chat after the action "
        "returned); the scheduler's purge job runs every minute.",
    )

    # --- outreach (proactive messages; see bot/services/outreach.py OutreachConfig) ----------------------------
    outreach_marketing_cap_days: int = 7
    outreach_csat_enabled: bool = True
    outreach_csat_delay_hours: float = 2.0
    outreach_ticket_followup_enabled: bool = True
    outreach_ticket_followup_delay_days: float = 2.0
    outreach_birthday_enabled: bool = True
    outreach_birthday_send_hour: int = 9
    outreach_nps_enabled: bool = True
    outreach_nps_interval_days: int = 90
    outreach_nps_daily_limit: int = 500
    outreach_nps_active_days: int = 365
    outreach_max_attempts: int = 5
    outreach_lease_seconds: float = 60.0
    outreach_uncertain_delivery: Literal["at_most_once", "at_least_once"] = Field(
        default="at_most_once",
        description="A send whose outcome is unknown after a crash: mark it failed, or send it again.",
    )
    outreach_campaign_misfire_grace_s: int = 3600
    outreach_scan_misfire_grace_s: int = 86400
    outreach_csat_scan_minutes: float = 10.0
    outreach_event_scan_minutes: float = 5.0
    outreach_reconcile_minutes: float = 5.0
    outreach_sync_interval_s: float = 30.0
    outreach_leader_ttl_s: float = 30.0

    log_level: str = "INFO"

    @field_validator("database_url", "tracker_database_url")
    @classmethod
    def _normalise_postgres_driver(cls, value: str | None) -> str | None:
        # People paste `postgres://` or `postgresql://` URLs; we always use psycopg 3.
        if value is None:
            return value
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @field_validator(
        "outreach_csat_enabled",
        "outreach_ticket_followup_enabled",
        "outreach_birthday_enabled",
        "outreach_nps_enabled",
        mode="before",
    )
    @classmethod
    def _outreach_switch(cls, value: Any, info: ValidationInfo) -> Any:
        # These switches always read "1/true/yes/on/evet" as on and anything else as off; empty = the default.
        if not isinstance(value, str):
            return value
        if not value.strip():
            return cls.model_fields[info.field_name or ""].default
        return value.strip().lower() in {"1", "true", "yes", "on", "evet"}

    @field_validator(
        "outreach_marketing_cap_days",
        "outreach_csat_delay_hours",
        "outreach_ticket_followup_delay_days",
        "outreach_birthday_send_hour",
        "outreach_nps_interval_days",
        "outreach_nps_daily_limit",
        "outreach_nps_active_days",
        "outreach_max_attempts",
        "outreach_lease_seconds",
        "outreach_campaign_misfire_grace_s",
        "outreach_scan_misfire_grace_s",
        "outreach_csat_scan_minutes",
        "outreach_event_scan_minutes",
        "outreach_reconcile_minutes",
        "outreach_sync_interval_s",
        "outreach_leader_ttl_s",
        mode="before",
    )
    @classmethod
    def _outreach_number(cls, value: Any, info: ValidationInfo) -> Any:
        # `OUTREACH_X=` (empty) means "the default", as it always did.
        if isinstance(value, str) and not value.strip():
            return cls.model_fields[info.field_name or ""].default
        return value

    @field_validator("outreach_uncertain_delivery", mode="before")
    @classmethod
    def _lower_policy(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    @property
    def effective_tracker_url(self) -> str:
        if self.tracker_database_url:
            return self.tracker_database_url
        if self.is_postgres:
            return self.database_url
        return _sqlite_url("tracker.db")

    @property
    def rasa_url(self) -> str:
        return f"http://{self.rasa_host}:{self.rasa_port}"

    @property
    def rasa_urls(self) -> list[str]:
        return [f"http://{self.rasa_host}:{self.rasa_port + i}" for i in range(self.rasa_instances)]

    def rasa_url_for(self, sender_id: str) -> str:
        """The Rasa process that owns this conversation (stable across processes and restarts)."""
        import zlib

        urls = self.rasa_urls
        return urls[zlib.crc32(sender_id.encode("utf-8")) % len(urls)]

    @property
    def action_url(self) -> str:
        return f"http://{self.action_host}:{self.action_port}/webhook"

    def tier_table(self) -> list[tuple[str, int]]:
        """Parse ``tier_thresholds`` into ``[(tier, min_lifetime_points), ...]`` ascending."""
        table: list[tuple[str, int]] = []
        for part in self.tier_thresholds.split(","):
            name, _, points = part.partition(":")
            table.append((name.strip(), int(points)))
        table.sort(key=lambda item: item[1])
        if not table or table[0][1] != 0:
            raise ValueError("TIER_THRESHOLDS must start with a tier at 0 points")
        return table


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings. Tests call ``get_settings.cache_clear()`` after changing env."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    return Settings()
