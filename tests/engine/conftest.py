"""Fixtures for tests that need the Rasa engine: a trained model (cached by data fingerprint)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.engine import engine_python, train_model
from bot.settings import Settings


@pytest.fixture(scope="session")
def engine_available() -> Path:
    python = engine_python()
    if not python.exists():
        if os.environ.get("CI"):
            pytest.fail(f"the Rasa engine venv is missing at {python} (./memnun test installs it)")
        pytest.skip("Rasa engine venv missing: run ./memnun test")
    return python


@pytest.fixture(scope="session")
def trained_model(engine_available: Path) -> Path:
    """The assistant's model for the current data (trained once, then reused from the cache)."""
    return train_model(Settings(), log=True)
