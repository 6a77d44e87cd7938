"""`memnun telegram` and `python -m bot.channels.telegram`."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.channels.telegram import cli, updates

ROOT = Path(__file__).resolve().parents[3]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command", required=True))
    return parser


def test_telegram_command_parses_modes() -> None:
    args = _parser().parse_args(["telegram", "--mode", "webhook"])
    assert (args.action, args.mode) == ("run", "webhook")
    assert _parser().parse_args(["telegram"]).mode is None
    with pytest.raises(SystemExit):
        _parser().parse_args(["telegram", "--mode", "carrier-pigeon"])


def test_status_prints_journal_counts(migrated_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.channels.telegram.test_telegram_journal import BOT_ID, _text_update

    updates.record(BOT_ID, _text_update(1, 1))
    args = _parser().parse_args(["telegram", "status"])
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out) == {"received": 1}


def test_module_entry_point_refuses_to_run_without_a_token(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TELEGRAM_")}
    env.update({"PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    result = subprocess.run(
        [sys.executable, "-m", "bot.channels.telegram", "--mode", "polling"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "TELEGRAM_TOKEN is not set" in result.stderr
