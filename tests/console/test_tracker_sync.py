"""sync_summaries: incremental folding of Rasa tracker events into conversation summaries and review flags."""

from __future__ import annotations

import json

from sqlalchemy import select, text

from bot.db.models_console import ConversationIntent, ConversationSummary, ReviewFlag, TrackerSyncState
from bot.db.session import session_scope
from bot.services import tracker_events
from tests.console.conftest import Tracker


def _summary(sender_id: str) -> ConversationSummary:
    with session_scope() as session:
        row = session.get(ConversationSummary, sender_id)
        assert row is not None, sender_id
        session.expunge(row)
        return row


def _flags(sender_id: str) -> list[tuple[str, int | None]]:
    with session_scope() as session:
        return [
            (f.reason, f.event_id)
            for f in session.scalars(
                select(ReviewFlag).where(ReviewFlag.sender_id == sender_id).order_by(ReviewFlag.id)
            )
        ]


def test_sync_builds_summary_and_flags(tracker: Tracker) -> None:
    s = "tg-1001"
    tracker.session_started(s)
    tracker.turn(s, "merhaba", "greet", "Merhaba! Size nasıl yardımcı olabilirim?")
    low = tracker.turn(s, "puanım ne kadar acaba", "check_points", "Puanınız 1.250.", confidence=0.42)
    fb = tracker.user(
        s,
        "asdf qwer",
        "nlu_fallback",
        0.3,
        ranking=[{"name": "nlu_fallback", "confidence": 0.3}, {"name": "track_order", "confidence": 0.2}],
    )
    tracker.action(s, "action_default_fallback")
    tracker.bot(s, "Anlayamadım, tekrar yazar mısınız?")
    tracker.slot(s, "language", "en")
    tracker.active_loop(s, "complaint_form")

    report = tracker_events.sync_summaries()
    assert report.caught_up and report.events_read > 0
    summary = _summary(s)
    assert summary.channel == "telegram"
    assert summary.turns == 3
    assert summary.bot_turns == 3
    assert summary.language == "en"  # the language slot wins over the metadata hint
    assert summary.intents.split() == ["check_points", "greet", "nlu_fallback"]
    assert summary.has_fallback and summary.fallback_turns == 1
    assert summary.low_confidence_turns == 1
    assert abs(summary.min_confidence - 0.3) < 1e-9
    assert "puanim ne kadar" in summary.search_text  # stored folded for search (ı -> i)
    assert summary.last_user_text == "asdf qwer"
    assert sorted(_flags(s)) == sorted([("low_confidence", low), ("fallback", fb)])
    with session_scope() as session:
        flag = session.scalar(select(ReviewFlag).where(ReviewFlag.event_id == fb))
        # The flag shows what the model would have chosen, not just "nlu_fallback".
        assert flag is not None and flag.intent_name == "track_order"


def test_sync_is_incremental_and_idempotent(tracker: Tracker) -> None:
    s = "web-7d3b5c1e-3c4b-4c1a-9d51-8f6a2b4c9e10"
    tracker.turn(s, "siparişim nerede", "track_order", "Sipariş numaranızı yazar mısınız?", channel="web")
    tracker_events.sync_summaries()
    first = _summary(s)
    assert first.turns == 1 and first.channel == "web"

    # Nothing new: a second run changes nothing.
    again = tracker_events.sync_summaries()
    assert again.events_read == 0
    assert _summary(s).turns == 1

    # The fallback action arrives in a later batch than the user turn it refers to.
    user_id = tracker.user(s, "hmm", "inform", 0.9)
    tracker_events.sync_summaries()
    tracker.action(s, "action_two_stage_fallback")
    tracker_events.sync_summaries()
    summary = _summary(s)
    assert summary.turns == 2
    assert summary.fallback_turns == 1
    assert ("fallback", user_id) in _flags(s)
    with session_scope() as session:
        counts = dict(
            session.execute(
                select(ConversationIntent.intent, ConversationIntent.count).where(ConversationIntent.sender_id == s)
            ).all()
        )
    assert counts == {"track_order": 1, "inform": 1}


def test_small_batches_give_the_same_result(tracker: Tracker) -> None:
    for n in range(5):
        s = f"tg-{2000 + n}"
        tracker.turn(s, f"mesaj {n}", "greet", "Merhaba")
        tracker.turn(s, "kargo nerede", "track_order", "Bakıyorum", confidence=0.5)
    report = tracker_events.sync_summaries(batch_size=3)
    assert report.caught_up
    for n in range(5):
        summary = _summary(f"tg-{2000 + n}")
        assert summary.turns == 2
        assert summary.low_confidence_turns == 1
        assert summary.event_count == 10


def test_late_committed_event_below_the_cursor_is_picked_up(tracker: Tracker) -> None:
    """An id skipped by the cursor (its transaction committed later) is re-checked as a gap."""
    s = "tg-3000"
    tracker.turn(s, "merhaba", "greet", "Merhaba")
    with tracker.engine.begin() as conn:
        max_id = conn.execute(text("SELECT max(id) FROM events")).scalar_one()
    # Simulate: id max_id+1 is taken by a slow transaction, max_id+2 commits first.
    late = {
        "event": "user",
        "timestamp": tracker.clock + 5,
        "text": "geç gelen",
        "parse_data": {"intent": {"name": "goodbye", "confidence": 0.99}, "entities": []},
        "metadata": {},
    }
    early = {"event": "bot", "timestamp": tracker.clock + 6, "text": "Hoşça kalın", "data": {}, "metadata": {}}
    insert = text(
        "INSERT INTO events (id, sender_id, type_name, timestamp, intent_name, action_name, data) "
        "VALUES (:id, :s, :t, :ts, :i, NULL, :d)"
    )
    with tracker.engine.begin() as conn:
        conn.execute(
            insert, {"id": max_id + 2, "s": s, "t": "bot", "ts": early["timestamp"], "i": None, "d": json.dumps(early)}
        )
    tracker_events.sync_summaries()
    with session_scope() as session:
        state = session.get(TrackerSyncState, tracker_events.SYNC_STATE_NAME)
        assert state is not None and state.last_event_id == max_id + 2
        assert [g[0] for g in json.loads(state.pending_gaps)] == [max_id + 1]
    with tracker.engine.begin() as conn:
        conn.execute(
            insert,
            {"id": max_id + 1, "s": s, "t": "user", "ts": late["timestamp"], "i": "goodbye", "d": json.dumps(late)},
        )
    tracker_events.sync_summaries()
    summary = _summary(s)
    assert summary.turns == 2
    assert "goodbye" in summary.intents.split()
    with session_scope() as session:
        state = session.get(TrackerSyncState, tracker_events.SYNC_STATE_NAME)
        assert state is not None and json.loads(state.pending_gaps) == []


def test_concurrent_sync_does_not_double_count(tracker: Tracker) -> None:
    """Two syncs that read the same batch: the compare-and-set cursor lets only one apply it."""
    s = "tg-4000"
    tracker.turn(s, "merhaba", "greet", "Merhaba")
    cursor, gaps, _ = tracker_events._read_state()
    rows_first = tracker_events._fold([r for r in _raw_rows(tracker)], tracker_events.low_confidence_threshold())
    newest = max(d.last_event_id for d in rows_first.values())
    assert tracker_events._apply(rows_first, cursor, newest, []) is not None
    # The loser tries to apply the very same batch from the same old cursor.
    rows_second = tracker_events._fold([r for r in _raw_rows(tracker)], tracker_events.low_confidence_threshold())
    assert tracker_events._apply(rows_second, cursor, newest, []) is None
    assert _summary(s).turns == 1


def _raw_rows(tracker: Tracker) -> list:
    with tracker_events.tracker_engine().connect() as conn:
        return conn.execute(select(*tracker_events._ROW_COLUMNS).order_by(tracker_events.events_table.c.id)).all()


def test_card_numbers_are_masked_in_copies(tracker: Tracker) -> None:
    s = "tg-5000"
    tracker.turn(s, "kartım 4111 1111 1111 1111 iki kez çekildi", "complain", "Üzgünüz", confidence=0.4)
    tracker_events.sync_summaries()
    summary = _summary(s)
    assert "4111 1111 1111 1111" not in summary.search_text
    assert "1111" in summary.search_text  # the last four digits stay readable
    assert summary.has_complaint
    with session_scope() as session:
        texts = [f.text for f in session.scalars(select(ReviewFlag).where(ReviewFlag.sender_id == s))]
    assert texts and all("4111 1111 1111 1111" not in (t or "") for t in texts)


def test_rebuild_recomputes_but_keeps_review_state(tracker: Tracker) -> None:
    from bot.services import review

    s = "tg-6000"
    tracker.turn(s, "asdf", "nlu_fallback", "Anlayamadım", confidence=0.2)
    tracker_events.sync_summaries()
    review.set_reviewed(s, user_id=1)
    review.add_tag(s, "Kargo", user_id=1)
    with session_scope(write=True) as session:
        session.get(ConversationSummary, s).turns = 99  # corrupt it
    tracker_events.rebuild_summaries()
    summary = _summary(s)
    assert summary.turns == 1
    assert summary.reviewed is True
    assert summary.tags == "kargo"
    assert summary.fallback_turns == 1


def test_missing_tracker_table_is_not_an_error(migrated_db: str, tmp_path, monkeypatch) -> None:
    from bot.settings import get_settings

    monkeypatch.setenv("TRACKER_DATABASE_URL", f"sqlite:///{tmp_path / 'empty-tracker.db'}")
    get_settings.cache_clear()
    tracker_events.reset_tracker_engines()
    report = tracker_events.sync_summaries()
    assert report.events_read == 0 and report.caught_up
    tracker_events.reset_tracker_engines()
