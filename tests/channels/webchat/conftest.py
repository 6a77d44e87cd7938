"""Fixtures for the web chat tests: a stand-in Rasa on a real port, our chat app, and Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.settings import get_settings
from tests.channels.webchat.browser import browser_context, chromium_browser  # noqa: F401 (fixtures)
from tests.channels.webchat.fake_rasa import FakeRasa
from tests.channels.webchat.live_server import LiveServer
from tests.channels.webchat.support import make_chat_app


@pytest.fixture
def fake_rasa(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRasa]:
    """The Rasa stand-in, running, with the settings (RASA_HOST/PORT/TOKEN) pointing at it."""
    rasa = FakeRasa().start()
    monkeypatch.setenv("RASA_HOST", "127.0.0.1")
    monkeypatch.setenv("RASA_PORT", str(rasa.port))
    monkeypatch.setenv("RASA_TOKEN", rasa.token)
    monkeypatch.delenv("WEBCHAT_SOCKET_URL", raising=False)
    get_settings.cache_clear()
    try:
        yield rasa
    finally:
        rasa.stop()
        get_settings.cache_clear()


@pytest.fixture
def chat_server(migrated_db: str, fake_rasa: FakeRasa) -> Iterator[LiveServer]:
    """Our chat page and API on a real port, on the migrated test database, talking to the stand-in Rasa."""
    app = make_chat_app(stream_poll_interval_s=0.2, stream_lifetime_s=15.0, stream_heartbeat_s=5.0)
    with LiveServer(app) as server:
        yield server
