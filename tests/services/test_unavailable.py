"""A database that cannot be reached surfaces as ServiceUnavailable, never as a driver exception."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from bot.services import identity, loyalty, orders, tickets
from bot.services.errors import ServiceUnavailable


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends


@pytest.fixture(params=["postgresql", "sqlite"])
def unreachable_db(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[None]:  # type: ignore[no-untyped-def]
    from bot.db.session import reset_engine
    from bot.settings import get_settings

    if request.param == "postgresql":
        url = f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/memnun"
    else:
        url = f"sqlite:///{tmp_path / 'missing-dir' / 'memnun.db'}"  # directory does not exist
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    reset_engine()
    yield
    reset_engine()
    get_settings.cache_clear()


def test_service_unavailable(unreachable_db: None) -> None:
    with pytest.raises(ServiceUnavailable):
        orders.find_order("SP1234567")
    with pytest.raises(ServiceUnavailable):
        loyalty.redeem_reward(1, 1, "k")
    with pytest.raises(ServiceUnavailable):
        tickets.open_ticket(None, "other", "text", None, "web", "web-1", "tr", "k")
    with pytest.raises(ServiceUnavailable):
        identity.customer_for_channel("telegram", "tg-1")
