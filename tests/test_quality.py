"""Lint as part of the test suite (Sara's CI: lint, types, tests), and the engine/app boundary."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bot.settings import PROJECT_ROOT

APP_PACKAGES = ("actions", "bot/services", "bot/db", "bot/channels", "bot/scheduler", "bot/console")


def test_ruff_is_clean() -> None:
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run([str(ruff), "check", "bot", "actions", "tests", "bench"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-6000:]


def test_application_code_never_imports_rasa() -> None:
    """Rasa 3.6 pins SQLAlchemy < 1.5 and pydantic 1: our app environment cannot import it."""
    pattern = re.compile(r"^\s*(from|import)\s+rasa(\.|\s|$)", re.MULTILINE)
    offenders = []
    for package in APP_PACKAGES:
        for path in (PROJECT_ROOT / package).rglob("*.py"):
            if pattern.search(path.read_text(encoding="utf-8")):
                offenders.append(str(path.relative_to(PROJECT_ROOT)))
    assert not offenders, offenders


def test_actions_use_services_not_sql() -> None:
    """Actions call bot.services; queries live only there (financial-demo's profile_db pattern, layered)."""
    pattern = re.compile(r"\b(sqlalchemy|session_scope|execute\(|select\()")
    offenders = [
        str(path.relative_to(PROJECT_ROOT))
        for path in (PROJECT_ROOT / "actions").rglob("*.py")
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, offenders
