"""`python -m bot.cli create-admin / create-user` through the real CLI process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot.services import staff

ROOT = Path(__file__).resolve().parents[2]


def _cli(args: list[str], stdin: str, db_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


def test_create_admin_and_user_from_the_cli(migrated_db: str) -> None:
    done = _cli(
        ["create-admin", "--email", "Kurucu@Memnun.test", "--password-stdin"], "a long first password\n", migrated_db
    )
    assert done.returncode == 0, done.stderr
    assert "created admin" in done.stdout
    assert "a long first password" not in done.stdout + done.stderr
    agent = _cli(
        ["create-user", "--role", "agent", "--email", "temsilci@memnun.test", "--name", "Temsilci", "--password-stdin"],
        "another long password\n",
        migrated_db,
    )
    assert agent.returncode == 0, agent.stderr
    short = _cli(
        ["create-user", "--role", "agent", "--email", "x@memnun.test", "--password-stdin"], "short\n", migrated_db
    )
    assert short.returncode == 2 and "password_too_short" in short.stderr
    users = {u.email: u.role for u in staff.list_users()}
    assert users == {"kurucu@memnun.test": "admin", "temsilci@memnun.test": "agent"}
    assert staff.login("kurucu@memnun.test", "a long first password", "127.0.0.1").status == "ok"
