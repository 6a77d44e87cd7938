"""The console's summary sync racing a customer's erasure (and the delayed purge that follows it).

A sync reads tracker events, then writes summaries in a later transaction. An erasure (or a due purge) that
commits in between must not end with the erased conversation's summary, intents or review flags written
back. The sync is paused for real at its step seam (``tracker_events.sync_step_hook``) while the erasure
runs, on SQLite and on PostgreSQL; nothing of the code under test is mocked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from bot.db.models_console import ConversationIntent, ConversationSummary, ReviewFlag
from bot.db.session import session_scope
from bot.services import conversations, privacy, tracker_events
from bot.settings import get_settings
from tests.console.conftest import Tracker, create_customer

ERASED = "tg-501"
OTHER = "tg-502"


@dataclass
class Pause:
    """The sync's step hook: holds the sync at ``step`` (first time only) until :meth:`release`."""

    step: str
    reached: threading.Event = field(default_factory=threading.Event)
    go: threading.Event = field(default_factory=threading.Event)
    steps: list[str] = field(default_factory=list)

    def __call__(self, name: str) -> None:
        self.steps.append(name)
        if name == self.step and not self.reached.is_set():
            self.reached.set()
            if not self.go.wait(60):
                raise RuntimeError("the test never released the sync")

    def release(self) -> None:
        self.go.set()


class Worker(threading.Thread):
    def __init__(self, target: Any) -> None:
        super().__init__(daemon=True)
        self._fn = target
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self._fn()
        except BaseException as error:  # noqa: BLE001 - re-raised in the test thread
            self.error = error

    def outcome(self, timeout: float = 60) -> Any:
        self.join(timeout)
        assert not self.is_alive(), "worker did not finish"
        if self.error is not None:
            raise self.error
        return self.result


@pytest.fixture
def paused_sync(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Start ``sync_summaries`` in a thread, held at a step; yields a starter returning (pause, worker)."""
    started: list[tuple[Pause, Worker]] = []

    def start(step: str) -> tuple[Pause, Worker]:
        pause = Pause(step)
        monkeypatch.setattr(tracker_events, "sync_step_hook", pause)
        worker = Worker(tracker_events.sync_summaries)
        worker.start()
        assert pause.reached.wait(30), f"the sync never reached {step!r} (steps: {pause.steps})"
        started.append((pause, worker))
        return pause, worker

    yield start
    for pause, worker in started:  # never leave a paused thread (and its open transaction) behind
        pause.release()
        worker.join(30)


def _conversation(tracker: Tracker, sender: str) -> None:
    tracker.session_started(sender)
    tracker.turn(sender, f"adresim Moda Cad. No 5 ({sender})", "inform", "Teşekkürler")
    tracker.turn(sender, "asdf qwer", "nlu_fallback", "Anlayamadım", confidence=0.2, action="action_default_fallback")


def _copies(sender: str) -> dict[str, list[Any]]:
    with session_scope() as session:
        return {
            model.__name__: list(session.scalars(select(model.sender_id).where(model.sender_id == sender)))
            for model in (ConversationSummary, ConversationIntent, ReviewFlag)
        }


def _assert_erased_gone_other_synced() -> None:
    assert _copies(ERASED) == {"ConversationSummary": [], "ConversationIntent": [], "ReviewFlag": []}
    with session_scope() as session:
        other = session.get(ConversationSummary, OTHER)
        assert other is not None and other.turns == 2 and other.fallback_turns == 1
        assert session.scalars(select(ReviewFlag.reason).where(ReviewFlag.sender_id == OTHER)).all() == ["fallback"]


def _wait_until_blocked(db_url: str, worker: Worker) -> None:
    """Until ``worker`` waits for the paused sync's lock (PostgreSQL: a lock wait in pg_stat_activity)."""
    if db_url.startswith("postgresql"):
        engine = create_engine(db_url)
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and worker.is_alive():
                with engine.connect() as conn:
                    waiting = conn.scalar(
                        text(
                            "SELECT count(*) FROM pg_stat_activity"
                            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                        )
                    )
                if waiting:
                    break
                time.sleep(0.02)
        finally:
            engine.dispose()
    else:
        # SQLite: the sync's writing transaction holds the database's write lock (BEGIN IMMEDIATE) and the
        # eraser's BEGIN IMMEDIATE waits for it (busy timeout 15 s); no way to observe it but to give it time.
        time.sleep(0.5)
    assert worker.is_alive(), "the erasure did not wait for the sync's transaction"


def _race(db_url: str, paused_sync: Any, step: str, action: Callable[[], Any]) -> tuple[Any, Any]:
    """Run ``action`` against a sync held at ``step``; return (its result, the sync's report).

    At "events_read" the sync holds no lock yet, so the action simply commits first. At "checked" the sync is
    inside its writing transaction: the action must block on the state row until the sync commits.
    """
    pause, sync = paused_sync(step)
    if step == "events_read":
        result = action()
        pause.release()
        return result, sync.outcome()
    worker = Worker(action)
    worker.start()
    _wait_until_blocked(db_url, worker)
    pause.release()
    sync_report = sync.outcome()
    return worker.outcome(), sync_report


@pytest.mark.parametrize(
    "step",
    [
        # The erasure commits between the sync's read of the events and its writing transaction.
        "events_read",
        # The sync has done its compare-and-set and its checks, and has not written yet; the erasure starts.
        "checked",
    ],
)
def test_erasure_during_a_sync_leaves_no_copies(
    tracker: Tracker, migrated_db: str, paused_sync: Any, step: str
) -> None:
    customer_id = create_customer()
    conversations.record_channel(ERASED, "telegram", customer_id, language="tr")
    _conversation(tracker, ERASED)
    _conversation(tracker, OTHER)

    report, sync_report = _race(migrated_db, paused_sync, step, lambda: privacy.erase_customer(customer_id, "console"))

    assert report.conversations_forgotten == 1 and report.tracker_events_deleted > 0
    assert sync_report.events_read > 0
    _assert_erased_gone_other_synced()
    assert tracker_events.conversation_events(ERASED) == []
    # And it stays so.
    tracker_events.sync_summaries()
    _assert_erased_gone_other_synced()


@pytest.mark.parametrize("step", ["events_read", "checked"])
def test_delayed_purge_during_a_sync_leaves_no_copies(
    tracker: Tracker, migrated_db: str, paused_sync: Any, step: str
) -> None:
    """Rasa re-saved the erased conversation's events; the sync read them, the due purge deletes them (and
    its tracker_purges row, so the sync cannot learn of the erasure from that)."""
    customer_id = create_customer()
    conversations.record_channel(ERASED, "telegram", customer_id, language="tr")
    erased = privacy.erase_customer(customer_id, "telegram")
    _conversation(tracker, ERASED)  # Rasa saves the tracker it held while the erasure action ran
    _conversation(tracker, OTHER)
    due = erased.erased_at + timedelta(seconds=get_settings().privacy_tracker_purge_delay_s + 1)

    purge, sync_report = _race(migrated_db, paused_sync, step, lambda: privacy.purge_due_tracker_events(now=due))

    assert (purge.due, purge.purged, purge.failed) == (1, 1, 0) and purge.tracker_events_deleted > 0
    assert sync_report.events_read > 0
    _assert_erased_gone_other_synced()
    tracker_events.sync_summaries()
    _assert_erased_gone_other_synced()
