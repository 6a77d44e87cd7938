"""Who is this customer? Identification by a verified contact or by facts, with a lockout.

``external_id`` everywhere is the channel's stable id for the sender; we use the Rasa sender id
(``tg-<chat id>``, ``web-<uuid>``) so channel identities and conversations share one key.

Security rules:
- Wrong facts and facts of a customer who does not exist are both answered ``mismatch`` and both count as a
  failed attempt, so the assistant cannot be used to find out whether a phone number is a customer's.
- ``identification_max_attempts`` (3) failures lock that channel identity for ``identification_lock_minutes``
  (15); a success resets the counter and links the channel identity (and the conversation) to the customer.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.models import ChannelIdentity, Conversation, Customer
from bot.services import audit
from bot.services.errors import InvalidInput
from bot.services.textnorm import fold
from bot.services.tx import transaction, utcnow
from bot.settings import get_settings

IdentifyStatus = Literal["ok", "mismatch", "locked", "unknown"]

#: Channels we know; other short lower-case names are accepted for future connectors.
KNOWN_CHANNELS = ("telegram", "web", "rest")


@dataclass(frozen=True)
class IdentifyResult:
    """Outcome of an identification attempt.

    ``status``: ``ok`` (identified, channel identity linked), ``mismatch`` (wrong or unknown facts; we never
    reveal which), ``locked`` (too many wrong answers, try after ``locked_until``), ``unknown`` (a verified
    contact whose phone is not a customer's; only :func:`identify_by_contact` returns it).
    """

    status: IdentifyStatus
    customer_id: int | None = None
    first_name: str | None = None
    language: str | None = None
    attempts_left: int | None = None
    locked_until: datetime | None = None


@dataclass(frozen=True)
class CustomerSummary:
    """What a conversation needs to know about an identified customer (no phone/e-mail/birth date)."""

    customer_id: int
    customer_number: str
    first_name: str
    language: str
    checkin_consent: bool
    marketing_consent: bool
    opted_out: bool


# --- parsing -----------------------------------------------------------------------------------------------

_PHONE_CANDIDATE = re.compile(r"(?<![\d+])\+?\d[\d\s().\-/]{7,20}\d(?!\d)")


def normalize_phone(text: str) -> str | None:
    """Turkish mobile number in any common spelling -> E.164 ``+905XXXXXXXXX``; None if there is none.

    Accepts "0532 123 45 67", "+90 532 1234567", "5321234567", "0090 532...", "(0532) 123-45-67", also inside
    a sentence ("numaram 0532 123 45 67").
    """
    if not text:
        return None
    for match in _PHONE_CANDIDATE.finditer(text):
        digits = re.sub(r"\D", "", match.group(0))
        if digits.startswith("0090"):
            digits = digits[4:]
        elif digits.startswith("90") and len(digits) == 12:
            digits = digits[2:]
        elif digits.startswith("0") and len(digits) == 11:
            digits = digits[1:]
        if len(digits) == 10 and digits.startswith("5"):
            return "+90" + digits
    return None


_CUSTOMER_NUMBER = re.compile(r"(?<![a-z0-9])mn\s*[-#:]?\s*(\d{6})(?!\d)")
_BARE_SIX_DIGITS = re.compile(r"^\s*#?(\d{6})\s*$")


def normalize_customer_number(text: str) -> str | None:
    """``MN102345``, ``mn 102345``, ``MN-102345``, ``102345`` -> ``MN102345``; None if not a customer number."""
    if not text:
        return None
    folded = fold(text)
    match = _CUSTOMER_NUMBER.search(folded) or _BARE_SIX_DIGITS.match(folded)
    return f"MN{match.group(1)}" if match else None


_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    [
        ("ocak", "oca", "january", "jan"),
        ("subat", "sub", "february", "feb"),
        ("mart", "mar", "march"),
        ("nisan", "nis", "april", "apr"),
        ("mayis", "may"),
        ("haziran", "haz", "june", "jun"),
        ("temmuz", "tem", "july", "jul"),
        ("agustos", "agu", "august", "aug"),
        ("eylul", "eyl", "september", "sept", "sep"),
        ("ekim", "eki", "october", "oct"),
        ("kasim", "kas", "november", "nov"),
        ("aralik", "ara", "december", "dec"),
    ],
    start=1,
):
    for _name in _names:
        _MONTHS[_name] = _number

_NUMERIC_DMY = re.compile(r"(?<!\d)(\d{1,2})\s*[./\-]\s*(\d{1,2})\s*[./\-]\s*(\d{4}|\d{2})(?!\d)")
_NUMERIC_YMD = re.compile(r"(?<!\d)(\d{4})\s*[./\-]\s*(\d{1,2})\s*[./\-]\s*(\d{1,2})(?!\d)")
_DAY_MONTH_YEAR = re.compile(r"(?<![\d])(\d{1,2})(?:st|nd|rd|th|\.)?\s+([a-z]+)\s*,?\s+(\d{4})(?!\d)")
_MONTH_DAY_YEAR = re.compile(r"(?<![a-z])([a-z]+)\s+(\d{1,2})(?:st|nd|rd|th)?\s*,?\s+(\d{4})(?!\d)")


def _full_year(year_text: str, today: date) -> int:
    year = int(year_text)
    if len(year_text) == 2:
        # A birth date with a two-digit year is in the past: "88" is 1988, "05" is 2005 (in 2026).
        year += 2000 if 2000 + year <= today.year else 1900
    return year


def _valid_birth_date(year: int, month: int, day: int, today: date) -> date | None:
    try:
        candidate = date(year, month, day)
    except ValueError:
        return None
    if candidate > today or candidate.year < today.year - 120:
        return None
    return candidate


def _month_number(word: str) -> int | None:
    if word in _MONTHS:
        return _MONTHS[word]
    # Tolerate Turkish case endings: "martta", "mayısın" -> longest known month name it starts with.
    for name in sorted(_MONTHS, key=len, reverse=True):
        if len(name) >= 4 and word.startswith(name):
            return _MONTHS[name]
    return None


def parse_birth_date(text: str, *, today: date | None = None) -> date | None:
    """``14.03.1988``, ``14/3/88``, ``1988-03-14``, ``14 mart 1988``, ``March 14 1988`` -> date; else None.

    Numeric dates are day-first (Turkish convention) except ISO year-first; dates in the future or more than
    120 years ago are rejected.
    """
    if not text:
        return None
    today = today or utcnow().date()
    folded = fold(text)
    if match := _NUMERIC_YMD.search(folded):
        return _valid_birth_date(int(match.group(1)), int(match.group(2)), int(match.group(3)), today)
    if match := _NUMERIC_DMY.search(folded):
        year = _full_year(match.group(3), today)
        return _valid_birth_date(year, int(match.group(2)), int(match.group(1)), today)
    if match := _DAY_MONTH_YEAR.search(folded):
        month = _month_number(match.group(2))
        if month:
            return _valid_birth_date(int(match.group(3)), month, int(match.group(1)), today)
    if match := _MONTH_DAY_YEAR.search(folded):
        month = _month_number(match.group(1))
        if month:
            return _valid_birth_date(int(match.group(3)), month, int(match.group(2)), today)
    return None


# --- contact signatures --------------------------------------------------------------------------------------


def sign_contact(sender_id: str, phone: str) -> str:
    """HMAC-SHA256(secret_key, f"{sender_id}|{phone}") as hex: proves a shared contact was the sender's own.

    The Telegram connector signs only contacts whose ``user_id`` is the sender's; the action verifies the
    signature, so a contact card of someone else (or a forged metadata field) cannot identify anybody.
    """
    key = get_settings().secret_key.get_secret_value().encode()
    return hmac.new(key, f"{sender_id}|{phone}".encode(), hashlib.sha256).hexdigest()


def verify_contact(sender_id: str, phone: str, signature: str) -> bool:
    """Constant-time check of :func:`sign_contact`."""
    if not isinstance(signature, str) or not signature:
        return False
    return hmac.compare_digest(sign_contact(sender_id, phone), signature)


# --- channel identities --------------------------------------------------------------------------------------


def validate_channel(channel: str) -> str:
    """Return ``channel`` if it is a plausible channel name, else raise ``InvalidInput("invalid_channel")``."""
    if not channel or not re.fullmatch(r"[a-z][a-z0-9_]{0,15}", channel):
        raise InvalidInput("invalid_channel", "channel must be a short lower-case name such as 'telegram'")
    return channel


def get_or_create_channel_identity(
    session: Session, channel: str, external_id: str, now: datetime, *, lock: bool = False
) -> ChannelIdentity:
    """The channel identity row, created on first sight; for use inside another service's transaction.

    ``lock=True`` takes a row lock on PostgreSQL (SQLite write transactions are already exclusive), so two
    concurrent attempts cannot both read the same failure count.
    """
    validate_channel(channel)
    if not external_id or len(external_id) > 128:
        raise InvalidInput("invalid_external_id", "external_id must be 1-128 characters")
    query = select(ChannelIdentity).where(
        ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
    )
    if lock:
        query = query.with_for_update()
    identity = session.scalars(query).one_or_none()
    if identity is not None:
        return identity
    try:
        with session.begin_nested():
            identity = ChannelIdentity(
                channel=channel,
                external_id=external_id,
                reachable=True,
                identification_failures=0,
                first_seen=now,
                last_seen=now,
            )
            session.add(identity)
    except IntegrityError:
        # Another transaction created it a moment ago.
        identity = session.scalars(query).one()
    return identity


def _link(session: Session, identity: ChannelIdentity, customer: Customer, now: datetime) -> None:
    identity.customer_id = customer.id
    identity.identification_failures = 0
    identity.locked_until = None
    identity.last_seen = now
    conversation = session.scalars(
        select(Conversation).where(Conversation.sender_id == identity.external_id)
    ).one_or_none()
    if conversation is not None:
        conversation.customer_id = customer.id
        conversation.last_seen = now


def _ok(customer: Customer) -> IdentifyResult:
    max_attempts = get_settings().identification_max_attempts
    return IdentifyResult(
        status="ok",
        customer_id=customer.id,
        first_name=customer.first_name,
        language=customer.preferred_language,
        attempts_left=max_attempts,
    )


def _locked_result(identity: ChannelIdentity, now: datetime) -> IdentifyResult | None:
    """A ``locked`` result while the lock lasts; clears an expired lock (and its counter) as a side effect."""
    if identity.locked_until is None:
        return None
    if identity.locked_until > now:
        return IdentifyResult(status="locked", attempts_left=0, locked_until=identity.locked_until)
    identity.locked_until = None
    identity.identification_failures = 0
    return None


def _active_customer(session: Session, **criteria: str) -> Customer | None:
    query = select(Customer).where(Customer.erased_at.is_(None))
    for column, value in criteria.items():
        query = query.where(getattr(Customer, column) == value)
    return session.scalars(query).one_or_none()


def identify_by_contact(channel: str, external_id: str, phone: str, *, now: datetime | None = None) -> IdentifyResult:
    """Identify by a contact the channel verified (the caller checks :func:`verify_contact` first).

    A verified contact whose phone is not a customer's answers ``unknown`` (it is the sender's own number,
    so telling them we do not know it leaks nothing). A locked channel identity stays locked.
    """
    now = now or utcnow()
    normalized = normalize_phone(phone)
    if normalized is None:
        raise InvalidInput("invalid_phone", "not a Turkish mobile number")
    with transaction(write=True) as session:
        identity = get_or_create_channel_identity(session, channel, external_id, now, lock=True)
        identity.last_seen = now
        if (locked := _locked_result(identity, now)) is not None:
            return locked
        customer = _active_customer(session, phone=normalized)
        if customer is None:
            return IdentifyResult(status="unknown")
        _link(session, identity, customer, now)
        audit.record_in(
            session,
            "system",
            "identity.identified",
            "customer",
            customer.id,
            {"method": "contact", "channel": channel, "channel_identity_id": identity.id},
        )
        return _ok(customer)


def identify_by_facts(
    channel: str,
    external_id: str,
    phone_or_customer_number: str,
    birth_date: date | str,
    *,
    now: datetime | None = None,
) -> IdentifyResult:
    """Identify by phone or customer number plus birth date; repeated wrong answers lock the channel identity.

    Raises ``InvalidInput`` (``invalid_identifier`` / ``invalid_birth_date``) when the input cannot be
    parsed at all; those do not count as attempts (the customer mistyped, nothing was checked).
    """
    now = now or utcnow()
    phone = normalize_phone(phone_or_customer_number)
    customer_number = None if phone else normalize_customer_number(phone_or_customer_number)
    if phone is None and customer_number is None:
        raise InvalidInput("invalid_identifier", "neither a phone nor a customer number")
    if isinstance(birth_date, str):
        parsed = parse_birth_date(birth_date, today=now.date())
        if parsed is None:
            raise InvalidInput("invalid_birth_date", "unrecognised birth date")
        birth_date = parsed
    settings = get_settings()
    with transaction(write=True) as session:
        identity = get_or_create_channel_identity(session, channel, external_id, now, lock=True)
        identity.last_seen = now
        if (locked := _locked_result(identity, now)) is not None:
            return locked
        customer = (
            _active_customer(session, phone=phone)
            if phone
            else _active_customer(session, customer_number=customer_number or "")
        )
        if customer is not None and customer.birth_date == birth_date:
            _link(session, identity, customer, now)
            audit.record_in(
                session,
                "system",
                "identity.identified",
                "customer",
                customer.id,
                {"method": "facts", "channel": channel, "channel_identity_id": identity.id},
            )
            return _ok(customer)
        identity.identification_failures += 1
        if identity.identification_failures >= settings.identification_max_attempts:
            identity.locked_until = now + timedelta(minutes=settings.identification_lock_minutes)
            audit.record_in(
                session,
                "system",
                "identity.locked",
                "channel_identity",
                identity.id,
                {"channel": channel, "failures": identity.identification_failures},
            )
            return IdentifyResult(status="locked", attempts_left=0, locked_until=identity.locked_until)
        return IdentifyResult(
            status="mismatch",
            attempts_left=settings.identification_max_attempts - identity.identification_failures,
        )


def _summary(customer: Customer) -> CustomerSummary:
    return CustomerSummary(
        customer_id=customer.id,
        customer_number=customer.customer_number,
        first_name=customer.first_name,
        language=customer.preferred_language,
        checkin_consent=customer.checkin_consent,
        marketing_consent=customer.marketing_consent,
        opted_out=customer.opted_out_at is not None,
    )


def customer_for_channel(channel: str, external_id: str) -> CustomerSummary | None:
    """The customer linked to this channel identity, or None (unknown, unlinked or erased)."""
    with transaction() as session:
        customer = session.scalars(
            select(Customer)
            .join(ChannelIdentity, ChannelIdentity.customer_id == Customer.id)
            .where(
                ChannelIdentity.channel == channel,
                ChannelIdentity.external_id == external_id,
                Customer.erased_at.is_(None),
            )
        ).one_or_none()
        return _summary(customer) if customer else None


def get_customer_summary(customer_id: int) -> CustomerSummary | None:
    """Summary of a customer by id (None if unknown or erased)."""
    with transaction() as session:
        customer = session.get(Customer, customer_id)
        if customer is None or customer.erased_at is not None:
            return None
        return _summary(customer)


def customer_id_by_number(text: str) -> int | None:
    """The id of the (not erased) customer with this customer number, in any spelling; None if unknown."""
    number = normalize_customer_number(text)
    if number is None:
        return None
    with transaction() as session:
        return session.scalars(select(Customer.id).where(Customer.customer_number == number)).first()
