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


async def test_the_process_serves_a_chat_and_stops_cleanly_on_sigterm(migrated_db: str, tmp_path: Path) -> None:
    import asyncio
    import signal

    from tests.fakes.rasa_stub import RasaStub
    from tests.fakes.telegram_api import FakeTelegramAPI

    async with FakeTelegramAPI() as api, RasaStub() as rasa:
        user = api.user(9101, "Ayşe", "tr")
        env = {key: value for key, value in os.environ.items() if not key.startswith("TELEGRAM_")}
        env.update({
            "PYTHONPATH": str(ROOT), "DATABASE_URL": migrated_db, "TELEGRAM_TOKEN": api.token,
            "TELEGRAM_BASE_URL": api.base_url, "TELEGRAM_BASE_FILE_URL": api.base_file_url,
            "RASA_HOST": "127.0.0.1", "RASA_PORT": str(rasa.port), "LOG_LEVEL": "INFO",
        })
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.channels.telegram", cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        try:
            api.enqueue_text(user, "merhaba süreç")
            await api.wait_for_messages(9101, 1, timeout=30)
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0, stderr.decode()[-2000:]
        assert api.texts(9101) == ["echo: merhaba süreç"]
        log = stderr.decode()
        assert "telegram connector stopped" in log
        assert "merhaba süreç" not in log and api.token.split(":")[1] not in log
