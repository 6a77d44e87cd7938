"""Conversation review: the filtered conversation list, transcripts, tags/notes, the review queue, intent
corrections and exports (Rasa NLU YAML, Rasa test stories, JSON, CSV).

The list reads ``conversation_summaries`` (see :mod:`bot.services.tracker_events`), the transcript reads
the tracker store's events for one sender (indexed by sender id) plus our own tables: tickets, survey
answers, agent messages and handovers appear inline at their time.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

import yaml
from sqlalchemy import String, and_, delete, func, literal, literal_column, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from bot.db.models import ChannelIdentity, Conversation, Customer, LoyaltyAccount, SurveyResponse
from bot.db.models_console import (
    FLAG_STATUSES,
    ConversationIntent,
    ConversationNote,
    ConversationSummary,
    ConversationTag,
    IntentCorrection,
    ReviewFlag,
    SavedFilter,
)
from bot.services.errors import InvalidInput
from bot.services.tracker_events import (
    FALLBACK_ACTIONS,
    PERSONAL_SLOT_MARKERS,
    TrackerEvent,
    conversation_events,
    mask_text,
    search_fold,
    user_turn_details,
)
from bot.services.tx import transaction, utcnow

SORT_COLUMNS = {
    "last": ConversationSummary.last_event_at,
    "first": ConversationSummary.first_event_at,
    "turns": ConversationSummary.turns,
    "confidence": ConversationSummary.min_confidence,
}
PAGE_SIZE = 50
COUNT_CAP = 10_000
_TAG_RE = re.compile(r"^[\wçğıöşüÇĞİÖŞÜ][\w\-çğıöşüÇĞİÖŞÜ ]{0,63}$")
_WORD_RE = re.compile(r"\w+", re.UNICODE)
HIDDEN_ACTIONS = frozenset({"action_listen", "action_session_start"})


# --- the conversation list -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConversationFilters:
    date_from: date | None = None
    date_to: date | None = None
    channel: str | None = None
    language: str | None = None
    intent: str | None = None
    has_complaint: bool | None = None
    # "fallback" | "low_confidence" | "any" (either) | None
    problem: str | None = None
    score_kind: Literal["csat", "nps"] | None = None
    score_max: int | None = None
    score_min: int | None = None
    tag: str | None = None
    reviewed: bool | None = None
    has_handover: bool | None = None
    customer_id: int | None = None
    q: str | None = None
    sort: str = "last"
    direction: Literal["asc", "desc"] = "desc"


@dataclass(frozen=True)
class ConversationRow:
    sender_id: str
    channel: str
    language: str | None
    customer_id: int | None
    first_event_at: datetime
    last_event_at: datetime
    turns: int
    intents: tuple[str, ...]
    has_fallback: bool
    fallback_turns: int
    low_confidence_turns: int
    min_confidence: float
    has_ticket: bool
    has_complaint: bool
    has_handover: bool
    last_csat: int | None
    last_nps: int | None
    reviewed: bool
    tags: tuple[str, ...]
    last_user_text: str | None


@dataclass(frozen=True)
class ConversationPage:
    rows: tuple[ConversationRow, ...]
    next_cursor: str | None
    total: int
    total_is_capped: bool


def _row(s: ConversationSummary) -> ConversationRow:
    return ConversationRow(
        sender_id=s.sender_id,
        channel=s.channel,
        language=s.language,
        customer_id=s.customer_id,
        first_event_at=s.first_event_at,
        last_event_at=s.last_event_at,
        turns=s.turns,
        intents=tuple(filter(None, s.intents.split(" "))),
        has_fallback=s.has_fallback,
        fallback_turns=s.fallback_turns,
        low_confidence_turns=s.low_confidence_turns,
        min_confidence=s.min_confidence,
        has_ticket=s.has_ticket,
        has_complaint=s.has_complaint,
        has_handover=s.has_handover,
        last_csat=s.last_csat,
        last_nps=s.last_nps,
        reviewed=s.reviewed,
        tags=tuple(filter(None, s.tags.split(","))),
        last_user_text=s.last_user_text,
    )


def _day_start(d: date) -> datetime:
    from zoneinfo import ZoneInfo

    from bot.settings import get_settings

    # Dates in the filter are the staff's calendar days (Europe/Istanbul), not UTC days.
    return datetime.combine(d, time.min, tzinfo=ZoneInfo(get_settings().timezone)).astimezone(UTC)


def _search_condition(session: Any, q: str) -> Any:
    words = [w for w in _WORD_RE.findall(search_fold(q))][:8]
    if not words:
        return None
    if session.get_bind().dialect.name == "postgresql":
        tsquery = " & ".join(f"{w}:*" for w in words)
        return func.to_tsvector(literal_column("'simple'"), ConversationSummary.search_text).op("@@")(
            func.to_tsquery(literal_column("'simple'"), tsquery)
        )
    # SQLite (embedded profile, small volumes): every word must occur (the text is stored folded).
    return and_(*[ConversationSummary.search_text.like(f"%{w}%") for w in words])


def filter_conditions(session: Any, f: ConversationFilters) -> list[Any]:
    c: list[Any] = []
    s = ConversationSummary
    if f.date_from:
        c.append(s.last_event_at >= _day_start(f.date_from))
    if f.date_to:
        c.append(s.first_event_at < _day_start(f.date_to + timedelta(days=1)))
    if f.channel:
        c.append(s.channel == f.channel)
    if f.language:
        c.append(s.language == f.language)
    if f.intent:
        c.append(s.sender_id.in_(select(ConversationIntent.sender_id).where(ConversationIntent.intent == f.intent)))
    if f.has_complaint is not None:
        c.append(s.has_complaint.is_(f.has_complaint))
    if f.problem == "fallback":
        c.append(s.has_fallback.is_(True))
    elif f.problem == "low_confidence":
        c.append(s.low_confidence_turns > 0)
    elif f.problem == "any":
        c.append(or_(s.has_fallback.is_(True), s.low_confidence_turns > 0))
    if f.score_kind in ("csat", "nps"):
        column = s.last_csat if f.score_kind == "csat" else s.last_nps
        c.append(column.is_not(None))
        if f.score_max is not None:
            c.append(column <= f.score_max)
        if f.score_min is not None:
            c.append(column >= f.score_min)
    if f.tag:
        c.append(
            s.sender_id.in_(
                select(ConversationTag.sender_id).where(ConversationTag.tag == f.tag.replace("İ", "i").lower())
            )
        )
    if f.reviewed is not None:
        c.append(s.reviewed.is_(f.reviewed))
    if f.has_handover is not None:
        c.append(s.has_handover.is_(f.has_handover))
    if f.customer_id is not None:
        c.append(s.customer_id == f.customer_id)
    if f.q:
        cond = _search_condition(session, f.q)
        if cond is not None:
            c.append(cond)
    return c


def encode_cursor(value: Any, sender_id: str) -> str:
    if isinstance(value, datetime):
        value = {"dt": value.isoformat()}
    raw = json.dumps([value, sender_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, str] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, sender_id = json.loads(raw)
    except (ValueError, TypeError):
        return None
    if isinstance(value, dict) and "dt" in value:
        value = datetime.fromisoformat(value["dt"])
    if not isinstance(sender_id, str):
        return None
    return value, sender_id


def conversation_query(
    session: Any, f: ConversationFilters, *, cursor: str | None = None, page_size: int = PAGE_SIZE
) -> tuple[Any, Any, list[Any]]:
    """(page statement, sort column, filter conditions) - separate so the benchmark can EXPLAIN it."""
    sort_col = SORT_COLUMNS.get(f.sort, ConversationSummary.last_event_at)
    desc = f.direction != "asc"
    conditions = filter_conditions(session, f)
    stmt = select(ConversationSummary).where(*conditions)
    if cursor:
        decoded = decode_cursor(cursor)
        if decoded is not None:
            value, sender_id = decoded
            key = tuple_(sort_col, ConversationSummary.sender_id)
            bound = tuple_(literal(value, type_=sort_col.type), literal(sender_id, type_=String(255)))
            stmt = stmt.where(key < bound if desc else key > bound)
    order = (
        (sort_col.desc(), ConversationSummary.sender_id.desc())
        if desc
        else (sort_col.asc(), ConversationSummary.sender_id.asc())
    )
    return stmt.order_by(*order).limit(page_size + 1), sort_col, conditions


def count_query(conditions: list[Any]) -> Any:
    """How many match, counting at most COUNT_CAP + 1 rows (an exact count of 2 million rows is not worth it)."""
    sub = select(ConversationSummary.sender_id).where(*conditions).limit(COUNT_CAP + 1).subquery()
    return select(func.count()).select_from(sub)


def list_conversations(
    f: ConversationFilters, *, cursor: str | None = None, page_size: int = PAGE_SIZE, with_total: bool = True
) -> ConversationPage:
    """One page of conversations, keyset-paginated on (sort column, sender id)."""
    with transaction() as session:
        stmt, sort_col, conditions = conversation_query(session, f, cursor=cursor, page_size=page_size)
        rows = session.scalars(stmt).all()
        total = 0
        capped = False
        if with_total:
            total = session.scalar(count_query(conditions)) or 0
            capped = total > COUNT_CAP
            total = min(total, COUNT_CAP)
        next_cursor = None
        if len(rows) > page_size:
            rows = rows[:page_size]
            last = rows[-1]
            next_cursor = encode_cursor(getattr(last, sort_col.key), last.sender_id)
        return ConversationPage(tuple(_row(r) for r in rows), next_cursor, total, capped)


def _distinct_values(table: str, column: str, limit: int) -> list[str]:
    """Distinct values by a "loose index scan" (a recursive CTE hopping from one value to the next in the
    index): a few dozen index probes instead of reading all 500,000 rows of conversation_intents."""
    from sqlalchemy import text

    sql = text(
        f"WITH RECURSIVE v(x) AS ("  # noqa: S608 - table/column are constants of this module
        f" SELECT min({column}) FROM {table}"
        f" UNION ALL SELECT (SELECT min({column}) FROM {table} WHERE {column} > v.x) FROM v WHERE v.x IS NOT NULL"
        f") SELECT x FROM v WHERE x IS NOT NULL LIMIT :limit"
    )
    with transaction() as session:
        return [row[0] for row in session.execute(sql, {"limit": limit})]


_distinct_cache: dict[tuple[str, str, str], tuple[float, list[str]]] = {}
_DISTINCT_TTL_S = 30.0


def _cached_distinct(table: str, column: str, limit: int) -> list[str]:
    import time as _time

    from bot.settings import get_settings

    key = (get_settings().database_url, table, column)
    hit = _distinct_cache.get(key)
    now = _time.monotonic()
    if hit is not None and now - hit[0] < _DISTINCT_TTL_S:
        return hit[1]
    values = _distinct_values(table, column, limit)
    _distinct_cache[key] = (now, values)
    return values


def known_intents(limit: int = 300) -> list[str]:
    """Intents seen in conversations (for filter menus); cached for 30 s per process."""
    return _cached_distinct("conversation_intents", "intent", limit)


def known_tags(limit: int = 200) -> list[str]:
    """Tags in use (for filter menus); not cached, so a new tag shows up at once (the table is small)."""
    return _distinct_values("conversation_tags", "tag", limit)


def forget_cached_values() -> None:
    _distinct_cache.clear()


def get_summary(sender_id: str) -> ConversationRow | None:
    with transaction() as session:
        row = session.get(ConversationSummary, sender_id)
        return _row(row) if row else None


# --- profile ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerProfile:
    customer_id: int
    customer_number: str
    first_name: str
    last_name: str
    phone: str | None
    email: str | None
    preferred_language: str
    tier: str | None
    balance: int | None
    lifetime_points: int | None
    open_tickets: int
    checkin_consent: bool
    checkin_consent_at: datetime | None
    marketing_consent: bool
    marketing_consent_at: datetime | None
    opted_out: bool
    erased: bool

    def masked(self) -> CustomerProfile:
        """The same profile with personal fields masked (what staff see until they choose to reveal)."""
        return CustomerProfile(
            **{
                **asdict(self),
                "first_name": mask_name(self.first_name),
                "last_name": mask_name(self.last_name),
                "phone": mask_phone(self.phone),
                "email": mask_email(self.email),
            }
        )


def mask_name(value: str | None) -> str:
    if not value:
        return ""
    return value[0] + "•" * max(2, len(value) - 1)


def mask_phone(value: str | None) -> str | None:
    if not value:
        return value
    return value[:4] + "•" * max(0, len(value) - 6) + value[-2:]


def mask_email(value: str | None) -> str | None:
    if not value or "@" not in value:
        return value
    local, _, domain = value.partition("@")
    return local[:1] + "•••@" + domain


def customer_for_conversation(sender_id: str) -> int | None:
    with transaction() as session:
        customer_id = session.scalar(
            select(ConversationSummary.customer_id).where(ConversationSummary.sender_id == sender_id)
        )
        if customer_id is None:
            customer_id = session.scalar(select(Conversation.customer_id).where(Conversation.sender_id == sender_id))
        if customer_id is None:
            customer_id = session.scalar(
                select(ChannelIdentity.customer_id).where(ChannelIdentity.external_id == sender_id)
            )
        return customer_id


def customer_profile(customer_id: int) -> CustomerProfile | None:
    from bot.services.ticket_admin import open_ticket_count

    with transaction() as session:
        c = session.get(Customer, customer_id)
        if c is None:
            return None
        account = session.scalar(select(LoyaltyAccount).where(LoyaltyAccount.customer_id == customer_id))
        profile = CustomerProfile(
            customer_id=c.id,
            customer_number=c.customer_number,
            first_name=c.first_name,
            last_name=c.last_name,
            phone=c.phone,
            email=c.email,
            preferred_language=c.preferred_language,
            tier=account.tier if account else None,
            balance=account.balance if account else None,
            lifetime_points=account.lifetime_points if account else None,
            open_tickets=0,
            checkin_consent=c.checkin_consent,
            checkin_consent_at=c.checkin_consent_at,
            marketing_consent=c.marketing_consent,
            marketing_consent_at=c.marketing_consent_at,
            opted_out=c.opted_out_at is not None,
            erased=c.erased_at is not None,
        )
    return CustomerProfile(**{**asdict(profile), "open_tickets": open_ticket_count(customer_id)})


# --- transcript ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TranscriptItem:
    kind: str  # user bot action slot form session pause resume agent survey ticket handover note rewind
    at: datetime
    event_id: int | None = None
    text: str | None = None
    intent: str | None = None
    confidence: float | None = None
    fallback_intent: str | None = None
    entities: tuple[tuple[str, str], ...] = ()
    buttons: tuple[str, ...] = ()
    name: str | None = None
    value: str | None = None
    flags: tuple[str, ...] = ()
    corrected_intent: str | None = None
    author: int | None = None
    status: str | None = None
    paused: bool = False


@dataclass(frozen=True)
class Transcript:
    sender_id: str
    items: tuple[TranscriptItem, ...]
    summary: ConversationRow | None
    notes: tuple[dict[str, Any], ...]
    tags: tuple[str, ...]
    customer_id: int | None
    event_count: int


def _slot_value(name: str, value: Any, reveal: bool) -> str:
    if value is None:
        return "null"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if not reveal and any(m in name.lower() for m in PERSONAL_SLOT_MARKERS):
        return "•••"
    return mask_text(text)[:200]


def _entities(data: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    found = []
    for entity in (data.get("parse_data") or {}).get("entities") or []:
        if isinstance(entity, dict) and entity.get("entity"):
            found.append((str(entity["entity"]), str(entity.get("value"))[:80]))
    return tuple(found)


def transcript_items(
    events: Iterable[TrackerEvent],
    *,
    reveal: bool = False,
    flags: dict[int, list[str]] | None = None,
    corrections: dict[int, str] | None = None,
) -> list[TranscriptItem]:
    """Turn tracker events into display items (text is shown as text: the template escapes it)."""
    flags = flags or {}
    corrections = corrections or {}
    items: list[TranscriptItem] = []
    paused = False
    for ev in events:
        d = ev.data
        kind = ev.type_name
        if kind == "user":
            intent, confidence, underlying = user_turn_details(d)
            items.append(
                TranscriptItem(
                    kind="user",
                    at=ev.timestamp,
                    event_id=ev.id,
                    text=d.get("text") or "",
                    intent=intent,
                    confidence=confidence,
                    fallback_intent=underlying,
                    entities=_entities(d),
                    flags=tuple(flags.get(ev.id, ())),
                    corrected_intent=corrections.get(ev.id),
                    paused=paused,
                )
            )
        elif kind == "bot":
            extra = d.get("data") or {}
            buttons = tuple(str(b.get("title", "")) for b in (extra.get("buttons") or []) if isinstance(b, dict))
            text = d.get("text")
            if not text and extra.get("image"):
                text = "[image]"
            if not text and extra.get("custom"):
                text = "[custom]"
            items.append(TranscriptItem(kind="bot", at=ev.timestamp, event_id=ev.id, text=text or "", buttons=buttons))
        elif kind == "action":
            name = ev.action_name or d.get("name")
            if name in HIDDEN_ACTIONS:
                continue
            items.append(
                TranscriptItem(
                    kind="action",
                    at=ev.timestamp,
                    event_id=ev.id,
                    name=name,
                    confidence=d.get("confidence") if isinstance(d.get("confidence"), (int, float)) else None,
                    value=d.get("policy"),
                    flags=("fallback",) if name in FALLBACK_ACTIONS else (),
                )
            )
        elif kind == "slot":
            name = str(d.get("name"))
            items.append(
                TranscriptItem(
                    kind="slot",
                    at=ev.timestamp,
                    event_id=ev.id,
                    name=name,
                    value=_slot_value(name, d.get("value"), reveal),
                )
            )
        elif kind in ("active_loop", "form"):
            items.append(TranscriptItem(kind="form", at=ev.timestamp, event_id=ev.id, name=d.get("name")))
        elif kind == "session_started":
            items.append(TranscriptItem(kind="session", at=ev.timestamp, event_id=ev.id))
        elif kind == "pause":
            paused = True
            items.append(TranscriptItem(kind="pause", at=ev.timestamp, event_id=ev.id))
        elif kind == "resume":
            paused = False
            items.append(TranscriptItem(kind="resume", at=ev.timestamp, event_id=ev.id))
        elif kind in ("rewind", "undo", "restart", "action_execution_rejected", "followup"):
            items.append(
                TranscriptItem(
                    kind="rewind", at=ev.timestamp, event_id=ev.id, name=kind, value=ev.action_name or d.get("name")
                )
            )
    return items


def load_transcript(sender_id: str, *, reveal: bool = False) -> Transcript:
    """Everything about one conversation, in time order."""
    from bot.services import handover as handover_service
    from bot.services.ticket_admin import tickets_for_conversation

    events = conversation_events(sender_id)
    with transaction() as session:
        flag_rows = session.execute(
            select(ReviewFlag.event_id, ReviewFlag.reason).where(
                ReviewFlag.sender_id == sender_id, ReviewFlag.event_id.is_not(None)
            )
        ).all()
        correction_rows = session.execute(
            select(IntentCorrection.event_id, IntentCorrection.corrected_intent).where(
                IntentCorrection.sender_id == sender_id
            )
        ).all()
        surveys = session.scalars(
            select(SurveyResponse)
            .where(SurveyResponse.conversation_id == sender_id)
            .order_by(SurveyResponse.created_at)
        ).all()
        survey_items = [
            TranscriptItem(
                kind="survey", at=s.created_at, name=s.kind, value=str(s.score), text=s.comment, status=s.ticket_ref
            )
            for s in surveys
        ]
        notes = tuple(
            {"id": n.id, "author": n.author_id, "body": n.body, "created_at": n.created_at}
            for n in session.scalars(
                select(ConversationNote).where(ConversationNote.sender_id == sender_id).order_by(ConversationNote.id)
            )
        )
        tags = tuple(
            session.scalars(
                select(ConversationTag.tag).where(ConversationTag.sender_id == sender_id).order_by(ConversationTag.tag)
            )
        )
    flags: dict[int, list[str]] = {}
    for event_id, reason in flag_rows:
        flags.setdefault(int(event_id), []).append(reason)
    corrections = {int(e): i for e, i in correction_rows}
    items = transcript_items(events, reveal=reveal, flags=flags, corrections=corrections)
    items.extend(survey_items)
    for t in tickets_for_conversation(sender_id):
        items.append(
            TranscriptItem(
                kind="ticket", at=t.created_at, name=t.ref, status=t.status, value=t.priority, text=t.category
            )
        )
    for m in handover_service.agent_messages(sender_id):
        items.append(
            TranscriptItem(
                kind="agent", at=m.created_at, text=m.text, author=m.agent_id, status=m.delivery_status, event_id=None
            )
        )
    for h in handover_service.history(sender_id):
        items.append(TranscriptItem(kind="handover", at=h.requested_at, name=h.reason, status="requested"))
        if h.taken_at:
            items.append(TranscriptItem(kind="handover", at=h.taken_at, status="taken", author=h.taken_by))
        if h.released_at:
            items.append(TranscriptItem(kind="handover", at=h.released_at, status="released", author=h.taken_by))
        if h.expired_at:
            items.append(TranscriptItem(kind="handover", at=h.expired_at, status="expired", value=h.ticket_ref))
    # Stable: tracker events keep their id order when timestamps tie.
    items.sort(key=lambda i: i.at)
    summary = get_summary(sender_id)
    return Transcript(
        sender_id=sender_id,
        items=tuple(items),
        summary=summary,
        notes=notes,
        tags=tags,
        customer_id=customer_for_conversation(sender_id),
        event_count=len(events),
    )


# --- tags, notes, reviewed -------------------------------------------------------------------------------


def normalize_tag(tag: str) -> str:
    # Turkish capital İ lower-cases to "i" + a combining dot in Python; tags want the plain letter.
    tag = " ".join((tag or "").replace("İ", "i").strip().lower().split())
    if not _TAG_RE.match(tag):
        raise InvalidInput("invalid_tag")
    return tag


def _write_tags(session: Any, sender_id: str) -> None:
    tags = session.scalars(
        select(ConversationTag.tag).where(ConversationTag.sender_id == sender_id).order_by(ConversationTag.tag)
    ).all()
    session.execute(
        update(ConversationSummary).where(ConversationSummary.sender_id == sender_id).values(tags=",".join(tags))
    )


def add_tag(sender_id: str, tag: str, user_id: int) -> str:
    tag = normalize_tag(tag)
    with transaction(write=True) as session:
        exists = session.get(ConversationTag, (sender_id, tag))
        if exists is None:
            session.add(ConversationTag(sender_id=sender_id, tag=tag, created_by=user_id, created_at=utcnow()))
            session.flush()
        _write_tags(session, sender_id)
    return tag


def remove_tag(sender_id: str, tag: str) -> None:
    with transaction(write=True) as session:
        session.execute(
            delete(ConversationTag).where(ConversationTag.sender_id == sender_id, ConversationTag.tag == tag.lower())
        )
        _write_tags(session, sender_id)


def add_note(sender_id: str, user_id: int, body: str) -> int:
    body = (body or "").strip()
    if not body:
        raise InvalidInput("empty_note")
    if len(body) > 4000:
        raise InvalidInput("note_too_long")
    with transaction(write=True) as session:
        note = ConversationNote(sender_id=sender_id, author_id=user_id, body=mask_text(body), created_at=utcnow())
        session.add(note)
        session.flush()
        return note.id


def set_reviewed(sender_id: str, user_id: int, reviewed: bool = True) -> None:
    """Mark a conversation (and its new flags) reviewed, or back to unreviewed."""
    now = utcnow()
    with transaction(write=True) as session:
        session.execute(
            update(ConversationSummary)
            .where(ConversationSummary.sender_id == sender_id)
            .values(reviewed=reviewed, reviewed_at=now if reviewed else None, reviewed_by=user_id if reviewed else None)
        )
        if reviewed:
            session.execute(
                update(ReviewFlag)
                .where(ReviewFlag.sender_id == sender_id, ReviewFlag.status == "new")
                .values(status="reviewed", reviewed_by=user_id, reviewed_at=now)
            )


# --- review queue ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlagRow:
    id: int
    sender_id: str
    reason: str
    status: str
    event_id: int | None
    intent_name: str | None
    confidence: float | None
    text: str | None
    language: str | None
    channel: str
    turn_at: datetime
    corrected_intent: str | None


@dataclass(frozen=True)
class FlagPage:
    rows: tuple[FlagRow, ...]
    total: int
    page: int
    pages: int
    counts: dict[str, int]


def list_flags(
    *,
    status: str | None = "new",
    reason: str | None = None,
    channel: str | None = None,
    language: str | None = None,
    intent: str | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> FlagPage:
    conditions = []
    if status in FLAG_STATUSES:
        conditions.append(ReviewFlag.status == status)
    if reason:
        conditions.append(ReviewFlag.reason == reason)
    if channel:
        conditions.append(ReviewFlag.channel == channel)
    if language:
        conditions.append(ReviewFlag.language == language)
    if intent:
        conditions.append(ReviewFlag.intent_name == intent)
    page = max(1, page)
    with transaction() as session:
        total = session.scalar(select(func.count()).select_from(ReviewFlag).where(*conditions)) or 0
        rows = session.execute(
            select(ReviewFlag, IntentCorrection.corrected_intent)
            .outerjoin(
                IntentCorrection,
                (IntentCorrection.sender_id == ReviewFlag.sender_id)
                & (IntentCorrection.event_id == ReviewFlag.event_id),
            )
            .where(*conditions)
            .order_by(ReviewFlag.turn_at.desc(), ReviewFlag.id.desc())
            .offset((page - 1) * page_size)
            .limit(page_size)
        ).all()
        counts = dict(session.execute(select(ReviewFlag.status, func.count()).group_by(ReviewFlag.status)).all())
        return FlagPage(
            rows=tuple(
                FlagRow(
                    f.id,
                    f.sender_id,
                    f.reason,
                    f.status,
                    f.event_id,
                    f.intent_name,
                    f.confidence,
                    f.text,
                    f.language,
                    f.channel,
                    f.turn_at,
                    corrected,
                )
                for f, corrected in rows
            ),
            total=total,
            page=page,
            pages=max(1, -(-total // page_size)),
            counts={s: int(counts.get(s, 0)) for s in FLAG_STATUSES},
        )


def set_flag_status(flag_id: int, status: str, user_id: int) -> str:
    """Move a flag along new -> reviewed -> applied (or back); returns its sender id."""
    if status not in FLAG_STATUSES:
        raise InvalidInput("invalid_status")
    with transaction(write=True) as session:
        flag = session.get(ReviewFlag, flag_id)
        if flag is None:
            raise InvalidInput("unknown_flag")
        flag.status = status
        flag.reviewed_by = user_id if status != "new" else None
        flag.reviewed_at = utcnow() if status != "new" else None
        return flag.sender_id


def dismiss_low_score(survey_response_id: int, user_id: int) -> None:
    """Mark a low score handled (it leaves the live panel), creating its review flag if the sync has not."""
    now = utcnow()
    with transaction(write=True) as session:
        flag = session.scalar(
            select(ReviewFlag).where(ReviewFlag.reason == "low_score", ReviewFlag.ref == f"s{survey_response_id}")
        )
        if flag is None:
            response = session.get(SurveyResponse, survey_response_id)
            if response is None or not response.conversation_id:
                raise InvalidInput("unknown_survey_response")
            flag = ReviewFlag(
                sender_id=response.conversation_id,
                reason="low_score",
                ref=f"s{survey_response_id}",
                status="reviewed",
                intent_name=f"{response.kind}:{response.score}",
                text=response.comment,
                language=response.language,
                channel=response.channel,
                turn_at=response.created_at,
                created_at=now,
            )
            session.add(flag)
        flag.status = "reviewed"
        flag.reviewed_by = user_id
        flag.reviewed_at = now


# --- intent corrections ----------------------------------------------------------------------------------

_INTENT_RE = re.compile(r"^[A-Za-z0-9_\-./]{1,255}$")


def correct_intent(sender_id: str, event_id: int, intent: str, user_id: int) -> int:
    """Record that a customer turn meant ``intent``. The text comes from the tracker (masked), never from
    the browser, so a correction cannot smuggle in text the customer did not write."""
    from bot.services.tracker_events import events_by_ids

    intent = (intent or "").strip()
    if not _INTENT_RE.match(intent):
        raise InvalidInput("invalid_intent")
    event = events_by_ids([event_id]).get(event_id)
    if event is None or event.sender_id != sender_id or event.type_name != "user":
        raise InvalidInput("unknown_turn")
    text = " ".join(mask_text(event.data.get("text") or "").split())
    if not text:
        raise InvalidInput("empty_turn")
    predicted, _, underlying = user_turn_details(event.data)
    now = utcnow()
    with transaction(write=True) as session:
        language = (
            session.scalar(select(ConversationSummary.language).where(ConversationSummary.sender_id == sender_id))
            or _turn_language(event)
            or "tr"
        )
        row = session.scalar(
            select(IntentCorrection).where(
                IntentCorrection.sender_id == sender_id, IntentCorrection.event_id == event_id
            )
        )
        if row is None:
            row = IntentCorrection(sender_id=sender_id, event_id=event_id, text=text, created_at=now)
            session.add(row)
        row.predicted_intent = underlying or predicted
        row.corrected_intent = intent
        row.language = language if language in ("tr", "en") else "tr"
        row.created_by = user_id
        row.created_at = now
        row.exported_at = None
        session.execute(
            update(ReviewFlag)
            .where(ReviewFlag.sender_id == sender_id, ReviewFlag.event_id == event_id, ReviewFlag.status == "new")
            .values(status="reviewed", reviewed_by=user_id, reviewed_at=now)
        )
        session.flush()
        return row.id


def _turn_language(event: TrackerEvent) -> str | None:
    metadata = event.data.get("metadata") or {}
    hint = metadata.get("language_hint") if isinstance(metadata, dict) else None
    return hint if hint in ("tr", "en") else None


@dataclass(frozen=True)
class CorrectionRow:
    id: int
    sender_id: str
    event_id: int
    text: str
    predicted_intent: str | None
    corrected_intent: str
    language: str
    created_by: int | None
    created_at: datetime
    exported_at: datetime | None


def list_corrections(*, only_new: bool = False) -> list[CorrectionRow]:
    with transaction() as session:
        stmt = select(IntentCorrection).order_by(
            IntentCorrection.corrected_intent, IntentCorrection.language, IntentCorrection.id
        )
        if only_new:
            stmt = stmt.where(IntentCorrection.exported_at.is_(None))
        return [
            CorrectionRow(
                r.id,
                r.sender_id,
                r.event_id,
                r.text,
                r.predicted_intent,
                r.corrected_intent,
                r.language,
                r.created_by,
                r.created_at,
                r.exported_at,
            )
            for r in session.scalars(stmt)
        ]


def corrections_nlu_yaml(corrections: Iterable[CorrectionRow]) -> str:
    """Rasa 3 NLU training data, one block per (intent, language) with ``metadata: {lang: ..}``.

    Rasa merges several blocks of the same intent, so Turkish and English examples of one intent can keep
    their language as block metadata (our language-aware pipeline reads it). Duplicate texts are dropped.
    """
    groups: dict[tuple[str, str], list[str]] = {}
    for c in corrections:
        text = " ".join(c.text.split())
        if not text:
            continue
        examples = groups.setdefault((c.corrected_intent, c.language), [])
        if text not in examples:
            examples.append(text)
    lang_order = {"tr": 0, "en": 1}
    lines = ['version: "3.1"', "", "nlu:"]
    for intent, lang in sorted(groups, key=lambda k: (k[0], lang_order.get(k[1], 9), k[1])):
        lines.append(f"- intent: {intent}")
        lines.append("  metadata:")
        lines.append(f"    lang: {lang}")
        lines.append("  examples: |")
        for text in groups[(intent, lang)]:
            lines.append(f"    - {text}")
    if not groups:
        lines[-1] = "nlu: []"
    return "\n".join(lines) + "\n"


def mark_corrections_applied(correction_ids: Iterable[int], user_id: int) -> int:
    """The corrections went into the training data: stamp them and move their flags to "applied"."""
    ids = list(correction_ids)
    if not ids:
        return 0
    now = utcnow()
    with transaction(write=True) as session:
        rows = session.execute(
            select(IntentCorrection.sender_id, IntentCorrection.event_id).where(IntentCorrection.id.in_(ids))
        ).all()
        session.execute(update(IntentCorrection).where(IntentCorrection.id.in_(ids)).values(exported_at=now))
        for sender_id, event_id in rows:
            session.execute(
                update(ReviewFlag)
                .where(ReviewFlag.sender_id == sender_id, ReviewFlag.event_id == event_id)
                .values(status="applied", reviewed_by=user_id, reviewed_at=now)
            )
        return len(rows)


# --- exports ---------------------------------------------------------------------------------------------


def _annotated(text: str, entities: list[dict[str, Any]]) -> str:
    """``[SP1234567](order_number)`` annotations for entities with character offsets."""
    spans = sorted(
        (e for e in entities if isinstance(e.get("start"), int) and isinstance(e.get("end"), int) and e.get("entity")),
        key=lambda e: e["start"],
    )
    out, pos = [], 0
    for e in spans:
        if e["start"] < pos or e["end"] > len(text):
            continue
        out.append(text[pos : e["start"]])
        out.append(f"[{text[e['start'] : e['end']]}]({e['entity']})")
        pos = e["end"]
    out.append(text[pos:])
    return "".join(out)


def story_yaml(sender_id: str) -> str:
    """The conversation as a Rasa test story (``rasa test`` / ``rasa test core``).

    User turns carry their text and intent (the *corrected* intent where a reviewer fixed one, so the story
    states what should have happened); the assistant's actions and form activations follow. Stretches where
    an agent held the conversation are left out: Rasa predicted nothing there.
    """
    events = conversation_events(sender_id)
    with transaction() as session:
        corrections = dict(
            session.execute(
                select(IntentCorrection.event_id, IntentCorrection.corrected_intent).where(
                    IntentCorrection.sender_id == sender_id
                )
            ).all()
        )
    steps: list[dict[str, Any]] = []
    paused = False
    for ev in events:
        d = ev.data
        if ev.type_name == "pause":
            paused = True
        elif ev.type_name == "resume":
            paused = False
        elif paused:
            continue
        elif ev.type_name == "user":
            intent, _, underlying = user_turn_details(d)
            chosen = corrections.get(ev.id) or intent
            if not chosen:
                continue
            text = mask_text(d.get("text") or "")
            entities = (d.get("parse_data") or {}).get("entities") or []
            steps.append({"user": _annotated(text, entities) if text else f"/{chosen}", "intent": chosen})
        elif ev.type_name == "action":
            name = ev.action_name or d.get("name")
            if name and name not in HIDDEN_ACTIONS:
                steps.append({"action": name})
        elif ev.type_name in ("active_loop",):
            steps.append({"active_loop": d.get("name")})
    story = {
        "version": "3.1",
        "stories": [{"story": f"console export {sender_id}", "steps": steps}],
    }
    return yaml.safe_dump(story, allow_unicode=True, sort_keys=False, width=1000)


def conversation_json(sender_id: str) -> dict[str, Any]:
    transcript = load_transcript(sender_id)
    summary = asdict(transcript.summary) if transcript.summary else None
    return {
        "sender_id": sender_id,
        "exported_at": utcnow().isoformat(),
        "summary": summary,
        "tags": list(transcript.tags),
        "items": [
            {k: v for k, v in asdict(item).items() if v not in (None, (), False, [])} for item in transcript.items
        ],
    }


CSV_COLUMNS = (
    "time_utc",
    "kind",
    "event_id",
    "text",
    "intent",
    "confidence",
    "corrected_intent",
    "name",
    "value",
    "status",
    "flags",
)


def conversation_csv(sender_id: str) -> str:
    transcript = load_transcript(sender_id)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for i in transcript.items:
        writer.writerow(
            [
                i.at.isoformat(),
                i.kind,
                i.event_id or "",
                _csv_safe(i.text),
                i.intent or "",
                "" if i.confidence is None else f"{i.confidence:.3f}",
                i.corrected_intent or "",
                i.name or "",
                _csv_safe(i.value),
                i.status or "",
                " ".join(i.flags),
            ]
        )
    return buffer.getvalue()


def _csv_safe(value: str | None) -> str:
    """Defuse spreadsheet formula injection (a customer can type "=HYPERLINK(...)")."""
    if not value:
        return ""
    return "'" + value if value[0] in "=+-@\t\r" else value


# --- saved filters ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SavedFilterInfo:
    id: int
    page: str
    name: str
    query: str


def save_filter(user_id: int, page: str, name: str, query: str) -> SavedFilterInfo:
    name = " ".join((name or "").split())[:80]
    if not name:
        raise InvalidInput("empty_name")
    if page not in ("conversations", "review"):
        raise InvalidInput("invalid_page")
    query = query[:2000]
    with transaction(write=True) as session:
        row = session.scalar(
            select(SavedFilter).where(
                SavedFilter.user_id == user_id, SavedFilter.page == page, SavedFilter.name == name
            )
        )
        if row is None:
            row = SavedFilter(user_id=user_id, page=page, name=name, query=query, created_at=utcnow())
            session.add(row)
        else:
            row.query = query
        try:
            session.flush()
        except IntegrityError as error:
            raise InvalidInput("duplicate_name") from error
        return SavedFilterInfo(row.id, row.page, row.name, row.query)


def saved_filters(user_id: int, page: str) -> list[SavedFilterInfo]:
    with transaction() as session:
        return [
            SavedFilterInfo(r.id, r.page, r.name, r.query)
            for r in session.scalars(
                select(SavedFilter)
                .where(SavedFilter.user_id == user_id, SavedFilter.page == page)
                .order_by(SavedFilter.name)
            )
        ]


def delete_saved_filter(user_id: int, filter_id: int) -> None:
    with transaction(write=True) as session:
        session.execute(delete(SavedFilter).where(SavedFilter.id == filter_id, SavedFilter.user_id == user_id))
