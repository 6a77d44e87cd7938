"""Engine and session helpers: one cached engine per process, one transaction per unit of work.

SQLite (the embedded profile) runs in WAL mode with foreign keys on and a busy timeout, and write
transactions start with ``BEGIN IMMEDIATE`` so that two writers queue on the database lock instead of
failing half-way with "database is locked" when a read transaction tries to upgrade. PostgreSQL uses
``pool_pre_ping`` so connections dropped by a server restart are replaced transparently.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot.settings import get_settings

#: How long a SQLite writer waits for the lock before giving up (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 15_000
#: Seconds before a PostgreSQL connection attempt fails (so an outage is reported, not hung on).
POSTGRES_CONNECT_TIMEOUT_S = 5

_WRITE_OPTION = "memnun_write"

_lock = threading.Lock()
_engine: Engine | None = None
_write_engine: Engine | None = None


def create_memnun_engine(url: str, **engine_kwargs: Any) -> Engine:
    """Create an engine for ``url`` with Memnun's per-backend settings (not cached)."""
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            **engine_kwargs,
        )
        _install_sqlite_hooks(engine)
        return engine
    connect_args: dict[str, Any] = {}
    if backend == "postgresql":
        connect_args["connect_timeout"] = POSTGRES_CONNECT_TIMEOUT_S
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **engine_kwargs)


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN out of pysqlite's hands so we can choose DEFERRED or IMMEDIATE ourselves
        # (the recipe from SQLAlchemy's SQLite dialect documentation).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(_WRITE_OPTION):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


def get_engine() -> Engine:
    """The process-wide engine for ``settings.database_url`` (created on first use)."""
    return _engines()[0]


def _engines() -> tuple[Engine, Engine]:
    global _engine, _write_engine
    with _lock:
        if _engine is None or _write_engine is None:
            _engine = create_memnun_engine(get_settings().database_url)
            # Same pool, different execution option: lets the "begin" hook choose BEGIN IMMEDIATE.
            _write_engine = _engine.execution_options(**{_WRITE_OPTION: True})
        return _engine, _write_engine


def reset_engine() -> None:
    """Dispose of the cached engine (tests and processes that change DATABASE_URL call this)."""
    global _engine, _write_engine
    with _lock:
        if _engine is not None:
            _engine.dispose()
        _engine = None
        _write_engine = None


@contextmanager
def session_scope(*, write: bool = False) -> Iterator[Session]:
    """One transaction: commit when the block ends normally, roll back on any exception.

    ``write=True`` marks a transaction that will write; on SQLite it starts with ``BEGIN IMMEDIATE`` (takes
    the write lock up front, so check-then-write logic such as "balance >= cost" cannot be overtaken by
    another writer). On PostgreSQL the flag changes nothing; correctness there comes from conditional
    UPDATEs and unique constraints.
    """
    read_engine, write_engine = _engines()
    session = Session(bind=write_engine if write else read_engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
