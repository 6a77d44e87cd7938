"""Reads Rasa's SQL tracker store and keeps the console's ``conversation_summaries`` up to date.

Rasa's ``SQLTrackerStore`` writes one row per event to a table ``events`` (id, sender_id, type_name,
timestamp, intent_name, action_name, data = the event as JSON). It lives at ``settings.effective_tracker_url``:
a separate SQLite file on the embedded profile, the same PostgreSQL database as ours in production.

Filtering 2 million events with JSON inside for every page view is not an option, so the console lists
conversations from a small reporting table instead:

* ``conversation_summaries`` - one row per sender id: channel, language, first/last event time, turns,
  intents, fallback and low-confidence counts, minimum confidence, ticket/score/handover flags, review state,
  tags and the customer's messages (masked) for full-text search.
* ``conversation_intents`` - (sender id, intent, count), to filter by intent and count top intents.
* ``review_flags`` - the turns the review queue shows (fallback, low confidence, low score).

:func:`sync_summaries` maintains them *incrementally*: it reads events with ``id`` greater than the last
processed id (stored in ``tracker_sync_state``), folds them into the summaries, and advances the cursor in
the same transaction. Run it from a periodic job (every 30-60 s) and at console page load with a small time
budget, so lists are fresh without a page ever waiting for a full catch-up.

Correctness notes (why the code looks the way it does):

* Ids are assigned when a row is inserted but become visible when its transaction commits, so on
  PostgreSQL a row with a *lower* id can appear after we already read past it. Every id skipped below the
  cursor is remembered as a *gap* and re-checked on later runs (for ``GAP_TTL``; a rolled-back insert leaves
  a gap that never fills).
* Two syncs may run at once (periodic job + page load). The cursor is advanced with a compare-and-set in
  the same transaction as the summary writes, so the loser rolls back instead of counting events twice.
* Only ``user`` and ``slot`` events need their JSON parsed; the others are counted from their columns.
* Conversations with a pending delayed purge (``tracker_purges``, see :mod:`bot.services.privacy`) are
  skipped: they belong to an erased customer and Rasa may have re-saved their events after the erasure.
* Erasure races the sync: a sync may read a conversation's events just before an erasure (or a delayed
  purge) deletes them with the console's copies, and write its summary just after. The ``tracker_sync_state``
  row serialises them: the sync's cursor compare-and-set locks it, erasure and the purge lock it
  (:func:`lock_sync_state_in`) before deleting the copies, and the sync checks for pending purges and for
  deleted events only after its compare-and-set, in the transaction that writes. Whichever commits first,
  the other sees it (see :func:`_apply`).
* Customer text copied here is masked (card numbers, T.C. kimlik numbers) like every other free text we
  store. :func:`rebuild_summaries` recomputes everything from the tracker if the tables are ever in doubt.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    case,
    delete,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from bot.db.models import Conversation, Customer, SurveyResponse, Ticket
from bot.db.models_console import (
    AgentMessage,
    ConversationIntent,
    ConversationNote,
    ConversationSummary,
    ConversationTag,
    Handover,
    IntentCorrection,
    ReviewFlag,
    TrackerSyncState,
)
from bot.db.models_privacy import TrackerPurge
from bot.db.session import create_memnun_engine
from bot.services.tx import transaction, utcnow
from bot.settings import get_settings

log = logging.getLogger(__name__)

# --- Rasa's schema -----------------------------------------------------------------------------------------

#: A stand-alone copy of Rasa 3.6's ``SQLTrackerStore.SQLEvent`` table. Not on our ``Base.metadata``: Rasa
#: creates and owns it; we read it, and erasure deletes a conversation's rows (:func:`delete_tracker_events`).
#: Tests and the benchmark create it with :func:`create_events_table`.
TRACKER_METADATA = MetaData()
events_table = Table(
    "events",
    TRACKER_METADATA,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
    Index("ix_events_sender_id", "sender_id"),
)

FALLBACK_INTENTS = frozenset({"nlu_fallback"})
FALLBACK_ACTIONS = frozenset(
    {
        "action_default_fallback",
        "action_two_stage_fallback",
        "action_default_ask_affirmation",
        "action_default_ask_rephrase",
    }
)
#: Intent names that mean "the customer is complaining" (besides having a ticket).
COMPLAINT_INTENT_MARKERS = ("complain", "sikayet", "şikayet")
#: Slot names containing one of these hold personal data: masked in transcripts unless revealed.
PERSONAL_SLOT_MARKERS = ("phone", "birth", "email", "name", "customer_number", "address", "kimlik", "contact")
LANGUAGE_SLOTS = frozenset({"language", "lang", "user_language", "conversation_language"})
SEARCH_TEXT_CAP = 20_000
GAP_TTL = timedelta(minutes=10)
MAX_GAPS = 5_000
SYNC_STATE_NAME = "rasa_events"
_DIGITS_WORTH_MASKING = 11  # fewest digits of anything mask_sensitive masks (T.C. kimlik no)
#: The tracker-derived columns of a summary that has folded no event yet: a new summary starts from them and
#: :func:`rebuild_summaries` resets every summary to them before re-reading the tracker.
EMPTY_SUMMARY_COUNTS: Mapping[str, Any] = MappingProxyType(
    {
        "turns": 0,
        "bot_turns": 0,
        "event_count": 0,
        "intents": "",
        "has_fallback": False,
        "fallback_turns": 0,
        "low_confidence_turns": 0,
        "min_confidence": 1.0,
        "search_text": "",
        "last_user_text": None,
        "last_user_event_id": None,
        "last_event_id": 0,
    }
)


def low_confidence_threshold() -> float:
    """Turns below this NLU confidence are flagged for review (``CONSOLE_LOW_CONFIDENCE_THRESHOLD``)."""
    return get_settings().console_low_confidence_threshold


# --- engines ------------------------------------------------------------------------------------------------

_engine_lock = threading.Lock()
_engines: dict[str, Engine] = {}


def tracker_engine() -> Engine:
    """An engine on the tracker store (cached per URL, so tests switching databases get a fresh one)."""
    url = get_settings().effective_tracker_url
    with _engine_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = create_memnun_engine(url)
            _engines[url] = engine
        return engine


def reset_tracker_engines() -> None:
    with _engine_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def create_events_table(engine: Engine) -> None:
    """Create Rasa's ``events`` table (tests, benchmark, fresh installs before Rasa first ran)."""
    TRACKER_METADATA.create_all(engine, checkfirst=True)


def tracker_available() -> bool:
    try:
        return inspect(tracker_engine()).has_table("events")
    except sa_exc.SQLAlchemyError:
        return False


# --- parsed events ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackerEvent:
    id: int
    sender_id: str
    type_name: str
    timestamp: datetime
    intent_name: str | None
    action_name: str | None
    data: dict[str, Any]


def _ts(value: float | None) -> datetime:
    return datetime.fromtimestamp(value or 0.0, tz=UTC)


def _parse(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def conversation_events(sender_id: str, *, limit: int = 5_000) -> list[TrackerEvent]:
    """All events of one conversation in order (Rasa orders by id too: timestamps can tie)."""
    if not tracker_available():
        return []
    with tracker_engine().connect() as conn:
        rows = conn.execute(
            select(events_table).where(events_table.c.sender_id == sender_id).order_by(events_table.c.id).limit(limit)
        ).all()
    return [
        TrackerEvent(r.id, r.sender_id, r.type_name, _ts(r.timestamp), r.intent_name, r.action_name, _parse(r.data))
        for r in rows
    ]


def events_by_ids(ids: Iterable[int]) -> dict[int, TrackerEvent]:
    wanted = sorted(set(ids))
    found: dict[int, TrackerEvent] = {}
    if not wanted or not tracker_available():
        return found
    with tracker_engine().connect() as conn:
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            for r in conn.execute(select(events_table).where(events_table.c.id.in_(chunk))):
                found[r.id] = TrackerEvent(
                    r.id, r.sender_id, r.type_name, _ts(r.timestamp), r.intent_name, r.action_name, _parse(r.data)
                )
    return found


# --- helpers shared with the transcript ----------------------------------------------------------------------


def channel_for(sender_id: str, metadata_channel: str | None = None) -> str:
    if sender_id.startswith("tg-"):
        return "telegram"
    if sender_id.startswith("web-"):
        return "web"
    if metadata_channel in ("telegram", "web", "rest"):
        return metadata_channel
    return "rest"


def user_turn_details(data: dict[str, Any]) -> tuple[str | None, float | None, str | None]:
    """(intent, confidence, the intent the model would have chosen if it fell back) of a user event."""
    parse_data = data.get("parse_data") or {}
    intent = parse_data.get("intent") or {}
    name = intent.get("name")
    confidence = intent.get("confidence")
    underlying = None
    if name in FALLBACK_INTENTS:
        for ranked in parse_data.get("intent_ranking") or []:
            if ranked.get("name") not in FALLBACK_INTENTS:
                underlying = ranked.get("name")
                break
    return name, (float(confidence) if isinstance(confidence, (int, float)) else None), underlying


def mask_text(text: str) -> str:
    """Mask card and T.C. kimlik numbers; skip the spaCy pass for texts with too few digits to hold one."""
    if sum(ch.isdigit() for ch in text) < _DIGITS_WORTH_MASKING:
        return text
    from bot.services.masking import mask_sensitive

    return mask_sensitive(text)


def search_fold(text: str) -> str:
    """Lower-case for search with Turkish i's folded together (İ/I/ı/i -> i), applied to stored text and to
    queries alike, so "İade", "iade" and "IADE" all match whatever the database's locale does with them."""
    return text.replace("İ", "i").replace("I", "i").replace("ı", "i").lower()


def is_complaint_intent(intent: str) -> bool:
    lowered = intent.lower()
    return any(marker in lowered for marker in COMPLAINT_INTENT_MARKERS)


# --- the sync -----------------------------------------------------------------------------------------------


@dataclass
class _Delta:
    """What one batch adds to one conversation."""

    sender_id: str
    first: datetime
    last: datetime
    events: int = 0
    turns: int = 0
    bot_turns: int = 0
    intents: dict[str, int] = field(default_factory=dict)
    min_confidence: float = 1.0
    language: str | None = None
    metadata_channel: str | None = None
    texts: list[str] = field(default_factory=list)
    last_user_text: str | None = None
    last_user_event_id: int | None = None
    last_event_id: int = 0
    # (event id, reason) pairs to flag; event id None = "the last user turn before this batch".
    flags: list[tuple[int | None, str]] = field(default_factory=list)
    turn_info: dict[int, tuple[str, str | None, float | None, datetime, str | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class SyncReport:
    events_read: int
    conversations_touched: int
    flags_created: int
    cursor: int
    caught_up: bool
    seconds: float


_ROW_COLUMNS = (
    events_table.c.id,
    events_table.c.sender_id,
    events_table.c.type_name,
    events_table.c.timestamp,
    events_table.c.intent_name,
    events_table.c.action_name,
    # Only user and slot events carry something we need from the JSON; skip transferring the rest.
    case((events_table.c.type_name.in_(("user", "slot")), events_table.c.data), else_=None).label("data"),
)


def _fold(rows: Sequence[Any], threshold: float) -> dict[str, _Delta]:
    deltas: dict[str, _Delta] = {}
    for row in rows:
        at = _ts(row.timestamp)
        delta = deltas.get(row.sender_id)
        if delta is None:
            delta = deltas[row.sender_id] = _Delta(row.sender_id, first=at, last=at)
        delta.first = min(delta.first, at)
        delta.last = max(delta.last, at)
        delta.events += 1
        delta.last_event_id = max(delta.last_event_id, row.id)
        kind = row.type_name
        if kind == "user":
            data = _parse(row.data)
            delta.turns += 1
            text = data.get("text") or ""
            intent, confidence, underlying = user_turn_details(data)
            metadata = data.get("metadata") or {}
            if isinstance(metadata, dict):
                hint = metadata.get("language_hint") or metadata.get("language")
                if hint in ("tr", "en"):
                    delta.language = hint
                if isinstance(metadata.get("channel"), str):
                    delta.metadata_channel = metadata["channel"]
            if intent:
                delta.intents[intent] = delta.intents.get(intent, 0) + 1
            if confidence is not None:
                delta.min_confidence = min(delta.min_confidence, confidence)
            masked = mask_text(text) if text else ""
            if masked:
                delta.texts.append(search_fold(masked))
                delta.last_user_text = masked[:200]
            delta.last_user_event_id = row.id
            delta.turn_info[row.id] = (masked, underlying or intent, confidence, at, delta.language)
            if intent in FALLBACK_INTENTS:
                delta.flags.append((row.id, "fallback"))
            elif confidence is not None and confidence < threshold and not text.startswith("/"):
                delta.flags.append((row.id, "low_confidence"))
        elif kind == "bot":
            delta.bot_turns += 1
        elif kind == "action" and row.action_name in FALLBACK_ACTIONS:
            delta.flags.append((delta.last_user_event_id, "fallback"))
        elif kind == "slot":
            data = _parse(row.data)
            if data.get("name") in LANGUAGE_SLOTS and data.get("value") in ("tr", "en"):
                delta.language = data["value"]
    return deltas


def pending_purges_in(session: Session, sender_ids: Sequence[str]) -> set[str]:
    """Those of ``sender_ids`` with a delayed purge of their tracker events pending (``tracker_purges``)."""
    pending: set[str] = set()
    for start in range(0, len(sender_ids), 500):
        chunk = list(sender_ids[start : start + 500])
        pending.update(session.scalars(select(TrackerPurge.sender_id).where(TrackerPurge.sender_id.in_(chunk))))
    return pending


def lock_sync_state_in(session: Session) -> None:
    """Inside the caller's write transaction: lock the sync's state row until it commits.

    Erasure and the delayed purge call this *before* deleting a conversation's console copies. The sync's
    cursor compare-and-set (:func:`_apply`) locks the same row, so the two transactions cannot overlap:

    * sync first: the eraser waits here until the sync has committed, and its deletes (later statements, so
      a fresh snapshot on PostgreSQL's READ COMMITTED) then see and remove what the sync just wrote;
    * eraser first: the sync's compare-and-set waits until the erasure has committed, and its checks for
      pending purges and deleted tracker events, which follow the compare-and-set, then see the erasure.

    On PostgreSQL that is a ``SELECT ... FOR UPDATE`` (the row is created first if no sync ever ran, so
    there is always something to lock); on SQLite every write transaction starts with ``BEGIN IMMEDIATE``
    and already excludes the other writers, the lock clause is not rendered.
    """
    locked = select(TrackerSyncState.name).where(TrackerSyncState.name == SYNC_STATE_NAME).with_for_update()
    if session.scalar(locked) is None:
        stmt = dialect_insert(session, TrackerSyncState).values(
            name=SYNC_STATE_NAME, last_event_id=0, pending_gaps="[]", updated_at=utcnow()
        )
        session.execute(stmt.on_conflict_do_nothing())
        session.scalar(locked)


#: Test seam, like :mod:`bot.scheduler.failpoints` but pausing instead of killing: when set, the sync calls
#: it with the name of the step it reached (``"events_read"``: events read, nothing written yet;
#: ``"checked"``: inside the writing transaction, cursor compare-and-set done, pending purges and deleted
#: events filtered out, summaries not written yet), so a test can hold a sync there and race an erasure
#: against it. Always None in production.
sync_step_hook: Callable[[str], None] | None = None


def _step(name: str) -> None:
    hook = sync_step_hook
    if hook is not None:
        hook(name)


def _senders_gone_from_tracker(deltas: Mapping[str, _Delta]) -> set[str]:
    """Senders of ``deltas`` whose events read for this batch are no longer in the tracker store.

    Only erasure and the delayed purge delete events, always a whole conversation at once, so probing one
    event id per sender is enough. The purge deletes the ``tracker_purges`` row too, so for a sync that read
    the events before the purge this is what tells it they are gone.
    """
    probe = {delta.last_event_id: sender for sender, delta in deltas.items()}
    ids = sorted(probe)
    present: set[int] = set()
    with tracker_engine().connect() as conn:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            present.update(conn.scalars(select(events_table.c.id).where(events_table.c.id.in_(chunk))))
    return {sender for event_id, sender in probe.items() if event_id not in present}


def dialect_insert(session: Session, table: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def _load_state(session: Session) -> TrackerSyncState:
    state = session.get(TrackerSyncState, SYNC_STATE_NAME)
    if state is None:
        stmt = dialect_insert(session, TrackerSyncState).values(
            name=SYNC_STATE_NAME, last_event_id=0, pending_gaps="[]", updated_at=utcnow()
        )
        session.execute(stmt.on_conflict_do_nothing())
        state = session.get(TrackerSyncState, SYNC_STATE_NAME)
    assert state is not None
    return state


def _read_state() -> tuple[int, list[list[float]], datetime | None]:
    # A plain read: on SQLite a write transaction would queue behind every writer for nothing.
    with transaction() as session:
        state = session.get(TrackerSyncState, SYNC_STATE_NAME)
        if state is not None:
            return state.last_event_id, json.loads(state.pending_gaps or "[]"), state.domain_synced_at
    with transaction(write=True) as session:
        state = _load_state(session)
        return state.last_event_id, json.loads(state.pending_gaps or "[]"), state.domain_synced_at


def sync_summaries(
    *, time_budget_s: float | None = None, batch_size: int = 5_000, now: datetime | None = None
) -> SyncReport:
    """Fold new tracker events into the summaries until caught up or ``time_budget_s`` is spent.

    Safe to call concurrently and repeatedly; returns what it did. Tracker store not reachable or not
    created yet = nothing to do (the console still works on what it has).
    """
    started = time.monotonic()
    threshold = low_confidence_threshold()
    total_events = 0
    touched: set[str] = set()
    flags_created = 0
    caught_up = False
    cursor = 0
    if not tracker_available():
        return SyncReport(0, 0, 0, 0, True, 0.0)
    while True:
        cursor, gaps, _ = _read_state()
        now_epoch = (now or utcnow()).timestamp()
        gap_ids = [int(g[0]) for g in gaps]
        with tracker_engine().connect() as conn:
            rows = conn.execute(
                select(*_ROW_COLUMNS).where(events_table.c.id > cursor).order_by(events_table.c.id).limit(batch_size)
            ).all()
            late = conn.execute(select(*_ROW_COLUMNS).where(events_table.c.id.in_(gap_ids))).all() if gap_ids else []
        _step("events_read")
        if not rows and not late:
            # Still expire old gaps so the list does not grow for ever.
            _store_gaps_only(cursor, gaps, now_epoch)
            caught_up = True
            break
        late_ids = {r.id for r in late}
        new_gaps = [g for g in gaps if int(g[0]) not in late_ids and now_epoch - g[1] < GAP_TTL.total_seconds()]
        expected = cursor + 1
        for r in rows:
            for missing in range(expected, r.id):
                new_gaps.append([missing, now_epoch])
            expected = r.id + 1
        new_gaps = new_gaps[-MAX_GAPS:]
        new_cursor = rows[-1].id if rows else cursor
        all_rows = sorted([*late, *rows], key=lambda r: r.id)
        deltas = _fold(all_rows, threshold)
        applied = _apply(deltas, cursor, new_cursor, new_gaps)
        if applied is None:
            # Another sync advanced the cursor first: re-read the state and continue from there.
            continue
        flags_created += applied
        total_events += len(all_rows)
        touched.update(deltas)
        if len(rows) < batch_size:
            caught_up = True
            break
        if time_budget_s is not None and time.monotonic() - started >= time_budget_s:
            break
    flags_created += refresh_domain_flags(now=now)
    return SyncReport(
        events_read=total_events,
        conversations_touched=len(touched),
        flags_created=flags_created,
        cursor=cursor,
        caught_up=caught_up,
        seconds=round(time.monotonic() - started, 3),
    )


def _store_gaps_only(cursor: int, gaps: list[list[float]], now_epoch: float) -> None:
    kept = [g for g in gaps if now_epoch - g[1] < GAP_TTL.total_seconds()]
    if kept == gaps:
        return
    with transaction(write=True) as session:
        session.execute(
            update(TrackerSyncState)
            .where(TrackerSyncState.name == SYNC_STATE_NAME, TrackerSyncState.last_event_id == cursor)
            .values(pending_gaps=json.dumps(kept), updated_at=utcnow())
        )


def _apply(deltas: dict[str, _Delta], old_cursor: int, new_cursor: int, gaps: list[list[float]]) -> int | None:
    """Write one batch; None if another sync got there first (nothing written)."""
    now = utcnow()
    with transaction(write=True) as session:
        moved = session.execute(
            update(TrackerSyncState)
            .where(TrackerSyncState.name == SYNC_STATE_NAME, TrackerSyncState.last_event_id == old_cursor)
            .values(last_event_id=new_cursor, pending_gaps=json.dumps(gaps), updated_at=now)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()
            return None
        # The compare-and-set above holds the state row's lock until this transaction ends, and erasure and
        # the delayed purge take that lock before deleting a conversation's console copies
        # (lock_sync_state_in). The events were read before the lock, possibly just before an erasure deleted
        # them, so the checks below must come after it: an erasure that committed first is visible to them
        # (on PostgreSQL each statement here takes a fresh snapshot, after the lock wait), and one that
        # commits later waits for this transaction and then deletes what it writes. Checked earlier, a sync
        # could re-create an erased customer's summary and flags, and nothing but a rebuild would remove them.
        # Conversations of an erased customer waiting for their delayed purge (Rasa may have re-saved their
        # events after the erasure): not copied into the console; the purge deletes them from the tracker.
        for sender_id in pending_purges_in(session, list(deltas)):
            del deltas[sender_id]
        # Conversations whose events were deleted after we read them (the purge deletes its tracker_purges
        # row as well, so the check above cannot see those).
        for sender_id in _senders_gone_from_tracker(deltas) if deltas else ():
            del deltas[sender_id]
        _step("checked")
        senders = list(deltas)
        existing: dict[str, ConversationSummary] = {}
        for start in range(0, len(senders), 500):
            chunk = senders[start : start + 500]
            for row in session.scalars(select(ConversationSummary).where(ConversationSummary.sender_id.in_(chunk))):
                existing[row.sender_id] = row

        # Flags whose user turn was read in an earlier batch ("fallback action after the user turn").
        for delta in deltas.values():
            prior = existing.get(delta.sender_id)
            delta.flags = [
                (event_id if event_id is not None else (prior.last_user_event_id if prior else None), reason)
                for event_id, reason in delta.flags
            ]
        missing_turns = {
            event_id
            for d in deltas.values()
            for event_id, _ in d.flags
            if event_id is not None and event_id not in d.turn_info
        }
        earlier = events_by_ids(missing_turns) if missing_turns else {}

        flag_rows: list[dict[str, Any]] = []
        for delta in deltas.values():
            prior = existing.get(delta.sender_id)
            channel = channel_for(delta.sender_id, delta.metadata_channel)
            language = delta.language or (prior.language if prior else None)
            seen: set[tuple[int, str]] = set()
            for event_id, reason in delta.flags:
                if event_id is None or (event_id, reason) in seen:
                    continue
                seen.add((event_id, reason))
                info = delta.turn_info.get(event_id)
                if info is None and event_id in earlier:
                    ev = earlier[event_id]
                    intent, confidence, underlying = user_turn_details(ev.data)
                    info = (
                        mask_text(ev.data.get("text") or ""),
                        underlying or intent,
                        confidence,
                        ev.timestamp,
                        language,
                    )
                if info is None:
                    continue
                text, intent, confidence, at, turn_language = info
                flag_rows.append(
                    {
                        "sender_id": delta.sender_id,
                        "reason": reason,
                        "ref": f"e{event_id}",
                        "event_id": event_id,
                        "status": "new",
                        "intent_name": intent,
                        "confidence": confidence,
                        "text": text,
                        "language": turn_language or language,
                        "channel": channel,
                        "turn_at": at,
                        "created_at": now,
                    }
                )
        inserted: dict[str, dict[str, int]] = {}
        if flag_rows:
            stmt = (
                dialect_insert(session, ReviewFlag)
                .on_conflict_do_nothing(index_elements=["reason", "ref"])
                .returning(ReviewFlag.sender_id, ReviewFlag.reason)
            )
            for row in session.execute(stmt, flag_rows):
                per = inserted.setdefault(row.sender_id, {})
                per[row.reason] = per.get(row.reason, 0) + 1

        for delta in deltas.values():
            prior = existing.get(delta.sender_id)
            new_flags = inserted.get(delta.sender_id, {})
            channel = channel_for(delta.sender_id, delta.metadata_channel)
            if prior is None:
                prior = ConversationSummary(
                    **EMPTY_SUMMARY_COUNTS,
                    sender_id=delta.sender_id,
                    channel=channel,
                    language=None,
                    first_event_at=delta.first,
                    last_event_at=delta.last,
                    has_ticket=False,
                    has_complaint=False,
                    has_handover=False,
                    reviewed=False,
                    tags="",
                    updated_at=now,
                )
                session.add(prior)
                existing[delta.sender_id] = prior
            prior.first_event_at = min(prior.first_event_at, delta.first)
            prior.last_event_at = max(prior.last_event_at, delta.last)
            prior.turns += delta.turns
            prior.bot_turns += delta.bot_turns
            prior.event_count += delta.events
            names = set(filter(None, prior.intents.split(" "))) | set(delta.intents)
            prior.intents = " ".join(sorted(names))
            prior.fallback_turns += new_flags.get("fallback", 0)
            prior.low_confidence_turns += new_flags.get("low_confidence", 0)
            prior.has_fallback = prior.fallback_turns > 0
            prior.min_confidence = min(prior.min_confidence, delta.min_confidence)
            if delta.language:
                prior.language = delta.language
            if delta.metadata_channel and not delta.sender_id.startswith(("tg-", "web-")):
                prior.channel = channel
            if any(is_complaint_intent(i) for i in delta.intents):
                prior.has_complaint = True
            if delta.texts:
                joined = (prior.search_text + "\n" if prior.search_text else "") + "\n".join(delta.texts)
                prior.search_text = joined[-SEARCH_TEXT_CAP:]
            if delta.last_user_text is not None:
                prior.last_user_text = delta.last_user_text
            if delta.last_user_event_id is not None and delta.last_user_event_id > (prior.last_user_event_id or 0):
                prior.last_user_event_id = delta.last_user_event_id
            prior.last_event_id = max(prior.last_event_id, delta.last_event_id)
            prior.updated_at = now
        session.flush()

        intent_rows = [
            {"sender_id": d.sender_id, "intent": name[:255], "count": n}
            for d in deltas.values()
            for name, n in d.intents.items()
        ]
        if intent_rows:
            stmt = dialect_insert(session, ConversationIntent)
            stmt = stmt.on_conflict_do_update(
                index_elements=["sender_id", "intent"],
                set_={"count": ConversationIntent.count + stmt.excluded.count},
            )
            session.execute(stmt, intent_rows)
        _refresh_from_our_tables(session, senders)
        return sum(sum(v.values()) for v in inserted.values())


def _refresh_from_our_tables(session: Session, senders: Sequence[str]) -> None:
    """Copy what our own tables know about these conversations into their summaries (idempotent)."""
    for start in range(0, len(senders), 500):
        chunk = list(senders[start : start + 500])
        conv = {
            r.sender_id: r
            for r in session.execute(
                select(
                    Conversation.sender_id, Conversation.channel, Conversation.customer_id, Conversation.language
                ).where(Conversation.sender_id.in_(chunk))
            )
        }
        tickets = {
            r.conversation_id: r.complaints
            for r in session.execute(
                select(
                    Ticket.conversation_id,
                    func.sum(case((Ticket.source == "complaint", 1), else_=0)).label("complaints"),
                )
                .where(Ticket.conversation_id.in_(chunk))
                .group_by(Ticket.conversation_id)
            )
        }
        latest = (
            select(
                SurveyResponse.conversation_id,
                SurveyResponse.kind,
                SurveyResponse.score,
                func.row_number()
                .over(
                    partition_by=(SurveyResponse.conversation_id, SurveyResponse.kind),
                    order_by=(SurveyResponse.created_at.desc(), SurveyResponse.id.desc()),
                )
                .label("rank"),
            )
            .where(SurveyResponse.conversation_id.in_(chunk))
            .subquery()
        )
        scores: dict[str, dict[str, int]] = {}
        for r in session.execute(
            select(latest.c.conversation_id, latest.c.kind, latest.c.score).where(latest.c.rank == 1)
        ):
            scores.setdefault(r.conversation_id, {})[r.kind] = r.score
        handovers = set(session.scalars(select(Handover.sender_id).where(Handover.sender_id.in_(chunk)).distinct()))
        for summary in session.scalars(select(ConversationSummary).where(ConversationSummary.sender_id.in_(chunk))):
            c = conv.get(summary.sender_id)
            if c is not None:
                summary.customer_id = c.customer_id
                if c.channel and not summary.sender_id.startswith(("tg-", "web-")):
                    summary.channel = c.channel
                if c.language in ("tr", "en") and summary.language is None:
                    summary.language = c.language
            complaint_tickets = tickets.get(summary.sender_id)
            summary.has_ticket = complaint_tickets is not None
            if complaint_tickets:
                summary.has_complaint = True
            kinds = scores.get(summary.sender_id, {})
            summary.last_csat = kinds.get("csat", summary.last_csat)
            summary.last_nps = kinds.get("nps", summary.last_nps)
            summary.has_handover = summary.sender_id in handovers


def refresh_domain_flags(*, now: datetime | None = None, overlap: timedelta = timedelta(minutes=2)) -> int:
    """Pull ticket / survey / handover changes made since the last run into the summaries, and flag low
    scores for review. Returns the number of new review flags."""
    now = now or utcnow()
    _, _, since = _read_state()
    since = (since - overlap) if since else datetime(1970, 1, 1, tzinfo=UTC)
    created = 0
    with transaction(write=True) as session:
        # Lock the state row first, as _apply does: an erasure (which takes the same lock) either committed
        # before the reads below, so they see the customer erased and the survey comments redacted, or waits
        # for this transaction and then deletes the flags it creates. Also keeps the lock order of _apply
        # (state row, then summaries).
        session.execute(
            update(TrackerSyncState).where(TrackerSyncState.name == SYNC_STATE_NAME).values(domain_synced_at=now)
        )
        changed: set[str] = set()
        changed.update(
            s
            for s in session.scalars(
                select(Ticket.conversation_id).where(Ticket.updated_at >= since, Ticket.conversation_id.is_not(None))
            )
            if s
        )
        low_scores = (
            session.execute(
                select(SurveyResponse).where(
                    SurveyResponse.created_at >= since,
                    SurveyResponse.conversation_id.is_not(None),
                    ((SurveyResponse.kind == "csat") & (SurveyResponse.score <= 2))
                    | ((SurveyResponse.kind == "nps") & (SurveyResponse.score <= 6)),
                    # Erasure forgot the review flags of an erased customer's conversations: not again.
                    SurveyResponse.customer_id.is_(None)
                    | SurveyResponse.customer_id.not_in(select(Customer.id).where(Customer.erased_at.is_not(None))),
                )
            )
            .scalars()
            .all()
        )
        if low_scores:
            purging = pending_purges_in(session, sorted({r.conversation_id for r in low_scores}))
            low_scores = [r for r in low_scores if r.conversation_id not in purging]
        changed.update(
            s
            for s in session.scalars(
                select(SurveyResponse.conversation_id).where(
                    SurveyResponse.created_at >= since, SurveyResponse.conversation_id.is_not(None)
                )
            )
            if s
        )
        changed.update(session.scalars(select(Handover.sender_id).where(Handover.requested_at >= since)))
        known = set()
        changed_list = sorted(changed)
        for start in range(0, len(changed_list), 500):
            known.update(
                session.scalars(
                    select(ConversationSummary.sender_id).where(
                        ConversationSummary.sender_id.in_(changed_list[start : start + 500])
                    )
                )
            )
        if known:
            _refresh_from_our_tables(session, sorted(known))
        if low_scores:
            rows = [
                {
                    "sender_id": r.conversation_id,
                    "reason": "low_score",
                    "ref": f"s{r.id}",
                    "event_id": None,
                    "status": "new",
                    "intent_name": f"{r.kind}:{r.score}",
                    "confidence": None,
                    "text": r.comment,
                    "language": r.language,
                    "channel": r.channel,
                    "turn_at": r.created_at,
                    "created_at": now,
                }
                for r in low_scores
            ]
            stmt = (
                dialect_insert(session, ReviewFlag)
                .on_conflict_do_nothing(index_elements=["reason", "ref"])
                .returning(ReviewFlag.id)
            )
            created = len(session.execute(stmt, rows).all())
    return created


def rebuild_summaries(*, batch_size: int = 5_000) -> SyncReport:
    """Recompute the reporting tables from the whole tracker store (keeps review state, tags and notes)."""
    now = utcnow()
    with transaction(write=True) as session:
        _load_state(session)
        session.execute(delete(ConversationIntent))
        session.execute(
            update(ConversationSummary).values(
                **EMPTY_SUMMARY_COUNTS,
                updated_at=now,
                first_event_at=datetime(9999, 1, 1, tzinfo=UTC),
                last_event_at=datetime(1970, 1, 1, tzinfo=UTC),
            )
        )
        # Flags are recreated as "new" unless someone already reviewed them.
        session.execute(delete(ReviewFlag).where(ReviewFlag.status == "new", ReviewFlag.reason != "low_score"))
        session.execute(
            update(TrackerSyncState)
            .where(TrackerSyncState.name == SYNC_STATE_NAME)
            .values(last_event_id=0, pending_gaps="[]", domain_synced_at=None, updated_at=now)
        )
    report = sync_summaries(batch_size=batch_size)
    with transaction(write=True) as session:
        session.execute(delete(ConversationSummary).where(ConversationSummary.event_count == 0))
        # Reviewed flags survived the wipe, so the per-conversation counts must be recounted from them.
        counts = session.execute(
            select(ReviewFlag.sender_id, ReviewFlag.reason, func.count())
            .where(ReviewFlag.reason.in_(("fallback", "low_confidence")))
            .group_by(ReviewFlag.sender_id, ReviewFlag.reason)
        ).all()
        per: dict[str, dict[str, int]] = {}
        for sender_id, reason, n in counts:
            per.setdefault(sender_id, {})[reason] = n
        for sender_id, values in per.items():
            session.execute(
                update(ConversationSummary)
                .where(ConversationSummary.sender_id == sender_id)
                .values(
                    fallback_turns=values.get("fallback", 0),
                    low_confidence_turns=values.get("low_confidence", 0),
                    has_fallback=values.get("fallback", 0) > 0,
                )
            )
    return report


def sync_lag() -> tuple[int, int]:
    """(last processed event id, newest event id in the tracker) - for the console footer and health checks."""
    cursor, _, _ = _read_state()
    if not tracker_available():
        return cursor, cursor
    with tracker_engine().connect() as conn:
        newest = conn.scalar(select(func.max(events_table.c.id))) or 0
    return cursor, int(newest)


def delete_tracker_events(sender_ids: Iterable[str]) -> int:
    """Erasure: delete these conversations' events from Rasa's tracker store; returns how many.

    Rasa 3.6's ``SQLTrackerStore`` has no delete, so the rows go directly, in the tracker database
    (``settings.effective_tracker_url``: a separate SQLite file on the embedded profile, usually our
    PostgreSQL database in production) and in its own transaction. The next message of such a sender starts a
    new, empty conversation. Unlike the read paths, an unreachable tracker store is an error here, not "nothing
    to do": erasure must not silently leave the transcripts behind. No ``events`` table (Rasa never ran)
    means there is nothing to delete.
    """
    wanted = sorted(set(sender_ids))
    if not wanted:
        return 0
    deleted = 0
    with tracker_engine().begin() as conn:
        if not inspect(conn).has_table("events"):
            return 0
        for start in range(0, len(wanted), 500):
            result = conn.execute(delete(events_table).where(events_table.c.sender_id.in_(wanted[start : start + 500])))
            deleted += int(result.rowcount or 0)
    return deleted


#: Console tables whose rows of a conversation :func:`forget_conversation_in` deletes.
_CONVERSATION_COPIES: tuple[Any, ...] = (
    ConversationSummary,
    ConversationIntent,
    ReviewFlag,
    IntentCorrection,
    ConversationTag,
    ConversationNote,
    AgentMessage,
)


def forget_conversation_in(session: Session, sender_id: str) -> int:
    """Erasure: remove the console's copies of one conversation inside the caller's transaction.

    Goes: the summary and its intent counts (a reporting copy of tracker events that erasure deletes, see
    :func:`delete_tracker_events`; a rebuild would drop them anyway), review flags and intent corrections
    (they quote the customer's turns), reviewers' tags and notes, and what agents wrote to the person.
    Stays: handovers, as statistics, without their customer link. Returns the number of rows removed.
    Call :func:`lock_sync_state_in` first in the same transaction, or a running sync may write the summary
    again right after.
    """
    removed = 0
    for model in _CONVERSATION_COPIES:
        result = session.execute(
            delete(model).where(model.sender_id == sender_id), execution_options={"synchronize_session": False}
        )
        removed += int(result.rowcount or 0)  # type: ignore[attr-defined]
    session.execute(
        update(Handover).where(Handover.sender_id == sender_id).values(customer_id=None),
        execution_options={"synchronize_session": False},
    )
    return removed


def forget_conversation(sender_id: str) -> int:
    """:func:`forget_conversation_in` in a transaction of its own."""
    with transaction(write=True) as session:
        lock_sync_state_in(session)
        return forget_conversation_in(session, sender_id)


__all__ = [
    "TRACKER_METADATA",
    "SyncReport",
    "TrackerEvent",
    "conversation_events",
    "create_events_table",
    "delete_tracker_events",
    "dialect_insert",
    "events_table",
    "forget_conversation",
    "forget_conversation_in",
    "lock_sync_state_in",
    "pending_purges_in",
    "rebuild_summaries",
    "refresh_domain_flags",
    "reset_tracker_engines",
    "sync_lag",
    "sync_summaries",
    "tracker_available",
    "tracker_engine",
]
