"""Run Alembic migrations from code (the CLI's ``migrate`` command, tests, deployment scripts)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def alembic_config(url: str | None = None) -> Config:
    """Alembic config for ``alembic.ini``; ``url`` overrides the settings' DATABASE_URL."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "bot" / "db" / "migrations"))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(revision: str = "heads", url: str | None = None) -> None:
    """Apply migrations up to ``revision`` (default: every head)."""
    command.upgrade(alembic_config(url), revision)


def downgrade(revision: str, url: str | None = None) -> None:
    """Revert migrations down to ``revision`` (``"base"`` = empty database)."""
    command.downgrade(alembic_config(url), revision)


def current(url: str | None = None) -> None:
    """Print the database's current revision(s)."""
    command.current(alembic_config(url))
