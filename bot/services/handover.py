"""Human takeover: a customer asks for a person (or gives a low score) and an agent takes the chat.

Lifecycle of a handover row: ``waiting`` (requested, shown live in the console) -> ``active`` (an agent
holds the conversation; the console has paused Rasa so the assistant stays silent) -> ``released`` (handed
back; Rasa resumed). A request nobody takes within ``settings.handover_timeout_minutes`` becomes
``expired``: a ticket is opened so a person follows up, and the customer is told when to expect an answer
(the console's job delivers that notice: see :mod:`bot.console.jobs`).

This module only touches our database. Pausing/resuming Rasa and delivering messages are I/O done by the
caller (the console), which keeps this module synchronous like every other service and callable from
Rasa actions through ``asyncio.to_thread``. The database enforces "at most one open handover per
conversation" with a partial unique index, so two concurrent requests or two agents clicking "take" at once
cannot both win.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import String, and_, cast, exists, literal, select, update
from sqlalchemy.exc import IntegrityError

from bot.db.models import SurveyResponse
from bot.db.models_console import (
    OPEN_HANDOVER_STATUSES,
    AgentMessage,
    Handover,
    ReviewFlag,
)
from bot.services.errors import InvalidInput
from bot.services.tracker_events import channel_for
from bot.services.tx import transaction, utcnow
from bot.settings import get_settings

log = logging.getLogger(__name__)

HandoverStatus = Literal["waiting", "active", "released", "expired"]
#: Reasons the console knows how to label; anything else is shown as given.
KNOWN_REASONS = ("customer_request", "low_score", "complaint", "agent_initiated", "fallback")


@dataclass(frozen=True)
class HandoverInfo:
    id: int
    sender_id: str
    channel: str
    reason: str
    status: HandoverStatus
    language: str
    customer_id: int | None
    requested_at: datetime
    taken_at: datetime | None
    taken_by: int | None
    released_at: datetime | None
    expired_at: datetime | None
    ticket_ref: str | None
    created: bool = False

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_HANDOVER_STATUSES


@dataclass(frozen=True)
class AgentMessageInfo:
    id: int
    sender_id: str
    handover_id: int | None
    agent_id: int | None
    text: str
    delivery_status: str
    error_code: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True)
class ExpiryNotice:
    """What the customer of an expired handover must be told (delivered by the console's job)."""

    handover_id: int
    sender_id: str
    channel: str
    language: str
    ticket_ref: str | None
    expected_response_hours: int | None


@dataclass(frozen=True)
class LowScoreAlert:
    survey_response_id: int
    sender_id: str
    kind: str
    score: int
    channel: str
    language: str
    created_at: datetime


def _info(row: Handover, *, created: bool = False) -> HandoverInfo:
    return HandoverInfo(
        id=row.id,
        sender_id=row.sender_id,
        channel=row.channel,
        reason=row.reason,
        status=row.status,  # type: ignore[arg-type]
        language=row.language,
        customer_id=row.customer_id,
        requested_at=row.requested_at,
        taken_at=row.taken_at,
        taken_by=row.taken_by,
        released_at=row.released_at,
        expired_at=row.expired_at,
        ticket_ref=row.ticket_ref,
        created=created,
    )


def _message_info(row: AgentMessage) -> AgentMessageInfo:
    return AgentMessageInfo(
        id=row.id,
        sender_id=row.sender_id,
        handover_id=row.handover_id,
        agent_id=row.agent_id,
        text=row.text,
        delivery_status=row.delivery_status,
        error_code=row.error_code,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )


def _open_row(session, sender_id: str) -> Handover | None:  # type: ignore[no-untyped-def]
    return session.scalar(
        select(Handover).where(Handover.sender_id == sender_id, Handover.status.in_(OPEN_HANDOVER_STATUSES))
    )


def request_handover(
    sender_id: str,
    reason: str = "customer_request",
    *,
    channel: str | None = None,
    language: str = "tr",
    customer_id: int | None = None,
    now: datetime | None = None,
) -> HandoverInfo:
    """Ask for a person. Idempotent: while a request is open the same one is returned (``created=False``)."""
    if not sender_id:
        raise InvalidInput("invalid_sender")
    now = now or utcnow()
    for _attempt in range(2):
        try:
            with transaction(write=True) as session:
                existing = _open_row(session, sender_id)
                if existing is not None:
                    return _info(existing)
                row = Handover(
                    sender_id=sender_id,
                    channel=channel or channel_for(sender_id),
                    reason=(reason or "customer_request")[:32],
                    status="waiting",
                    language=language if language in ("tr", "en") else "tr",
                    customer_id=customer_id,
                    requested_at=now,
                )
                session.add(row)
                session.flush()
                log.info("handover requested id=%s reason=%s", row.id, row.reason)
                return _info(row, created=True)
        except IntegrityError:
            # A concurrent request won the unique index; the next loop returns its row.
            continue
    raise InvalidInput("handover_conflict")


def open_handover(sender_id: str) -> HandoverInfo | None:
    with transaction() as session:
        row = _open_row(session, sender_id)
        return _info(row) if row else None


def is_held(sender_id: str) -> bool:
    """True while an agent holds the conversation (the assistant must stay silent)."""
    with transaction() as session:
        return bool(
            session.scalar(select(exists().where(Handover.sender_id == sender_id, Handover.status == "active")))
        )


def take(sender_id: str, agent_id: int, *, now: datetime | None = None) -> HandoverInfo:
    """The agent takes the conversation: its waiting request becomes active, or a new one is opened
    (an agent may step into any conversation). ``InvalidInput("already_taken")`` if another agent holds it."""
    now = now or utcnow()
    for _attempt in range(2):
        try:
            with transaction(write=True) as session:
                row = _open_row(session, sender_id)
                if row is None:
                    row = Handover(
                        sender_id=sender_id,
                        channel=channel_for(sender_id),
                        reason="agent_initiated",
                        status="active",
                        language=_conversation_language(session, sender_id),
                        requested_at=now,
                        taken_at=now,
                        taken_by=agent_id,
                    )
                    session.add(row)
                    session.flush()
                    return _info(row, created=True)
                if row.status == "active":
                    if row.taken_by == agent_id:
                        return _info(row)
                    raise InvalidInput("already_taken")
                # Conditional update: of two agents clicking at once exactly one sees rowcount 1.
                result = session.execute(
                    update(Handover)
                    .where(Handover.id == row.id, Handover.status == "waiting")
                    .values(status="active", taken_at=now, taken_by=agent_id)
                )
                if result.rowcount != 1:  # type: ignore[attr-defined]
                    raise InvalidInput("already_taken")
                session.refresh(row)
                return _info(row)
        except IntegrityError:
            continue
    raise InvalidInput("already_taken")


def undo_take(handover_id: int, *, previous_status: str) -> None:
    """Put a handover back as it was when pausing Rasa failed (the take must not stick half-done)."""
    with transaction(write=True) as session:
        row = session.get(Handover, handover_id)
        if row is None:
            return
        if previous_status == "waiting":
            row.status, row.taken_at, row.taken_by = "waiting", None, None
        else:
            row.status = "released"
            row.released_at = utcnow()


def release(sender_id: str, agent_id: int, *, force: bool = False, now: datetime | None = None) -> HandoverInfo:
    """Hand the conversation back to the assistant. Only the holder may, unless ``force`` (admins)."""
    now = now or utcnow()
    with transaction(write=True) as session:
        row = _open_row(session, sender_id)
        if row is None:
            raise InvalidInput("not_held")
        if row.status == "active" and row.taken_by != agent_id and not force:
            raise InvalidInput("held_by_other")
        row.status = "released"
        row.released_at = now
        if row.taken_by is None:
            row.taken_by = agent_id
        return _info(row)


def record_agent_message(
    sender_id: str, agent_id: int | None, text: str, *, handover_id: int | None = None
) -> AgentMessageInfo:
    """Store what an agent wrote (masked like every free text we keep) before it is delivered."""
    from bot.services.tracker_events import mask_text

    text = (text or "").strip()
    if not text:
        raise InvalidInput("empty_message")
    if len(text) > 4000:
        raise InvalidInput("message_too_long")
    with transaction(write=True) as session:
        if handover_id is None:
            open_row = _open_row(session, sender_id)
            handover_id = open_row.id if open_row else None
        row = AgentMessage(
            sender_id=sender_id,
            handover_id=handover_id,
            agent_id=agent_id,
            text=mask_text(text),
            delivery_status="pending",
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()
        return _message_info(row)


def mark_agent_message(message_id: int, status: Literal["sent", "failed"], error_code: str | None = None) -> None:
    with transaction(write=True) as session:
        session.execute(
            update(AgentMessage)
            .where(AgentMessage.id == message_id)
            .values(
                delivery_status=status,
                error_code=error_code,
                delivered_at=utcnow() if status == "sent" else None,
            )
        )


def agent_messages(sender_id: str) -> list[AgentMessageInfo]:
    with transaction() as session:
        rows = session.scalars(
            select(AgentMessage).where(AgentMessage.sender_id == sender_id).order_by(AgentMessage.created_at)
        )
        return [_message_info(r) for r in rows]


def history(sender_id: str) -> list[HandoverInfo]:
    with transaction() as session:
        rows = session.scalars(select(Handover).where(Handover.sender_id == sender_id).order_by(Handover.id))
        return [_info(r) for r in rows]


def list_open(*, limit: int = 100) -> list[HandoverInfo]:
    """Waiting requests (oldest first: longest wait on top) then active ones."""
    with transaction() as session:
        rows = session.scalars(
            select(Handover)
            .where(Handover.status.in_(OPEN_HANDOVER_STATUSES))
            .order_by(Handover.status.desc(), Handover.requested_at)
            .limit(limit)
        )
        return [_info(r) for r in rows]


def recent_low_scores(*, hours: int = 24, limit: int = 50, now: datetime | None = None) -> list[LowScoreAlert]:
    """Low CSAT/NPS answers of the last ``hours`` nobody has acted on yet (no later handover, not dismissed)."""
    now = now or utcnow()
    since = now - timedelta(hours=hours)
    low = ((SurveyResponse.kind == "csat") & (SurveyResponse.score <= 2)) | (
        (SurveyResponse.kind == "nps") & (SurveyResponse.score <= 6)
    )
    later_handover = exists().where(
        Handover.sender_id == SurveyResponse.conversation_id, Handover.requested_at >= SurveyResponse.created_at
    )
    dismissed = exists().where(
        and_(
            ReviewFlag.reason == "low_score",
            ReviewFlag.ref == literal("s").concat(cast(SurveyResponse.id, String)),
            ReviewFlag.status != "new",
        )
    )
    with transaction() as session:
        rows = session.execute(
            select(SurveyResponse)
            .where(
                SurveyResponse.created_at >= since,
                SurveyResponse.conversation_id.is_not(None),
                low,
                ~later_handover,
                ~dismissed,
            )
            .order_by(SurveyResponse.created_at.desc())
            .limit(limit)
        ).scalars()
        return [
            LowScoreAlert(
                survey_response_id=r.id,
                sender_id=r.conversation_id or "",
                kind=r.kind,
                score=r.score,
                channel=r.channel,
                language=r.language,
                created_at=r.created_at,
            )
            for r in rows
        ]


def _conversation_language(session, sender_id: str) -> str:  # type: ignore[no-untyped-def]
    from bot.db.models import Conversation
    from bot.db.models_console import ConversationSummary

    language = session.scalar(select(ConversationSummary.language).where(ConversationSummary.sender_id == sender_id))
    if language in ("tr", "en"):
        return str(language)
    language = session.scalar(select(Conversation.language).where(Conversation.sender_id == sender_id))
    return str(language) if language in ("tr", "en") else get_settings().default_language


def expire_stale_handovers(*, now: datetime | None = None, timeout_minutes: int | None = None) -> list[ExpiryNotice]:
    """Expire waiting requests older than the timeout, opening a ticket for each so a person follows up.

    Returns the notices still to be delivered (including those of earlier runs whose delivery failed), so
    the caller - :func:`bot.console.jobs.expire_stale_handovers_job` - tells each customer and then calls
    :func:`mark_notified`. Ticket creation is idempotent per handover, so a crash between steps is safe.
    """
    from bot.services import tickets

    now = now or utcnow()
    timeout = timedelta(
        minutes=timeout_minutes if timeout_minutes is not None else get_settings().handover_timeout_minutes
    )
    with transaction() as session:
        stale = session.scalars(
            select(Handover.id).where(Handover.status == "waiting", Handover.requested_at <= now - timeout)
        ).all()
    for handover_id in stale:
        with transaction(write=True) as session:
            result = session.execute(
                update(Handover)
                .where(Handover.id == handover_id, Handover.status == "waiting")
                .values(status="expired", expired_at=now)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                continue  # taken meanwhile
            row = session.get(Handover, handover_id)
            assert row is not None
            sender_id, channel, language, customer_id, reason = (
                row.sender_id,
                row.channel,
                row.language,
                row.customer_id,
                row.reason,
            )
        description = {
            "tr": f"Müşteri canlı destek istedi ({reason}); {int(timeout.total_seconds() // 60)} dakika içinde "
            "temsilci bağlanamadı. Lütfen müşteriye dönün.",
            "en": f"The customer asked for a person ({reason}); no agent was free within "
            f"{int(timeout.total_seconds() // 60)} minutes. Please get back to them.",
        }[language if language in ("tr", "en") else "tr"]
        ticket_ref = None
        try:
            ticket = tickets.open_ticket(
                customer_id,
                "other",
                description,
                None,
                channel,
                sender_id,
                language,
                f"handover-expired-{handover_id}",
                priority="high",
            )
            ticket_ref = ticket.ref
        except Exception:  # noqa: BLE001 - the expiry must stand; the notice says "we will contact you"
            log.exception("could not open the follow-up ticket for handover %s", handover_id)
        with transaction(write=True) as session:
            session.execute(update(Handover).where(Handover.id == handover_id).values(ticket_ref=ticket_ref))
    return pending_notices()


def pending_notices(*, max_age: timedelta = timedelta(days=1), now: datetime | None = None) -> list[ExpiryNotice]:
    """Expired handovers whose customer has not been told yet (younger than ``max_age``)."""
    from bot.services.tickets import EXPECTED_RESPONSE_HOURS

    now = now or utcnow()
    with transaction() as session:
        rows = session.scalars(
            select(Handover).where(
                Handover.status == "expired", Handover.notified_at.is_(None), Handover.expired_at >= now - max_age
            )
        ).all()
        return [
            ExpiryNotice(
                handover_id=r.id,
                sender_id=r.sender_id,
                channel=r.channel,
                language=r.language,
                ticket_ref=r.ticket_ref,
                expected_response_hours=EXPECTED_RESPONSE_HOURS.get("high") if r.ticket_ref else None,
            )
            for r in rows
        ]


def mark_notified(handover_id: int) -> None:
    with transaction(write=True) as session:
        session.execute(update(Handover).where(Handover.id == handover_id).values(notified_at=utcnow()))
