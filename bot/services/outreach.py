"""Proactive messages: guard rails, templates, the durable outbox's state machine, and survey windows.

Every proactive message (a marketer's campaign, an automatic CSAT/NPS check-in, a ticket follow-up, a
birthday greeting) becomes one ``outbox`` row per recipient with a UNIQUE ``dedupe_key``. Producers only
INSERT ... ON CONFLICT DO NOTHING, so re-running any producer (a retried job, a coalesced misfire, two
schedulers by mistake) can never queue a second message for the same occasion.

Guard rails are evaluated twice: when a row is queued (so marketers see skip reasons at once) and again
right before sending (so an opt-out, a withdrawn consent or a re-opened ticket cancels messages that are
already queued). Quiet hours never skip a message: they move ``next_attempt_at`` to the next local 09:00.

Delivery protocol (exactly-once towards the customer, see ``bot.scheduler.outbox`` for the sender):

1. ``claim_due`` moves due rows to ``sending`` with ``claimed_by`` + ``lease_expires_at`` (PostgreSQL:
   ``SELECT ... FOR UPDATE SKIP LOCKED``; SQLite: the whole claim runs inside ``BEGIN IMMEDIATE``, i.e.
   under the database's single write lock). Every later write is fenced by ``claimed_by``: a worker that
   lost its lease can no longer change the row.
2. ``prepare_send`` re-checks the guard rails; Rasa is then asked for the bot's messages, which are stored
   (``store_rasa_messages``) before anything reaches the customer, so a retry never asks Rasa again.
3. Each message part is recorded as in flight (``mark_part_inflight``) before the channel call and as
   delivered with its Telegram ``message_id`` (``record_part_delivered``) right after it.
4. A row found in ``sending`` with an expired lease was abandoned by a crashed worker. Parts recorded as
   delivered are not sent again. Web parts are idempotent (the web inbox dedupes by key) and simply
   resume. A Telegram part that was in flight is *uncertain* (Telegram may or may not have accepted it and
   the Bot API offers no idempotency key): with the default ``at_most_once`` policy the row ends as
   ``failed`` / ``delivery_uncertain`` instead of risking a duplicate survey; ``at_least_once`` re-sends.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, exists, extract, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from bot.db.models import ChannelIdentity, Conversation, Customer, LoyaltyAccount, SurveyResponse, Ticket
from bot.db.models_outreach import Campaign, OutboxMessage
from bot.services.errors import InvalidInput
from bot.services.tx import transaction, utcnow
from bot.settings import Settings, get_settings

log = logging.getLogger(__name__)

Occasion = Literal["campaign", "csat_checkin", "ticket_followup", "birthday", "nps_checkin"]

INTENTS: dict[str, str] = {
    "csat": "EXTERNAL_csat_checkin",
    "nps": "EXTERNAL_nps_checkin",
    "ticket_followup": "EXTERNAL_ticket_followup",
    "message": "EXTERNAL_campaign_message",
}
#: States in which a message may have reached the customer.
DELIVERED_STATES = ("sent", "delivered", "responded")
ACTIVE_STATES = ("queued", "sending")
#: Ticket statuses that mean "the complaint is resolved".
RESOLVED_TICKET_STATUSES = ("resolved", "closed")
DELIVERY_UNCERTAIN = "delivery_uncertain"
CHANNEL_PREFERENCE = ("telegram", "web")


# --------------------------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------------------------


def _parse_clock(value: str, default: str) -> time:
    """``HH:MM`` as a time; an unparseable value falls back to ``default`` (the setting's own default)."""
    for candidate in (value, default):
        try:
            hours, _, minutes = candidate.strip().partition(":")
            return time(int(hours), int(minutes or 0))
        except (ValueError, AttributeError):
            continue
    raise ValueError(f"not a clock time: {default!r}")


@dataclass(frozen=True)
class OutreachConfig:
    """Everything tunable about proactive messages, in one place.

    Built from ``Settings`` (:meth:`load`): the shared business rules (quiet hours, survey frequency cap,
    answer window, timezone) and the ``OUTREACH_*`` fields. ``Settings`` is the only source of the defaults;
    code that needs a variant (tests, benchmarks) uses ``dataclasses.replace(OutreachConfig.load(...), ...)``.
    """

    timezone: str
    quiet_start: time
    quiet_end: time
    #: At most one survey (CSAT/NPS, any campaign or automatic occasion) per customer per this many days.
    survey_cap_days: int
    #: At most one commercial campaign message per customer per this many days.
    marketing_cap_days: int
    #: Answers later than this after sending are not accepted.
    answer_window_days: int
    csat_enabled: bool
    csat_delay_hours: float
    ticket_followup_enabled: bool
    ticket_followup_delay_days: float
    birthday_enabled: bool
    birthday_send_hour: int
    nps_enabled: bool
    nps_interval_days: int
    nps_daily_limit: int
    nps_active_days: int
    #: Rasa / channel attempts before a row is marked failed.
    max_attempts: int
    lease_seconds: float
    uncertain_policy: Literal["at_most_once", "at_least_once"]
    campaign_misfire_grace_s: int
    scan_misfire_grace_s: int

    @classmethod
    def load(cls, settings: Settings | None = None) -> OutreachConfig:
        """The configuration of ``settings`` (default: the process settings, so tests that change the
        environment and clear :func:`get_settings`' cache see their values)."""
        s = settings or get_settings()
        fields = Settings.model_fields
        return cls(
            timezone=s.timezone,
            quiet_start=_parse_clock(s.quiet_hours_start, fields["quiet_hours_start"].default),
            quiet_end=_parse_clock(s.quiet_hours_end, fields["quiet_hours_end"].default),
            survey_cap_days=s.survey_frequency_cap_days,
            marketing_cap_days=s.outreach_marketing_cap_days,
            answer_window_days=s.survey_answer_window_days,
            csat_enabled=s.outreach_csat_enabled,
            csat_delay_hours=s.outreach_csat_delay_hours,
            ticket_followup_enabled=s.outreach_ticket_followup_enabled,
            ticket_followup_delay_days=s.outreach_ticket_followup_delay_days,
            birthday_enabled=s.outreach_birthday_enabled,
            birthday_send_hour=s.outreach_birthday_send_hour,
            nps_enabled=s.outreach_nps_enabled,
            nps_interval_days=s.outreach_nps_interval_days,
            nps_daily_limit=s.outreach_nps_daily_limit,
            nps_active_days=s.outreach_nps_active_days,
            max_attempts=s.outreach_max_attempts,
            lease_seconds=s.outreach_lease_seconds,
            uncertain_policy=s.outreach_uncertain_delivery,
            campaign_misfire_grace_s=s.outreach_campaign_misfire_grace_s,
            scan_misfire_grace_s=s.outreach_scan_misfire_grace_s,
        )


# --------------------------------------------------------------------------------------------------------------
# Time: timezones and quiet hours
# --------------------------------------------------------------------------------------------------------------


def zone(name: str | None, default: str | None = None) -> ZoneInfo:
    """A ZoneInfo for ``name``, falling back to the default (a customer's bad timezone must not crash a run)."""
    for candidate in (name, default, get_settings().timezone, "Europe/Istanbul"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def quiet_hours_end(now: datetime, tz: ZoneInfo, config: OutreachConfig) -> datetime | None:
    """If ``now`` is inside the recipient's quiet hours, the UTC instant they end; otherwise None."""
    start, end = config.quiet_start, config.quiet_end
    if start == end:
        return None
    local = now.astimezone(tz)
    clock = local.time()
    inside = (clock >= start or clock < end) if start > end else (start <= clock < end)
    if not inside:
        return None
    day = local.date() if clock < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=tz).astimezone(UTC)


def earliest_send_time(now: datetime, tz: ZoneInfo, config: OutreachConfig) -> datetime:
    """``now``, or the end of the recipient's quiet hours if ``now`` falls inside them."""
    return quiet_hours_end(now, tz, config) or now


# --------------------------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------------------------

#: Placeholders marketers may use in campaign templates.
CAMPAIGN_PLACEHOLDERS = ("first_name", "tier", "points")
MAX_TEMPLATE_LENGTH = 1000
_TIER_LABELS_TR = {"Bronze": "Bronz", "Silver": "Gümüş", "Gold": "Altın", "Platinum": "Platin"}
_FALLBACK_NAME = {"tr": "değerli müşterimiz", "en": "valued customer"}

#: Texts of the automatic occasions (tr first). ``message_tr``/``message_en`` entities carry them to Rasa.
BUILTIN_TEXTS: dict[str, dict[str, str]] = {
    "csat_checkin": {
        "tr": "Merhaba {first_name}, kısa süre önce destek ekibimizle görüştünüz. "
        "Deneyiminizi 1 ile 5 arasında puanlar mısınız?",
        "en": "Hi {first_name}, you recently talked to our support team. "
        "How would you rate your experience from 1 to 5?",
    },
    "ticket_followup": {
        "tr": "Merhaba {first_name}, {ticket_ref} numaralı şikayetiniz çözüldü olarak kapatıldı. "
        "Sorununuz gerçekten çözüldü mü?",
        "en": "Hi {first_name}, your complaint {ticket_ref} was marked as resolved. Was your problem really solved?",
    },
    "birthday": {
        "tr": "İyi ki doğdunuz {first_name}! Doğum günü hediyeniz hazır: {coupon_code} kuponu ile "
        "bir sonraki alışverişinizde indirim sizi bekliyor.",
        "en": "Happy birthday {first_name}! Your birthday gift is ready: use coupon {coupon_code} "
        "for a discount on your next purchase.",
    },
    "birthday_no_coupon": {
        "tr": "İyi ki doğdunuz {first_name}! Nice mutlu yıllara.",
        "en": "Happy birthday {first_name}! Wishing you a wonderful year.",
    },
    "nps_checkin": {
        "tr": "Merhaba {first_name}, bizi bir arkadaşınıza tavsiye etme olasılığınız 0 ile 10 arasında nedir?",
        "en": "Hi {first_name}, how likely are you to recommend us to a friend, from 0 to 10?",
    },
}
_BUILTIN_PLACEHOLDERS = ("first_name", "tier", "points", "ticket_ref", "coupon_code")


def _template_error(code: str, language: str, tr: str, en: str) -> InvalidInput:
    label = {"tr": "Türkçe şablon", "en": "İngilizce şablon"}.get(language, "şablon")
    label_en = {"tr": "Turkish template", "en": "English template"}.get(language, "template")
    return InvalidInput(code, f"{label}: {tr} / {label_en}: {en}")


def validate_template(text: str | None, language: str, allowed: Sequence[str] = CAMPAIGN_PLACEHOLDERS) -> str:
    """Check a template; returns it stripped. Unknown placeholders raise ``InvalidInput`` (code
    ``unknown_placeholder``) naming the placeholder and the allowed ones; broken braces raise
    ``invalid_template``. Only bare ``{name}`` fields are allowed (no attribute access, no format spec),
    so rendering can never reach into Python objects."""
    if text is None or not text.strip():
        raise _template_error("empty_template", language, "boş olamaz", "must not be empty")
    text = text.strip()
    if len(text) > MAX_TEMPLATE_LENGTH:
        raise _template_error(
            "template_too_long",
            language,
            f"en fazla {MAX_TEMPLATE_LENGTH} karakter olabilir",
            f"must be at most {MAX_TEMPLATE_LENGTH} characters",
        )
    allowed_list = ", ".join("{" + name + "}" for name in allowed)
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        raise _template_error(
            "invalid_template",
            language,
            "süslü parantezler eşleşmiyor (düz metin için {{ ve }} yazın)",
            "unbalanced braces (write {{ and }} for literal braces)",
        ) from None
    for _literal, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in allowed:
            shown = "{" + name + "}" if name else "{}"
            raise _template_error(
                "unknown_placeholder",
                language,
                f"bilinmeyen yer tutucu {shown}; kullanılabilenler: {allowed_list}",
                f"unknown placeholder {shown}; allowed: {allowed_list}",
            )
        if spec or conversion:
            raise _template_error(
                "invalid_template",
                language,
                f"{{{name}}} biçimlendirme içeremez",
                f"{{{name}}} cannot carry formatting",
            )
    return text


def format_points(points: int | None, language: str) -> str:
    """12500 -> "12.500" (tr) / "12,500" (en)."""
    value = f"{int(points or 0):,}"
    return value.replace(",", ".") if language == "tr" else value


def tier_label(tier: str | None, language: str) -> str:
    if not tier:
        return ""
    return _TIER_LABELS_TR.get(tier, tier) if language == "tr" else tier


def render_template(text: str, language: str, context: Mapping[str, Any]) -> str:
    """Fill a validated template for one customer in ``language`` (missing values become neutral words)."""
    values = {
        "first_name": (context.get("first_name") or "").strip() or _FALLBACK_NAME.get(language, ""),
        "tier": tier_label(context.get("tier"), language),
        "points": format_points(context.get("points"), language),
        "ticket_ref": context.get("ticket_ref") or "",
        "coupon_code": context.get("coupon_code") or "",
    }
    return text.format_map(values)


# --------------------------------------------------------------------------------------------------------------
# Recipients and guard rails
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecipientFacts:
    """What the guard rails and the renderer need to know about one customer."""

    customer_id: int
    first_name: str | None
    language: str
    timezone: str | None
    checkin_consent: bool
    marketing_consent: bool
    opted_out: bool
    tier: str | None
    points: int
    sender_id: str | None
    channel: str | None


def mask_name(first_name: str | None, last_name: str | None = None) -> str:
    """ "Ayşe Yılmaz" -> "A*** Y." (previews show who, not the personal data)."""
    first = (first_name or "").strip()
    last = (last_name or "").strip()
    masked = (first[0] + "***") if first else "***"
    return f"{masked} {last[0]}." if last else masked


def load_recipient_facts(
    session: Session,
    customer_ids: Sequence[int],
    *,
    channel: str | None = None,
    prefer_sender: Mapping[int, str] | None = None,
) -> dict[int, RecipientFacts]:
    """Facts for many customers in a few set-based queries (chunked for SQLite's parameter limit).

    The recipient's address is a reachable channel identity (Telegram before web, then the most recently
    seen), restricted to ``channel`` when given; ``prefer_sender`` picks a specific sender id (e.g. the
    conversation a CSAT is about) when it is still reachable. Any opted-out identity makes the customer
    opted out: a person who said "stop" on one channel does not want proactive messages on another.
    """
    facts: dict[int, RecipientFacts] = {}
    prefer_sender = prefer_sender or {}
    for start in range(0, len(customer_ids), 5000):
        chunk = list(customer_ids[start : start + 5000])
        identities: dict[int, list[Any]] = {}
        for row in session.execute(
            select(
                ChannelIdentity.customer_id,
                ChannelIdentity.channel,
                ChannelIdentity.external_id,
                ChannelIdentity.reachable,
                ChannelIdentity.opted_out_at,
                ChannelIdentity.last_seen,
            ).where(ChannelIdentity.customer_id.in_(chunk))
        ):
            identities.setdefault(row.customer_id, []).append(row)
        rows = session.execute(
            select(
                Customer.id,
                Customer.first_name,
                Customer.preferred_language,
                Customer.timezone,
                Customer.checkin_consent,
                Customer.marketing_consent,
                Customer.opted_out_at,
                Customer.erased_at,
                LoyaltyAccount.tier,
                LoyaltyAccount.balance,
            )
            .outerjoin(LoyaltyAccount, LoyaltyAccount.customer_id == Customer.id)
            .where(Customer.id.in_(chunk))
        )
        for row in rows:
            own = identities.get(row.id, [])
            opted_out = (
                row.opted_out_at is not None
                or row.erased_at is not None
                or any(identity.opted_out_at is not None for identity in own)
            )
            usable = [
                identity
                for identity in own
                if identity.reachable
                and identity.channel in CHANNEL_PREFERENCE
                and (channel is None or identity.channel == channel)
            ]
            preferred = prefer_sender.get(row.id)
            chosen = next((i for i in usable if i.external_id == preferred), None)
            if chosen is None and usable:
                usable.sort(key=lambda i: (CHANNEL_PREFERENCE.index(i.channel), -i.last_seen.timestamp()))
                chosen = usable[0]
            facts[row.id] = RecipientFacts(
                customer_id=row.id,
                first_name=None if row.erased_at else row.first_name,
                language=row.preferred_language if row.preferred_language in ("tr", "en") else "tr",
                timezone=row.timezone,
                checkin_consent=bool(row.checkin_consent),
                marketing_consent=bool(row.marketing_consent),
                opted_out=opted_out,
                tier=row.tier,
                points=int(row.balance or 0),
                sender_id=chosen.external_id if chosen else None,
                channel=chosen.channel if chosen else None,
            )
    return facts


def guard_skip_reason(facts: RecipientFacts | None, *, needs_marketing_consent: bool) -> str | None:
    """The first guard rail the recipient fails, or None. Order matters: opt-out wins over everything."""
    if facts is None or facts.opted_out:
        return "opted_out"
    if not facts.checkin_consent or (needs_marketing_consent and not facts.marketing_consent):
        return "no_consent"
    if facts.sender_id is None:
        return "unreachable"
    return None


def cap_days(cap_group: str | None, config: OutreachConfig) -> int | None:
    if cap_group == "survey":
        return config.survey_cap_days
    if cap_group == "marketing":
        return config.marketing_cap_days
    return None


def capped_customers(
    session: Session, customer_ids: Sequence[int], cap_group: str | None, now: datetime, config: OutreachConfig
) -> set[int]:
    """Customers who already have a message of ``cap_group`` in flight or sent within the cap window."""
    days = cap_days(cap_group, config)
    if not days or not customer_ids:
        return set()
    since = now - timedelta(days=days)
    capped: set[int] = set()
    for start in range(0, len(customer_ids), 5000):
        chunk = list(customer_ids[start : start + 5000])
        capped.update(
            session.scalars(
                select(OutboxMessage.customer_id)
                .where(
                    OutboxMessage.customer_id.in_(chunk),
                    OutboxMessage.cap_group == cap_group,
                    OutboxMessage.is_reminder.is_(False),
                    or_(
                        OutboxMessage.state.in_(ACTIVE_STATES),
                        and_(OutboxMessage.state.in_(DELIVERED_STATES), OutboxMessage.sent_at >= since),
                    ),
                )
                .distinct()
            )
        )
    return capped


# --------------------------------------------------------------------------------------------------------------
# Queueing
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnqueueSummary:
    """What a producer did: rows newly queued, rows newly recorded as skipped (per reason)."""

    occasion: str
    considered: int = 0
    queued: int = 0
    skipped: int = 0
    by_reason: Mapping[str, int] = field(default_factory=dict)


def new_row(
    now: datetime,
    *,
    dedupe_key: str,
    occasion: str,
    intent: str,
    customer_id: int,
    facts: RecipientFacts | None,
    config: OutreachConfig,
    skip_reason: str | None = None,
    campaign_id: int | None = None,
    run_key: str | None = None,
    ticket_id: int | None = None,
    survey_kind: str | None = None,
    cap_group: str | None = None,
    payload: Mapping[str, Any] | None = None,
    send_by: datetime | None = None,
    not_before: datetime | None = None,
    is_reminder: bool = False,
    reminder_of_id: int | None = None,
) -> dict[str, Any]:
    """Column values for one outbox row (queued, or skipped with a reason)."""
    start = max(now, not_before) if not_before else now
    if facts is not None and skip_reason is None:
        start = earliest_send_time(start, zone(facts.timezone, config.timezone), config)
    return {
        "dedupe_key": dedupe_key,
        "occasion": occasion,
        "campaign_id": campaign_id,
        "run_key": run_key,
        "customer_id": customer_id,
        "ticket_id": ticket_id,
        "sender_id": facts.sender_id if facts else None,
        "channel": facts.channel if facts else None,
        "intent": intent,
        "survey_kind": survey_kind,
        "cap_group": cap_group,
        "language": facts.language if facts else "tr",
        "payload": dict(payload or {}),
        "is_reminder": is_reminder,
        "reminder_of_id": reminder_of_id,
        "state": "skipped" if skip_reason else "queued",
        "skip_reason": skip_reason,
        "attempts": 0,
        "next_attempt_at": start,
        "send_by": send_by,
        "delivered_parts": 0,
        "external_ids": [],
        "created_at": now,
        "updated_at": now,
        "finished_at": now if skip_reason else None,
    }


def insert_rows(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[tuple[int, str, str | None]]:
    """INSERT ... ON CONFLICT (dedupe_key) DO NOTHING; returns (id, state, skip_reason) of rows inserted."""
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:  # pragma: no cover - Memnun supports SQLite and PostgreSQL only
        raise RuntimeError(f"unsupported database {dialect}")
    table = OutboxMessage.__table__
    statement = (
        dialect_insert(table)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(table.c.id, table.c.state, table.c.skip_reason)
    )
    inserted: list[tuple[int, str, str | None]] = []
    connection = session.connection()
    # executemany: one cached compiled statement, batched by SQLAlchemy's "insertmanyvalues" (with RETURNING).
    for start in range(0, len(rows), 1000):
        result = connection.execute(statement, [dict(row) for row in rows[start : start + 1000]])
        inserted.extend((row.id, row.state, row.skip_reason) for row in result)
    return inserted


def summarize(occasion: str, considered: int, inserted: Iterable[tuple[int, str, str | None]]) -> EnqueueSummary:
    by_reason: dict[str, int] = {}
    queued = 0
    for _id, state, reason in inserted:
        if state == "queued":
            queued += 1
        elif reason:
            by_reason[reason] = by_reason.get(reason, 0) + 1
    return EnqueueSummary(occasion, considered, queued, sum(by_reason.values()), by_reason)


def cancel_pending_for_customer(customer_id: int, reason: str = "opted_out") -> int:
    """Skip every queued message of a customer now (call on opt-out / erasure); returns how many.

    Not required for correctness (the sender re-checks right before sending) but it makes the console's
    numbers honest immediately.
    """
    now = utcnow()
    with transaction(write=True) as session:
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.customer_id == customer_id, OutboxMessage.state == "queued")
            .values(state="skipped", skip_reason=reason, updated_at=now, finished_at=now)
        )
        return int(result.rowcount or 0)


# --------------------------------------------------------------------------------------------------------------
# Sending: claim, guard again, record progress (used by bot.scheduler.outbox)
# --------------------------------------------------------------------------------------------------------------


class LeaseLost(RuntimeError):
    """This worker no longer owns the row (its lease expired and another worker took it over)."""


@dataclass(frozen=True)
class ClaimedMessage:
    outbox_id: int
    occasion: str
    channel: str | None
    sender_id: str | None
    recovered: bool  # it was found in "sending" with an expired lease (a crashed worker's row)


@dataclass(frozen=True)
class SendPlan:
    """What the sender should do with a claimed row after the pre-send checks."""

    action: Literal["send", "skipped", "deferred", "failed", "done"]
    outbox_id: int
    reason: str | None = None
    customer_id: int | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    sender_id: str | None = None
    channel: str | None = None
    intent: str | None = None
    language: str = "tr"
    entities: Mapping[str, Any] = field(default_factory=dict)
    rasa_messages: Sequence[Mapping[str, Any]] | None = None
    delivered_parts: int = 0
    defer_until: datetime | None = None
    needs_coupon: bool = False
    render_context: Mapping[str, Any] = field(default_factory=dict)
    templates: Mapping[str, str] = field(default_factory=dict)
    expires_at: datetime | None = None


def _due_filter(now: datetime) -> Any:
    paused = exists().where(Campaign.id == OutboxMessage.campaign_id, Campaign.status == "paused")
    return or_(
        and_(OutboxMessage.state == "queued", OutboxMessage.next_attempt_at <= now, ~paused),
        and_(OutboxMessage.state == "sending", OutboxMessage.lease_expires_at < now),
    )


def claim_due(
    worker_id: str, limit: int, *, now: datetime | None = None, lease_seconds: float | None = None
) -> list[ClaimedMessage]:
    """Atomically take up to ``limit`` due rows for ``worker_id`` (see the module docstring, step 1)."""
    now = now or utcnow()
    lease = timedelta(seconds=lease_seconds or OutreachConfig.load().lease_seconds)
    with transaction(write=True) as session:
        query = (
            select(
                OutboxMessage.id,
                OutboxMessage.state,
                OutboxMessage.occasion,
                OutboxMessage.channel,
                OutboxMessage.sender_id,
            )
            .where(_due_filter(now))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=OutboxMessage)
        candidates = session.execute(query).all()
        if not candidates:
            return []
        ids = [row.id for row in candidates]
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), _due_filter(now))
            .values(
                state="sending",
                claimed_by=worker_id,
                lease_expires_at=now + lease,
                sending_started_at=func.coalesce(OutboxMessage.sending_started_at, now),
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        owned = set(
            session.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.id.in_(ids), OutboxMessage.claimed_by == worker_id, OutboxMessage.state == "sending"
                )
            )
        )
    return [
        ClaimedMessage(row.id, row.occasion, row.channel, row.sender_id, recovered=row.state == "sending")
        for row in candidates
        if row.id in owned
    ]


def renew_leases(worker_id: str, *, now: datetime | None = None, lease_seconds: float | None = None) -> int:
    """Extend the leases of every row this (alive) worker holds; the sender's heartbeat calls this."""
    now = now or utcnow()
    lease = timedelta(seconds=lease_seconds or OutreachConfig.load().lease_seconds)
    with transaction(write=True) as session:
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.claimed_by == worker_id, OutboxMessage.state == "sending")
            .values(lease_expires_at=now + lease)
        )
        return int(result.rowcount or 0)


def _owned(session: Session, outbox_id: int, worker_id: str) -> OutboxMessage:
    row = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.id == outbox_id, OutboxMessage.claimed_by == worker_id, OutboxMessage.state == "sending"
        )
    ).one_or_none()
    if row is None:
        raise LeaseLost(f"outbox {outbox_id} is no longer held by this worker")
    return row


def _release(row: OutboxMessage, now: datetime) -> None:
    row.claimed_by = None
    row.lease_expires_at = None
    row.updated_at = now


def _finish_skip(row: OutboxMessage, reason: str, now: datetime) -> None:
    row.state = "skipped"
    row.skip_reason = reason
    row.finished_at = now
    _release(row, now)


def _ticket_state(session: Session, ticket_id: int | None) -> tuple[str | None, str | None]:
    if ticket_id is None:
        return None, None
    row = session.execute(select(Ticket.status, Ticket.ref).where(Ticket.id == ticket_id)).one_or_none()
    return (row.status, row.ref) if row else (None, None)


def _capped_at_send(session: Session, row: OutboxMessage, now: datetime, config: OutreachConfig) -> bool:
    """Another message of the same cap group went out within the window, or is being sent by a row that
    was queued earlier (the lower id wins, so two senders racing for the same customer cannot both skip)."""
    if row.is_reminder or row.customer_id is None:
        return False
    conditions = []
    days = cap_days(row.cap_group, config)
    if days:
        since = now - timedelta(days=days)
        conditions.append(
            and_(
                OutboxMessage.cap_group == row.cap_group,
                OutboxMessage.is_reminder.is_(False),
                or_(
                    and_(OutboxMessage.state.in_(DELIVERED_STATES), OutboxMessage.sent_at >= since),
                    and_(OutboxMessage.state == "sending", OutboxMessage.id < row.id),
                ),
            )
        )
    if row.survey_kind == "csat" and row.ticket_id is not None:
        # At most one CSAT per ticket, whoever produced it (automatic check-in or a campaign).
        conditions.append(
            and_(
                OutboxMessage.ticket_id == row.ticket_id,
                OutboxMessage.survey_kind == "csat",
                OutboxMessage.is_reminder.is_(False),
                or_(
                    OutboxMessage.state.in_(DELIVERED_STATES),
                    and_(OutboxMessage.state == "sending", OutboxMessage.id < row.id),
                ),
            )
        )
    if not conditions:
        return False
    found = session.scalar(
        select(OutboxMessage.id)
        .where(OutboxMessage.customer_id == row.customer_id, OutboxMessage.id != row.id, or_(*conditions))
        .limit(1)
    )
    return found is not None


def prepare_send(
    outbox_id: int, worker_id: str, *, now: datetime | None = None, config: OutreachConfig | None = None
) -> SendPlan:
    """Re-check the guard rails for a claimed row right before sending (module docstring, steps 2 and 4).

    Outcomes: ``send`` (with the entities for Rasa, or the stored Rasa messages to resume with), ``skipped``
    (reason recorded), ``deferred`` (quiet hours or a paused campaign: back to queued), ``failed`` (a
    crashed worker left an uncertain Telegram send and the policy is at-most-once) or ``done`` (nothing
    left to deliver).
    """
    now = now or utcnow()
    config = config or OutreachConfig.load()
    with transaction(write=True) as session:
        row = _owned(session, outbox_id, worker_id)
        started = row.delivered_parts > 0 or row.inflight_part is not None
        if row.rasa_messages is not None and row.inflight_part is not None and row.inflight_part == row.delivered_parts:
            if row.channel == "telegram" and config.uncertain_policy == "at_most_once":
                row.state = "failed"
                row.last_error = DELIVERY_UNCERTAIN
                row.finished_at = now
                if row.delivered_parts:
                    row.sent_at = row.sent_at or now
                _release(row, now)
                log.warning("outbox %s: uncertain Telegram delivery after a crash; not re-sent", row.id)
                return SendPlan("failed", outbox_id, reason=DELIVERY_UNCERTAIN)
            row.inflight_part = None
        if row.total_parts is not None and row.delivered_parts >= row.total_parts:
            return SendPlan("done", outbox_id, channel=row.channel)

        campaign = session.get(Campaign, row.campaign_id) if row.campaign_id else None
        if campaign is not None and campaign.status == "cancelled":
            _finish_skip(row, "cancelled", now)
            return SendPlan("skipped", outbox_id, reason="cancelled")
        if campaign is not None and campaign.status == "paused" and not started:
            row.state = "queued"
            row.next_attempt_at = now + timedelta(minutes=1)
            _release(row, now)
            return SendPlan("deferred", outbox_id, reason="paused", defer_until=row.next_attempt_at)
        if not started and row.send_by is not None and now > row.send_by:
            _finish_skip(row, "expired", now)
            return SendPlan("skipped", outbox_id, reason="expired")

        customer_facts = None
        if row.customer_id is not None:
            channel_facts = load_recipient_facts(
                session, [row.customer_id], prefer_sender={row.customer_id: row.sender_id or ""}
            )
            customer_facts = channel_facts.get(row.customer_id)
        needs_marketing = bool(row.payload.get("commercial"))
        reason = guard_skip_reason(customer_facts, needs_marketing_consent=needs_marketing)
        if reason is None and customer_facts is not None and row.sender_id != customer_facts.sender_id:
            # Our address is no longer reachable (blocked, or the identity moved): keep the message only
            # if we may fall back to another channel of the same customer.
            if started:
                reason = "unreachable"
            else:
                row.sender_id, row.channel = customer_facts.sender_id, customer_facts.channel
        ticket_status, ticket_ref = _ticket_state(session, row.ticket_id)
        if reason is None and row.occasion == "ticket_followup" and ticket_status not in RESOLVED_TICKET_STATUSES:
            reason = "ticket_reopened"
        if reason is None and row.is_reminder and row.reminder_of_id is not None:
            original = session.get(OutboxMessage, row.reminder_of_id)
            if original is not None and (original.state == "responded" or original.responded_at is not None):
                reason = "answered"
        if reason is None and not started and _capped_at_send(session, row, now, config):
            reason = "capped"
        if reason is not None:
            if started:
                row.state = "failed"
                row.last_error = f"stopped:{reason}"
                row.finished_at = now
                _release(row, now)
                return SendPlan("failed", outbox_id, reason=reason)
            _finish_skip(row, reason, now)
            return SendPlan("skipped", outbox_id, reason=reason)
        assert customer_facts is not None
        if not started:
            quiet_end = quiet_hours_end(now, zone(customer_facts.timezone, config.timezone), config)
            if quiet_end is not None:
                row.state = "queued"
                row.next_attempt_at = quiet_end
                _release(row, now)
                return SendPlan("deferred", outbox_id, reason="quiet_hours", defer_until=quiet_end)

        if row.rasa_messages is None:
            row.attempts += 1
        row.lease_expires_at = now + timedelta(seconds=config.lease_seconds)
        row.updated_at = now
        templates = _templates_for(row, campaign)
        context = {
            "first_name": customer_facts.first_name,
            "tier": customer_facts.tier,
            "points": customer_facts.points,
            "ticket_ref": ticket_ref,
            "coupon_code": row.payload.get("coupon_code"),
        }
        expires_at = row.expires_at or (now + timedelta(days=config.answer_window_days))
        plan = SendPlan(
            "send",
            outbox_id,
            customer_id=row.customer_id,
            payload=dict(row.payload or {}),
            sender_id=row.sender_id,
            channel=row.channel,
            intent=row.intent,
            language=customer_facts.language,
            rasa_messages=list(row.rasa_messages) if row.rasa_messages is not None else None,
            delivered_parts=row.delivered_parts,
            needs_coupon=row.occasion == "birthday",
            render_context=context,
            templates=templates,
            expires_at=expires_at,
            entities=_entities(row, templates, context, customer_facts.language),
        )
        return plan


def _templates_for(row: OutboxMessage, campaign: Campaign | None) -> dict[str, str]:
    if campaign is not None:
        return {"tr": campaign.template_tr, "en": campaign.template_en}
    # Birthday texts are re-chosen by with_coupon() once the coupon is known.
    return dict(BUILTIN_TEXTS.get(row.occasion, BUILTIN_TEXTS["csat_checkin"]))


def _entities(
    row: OutboxMessage, templates: Mapping[str, str], context: Mapping[str, Any], language: str
) -> dict[str, Any]:
    entities: dict[str, Any] = {
        "outbox_id": row.id,
        "campaign_id": row.campaign_id,
        "message_tr": render_template(templates["tr"], "tr", context),
        "message_en": render_template(templates["en"], "en", context),
        "checkin_language": language,
    }
    if row.survey_kind:
        entities["survey_kind"] = row.survey_kind
    if context.get("ticket_ref"):
        entities["ticket_id"] = context["ticket_ref"]
    if context.get("coupon_code"):
        entities["coupon_code"] = context["coupon_code"]
    if row.is_reminder:
        entities["reminder"] = True
    return entities


def with_coupon(plan: SendPlan, coupon_code: str | None) -> SendPlan:
    """The plan's entities re-rendered with the birthday coupon (or the no-coupon greeting)."""
    from dataclasses import replace

    context = dict(plan.render_context, coupon_code=coupon_code)
    templates = BUILTIN_TEXTS["birthday" if coupon_code else "birthday_no_coupon"]
    entities = dict(plan.entities)
    entities["message_tr"] = render_template(templates["tr"], "tr", context)
    entities["message_en"] = render_template(templates["en"], "en", context)
    if coupon_code:
        entities["coupon_code"] = coupon_code
    return replace(plan, entities=entities, render_context=context, templates=templates)


def store_rasa_messages(
    outbox_id: int, worker_id: str, messages: Sequence[Mapping[str, Any]], *, total_parts: int
) -> None:
    """Keep Rasa's answer (and how many parts it renders to) before delivering anything, so a resumed row
    never triggers Rasa again and knows exactly which parts are left."""
    now = utcnow()
    with transaction(write=True) as session:
        row = _owned(session, outbox_id, worker_id)
        row.rasa_messages = [dict(message) for message in messages]
        row.total_parts = total_parts
        row.delivered_parts = 0
        row.inflight_part = None
        row.updated_at = now


def mark_part_inflight(outbox_id: int, worker_id: str, part: int, *, lease_seconds: float | None = None) -> None:
    """Record that part ``part`` is about to be handed to the channel (and renew the lease for the call)."""
    now = utcnow()
    lease = timedelta(seconds=lease_seconds or OutreachConfig.load().lease_seconds)
    with transaction(write=True) as session:
        result = session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == outbox_id,
                OutboxMessage.claimed_by == worker_id,
                OutboxMessage.state == "sending",
                OutboxMessage.delivered_parts == part,
            )
            .values(inflight_part=part, lease_expires_at=now + lease, updated_at=now)
        )
        if not result.rowcount:
            raise LeaseLost(f"outbox {outbox_id} is no longer held by this worker")


def record_part_delivered(
    outbox_id: int,
    worker_id: str,
    part: int,
    external_id: str | None,
    *,
    finish: bool = False,
    confirmed: bool = True,
    expires_at: datetime | None = None,
) -> str:
    """Record the channel's receipt (Telegram message id, web inbox id) for part ``part``; with ``finish``
    (the last part) also complete the row in the same transaction (see :func:`finish_delivery`)."""
    now = utcnow()
    with transaction(write=True) as session:
        row = _owned(session, outbox_id, worker_id)
        if row.delivered_parts != part:
            raise LeaseLost(f"outbox {outbox_id} progressed elsewhere")
        row.delivered_parts = part + 1
        row.inflight_part = None
        row.external_ids = [*row.external_ids, external_id or ""]
        row.sent_at = row.sent_at or now
        row.updated_at = now
        if finish:
            _complete(row, now, confirmed=confirmed, expires_at=expires_at)
        return row.state


def finish_delivery(outbox_id: int, worker_id: str, *, confirmed: bool, expires_at: datetime | None = None) -> str:
    """All parts handed over: ``delivered`` when the channel confirmed receipt (Telegram), else ``sent``
    (web: delivered once the page acknowledges). Returns the new state."""
    now = utcnow()
    with transaction(write=True) as session:
        row = _owned(session, outbox_id, worker_id)
        _complete(row, now, confirmed=confirmed, expires_at=expires_at)
        return row.state


def _complete(row: OutboxMessage, now: datetime, *, confirmed: bool, expires_at: datetime | None) -> None:
    row.sent_at = row.sent_at or now
    if row.survey_kind or row.occasion == "ticket_followup":
        window = timedelta(days=OutreachConfig.load().answer_window_days)
        row.expires_at = expires_at or row.expires_at or row.sent_at + window
    if row.responded_at is not None:
        row.state = "responded"
    elif confirmed:
        row.state = "delivered"
        row.delivered_at = now
    else:
        row.state = "sent"
    row.finished_at = now
    row.last_error = None
    _release(row, now)


def retry_later(
    outbox_id: int, worker_id: str, error: str, *, delay_s: float | None = None, count_attempt: bool = False
) -> str:
    """A temporary failure (Rasa down, Telegram 429/5xx): back to ``queued`` with exponential backoff, or
    ``failed`` after ``max_attempts``. Delivered parts are kept, so the retry resumes. Returns the state."""
    now = utcnow()
    config = OutreachConfig.load()
    with transaction(write=True) as session:
        row = _owned(session, outbox_id, worker_id)
        if count_attempt:
            row.attempts += 1
        row.last_error = error[:200]
        row.inflight_part = None
        if row.attempts >= config.max_attempts and delay_s is None:
            row.state = "failed"
            row.finished_at = now
        else:
            backoff = delay_s if delay_s is not None else min(30 * 2 ** max(row.attempts - 1, 0), 3600)
            row.state = "queued"
            row.next_attempt_at = now + timedelta(seconds=backoff)
        _release(row, now)
        return row.state


def fail(outbox_id: int, worker_id: str, error: str) -> None:
    """A permanent failure (Rasa rejected the request, the bot had nothing to say, Telegram 400)."""
    now = utcnow()
    with transaction(write=True) as session:
        row = _owned(session, outbox_id, worker_id)
        row.state = "failed"
        row.last_error = error[:200]
        row.inflight_part = None
        row.finished_at = now
        _release(row, now)


def skip_claimed(outbox_id: int, worker_id: str, reason: str) -> None:
    """Skip a claimed row that turned out undeliverable before anything reached the customer."""
    now = utcnow()
    with transaction(write=True) as session:
        row = _owned(session, outbox_id, worker_id)
        if row.delivered_parts:
            row.state = "failed"
            row.last_error = f"stopped:{reason}"
            row.finished_at = now
            _release(row, now)
        else:
            _finish_skip(row, reason, now)


# --------------------------------------------------------------------------------------------------------------
# Answers: survey windows and "responded"
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SurveyWindow:
    """Whether an answer to outbox row ``outbox_id`` can still be accepted, and why not."""

    outbox_id: int
    open: bool
    status: Literal["open", "answered", "expired", "not_sent", "unknown"]
    campaign_id: int | None = None
    survey_kind: str | None = None
    occasion: str | None = None
    expires_at: datetime | None = None


def survey_window(outbox_id: int | str | None, *, now: datetime | None = None) -> SurveyWindow:
    """For the dialogue's actions: may the customer still answer this check-in?

    Open from the moment its first part is being sent until ``expires_at`` (sent + answer window, default
    7 days); closed once answered (``answered``), when never sent (``not_sent``) or unknown.
    """
    now = now or utcnow()
    try:
        outbox_id = int(outbox_id)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return SurveyWindow(0, False, "unknown")
    config = OutreachConfig.load()
    with transaction() as session:
        row = session.get(OutboxMessage, outbox_id)
        if row is None:
            return SurveyWindow(outbox_id, False, "unknown")
        base = dict(campaign_id=row.campaign_id, survey_kind=row.survey_kind, occasion=row.occasion)
        if row.state == "responded" or row.responded_at is not None:
            return SurveyWindow(outbox_id, False, "answered", expires_at=row.expires_at, **base)
        if row.state in ("queued", "skipped") or row.sending_started_at is None:
            return SurveyWindow(outbox_id, False, "not_sent", **base)
        expires_at = row.expires_at or (row.sent_at or row.sending_started_at) + timedelta(
            days=config.answer_window_days
        )
        if now >= expires_at:
            return SurveyWindow(outbox_id, False, "expired", expires_at=expires_at, **base)
        return SurveyWindow(outbox_id, True, "open", expires_at=expires_at, **base)


def is_survey_open(outbox_id: int | str | None, *, now: datetime | None = None) -> bool:
    """True if an answer to this check-in may still be recorded (see :func:`survey_window`)."""
    return survey_window(outbox_id, now=now).open


def mark_responded(outbox_id: int | str, *, responded_at: datetime | None = None) -> bool:
    """Mark a check-in as answered (actions call it after ``record_survey_response``); idempotent.

    A row still being sent only gets ``responded_at`` (the sender turns it into ``responded`` when it
    finishes), so the sender's fencing is not disturbed. Returns False for an unknown row.
    """
    now = responded_at or utcnow()
    with transaction(write=True) as session:
        row = session.get(OutboxMessage, int(outbox_id))
        if row is None:
            return False
        row.responded_at = row.responded_at or now
        if row.state in ("sent", "delivered", "failed"):
            row.state = "responded"
            row.updated_at = utcnow()
        return True


@dataclass(frozen=True)
class ReconcileSummary:
    responded: int = 0
    web_delivered: int = 0
    expired: int = 0
    reminders: int = 0


def reconcile(*, now: datetime | None = None, config: OutreachConfig | None = None) -> ReconcileSummary:
    """Periodic bookkeeping: answers -> ``responded``, acknowledged web messages -> ``delivered``, queued
    rows past their send-by time -> skipped ``expired``, and at most one reminder per unanswered survey."""
    now = now or utcnow()
    config = config or OutreachConfig.load()
    with transaction(write=True) as session:
        answered = session.execute(
            select(OutboxMessage.id, func.min(SurveyResponse.created_at).label("at"))
            .join(SurveyResponse, SurveyResponse.outbox_id == OutboxMessage.id)
            .where(OutboxMessage.state.in_(("sent", "delivered", "failed")))
            .group_by(OutboxMessage.id)
        ).all()
        for row in answered:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id, OutboxMessage.state.in_(("sent", "delivered", "failed")))
                .values(
                    state="responded", responded_at=func.coalesce(OutboxMessage.responded_at, row.at), updated_at=now
                )
            )
        web_delivered = _reconcile_web(session, now)
        expired = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.state == "queued", OutboxMessage.send_by.is_not(None), OutboxMessage.send_by < now)
            .values(state="skipped", skip_reason="expired", updated_at=now, finished_at=now)
        ).rowcount
    reminders = enqueue_reminders(now=now, config=config)
    return ReconcileSummary(len(answered), web_delivered, int(expired or 0), reminders)


def _reconcile_web(session: Session, now: datetime) -> int:
    try:
        from bot.db.models_webchat import WebInboxMessage
    except ImportError:  # pragma: no cover - the web chat is part of every installation
        return 0
    rows = (
        session.execute(
            select(OutboxMessage.id).where(OutboxMessage.state == "sent", OutboxMessage.channel == "web").limit(5000)
        )
        .scalars()
        .all()
    )
    changed = 0
    for outbox_id in rows:
        stats = session.execute(
            select(
                func.count(), func.count(WebInboxMessage.delivered_at), func.max(WebInboxMessage.delivered_at)
            ).where(WebInboxMessage.idempotency_key == f"outbox:{outbox_id}")
        ).one()
        total, delivered, last = stats
        if total and total == delivered:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == outbox_id, OutboxMessage.state == "sent")
                .values(state="delivered", delivered_at=last, updated_at=now)
            )
            changed += 1
    return changed


def enqueue_reminders(*, now: datetime | None = None, config: OutreachConfig | None = None) -> int:
    """One reminder (never more: the key is ``<original key>:reminder``) for unanswered campaign surveys
    whose campaign asks for it, after ``reminder_after_hours``, while the answer window is still open."""
    now = now or utcnow()
    config = config or OutreachConfig.load()
    reminder = aliased(OutboxMessage)
    with transaction(write=True) as session:
        campaigns = session.execute(
            select(Campaign.id, Campaign.reminder_after_hours).where(
                Campaign.reminder_after_hours.is_not(None),
                Campaign.survey_type.in_(("csat", "nps")),
                Campaign.status.in_(("scheduled", "running", "completed")),
            )
        ).all()
        rows: list[dict[str, Any]] = []
        for campaign_id, hours in campaigns:
            originals = session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.campaign_id == campaign_id,
                    OutboxMessage.is_reminder.is_(False),
                    OutboxMessage.state.in_(("sent", "delivered")),
                    OutboxMessage.responded_at.is_(None),
                    OutboxMessage.sent_at <= now - timedelta(hours=hours),
                    OutboxMessage.expires_at > now + timedelta(hours=1),
                    ~exists().where(reminder.reminder_of_id == OutboxMessage.id),
                )
            ).all()
            if not originals:
                continue
            facts = load_recipient_facts(session, [o.customer_id for o in originals if o.customer_id is not None])
            for original in originals:
                if original.customer_id is None:
                    continue
                rows.append(
                    new_row(
                        now,
                        dedupe_key=f"{original.dedupe_key}:reminder",
                        occasion=original.occasion,
                        intent=original.intent,
                        customer_id=original.customer_id,
                        facts=facts.get(original.customer_id),
                        config=config,
                        campaign_id=original.campaign_id,
                        run_key=original.run_key,
                        ticket_id=original.ticket_id,
                        survey_kind=original.survey_kind,
                        cap_group=None,
                        payload={**original.payload, "reminder": True},
                        send_by=original.expires_at,
                        is_reminder=True,
                        reminder_of_id=original.id,
                    )
                )
        return len(insert_rows(session, rows))


# --------------------------------------------------------------------------------------------------------------
# Automatic check-ins (called periodically by bot.scheduler.automatic; idempotent by dedupe key)
# --------------------------------------------------------------------------------------------------------------


def _queue_for_customers(
    session: Session,
    now: datetime,
    config: OutreachConfig,
    occasion: str,
    wanted: Sequence[tuple[int, dict[str, Any]]],
    *,
    needs_marketing: bool = False,
    prefer_sender: Mapping[int, str] | None = None,
) -> EnqueueSummary:
    """Shared tail of the automatic producers: guard rails, caps, rows, insert.

    ``wanted`` holds (customer_id, row options) pairs; options carry dedupe_key, intent, survey_kind,
    cap_group, ticket_id, payload, send_by, not_before.
    """
    if not wanted:
        return EnqueueSummary(occasion)
    customer_ids = sorted({customer_id for customer_id, _ in wanted})
    facts = load_recipient_facts(session, customer_ids, prefer_sender=prefer_sender)
    cap_group = wanted[0][1].get("cap_group")
    capped = capped_customers(session, customer_ids, cap_group, now, config)
    rows = []
    for customer_id, options in wanted:
        customer_facts = facts.get(customer_id)
        reason = guard_skip_reason(customer_facts, needs_marketing_consent=needs_marketing)
        if reason is None and customer_id in capped:
            reason = "capped"
        rows.append(
            new_row(
                now,
                occasion=occasion,
                customer_id=customer_id,
                facts=customer_facts,
                config=config,
                skip_reason=reason,
                **options,
            )
        )
    return summarize(occasion, len(wanted), insert_rows(session, rows))


def enqueue_csat_checkins(*, now: datetime | None = None, config: OutreachConfig | None = None) -> EnqueueSummary:
    """A CSAT check-in ``csat_delay_hours`` after a support conversation went quiet.

    A support conversation is one in which a ticket was opened or a human took over. The message goes to
    the same conversation (sender id) when it is still reachable. Key ``csat:ticket:<id>`` (at most one CSAT
    per ticket) or ``csat:handover:<id>``. Conversations that went quiet more than a day before the delay
    are no longer asked (a CSAT days later measures nothing): that bounds the catch-up after downtime.
    """
    now = now or utcnow()
    config = config or OutreachConfig.load()
    if not config.csat_enabled:
        return EnqueueSummary("csat_checkin")
    quiet_before = now - timedelta(hours=config.csat_delay_hours)
    quiet_after = quiet_before - timedelta(hours=24)
    wanted: list[tuple[int, dict[str, Any]]] = []
    prefer: dict[int, str] = {}
    with transaction(write=True) as session:
        conversations = session.execute(
            select(Conversation.sender_id, Conversation.customer_id, Conversation.last_seen).where(
                Conversation.customer_id.is_not(None),
                Conversation.last_seen <= quiet_before,
                Conversation.last_seen > quiet_after,
            )
        ).all()
        by_sender = {row.sender_id: row for row in conversations}
        if by_sender:
            senders = list(by_sender)
            for start in range(0, len(senders), 2000):
                tickets = session.execute(
                    select(Ticket.id, Ticket.conversation_id, Ticket.created_at).where(
                        Ticket.conversation_id.in_(senders[start : start + 2000])
                    )
                ).all()
                for ticket in tickets:
                    conversation = by_sender[ticket.conversation_id]
                    # Only tickets opened in this support session (the day before it went quiet).
                    if not (
                        conversation.last_seen - timedelta(hours=24)
                        <= ticket.created_at
                        <= conversation.last_seen + timedelta(minutes=5)
                    ):
                        continue
                    wanted.append(
                        (
                            conversation.customer_id,
                            {
                                "dedupe_key": f"csat:ticket:{ticket.id}",
                                "intent": INTENTS["csat"],
                                "survey_kind": "csat",
                                "cap_group": "survey",
                                "ticket_id": ticket.id,
                                "send_by": conversation.last_seen + timedelta(hours=config.csat_delay_hours + 24),
                            },
                        )
                    )
                    prefer[conversation.customer_id] = conversation.sender_id
            with_ticket = {customer for customer, _ in wanted}
            for handover in _ended_handovers(session, senders):
                conversation = by_sender[handover.sender_id]
                if conversation.customer_id in with_ticket:
                    continue
                if not conversation.last_seen - timedelta(hours=24) <= handover.requested_at <= conversation.last_seen:
                    continue
                wanted.append(
                    (
                        conversation.customer_id,
                        {
                            "dedupe_key": f"csat:handover:{handover.id}",
                            "intent": INTENTS["csat"],
                            "survey_kind": "csat",
                            "cap_group": "survey",
                            "send_by": conversation.last_seen + timedelta(hours=config.csat_delay_hours + 24),
                        },
                    )
                )
                prefer[conversation.customer_id] = conversation.sender_id
        # One CSAT per customer per scan even with two tickets in one session: the cap would skip the
        # second anyway, but recording it as "capped" would be noise.
        unique: dict[int, tuple[int, dict[str, Any]]] = {}
        for customer_id, options in wanted:
            unique.setdefault(customer_id, (customer_id, options))
        return _queue_for_customers(session, now, config, "csat_checkin", list(unique.values()), prefer_sender=prefer)


def _ended_handovers(session: Session, senders: Sequence[str]) -> list[Any]:
    try:
        from bot.db.models_console import Handover
    except ImportError:
        return []
    result: list[Any] = []
    for start in range(0, len(senders), 2000):
        result.extend(
            session.execute(
                select(Handover.id, Handover.sender_id, Handover.requested_at).where(
                    Handover.sender_id.in_(senders[start : start + 2000]),
                    Handover.status.in_(("released", "expired")),
                )
            ).all()
        )
    return result


def enqueue_ticket_followups(*, now: datetime | None = None, config: OutreachConfig | None = None) -> EnqueueSummary:
    """ "Was your complaint resolved?" ``ticket_followup_delay_days`` after a ticket was resolved.

    Key ``followup:ticket:<id>``: at most one per ticket, ever. Tickets resolved more than a week before the
    due time are not followed up any more (bounded catch-up after downtime). Not frequency-capped: it is
    a service follow-up about the customer's own complaint, not a survey.
    """
    now = now or utcnow()
    config = config or OutreachConfig.load()
    if not config.ticket_followup_enabled:
        return EnqueueSummary("ticket_followup")
    due_before = now - timedelta(days=config.ticket_followup_delay_days)
    with transaction(write=True) as session:
        tickets = session.execute(
            select(Ticket.id, Ticket.customer_id, Ticket.resolved_at).where(
                Ticket.customer_id.is_not(None),
                Ticket.status.in_(RESOLVED_TICKET_STATUSES),
                Ticket.resolved_at <= due_before,
                Ticket.resolved_at > due_before - timedelta(days=7),
                ~exists().where(OutboxMessage.ticket_id == Ticket.id, OutboxMessage.occasion == "ticket_followup"),
            )
        ).all()
        wanted = [
            (
                ticket.customer_id,
                {
                    "dedupe_key": f"followup:ticket:{ticket.id}",
                    "intent": INTENTS["ticket_followup"],
                    "ticket_id": ticket.id,
                    "send_by": ticket.resolved_at + timedelta(days=config.ticket_followup_delay_days + 3),
                },
            )
            for ticket in tickets
        ]
        return _queue_for_customers(session, now, config, "ticket_followup", wanted)


def _birthday_today(birth_date: date, today: date) -> bool:
    if (birth_date.month, birth_date.day) == (today.month, today.day):
        return True
    # 29 February birthdays are celebrated on 28 February in common years.
    leap = today.year % 4 == 0 and (today.year % 100 != 0 or today.year % 400 == 0)
    return (birth_date.month, birth_date.day) == (2, 29) and not leap and (today.month, today.day) == (2, 28)


def enqueue_birthdays(*, now: datetime | None = None, config: OutreachConfig | None = None) -> EnqueueSummary:
    """A birthday greeting with this year's birthday coupon, on the customer's local birth date.

    Sent from ``birthday_send_hour`` (09:00) local time. Commercial (it carries a coupon), so it needs
    marketing consent as well. Key ``birthday:<customer>:<year>``. The coupon itself is issued by the
    loyalty service at send time, so skipped customers do not consume coupons.
    """
    now = now or utcnow()
    config = config or OutreachConfig.load()
    if not config.birthday_enabled:
        return EnqueueSummary("birthday")
    # Customers in other timezones may already (or still) be on another date than UTC.
    days = {(now + timedelta(days=offset)).date() for offset in (-1, 0, 1)}
    months = {day.month for day in days}
    with transaction(write=True) as session:
        candidates = session.execute(
            select(Customer.id, Customer.birth_date, Customer.timezone).where(
                Customer.birth_date.is_not(None),
                Customer.erased_at.is_(None),
                extract("month", Customer.birth_date).in_(months),
            )
        ).all()
        wanted = []
        for customer in candidates:
            tz = zone(customer.timezone, config.timezone)
            local_today = now.astimezone(tz).date()
            if not _birthday_today(customer.birth_date, local_today):
                continue
            morning = datetime.combine(local_today, time(config.birthday_send_hour), tzinfo=tz).astimezone(UTC)
            end_of_day = datetime.combine(local_today + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
            wanted.append(
                (
                    customer.id,
                    {
                        "dedupe_key": f"birthday:{customer.id}:{local_today.year}",
                        "intent": INTENTS["message"],
                        "payload": {"commercial": True, "local_date": local_today.isoformat()},
                        "send_by": end_of_day,
                        "not_before": morning,
                    },
                )
            )
        return _queue_for_customers(session, now, config, "birthday", wanted, needs_marketing=True)


def enqueue_nps_checkins(*, now: datetime | None = None, config: OutreachConfig | None = None) -> EnqueueSummary:
    """Periodic NPS for active loyalty members: nobody is asked more than once per ``nps_interval_days``.

    Active = a loyalty account and a purchase or a conversation within ``nps_active_days``. Customers who
    cannot be asked right now (no consent, opted out, unreachable, capped) are left out instead of being
    recorded as skipped every day; at most ``nps_daily_limit`` are queued per day, longest-unasked first,
    which spreads the survey over the period instead of asking everyone on the same morning.
    """
    from bot.db.models import Order

    now = now or utcnow()
    config = config or OutreachConfig.load()
    if not config.nps_enabled:
        return EnqueueSummary("nps_checkin")
    active_since = now - timedelta(days=config.nps_active_days)
    interval_since = now - timedelta(days=config.nps_interval_days)
    local_day = now.astimezone(zone(None, config.timezone)).date()
    with transaction(write=True) as session:
        recent_nps = exists().where(
            OutboxMessage.customer_id == Customer.id,
            OutboxMessage.survey_kind == "nps",
            OutboxMessage.is_reminder.is_(False),
            or_(
                OutboxMessage.state.in_(ACTIVE_STATES),
                and_(OutboxMessage.state.in_(DELIVERED_STATES), OutboxMessage.sent_at >= interval_since),
                # Asked (or skipped at send time) within the last day: today's slot is used.
                OutboxMessage.created_at >= now - timedelta(days=1),
            ),
        )
        active = or_(
            exists().where(Order.customer_id == Customer.id, Order.placed_at >= active_since),
            exists().where(Conversation.customer_id == Customer.id, Conversation.last_seen >= active_since),
        )
        last_asked = (
            select(func.max(OutboxMessage.sent_at))
            .where(OutboxMessage.customer_id == Customer.id, OutboxMessage.survey_kind == "nps")
            .scalar_subquery()
        )
        candidate_ids = list(
            session.scalars(
                select(Customer.id)
                .join(LoyaltyAccount, LoyaltyAccount.customer_id == Customer.id)
                .where(
                    Customer.erased_at.is_(None),
                    Customer.opted_out_at.is_(None),
                    Customer.checkin_consent.is_(True),
                    active,
                    ~recent_nps,
                )
                .order_by(last_asked.asc().nulls_first(), Customer.id)
                .limit(config.nps_daily_limit * 3)
            )
        )
        facts = load_recipient_facts(session, candidate_ids)
        capped = capped_customers(session, candidate_ids, "survey", now, config)
        chosen = [
            customer_id
            for customer_id in candidate_ids
            if customer_id not in capped
            and guard_skip_reason(facts.get(customer_id), needs_marketing_consent=False) is None
        ][: config.nps_daily_limit]
        rows = [
            new_row(
                now,
                dedupe_key=f"nps:{customer_id}:{local_day.isoformat()}",
                occasion="nps_checkin",
                intent=INTENTS["nps"],
                customer_id=customer_id,
                facts=facts[customer_id],
                config=config,
                survey_kind="nps",
                cap_group="survey",
                send_by=now + timedelta(days=3),
            )
            for customer_id in chosen
        ]
        return summarize("nps_checkin", len(candidate_ids), insert_rows(session, rows))


# --------------------------------------------------------------------------------------------------------------
# Leader lease: one scheduler process at a time
# --------------------------------------------------------------------------------------------------------------


def acquire_lease(name: str, holder: str, ttl_seconds: float, *, now: datetime | None = None) -> bool:
    """Take or renew the named lease; True if ``holder`` holds it now.

    APScheduler 3 must not run two schedulers on one job store (both would fire every job), so the
    scheduler process only starts its scheduler while it holds the ``scheduler`` lease; a second process
    waits and takes over when the first one stops renewing.
    """
    from bot.db.models_outreach import SchedulerLease

    now = now or utcnow()
    expires = now + timedelta(seconds=ttl_seconds)
    with transaction(write=True) as session:
        lease = session.get(SchedulerLease, name, with_for_update=True)
        if lease is None:
            session.add(SchedulerLease(name=name, holder=holder, expires_at=expires))
            try:
                session.flush()
            except IntegrityError:  # another process inserted it first
                session.rollback()
                return False
            return True
        if lease.holder == holder or lease.expires_at < now:
            lease.holder = holder
            lease.expires_at = expires
            return True
        return False


def release_lease(name: str, holder: str) -> None:
    """Give the lease up at shutdown so a standby process can take over at once."""
    from bot.db.models_outreach import SchedulerLease

    with transaction(write=True) as session:
        lease = session.get(SchedulerLease, name)
        if lease is not None and lease.holder == holder:
            session.delete(lease)


@dataclass(frozen=True)
class OutboxCounts:
    by_state: Mapping[str, int]
    due_now: int
    oldest_due_at: datetime | None


def outbox_counts(*, now: datetime | None = None) -> OutboxCounts:
    """Rows per state and how many are due right now (for ``scheduler status`` and health checks)."""
    now = now or utcnow()
    with transaction() as session:
        by_state = {
            state: int(count)
            for state, count in session.execute(select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state))
        }
        due = session.execute(
            select(func.count(), func.min(OutboxMessage.next_attempt_at)).where(_due_filter(now))
        ).one()
    return OutboxCounts(by_state, int(due[0] or 0), due[1])
