"""Complaint tickets: categories, priority detection, opening, tracking and staff updates.

Ticket refs are ``T-<year>-<id, zero-padded to 6>``: the number is the primary key, assigned by the database
inside the inserting transaction, so refs are unique under any concurrency on SQLite and PostgreSQL without a
counter row; the year (Europe/Istanbul) is the year the ticket was opened. Because the number alone is
unique, customers may type just "000123" or "123".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.models import Ticket, TicketEvent, TicketNote
from bot.services import audit
from bot.services.errors import InvalidInput
from bot.services.masking import mask_sensitive
from bot.services.orders import normalize_order_number
from bot.services.textnorm import fold
from bot.services.tx import transaction, utcnow
from bot.settings import get_settings

Priority = Literal["low", "normal", "high", "urgent"]
TicketStatus = Literal["open", "in_progress", "resolved", "closed"]

#: Category code -> labels per language (Turkish first).
COMPLAINT_CATEGORIES: dict[str, dict[str, str]] = {
    "delivery": {"tr": "Teslimat / kargo", "en": "Delivery / shipping"},
    "product": {"tr": "Ürün", "en": "Product"},
    "refund": {"tr": "İade / para iadesi", "en": "Return / refund"},
    "staff": {"tr": "Personel / hizmet", "en": "Staff / service"},
    "loyalty": {"tr": "Sadakat programı / puanlar", "en": "Loyalty programme / points"},
    "website": {"tr": "Web sitesi / uygulama", "en": "Website / app"},
    "other": {"tr": "Diğer", "en": "Other"},
}

#: Promised first-response time per priority, in hours.
EXPECTED_RESPONSE_HOURS: dict[str, int] = {"urgent": 2, "high": 8, "normal": 24, "low": 48}

#: Allowed status changes (staff may reopen a resolved ticket; closed is final).
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"in_progress", "resolved", "closed"}),
    "in_progress": frozenset({"open", "resolved", "closed"}),
    "resolved": frozenset({"in_progress", "closed"}),
    "closed": frozenset(),
}

MAX_DESCRIPTION_CHARS = 4000


@dataclass(frozen=True)
class TicketInfo:
    ref: str
    status: TicketStatus
    priority: Priority
    category: str
    expected_response_hours: int
    created_at: datetime
    updated_at: datetime
    order_number: str | None
    language: str
    channel: str
    customer_id: int | None
    resolved_at: datetime | None = None
    first_response_due_at: datetime | None = None
    first_response_at: datetime | None = None
    source: str = "complaint"


# --- priority ------------------------------------------------------------------------------------------------

# Patterns run on fold()ed text (Turkish lower case, no diacritics). Turkish entries are word *stems* matched
# at a word start, because suffixes pile up ("avukatıma", "davacı olacağım"); English entries are whole words.
_URGENT_TR = (
    "avukat",
    "dava",
    "mahkeme",
    "tuketici hakem",
    "hakem heyet",
    "savcilik",
    "suc duyurusu",
    "yasal yol",
    "hukuki",
    "yangin",
    "zehirlen",
    "yaralan",
    "patladi",
    "patlama",
    "elektrik carp",
    "alerji",
    "hastanelik",
    "hastaneye",
    "acil servis",
    "yandi",
    "yanik",
    "tehlikeli",
)
_URGENT_EN = (
    "lawyer",
    "lawyers",
    "attorney",
    "sue",
    "suing",
    "lawsuit",
    "court",
    "legal action",
    "injured",
    "injury",
    "poisoned",
    "poisoning",
    "caught fire",
    "on fire",
    "exploded",
    "explosion",
    "electric shock",
    "burned",
    "burnt",
    "hospital",
    "allergic reaction",
    "dangerous",
    "unsafe",
)
_HIGH_TR = (
    "dolandir",
    "iki kez cek",
    "iki kere cek",
    "iki defa cek",
    "cift cekim",
    "fazla cek",
    "param ",
    "parami",
    "paramin",
    "para iade",
    "iade edilmedi",
    "kartimdan",
    "hesabimdan",
    "acil",
    "rezalet",
    "skandal",
    "sosyal medya",
    "twitter",
    "sikayetvar",
    "cimer",
    "kisisel veri",
    "kvkk",
    "veri ihlal",
    "ucuncu kez",
    "defalarca",
    "hala cozulmedi",
)
_HIGH_EN = (
    "fraud",
    "scam",
    "charged twice",
    "double charged",
    "double charge",
    "my money",
    "refund",
    "urgent",
    "urgently",
    "asap",
    "immediately",
    "unacceptable",
    "disgrace",
    "social media",
    "twitter",
    "data breach",
    "personal data",
    "third time",
    "still not resolved",
)
_LOW_TR = ("oneri", "tavsiye", "guzel olur", "iyi olurdu", "kucuk bir", "merak ettim", "bilgi almak")
_LOW_EN = ("suggestion", "suggest", "would be nice", "minor", "just wondering", "feature request")


def _compile(stems: tuple[str, ...], words: tuple[str, ...]) -> re.Pattern[str]:
    stem_part = "|".join(re.escape(s.strip()) + (r"\b" if s.endswith(" ") else "") for s in stems)
    word_part = "|".join(re.escape(w) for w in words)
    return re.compile(rf"\b(?:{stem_part})|\b(?:{word_part})\b")


_PRIORITY_RULES: tuple[tuple[Priority, re.Pattern[str]], ...] = (
    ("urgent", _compile(_URGENT_TR, _URGENT_EN)),
    ("high", _compile(_HIGH_TR, _HIGH_EN)),
    ("low", _compile(_LOW_TR, _LOW_EN)),
)


def detect_priority(text: str) -> Priority:
    """Keyword rules in Turkish and English, first match wins in this order:

    - ``urgent``: legal threats (avukat, dava, tüketici hakem heyeti, lawyer, sue...) and safety/health
      (yangın, zehirlenme, yaralandı, injured, poisoned...);
    - ``high``: money and fraud (iki kez çekildi, dolandırıcılık, charged twice, refund...), public
      escalation (şikayetvar, sosyal medya) and personal-data concerns (KVKK);
    - ``low``: suggestions and minor remarks (öneri, would be nice);
    - otherwise ``normal``.
    """
    folded = fold(text or "")
    for priority, pattern in _PRIORITY_RULES:
        if pattern.search(folded):
            return priority
    return "normal"


# --- refs ----------------------------------------------------------------------------------------------------

_FULL_REF = re.compile(r"(?<![a-z0-9])t\s*-?\s*(\d{4})\s*-\s*(\d{1,9})(?!\d)")
_BARE_NUMBER = re.compile(r"^\s*#?\s*(\d{1,9})\s*$")


def _business_year(moment: datetime) -> int:
    return moment.astimezone(ZoneInfo(get_settings().timezone)).year


def _parse_ref(text: str) -> tuple[int | None, int] | None:
    folded = fold(text or "")
    if match := _FULL_REF.search(folded):
        return int(match.group(1)), int(match.group(2))
    if match := _BARE_NUMBER.match(folded):
        return None, int(match.group(1))
    return None


def format_ticket_ref(year: int, number: int) -> str:
    return f"T-{year}-{number:06d}"


def normalize_ticket_ref(text: str) -> str | None:
    """``T-2026-000123``, ``t-2026-123``, ``t 2026-123`` -> ``T-2026-000123``; a bare ``000123`` gets this year.

    :func:`get_ticket` accepts the bare number too and finds the ticket whatever its year.
    """
    parsed = _parse_ref(text)
    if parsed is None or parsed[1] == 0:
        return None
    year, number = parsed
    return format_ticket_ref(year if year is not None else _business_year(utcnow()), number)


# --- queries -------------------------------------------------------------------------------------------------


def _info(ticket: Ticket) -> TicketInfo:
    assert ticket.ref is not None
    return TicketInfo(
        ref=ticket.ref,
        status=ticket.status,  # type: ignore[arg-type]
        priority=ticket.priority,  # type: ignore[arg-type]
        category=ticket.category,
        expected_response_hours=EXPECTED_RESPONSE_HOURS[ticket.priority],
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        order_number=ticket.order_number,
        language=ticket.language,
        channel=ticket.channel,
        customer_id=ticket.customer_id,
        resolved_at=ticket.resolved_at,
        first_response_due_at=ticket.first_response_due_at,
        first_response_at=ticket.first_response_at,
        source=ticket.source,
    )


def _find(session: Session, ticket_ref: str, *, lock: bool = False) -> Ticket | None:
    parsed = _parse_ref(ticket_ref)
    if parsed is None:
        return None
    year, number = parsed
    if year is not None:
        query = select(Ticket).where(Ticket.ref == format_ticket_ref(year, number))
    else:
        query = select(Ticket).where(Ticket.ref.like(f"T-%-{number:06d}")).order_by(Ticket.id.desc()).limit(1)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


def get_ticket(ticket_ref: str, customer_id: int | None = None) -> TicketInfo | None:
    """The ticket by ref (any spelling :func:`normalize_ticket_ref` accepts); scoped to ``customer_id`` if given."""
    with transaction() as session:
        ticket = _find(session, ticket_ref)
        if ticket is None or (customer_id is not None and ticket.customer_id != customer_id):
            return None
        return _info(ticket)


def latest_ticket(customer_id: int) -> TicketInfo | None:
    """The customer's most recently opened ticket."""
    with transaction() as session:
        ticket = session.scalars(
            select(Ticket).where(Ticket.customer_id == customer_id).order_by(Ticket.id.desc()).limit(1)
        ).first()
        return _info(ticket) if ticket else None


def tickets_for_customer(customer_id: int, limit: int = 10) -> list[TicketInfo]:
    """The customer's tickets, newest first."""
    with transaction() as session:
        tickets = session.scalars(
            select(Ticket).where(Ticket.customer_id == customer_id).order_by(Ticket.id.desc()).limit(limit)
        ).all()
        return [_info(ticket) for ticket in tickets]


# --- writes --------------------------------------------------------------------------------------------------


def create_ticket_in(
    session: Session,
    *,
    customer_id: int | None,
    category: str,
    description: str,
    order_number: str | None,
    channel: str,
    conversation_id: str | None,
    language: str,
    idempotency_key: str,
    priority: Priority | None = None,
    source: str = "complaint",
    actor: str = "customer",
    now: datetime | None = None,
) -> Ticket:
    """Insert a ticket inside the caller's transaction (survey recovery uses this); see :func:`open_ticket`."""
    if category not in COMPLAINT_CATEGORIES:
        raise InvalidInput("unknown_category", f"category must be one of {sorted(COMPLAINT_CATEGORIES)}")
    if not idempotency_key or len(idempotency_key) > 128:
        raise InvalidInput("invalid_idempotency_key", "idempotency key must be 1-128 characters")
    text = (description or "").strip()
    if not text:
        raise InvalidInput("empty_description", "a ticket needs a description")
    masked = mask_sensitive(text[:MAX_DESCRIPTION_CHARS])
    chosen_priority: Priority = priority or detect_priority(text)
    if chosen_priority not in EXPECTED_RESPONSE_HOURS:
        raise InvalidInput("invalid_priority", "priority must be low, normal, high or urgent")
    now = now or utcnow()
    ticket = Ticket(
        customer_id=customer_id,
        category=category,
        order_number=normalize_order_number(order_number) if order_number else None,
        description=masked,
        status="open",
        priority=chosen_priority,
        channel=channel,
        conversation_id=conversation_id,
        language=language if language in ("tr", "en") else "tr",
        source=source,
        idempotency_key=idempotency_key,
        created_at=now,
        updated_at=now,
        first_response_due_at=now + timedelta(hours=EXPECTED_RESPONSE_HOURS[chosen_priority]),
    )
    session.add(ticket)
    session.flush()  # the database assigns the id; the ref is derived from it in the same transaction
    ticket.ref = format_ticket_ref(_business_year(now), ticket.id)
    session.add(
        TicketEvent(ticket_id=ticket.id, actor=actor, field="status", old_value=None, new_value="open", created_at=now)
    )
    session.flush()
    audit.record_in(
        session,
        actor,
        "ticket.opened",
        "ticket",
        ticket.ref,
        {"priority": chosen_priority, "category": category, "source": source},
    )
    return ticket


def open_ticket(
    customer_id: int | None,
    category: str,
    description: str,
    order_number: str | None,
    channel: str,
    conversation_id: str,
    language: str,
    idempotency_key: str,
    *,
    priority: Priority | None = None,
) -> TicketInfo:
    """Open a ticket (description masked before storing, priority detected from the text unless given).

    The same ``idempotency_key`` returns the ticket created the first time (a retried action never opens two).
    """
    try:
        with transaction(write=True) as session:
            existing = session.scalars(select(Ticket).where(Ticket.idempotency_key == idempotency_key)).first()
            if existing is not None:
                return _info(existing)
            ticket = create_ticket_in(
                session,
                customer_id=customer_id,
                category=category,
                description=description,
                order_number=order_number,
                channel=channel,
                conversation_id=conversation_id,
                language=language,
                idempotency_key=idempotency_key,
                priority=priority,
            )
            return _info(ticket)
    except IntegrityError:
        with transaction() as session:
            existing = session.scalars(select(Ticket).where(Ticket.idempotency_key == idempotency_key)).first()
            if existing is None:
                raise
            return _info(existing)


def _require(session: Session, ticket_ref: str) -> Ticket:
    ticket = _find(session, ticket_ref, lock=True)
    if ticket is None:
        raise InvalidInput("unknown_ticket", "no such ticket")
    return ticket


def change_status(ticket_ref: str, new_status: TicketStatus, actor: str, *, now: datetime | None = None) -> TicketInfo:
    """Move a ticket to ``new_status`` (see ``STATUS_TRANSITIONS``), recording an event and timestamps."""
    now = now or utcnow()
    with transaction(write=True) as session:
        ticket = _require(session, ticket_ref)
        if new_status == ticket.status:
            return _info(ticket)
        if new_status not in STATUS_TRANSITIONS.get(ticket.status, frozenset()):
            raise InvalidInput("invalid_transition", f"cannot move a ticket from {ticket.status} to {new_status}")
        session.add(
            TicketEvent(
                ticket_id=ticket.id,
                actor=actor,
                field="status",
                old_value=ticket.status,
                new_value=new_status,
                created_at=now,
            )
        )
        ticket.status = new_status
        ticket.updated_at = now
        if new_status == "resolved":
            ticket.resolved_at = now
        elif new_status == "closed":
            ticket.closed_at = now
            ticket.resolved_at = ticket.resolved_at or now
        elif new_status in ("open", "in_progress"):
            ticket.resolved_at = None
        if new_status != "open" and ticket.first_response_at is None and actor not in ("customer", "system"):
            ticket.first_response_at = now
        audit.record_in(session, actor, "ticket.status", "ticket", ticket.ref, {"status": new_status})
        return _info(ticket)


def assign_ticket(ticket_ref: str, assignee: str | None, actor: str, *, now: datetime | None = None) -> TicketInfo:
    """Give the ticket to a staff member (None = unassign)."""
    now = now or utcnow()
    with transaction(write=True) as session:
        ticket = _require(session, ticket_ref)
        if ticket.assignee != assignee:
            session.add(
                TicketEvent(
                    ticket_id=ticket.id,
                    actor=actor,
                    field="assignee",
                    old_value=ticket.assignee,
                    new_value=assignee,
                    created_at=now,
                )
            )
            ticket.assignee = assignee
            ticket.updated_at = now
            audit.record_in(session, actor, "ticket.assigned", "ticket", ticket.ref, {"assignee": assignee})
        return _info(ticket)


def add_note(ticket_ref: str, author: str, body: str, *, internal: bool = True, now: datetime | None = None) -> int:
    """Add a (masked) note; a non-internal note by staff counts as the first response. Returns the note id."""
    now = now or utcnow()
    text = (body or "").strip()
    if not text:
        raise InvalidInput("empty_note", "a note needs text")
    with transaction(write=True) as session:
        ticket = _require(session, ticket_ref)
        note = TicketNote(
            ticket_id=ticket.id,
            author=author,
            body=mask_sensitive(text[:MAX_DESCRIPTION_CHARS]),
            internal=internal,
            created_at=now,
        )
        session.add(note)
        ticket.updated_at = now
        if not internal and author not in ("customer", "system") and ticket.first_response_at is None:
            ticket.first_response_at = now
        session.flush()
        audit.record_in(session, author, "ticket.note", "ticket", ticket.ref, {"internal": internal})
        return note.id
