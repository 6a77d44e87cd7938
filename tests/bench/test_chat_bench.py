"""Smoke test of `memnun bench chat`: a small real run against the real stack, end to end.

Starts the action server, two Rasa servers, the Telegram connector (against the fake Bot API) and a fresh
PostgreSQL database, exactly as the full benchmark does, only with a handful of conversations for ten
seconds, and checks what the benchmark itself promises: a report, every message answered, every message
stored exactly once in the tracker store, the database dropped and no process left behind.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bench import chat_bench
from bench.run import main as bench_main
from bot.engine import engine_python, train_model
from bot.settings import Settings

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def model() -> Path:
    if not engine_python().exists():
        if os.environ.get("CI"):
            pytest.fail(f"the Rasa engine venv is missing at {engine_python()}")
        pytest.skip("Rasa engine venv missing: run ./memnun test")
    # MEMNUN_BENCH_MODEL lets a developer point the smoke test at an already trained model.
    configured = os.environ.get("MEMNUN_BENCH_MODEL")
    return Path(configured) if configured else train_model(Settings(), log=True)


def _database_exists(name: str) -> bool:
    engine = create_engine(chat_bench.PG_ADMIN_URL)
    try:
        with engine.connect() as conn:
            return bool(conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first())
    finally:
        engine.dispose()


def test_chat_bench_small_run_answers_and_stores_every_message_once(model: Path, tmp_path: Path) -> None:
    code = bench_main([
        "chat", "--conversations", "5", "--seconds", "10", "--instances", "2",
        "--telegram-conversations", "3", "--skip-baseline", "--model", str(model), "--out", str(tmp_path),
    ])

    report = json.loads((tmp_path / "chat.json").read_text())
    assert (tmp_path / "chat.md").read_text().startswith("# Chat load benchmark")
    assert code == 0
    rest = report["results"]["rest"]
    assert rest["instances"] == 2
    assert rest["messages_sent"] >= 10  # 5 conversations x several turns in 10 s
    assert rest["messages_answered"] == rest["messages_sent"]
    assert rest["errors"] == 0 and rest["timeouts"] == 0
    assert rest["empty_replies"] == 0
    assert rest["stored_check"]["exactly_once"] is True
    assert rest["stored_check"]["user_events_stored"] == rest["messages_sent"]
    # The order-tracking turns went through the custom action and found the seeded orders.
    checks = rest["content_checks"]
    assert checks["checked"] > 0 and checks["passed"] == checks["checked"]
    assert rest["latency_ms"]["p50"] is not None and rest["latency_ms"]["p99"] >= rest["latency_ms"]["p50"]

    telegram = report["results"]["telegram"]
    assert telegram["messages_sent"] >= 3
    assert telegram["messages_answered"] == telegram["messages_sent"]
    assert telegram["stored_check"]["exactly_once"] is True
    assert telegram["reply_parts_sent"] == telegram["reply_parts_in_tracker"] > 0
    assert telegram["chats_unmatched"] == 0
    assert telegram["latency_complete_ms"]["p50"] is not None

    assert report["database"]["dropped"] is True
    assert not _database_exists(report["database"]["name"])
    assert report["machine"]["nproc"] >= 1
