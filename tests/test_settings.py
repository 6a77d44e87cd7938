"""Settings read from the environment: the variables that modules used to read directly keep their names,
defaults and parsing rules."""

from __future__ import annotations

import os
from datetime import time

import pytest

from bot.services.outreach import OutreachConfig
from bot.settings import Settings


def test_defaults_are_the_documented_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    prefixes = ("OUTREACH_", "CONSOLE_", "TELEGRAM_", "WEBCHAT_", "QUIET_HOURS_", "SURVEY_", "TIMEZONE")
    for name in list(os.environ):
        if name.upper().startswith(prefixes):
            monkeypatch.delenv(name)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.console_low_confidence_threshold == 0.6
    assert settings.telegram_webhook_listen == "127.0.0.1"
    assert (settings.webchat_socket_url, settings.webchat_socket_path) == (None, "/socket.io")
    config = OutreachConfig.load(settings)
    assert (config.timezone, config.quiet_start, config.quiet_end) == ("Europe/Istanbul", time(21, 0), time(9, 0))
    assert (config.survey_cap_days, config.answer_window_days, config.marketing_cap_days) == (30, 7, 7)
    assert (config.max_attempts, config.lease_seconds, config.uncertain_policy) == (5, 60.0, "at_most_once")


def test_unparseable_quiet_hours_fall_back_to_the_settings_defaults() -> None:
    settings = Settings(_env_file=None, quiet_hours_start="late", quiet_hours_end="22:30")  # type: ignore[call-arg]
    config = OutreachConfig.load(settings)
    assert (config.quiet_start, config.quiet_end) == (time(21, 0), time(22, 30))


def test_environment_names_and_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSOLE_LOW_CONFIDENCE_THRESHOLD", "0.45")
    monkeypatch.setenv("TELEGRAM_WEBHOOK_LISTEN", "0.0.0.0")
    monkeypatch.setenv("WEBCHAT_SOCKET_URL", "https://chat.memnun.example")
    monkeypatch.setenv("OUTREACH_CSAT_ENABLED", "Evet")
    monkeypatch.setenv("OUTREACH_NPS_ENABLED", "hayır")  # anything but 1/true/yes/on/evet is off
    monkeypatch.setenv("OUTREACH_BIRTHDAY_ENABLED", "")  # empty = the default
    monkeypatch.setenv("OUTREACH_NPS_DAILY_LIMIT", "")
    monkeypatch.setenv("OUTREACH_MARKETING_CAP_DAYS", "14")
    monkeypatch.setenv("OUTREACH_LEASE_SECONDS", "3")
    monkeypatch.setenv("OUTREACH_UNCERTAIN_DELIVERY", " At_Least_Once ")
    monkeypatch.setenv("OUTREACH_RECONCILE_MINUTES", "2.5")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.console_low_confidence_threshold == 0.45
    assert settings.telegram_webhook_listen == "0.0.0.0"
    assert settings.webchat_socket_url == "https://chat.memnun.example"
    assert settings.outreach_reconcile_minutes == 2.5
    config = OutreachConfig.load(settings)
    assert (config.csat_enabled, config.nps_enabled, config.birthday_enabled) == (True, False, True)
    assert (config.nps_daily_limit, config.marketing_cap_days, config.lease_seconds) == (500, 14, 3.0)
    assert config.uncertain_policy == "at_least_once"


def test_invalid_values_fail_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTREACH_UNCERTAIN_DELIVERY", "sometimes")
    with pytest.raises(ValueError, match="outreach_uncertain_delivery"):
        Settings(_env_file=None)  # type: ignore[call-arg]
