"""Staff side of complaint tickets: the console's queue, assignment, notes and status changes.

:mod:`bot.services.tickets` is the customer side (open, look up); this module is what support staff do to
a ticket. Every change writes a ``ticket_events`` row (who, field, old, new, when), which is both the
ticket's history in the console and the source of SLA numbers.

Resolving sets ``tickets.resolved_at``: the scheduler's automatic scan picks that up and, after its delay,
asks the customer "was it resolved?" - nothing else has to be armed (the scheduler sends that follow-up at
most once per ticket). Re-opening clears ``resolved_at``: a re-opened ticket is not resolved any more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import case, func, or_, select

from bot.db.models import TICKET_PRIORITIES, TICKET_STATUSES, Customer, Ticket, TicketEvent, TicketNote
from bot.services.errors import InvalidInput
from bot.services.tracker_events import mask_text
from bot.services.tx import transaction, utcnow

TicketStatus = Literal["open", "in_progress", "resolved", "closed"]

#: Which status may follow which (re-opening is allowed from resolved and closed).
ALLOWED_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("in_progress", "resolved", "closed"),
    "in_progress": ("open", "resolved", "closed"),
    "resolved": ("in_progress", "closed", "open"),
    "closed": ("open",),
}
PRIORITY_ORDER = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
PAGE_SIZE = 50


@dataclass(frozen=True)
class TicketRow:
    id: int
    ref: str
    status: str
    priority: str
    category: str
    channel: str
    language: str
    conversation_id: str | None
    customer_id: int | None
    assignee: str | None
    order_number: str | None
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    description_preview: str
    first_response_due_at: datetime | None = None

    def overdue(self, now: datetime) -> bool:
        """No first response yet and the promised first-response time has passed."""
        return (
            self.first_response_at is None
            and self.first_response_due_at is not None
            and self.status in ("open", "in_progress")
            and self.first_response_due_at < now
        )


@dataclass(frozen=True)
class TicketNoteInfo:
    id: int
    author: str
    body: str
    internal: bool
    created_at: datetime


@dataclass(frozen=True)
class TicketEventInfo:
    id: int
    actor: str
    field: str
    old_value: str | None
    new_value: str | None
    created_at: datetime


@dataclass(frozen=True)
class TicketDetail:
    ticket: TicketRow
    description: str
    notes: tuple[TicketNoteInfo, ...]
    events: tuple[TicketEventInfo, ...]


@dataclass(frozen=True)
class TicketPage:
    rows: tuple[TicketRow, ...]
    total: int
    page: int
    pages: int
    counts_by_status: dict[str, int]


def _row(t: Ticket) -> TicketRow:
    return TicketRow(
        id=t.id,
        ref=t.ref or f"#{t.id}",
        status=t.status,
        priority=t.priority,
        category=t.category,
        channel=t.channel,
        language=t.language,
        conversation_id=t.conversation_id,
        customer_id=t.customer_id,
        assignee=t.assignee,
        order_number=t.order_number,
        created_at=t.created_at,
        updated_at=t.updated_at,
        first_response_at=t.first_response_at,
        resolved_at=t.resolved_at,
        description_preview=(t.description or "")[:140],
        first_response_due_at=getattr(t, "first_response_due_at", None),
    )


def list_tickets(
    *,
    statuses: tuple[str, ...] = ("open", "in_progress"),
    priority: str | None = None,
    assignee: str | None = None,
    unassigned: bool = False,
    category: str | None = None,
    query: str | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> TicketPage:
    """The complaint queue: most urgent first, then oldest first (the one waiting longest on top)."""
    conditions = []
    if statuses:
        conditions.append(Ticket.status.in_([s for s in statuses if s in TICKET_STATUSES]))
    if priority in TICKET_PRIORITIES:
        conditions.append(Ticket.priority == priority)
    if assignee:
        conditions.append(Ticket.assignee == assignee)
    if unassigned:
        conditions.append(Ticket.assignee.is_(None))
    if category:
        conditions.append(Ticket.category == category)
    if query:
        q = query.strip()
        like = f"%{q}%"
        conditions.append(or_(Ticket.ref.ilike(like), Ticket.order_number.ilike(like), Ticket.conversation_id == q))
    priority_rank = case(PRIORITY_ORDER, value=Ticket.priority, else_=9)
    page = max(1, page)
    with transaction() as session:
        total = session.scalar(select(func.count()).select_from(Ticket).where(*conditions)) or 0
        rows = session.scalars(
            select(Ticket)
            .where(*conditions)
            .order_by(priority_rank, Ticket.created_at, Ticket.id)
            .offset((page - 1) * page_size)
            .limit(page_size)
        ).all()
        counts = dict(session.execute(select(Ticket.status, func.count()).group_by(Ticket.status)).all())
        return TicketPage(
            rows=tuple(_row(t) for t in rows),
            total=total,
            page=page,
            pages=max(1, -(-total // page_size)),
            counts_by_status={s: int(counts.get(s, 0)) for s in TICKET_STATUSES},
        )


def _get(session, ref: str) -> Ticket:  # type: ignore[no-untyped-def]
    ticket = session.scalar(select(Ticket).where(Ticket.ref == ref))
    if ticket is None:
        raise InvalidInput("unknown_ticket")
    return ticket


def ticket_detail(ref: str) -> TicketDetail | None:
    with transaction() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.ref == ref))
        if ticket is None:
            return None
        notes = session.scalars(select(TicketNote).where(TicketNote.ticket_id == ticket.id).order_by(TicketNote.id))
        events = session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id))
        return TicketDetail(
            ticket=_row(ticket),
            description=ticket.description,
            notes=tuple(TicketNoteInfo(n.id, n.author, n.body, n.internal, n.created_at) for n in notes),
            events=tuple(
                TicketEventInfo(e.id, e.actor, e.field, e.old_value, e.new_value, e.created_at) for e in events
            ),
        )


def tickets_for_conversation(sender_id: str) -> list[TicketRow]:
    with transaction() as session:
        rows = session.scalars(select(Ticket).where(Ticket.conversation_id == sender_id).order_by(Ticket.created_at))
        return [_row(t) for t in rows]


def open_ticket_count(customer_id: int) -> int:
    with transaction() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(Ticket)
                .where(Ticket.customer_id == customer_id, Ticket.status.in_(("open", "in_progress")))
            )
            or 0
        )


def _event(session, ticket: Ticket, actor: str, field: str, old: str | None, new: str | None) -> None:  # type: ignore[no-untyped-def]
    session.add(
        TicketEvent(
            ticket_id=ticket.id, actor=actor[:64], field=field, old_value=old, new_value=new, created_at=utcnow()
        )
    )


def assign(ref: str, assignee: str | None, actor: str) -> TicketRow:
    """Assign to a staff member (``user:<id>``) or unassign with None."""
    with transaction(write=True) as session:
        ticket = _get(session, ref)
        if ticket.assignee != assignee:
            _event(session, ticket, actor, "assignee", ticket.assignee, assignee)
            ticket.assignee = assignee
            ticket.updated_at = utcnow()
        return _row(ticket)


def set_priority(ref: str, priority: str, actor: str) -> TicketRow:
    if priority not in TICKET_PRIORITIES:
        raise InvalidInput("invalid_priority")
    with transaction(write=True) as session:
        ticket = _get(session, ref)
        if ticket.priority != priority:
            _event(session, ticket, actor, "priority", ticket.priority, priority)
            ticket.priority = priority
            ticket.updated_at = utcnow()
        return _row(ticket)


def add_note(ref: str, author: str, body: str, *, internal: bool = True) -> TicketNoteInfo:
    """A note (masked). A note to the customer (``internal=False``) counts as the first response."""
    body = (body or "").strip()
    if not body:
        raise InvalidInput("empty_note")
    if len(body) > 4000:
        raise InvalidInput("note_too_long")
    now = utcnow()
    with transaction(write=True) as session:
        ticket = _get(session, ref)
        note = TicketNote(
            ticket_id=ticket.id, author=author[:64], body=mask_text(body), internal=internal, created_at=now
        )
        session.add(note)
        if not internal and ticket.first_response_at is None:
            ticket.first_response_at = now
        ticket.updated_at = now
        session.flush()
        return TicketNoteInfo(note.id, note.author, note.body, note.internal, note.created_at)


def change_status(ref: str, new_status: str, actor: str, *, now: datetime | None = None) -> TicketRow:
    """Move a ticket along its lifecycle (see ``ALLOWED_TRANSITIONS``); stamps resolved/closed times."""
    if new_status not in TICKET_STATUSES:
        raise InvalidInput("invalid_status")
    now = now or utcnow()
    with transaction(write=True) as session:
        ticket = _get(session, ref)
        old = ticket.status
        if old == new_status:
            return _row(ticket)
        if new_status not in ALLOWED_TRANSITIONS[old]:
            raise InvalidInput("invalid_transition")
        ticket.status = new_status
        ticket.updated_at = now
        if new_status != "open" and ticket.first_response_at is None:
            ticket.first_response_at = now
        if new_status == "resolved":
            ticket.resolved_at = now
        elif new_status == "closed":
            ticket.closed_at = now
            if ticket.resolved_at is None:
                ticket.resolved_at = now
        else:  # re-opened / back in progress: the next resolution must arm a new check-in
            ticket.resolved_at = None
            ticket.closed_at = None
        _event(session, ticket, actor, "status", old, new_status)
        return _row(ticket)


def customer_names(customer_ids: set[int]) -> dict[int, str]:
    """id -> "Ayşe Y." style short names (for staff roles allowed to see personal data)."""
    if not customer_ids:
        return {}
    with transaction() as session:
        rows = session.execute(
            select(Customer.id, Customer.first_name, Customer.last_name).where(Customer.id.in_(customer_ids))
        )
        return {r.id: f"{r.first_name} {r.last_name[:1]}." if r.last_name else r.first_name for r in rows}


def customer_contact_sender(ticket_ref: str) -> tuple[str | None, str]:
    """Where to tell the customer about their ticket: (sender id or None, language).

    The ticket's own conversation when it came from Telegram or web chat; otherwise the customer's most
    recently active reachable Telegram/web identity. None when the customer opted out or cannot be reached.
    """
    from bot.db.models import ChannelIdentity

    with transaction() as session:
        ticket = _get(session, ticket_ref)
        language = ticket.language if ticket.language in ("tr", "en") else "tr"
        identity = None
        if ticket.conversation_id:
            identity = session.scalar(
                select(ChannelIdentity).where(ChannelIdentity.external_id == ticket.conversation_id)
            )
            if identity is None and ticket.conversation_id.startswith(("tg-", "web-")):
                return ticket.conversation_id, language
        if identity is None and ticket.customer_id is not None:
            identity = session.scalar(
                select(ChannelIdentity)
                .where(
                    ChannelIdentity.customer_id == ticket.customer_id,
                    ChannelIdentity.external_id.like("tg-%") | ChannelIdentity.external_id.like("web-%"),
                    ChannelIdentity.reachable.is_(True),
                    ChannelIdentity.opted_out_at.is_(None),
                )
                .order_by(ChannelIdentity.last_seen.desc())
            )
        if identity is None or not identity.reachable or identity.opted_out_at is not None:
            return None, language
        return identity.external_id, language
