"""KVKK/GDPR data-subject rights: erasure (anonymisation that keeps aggregates) and data export.

Erasure rule:
- the customer row stays (ids, counts and statistics depend on it) but loses every personal field: names
  become "[silindi]", phone/e-mail/birth date are removed, consents are withdrawn and ``erased_at`` is set;
- free texts linked to the customer — feedback texts, ticket descriptions, ticket notes, survey comments —
  are replaced by "[silindi]". They were already masked (cards, T.C. numbers), but masking cannot catch
  names, addresses or health details typed in free text, so keeping them "masked" would not be erasure;
- channel identities and conversations are unlinked (the sender ids are pseudonymous but would re-identify);
- every conversation of the customer (the sender ids of their channel identities, conversations, tickets,
  surveys, feedback, handovers and console summaries) is forgotten: its events are deleted from Rasa's tracker store
  (the transcript), and so are the console's copies (summary, review flags, intent corrections, tags, notes,
  agent messages) and the web inbox messages waiting for it. Handovers stay as statistics, unlinked;
- when the erasure is asked for in the chat itself, Rasa saves that conversation after the action returns,
  and its SQL tracker store re-inserts the current session's events it no longer finds (identification turns
  included). So every forgotten conversation also gets a delayed purge (``tracker_purges``, due
  ``PRIVACY_TRACKER_PURGE_DELAY_S`` later): the scheduler's :func:`purge_due_tracker_events` deletes its
  tracker events and console copies again, then the purge row (the sender id is not kept). A failure keeps
  the row (attempts, error class) and the next run retries it. Until then the console's sync skips the
  conversation's events;
- kept: scores, ratings, sentiments, ticket categories/priorities/statuses/timestamps, orders (commercial
  records with legal retention periods) and the loyalty ledger amounts;
- an audit entry records who asked and how many records were touched (counts only). Idempotent: a second
  call changes nothing and reports ``already_erased``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from bot.db.models import (
    BirthdayCoupon,
    ChannelIdentity,
    Conversation,
    Customer,
    Feedback,
    LoyaltyAccount,
    Order,
    PointLedgerEntry,
    Redemption,
    Reward,
    SurveyResponse,
    Ticket,
    TicketNote,
)
from bot.db.models_console import ConversationSummary, Handover
from bot.db.models_privacy import TrackerPurge
from bot.services import audit, tracker_events, web_inbox
from bot.services.errors import InvalidInput, ServiceError
from bot.services.tx import transaction, utcnow
from bot.settings import get_settings

log = logging.getLogger(__name__)

ERASED_TEXT = "[silindi]"
#: Due purges one run of :func:`purge_due_tracker_events` handles (the rest wait for the next run).
PURGE_BATCH = 500


@dataclass(frozen=True)
class ErasureReport:
    customer_id: int
    already_erased: bool
    erased_at: datetime
    feedback_redacted: int
    tickets_redacted: int
    ticket_notes_redacted: int
    survey_comments_redacted: int
    channel_identities_unlinked: int
    conversations_unlinked: int
    conversations_forgotten: int = 0
    tracker_events_deleted: int = 0
    console_records_deleted: int = 0
    web_inbox_messages_deleted: int = 0


def _count(result: Any) -> int:
    return int(result.rowcount or 0)


def _conversation_ids(session: Session, customer_id: int) -> list[str]:
    """Every Rasa sender id (one per conversation) linked to the customer anywhere in our tables."""
    linked = (
        select(ChannelIdentity.external_id).where(ChannelIdentity.customer_id == customer_id),
        select(Conversation.sender_id).where(Conversation.customer_id == customer_id),
        select(ConversationSummary.sender_id).where(ConversationSummary.customer_id == customer_id),
        select(Handover.sender_id).where(Handover.customer_id == customer_id),
        select(Ticket.conversation_id).where(Ticket.customer_id == customer_id),
        select(SurveyResponse.conversation_id).where(SurveyResponse.customer_id == customer_id),
        select(Feedback.conversation_id).where(Feedback.customer_id == customer_id),
    )
    return sorted({sender_id for query in linked for sender_id in session.scalars(query) if sender_id})


def erase_customer(customer_id: int, requested_via: str, *, actor: str = "system") -> ErasureReport:
    """Anonymise the customer's personal data, keep counts/scores/ticket stats; idempotent."""
    if not requested_via:
        raise InvalidInput("invalid_source", "say how the erasure was requested (e.g. 'console', 'chat')")
    now = utcnow()
    with transaction(write=True) as session:
        customer = session.get(Customer, customer_id, with_for_update=True)
        if customer is None:
            raise InvalidInput("unknown_customer", "no such customer")
        if customer.erased_at is not None:
            return ErasureReport(customer_id, True, customer.erased_at, 0, 0, 0, 0, 0, 0)
        # Conversations first, while the links still say whose they are. Rasa's events may live in another
        # database, so their delete commits on its own: if anything below fails, this transaction rolls back,
        # the customer stays un-erased and a retry finds (and forgets) the same conversations again.
        senders = _conversation_ids(session, customer_id)
        tracker_deleted = tracker_events.delete_tracker_events(senders)
        # Lock the console sync's state row before deleting the console's copies and scheduling the purges:
        # a sync that read these conversations' events before the delete above would otherwise write their
        # summaries again just after this commits. With the lock, such a sync either commits before the
        # deletes below (which then remove what it wrote) or, after this commits, sees the pending purges
        # (see tracker_events.lock_sync_state_in). Taken after the tracker delete: syncs wait only briefly.
        tracker_events.lock_sync_state_in(session)
        console_deleted = sum(tracker_events.forget_conversation_in(session, sender) for sender in senders)
        inbox_deleted = sum(
            web_inbox.forget_sender_in(session, sender) for sender in senders if web_inbox.is_web_sender(sender)
        )
        # Rasa may still save the conversation this erasure was asked for in: delete its events once more later.
        schedule_tracker_purges_in(session, senders, now=now)
        customer.first_name = ERASED_TEXT
        customer.last_name = ERASED_TEXT
        customer.phone = None
        customer.email = None
        customer.birth_date = None
        customer.timezone = None
        for kind in ("checkin", "marketing"):
            setattr(customer, f"{kind}_consent", False)
            setattr(customer, f"{kind}_consent_at", now)
            setattr(customer, f"{kind}_consent_source", "erasure")
        customer.opted_out_at = customer.opted_out_at or now
        customer.erased_at = now

        no_sync = {"synchronize_session": False}
        feedback = session.execute(
            update(Feedback).where(Feedback.customer_id == customer_id).values(text=ERASED_TEXT),
            execution_options=no_sync,
        )
        ticket_ids = select(Ticket.id).where(Ticket.customer_id == customer_id).scalar_subquery()
        notes = session.execute(
            update(TicketNote).where(TicketNote.ticket_id.in_(ticket_ids)).values(body=ERASED_TEXT),
            execution_options=no_sync,
        )
        tickets = session.execute(
            update(Ticket).where(Ticket.customer_id == customer_id).values(description=ERASED_TEXT),
            execution_options=no_sync,
        )
        comments = session.execute(
            update(SurveyResponse)
            .where(SurveyResponse.customer_id == customer_id, SurveyResponse.comment.is_not(None))
            .values(comment=ERASED_TEXT),
            execution_options=no_sync,
        )
        identities = session.execute(
            update(ChannelIdentity).where(ChannelIdentity.customer_id == customer_id).values(customer_id=None),
            execution_options=no_sync,
        )
        conversations = session.execute(
            update(Conversation).where(Conversation.customer_id == customer_id).values(customer_id=None),
            execution_options=no_sync,
        )
        report = ErasureReport(
            customer_id=customer_id,
            already_erased=False,
            erased_at=now,
            feedback_redacted=_count(feedback),
            tickets_redacted=_count(tickets),
            ticket_notes_redacted=_count(notes),
            survey_comments_redacted=_count(comments),
            channel_identities_unlinked=_count(identities),
            conversations_unlinked=_count(conversations),
            conversations_forgotten=len(senders),
            tracker_events_deleted=tracker_deleted,
            console_records_deleted=console_deleted,
            web_inbox_messages_deleted=inbox_deleted,
        )
        audit.record_in(
            session,
            actor,
            "privacy.erased",
            "customer",
            customer_id,
            {
                "requested_via": requested_via,
                "feedback": report.feedback_redacted,
                "tickets": report.tickets_redacted,
                "ticket_notes": report.ticket_notes_redacted,
                "survey_comments": report.survey_comments_redacted,
                "channel_identities": report.channel_identities_unlinked,
                "conversations": report.conversations_unlinked,
                "conversations_forgotten": report.conversations_forgotten,
                "tracker_events": report.tracker_events_deleted,
                "console_records": report.console_records_deleted,
                "web_inbox_messages": report.web_inbox_messages_deleted,
            },
        )
        return report


# --- delayed purge of erased conversations ---------------------------------------------------------------


@dataclass(frozen=True)
class PurgeReport:
    due: int
    purged: int
    failed: int
    tracker_events_deleted: int = 0
    console_records_deleted: int = 0
    error: str | None = None


def schedule_tracker_purges_in(session: Session, sender_ids: Sequence[str], *, now: datetime | None = None) -> int:
    """Inside the caller's transaction: purge these conversations' tracker events again
    ``settings.privacy_tracker_purge_delay_s`` from now (one row per sender; asking again moves it later)."""
    wanted = sorted(set(sender_ids))
    if not wanted:
        return 0
    now = now or utcnow()
    due = now + timedelta(seconds=get_settings().privacy_tracker_purge_delay_s)
    stmt = tracker_events.dialect_insert(session, TrackerPurge)
    stmt = stmt.on_conflict_do_update(
        index_elements=["sender_id"],
        set_={"requested_at": stmt.excluded.requested_at, "due_at": stmt.excluded.due_at},
    )
    session.execute(
        stmt,
        [{"sender_id": s, "requested_at": now, "due_at": due, "attempts": 0, "last_error": None} for s in wanted],
    )
    return len(wanted)


def purge_due_tracker_events(*, now: datetime | None = None, limit: int = PURGE_BATCH) -> PurgeReport:
    """The scheduler's purge job: for every purge due at ``now``, delete the conversation's events from Rasa's
    tracker store and the console's copies of it, then the purge row itself.

    One batch: the tracker delete commits on its own (another database, possibly), then the console copies
    and the purge rows go in one transaction of ours. If anything fails, the rows stay with ``attempts`` + 1
    and the error's class (driver messages can echo SQL parameters) and the next run retries them; deleting
    twice is harmless. A row asked for again meanwhile (a later ``due_at``) is kept for its own time.
    """
    now = now or utcnow()
    with transaction() as session:
        due = list(
            session.scalars(
                select(TrackerPurge.sender_id)
                .where(TrackerPurge.due_at <= now)
                .order_by(TrackerPurge.due_at, TrackerPurge.sender_id)
                .limit(limit)
            )
        )
    if not due:
        return PurgeReport(0, 0, 0)
    try:
        events_deleted = tracker_events.delete_tracker_events(due)
        with transaction(write=True) as session:
            # As in erase_customer: a sync that read these events before the delete above must not write
            # their summaries after this commits (it no longer sees the purge rows this deletes, but it sees
            # the events gone; see tracker_events.lock_sync_state_in).
            tracker_events.lock_sync_state_in(session)
            console_deleted = sum(tracker_events.forget_conversation_in(session, sender) for sender in due)
            done = session.execute(
                delete(TrackerPurge).where(TrackerPurge.sender_id.in_(due), TrackerPurge.due_at <= now),
                execution_options={"synchronize_session": False},
            )
            purged = int(done.rowcount or 0)  # type: ignore[attr-defined]
    except (sa_exc.SQLAlchemyError, ServiceError, OSError) as error:
        cause = error.__cause__ if isinstance(error, ServiceError) else None
        reason = type(error).__name__ + (f"({type(cause).__name__})" if cause is not None else "")
        log.warning("tracker purge of %d conversation(s) failed: %s; retrying on the next run", len(due), reason)
        _record_purge_failure(due, reason)
        return PurgeReport(len(due), 0, len(due), error=reason)
    return PurgeReport(len(due), purged, 0, events_deleted, console_deleted)


def _record_purge_failure(sender_ids: list[str], reason: str) -> None:
    try:
        with transaction(write=True) as session:
            session.execute(
                update(TrackerPurge)
                .where(TrackerPurge.sender_id.in_(sender_ids))
                .values(attempts=TrackerPurge.attempts + 1, last_error=reason[:200]),
                execution_options={"synchronize_session": False},
            )
    except ServiceError:
        # Our database is down too: the rows are unchanged and still due, so the next run retries anyway.
        log.warning("could not record the failed tracker purge")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _row(obj: Any, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        column.key: _jsonable(getattr(obj, column.key)) for column in obj.__table__.columns if column.key not in exclude
    }


def export_customer_data(customer_id: int, *, actor: str = "system") -> dict[str, Any]:
    """Everything stored about the customer, as a JSON-serialisable dict (KVKK art. 11 / GDPR art. 15).

    Internal staff notes on the customer's tickets are included: they are personal data about the customer
    too. The export itself is audited.
    """
    with transaction(write=True) as session:
        customer = session.get(Customer, customer_id)
        if customer is None:
            raise InvalidInput("unknown_customer", "no such customer")
        data: dict[str, Any] = {
            "exported_at": utcnow().isoformat(),
            "customer": _row(customer),
            "channel_identities": [
                _row(row, exclude=("identification_failures", "locked_until"))
                for row in session.scalars(select(ChannelIdentity).where(ChannelIdentity.customer_id == customer_id))
            ],
            "conversations": [
                _row(row)
                for row in session.scalars(select(Conversation).where(Conversation.customer_id == customer_id))
            ],
            "loyalty": _loyalty(session, customer_id),
            "orders": [
                _row(row)
                for row in session.scalars(select(Order).where(Order.customer_id == customer_id).order_by(Order.id))
            ],
            "tickets": _tickets(session, customer_id),
            "feedback": [
                _row(row, exclude=("idempotency_key",))
                for row in session.scalars(select(Feedback).where(Feedback.customer_id == customer_id))
            ],
            "survey_responses": [
                _row(row, exclude=("idempotency_key",))
                for row in session.scalars(select(SurveyResponse).where(SurveyResponse.customer_id == customer_id))
            ],
        }
        audit.record_in(session, actor, "privacy.exported", "customer", customer_id, {})
        return data


def _loyalty(session: Session, customer_id: int) -> dict[str, Any] | None:
    account = session.scalars(select(LoyaltyAccount).where(LoyaltyAccount.customer_id == customer_id)).one_or_none()
    redemptions = session.execute(
        select(Redemption, Reward.code, Reward.name_tr, Reward.name_en)
        .join(Reward, Reward.id == Redemption.reward_id)
        .where(Redemption.customer_id == customer_id)
        .order_by(Redemption.id)
    ).all()
    coupons = session.scalars(select(BirthdayCoupon).where(BirthdayCoupon.customer_id == customer_id)).all()
    if account is None and not redemptions and not coupons:
        return None
    return {
        "account": _row(account) if account else None,
        "ledger": [
            _row(entry, exclude=("idempotency_key",))
            for entry in session.scalars(
                select(PointLedgerEntry).where(PointLedgerEntry.account_id == account.id).order_by(PointLedgerEntry.id)
            )
        ]
        if account
        else [],
        "redemptions": [
            {**_row(r, exclude=("idempotency_key",)), "reward_code": code, "reward_name_tr": tr, "reward_name_en": en}
            for r, code, tr, en in redemptions
        ],
        "birthday_coupons": [_row(c) for c in coupons],
    }


def _tickets(session: Session, customer_id: int) -> list[dict[str, Any]]:
    result = []
    for ticket in session.scalars(select(Ticket).where(Ticket.customer_id == customer_id).order_by(Ticket.id)):
        item = _row(ticket, exclude=("idempotency_key",))
        item["notes"] = [_row(note) for note in ticket.notes]
        item["events"] = [_row(event) for event in ticket.events]
        result.append(item)
    return result
