"""Shared fixtures: every data-touching test runs on SQLite and on PostgreSQL.

PostgreSQL is a real server (127.0.0.1:5432 by default, `MEMNUN_TEST_PG_URL` to change). Each test session
creates one uniquely named database per backend and drops it at the end, so runs never see each other's rows.
When PostgreSQL is unreachable the PostgreSQL half is skipped locally, but fails under CI (CI=true), where the
production profile is required.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_ADMIN_URL = os.environ.get("MEMNUN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_TEST_URL = os.environ.get("MEMNUN_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
RABBITMQ_TEST_URL = os.environ.get("MEMNUN_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
BACKENDS = [b.strip() for b in os.environ.get("MEMNUN_TEST_BACKENDS", "sqlite,postgresql").split(",") if b.strip()]


def _service_missing(what: str, error: Exception) -> None:
    message = f"{what} is not reachable ({type(error).__name__}: {error})"
    if IN_CI:
        pytest.fail(message + " - CI requires it", pytrace=False)
    pytest.skip(message)


class _PostgresDatabases:
    """Throw-away PostgreSQL namespaces on the real server.

    Each test gets its own *schema* inside one database per test session (the connection's search_path
    points at it), because creating and dropping a database per test forces a checkpoint each time on
    PostgreSQL 15 and made the suite several times slower. The database is dropped once at the end.
    """

    def __init__(self) -> None:
        self.database: str | None = None
        self.created: list[str] = []

    def _admin(self) -> Any:
        return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")

    def create_database(self, prefix: str = "memnun_test") -> str:
        """A whole new database (for processes that need one, e.g. Rasa's tracker store)."""
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        admin = self._admin()
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        self.created.append(name)
        return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    def create(self, prefix: str = "memnun_test") -> str:
        if self.database is None:
            url = self.create_database(prefix)
            self.database = make_url(url).database
        base = make_url(PG_ADMIN_URL).set(database=self.database)
        schema = f"t_{uuid.uuid4().hex[:12]}"
        engine = create_engine(base, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        finally:
            engine.dispose()
        url = base.update_query_dict({"options": f"-csearch_path={schema}"})
        return url.render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if not self.created:
            return
        admin = self._admin()
        try:
            with admin.connect() as conn:
                for name in self.created:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            admin.dispose()


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[_PostgresDatabases]:
    dbs = _PostgresDatabases()
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    try:
        engine = create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        _service_missing("PostgreSQL at " + make_url(PG_ADMIN_URL).render_as_string(hide_password=True), exc)
    return True


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database URL: a temp SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'memnun-test.db'}"
    request.getfixturevalue("postgres_available")
    return request.getfixturevalue("pg_databases").create()


def apply_migrations(url: str) -> None:
    """Run `alembic upgrade head` programmatically against ``url``."""
    from bot.db.migrate import upgrade

    upgrade("head", url=url)


@pytest.fixture
def configured_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the settings (and any cached engine) at ``db_url`` for the duration of a test.

    Rasa's tracker store is the test's too: a SQLite file beside ``db_url``, or the same PostgreSQL database
    (the two profiles), never the developer's ``var/tracker.db`` (erasure deletes from it).
    """
    from bot.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", db_url)
    tracker_url = f"sqlite:///{tmp_path / 'tracker-test.db'}" if db_url.startswith("sqlite") else db_url
    monkeypatch.setenv("TRACKER_DATABASE_URL", tracker_url)
    get_settings.cache_clear()
    _reset_engine_cache()
    yield db_url
    _reset_engine_cache()
    get_settings.cache_clear()


def _reset_engine_cache() -> None:
    try:
        from bot.db import session as db_session
    except ImportError:
        return
    reset = getattr(db_session, "reset_engine", None)
    if reset is not None:
        reset()
    # The tracker store's engines are cached per URL, and every test has its own: close them (if loaded).
    tracker_events = sys.modules.get("bot.services.tracker_events")
    if tracker_events is not None:
        tracker_events.reset_tracker_engines()


@pytest.fixture
def migrated_db(configured_env: str) -> str:
    """``db_url`` with every Alembic migration applied and the settings pointing at it."""
    apply_migrations(configured_env)
    return configured_env


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        import redis

        client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
        client.ping()
        client.close()
    except Exception as exc:  # noqa: BLE001
        _service_missing("Redis at " + REDIS_TEST_URL, exc)
    return REDIS_TEST_URL


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=2):
            pass
    except OSError as exc:
        _service_missing("RabbitMQ at 127.0.0.1:5672", exc)
    return RABBITMQ_TEST_URL
