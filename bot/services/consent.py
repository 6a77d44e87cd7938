"""Consents (satisfaction check-ins; commercial messages under law 6563) and channel opt-outs.

Two separate consents, each with timestamp and source (KVKK requires proof of when and how):
- ``checkin_consent``: may we send satisfaction check-ins (CSAT/NPS) after an interaction;
- ``marketing_consent``: commercial electronic messages (law 6563 / İYS). Never a condition of service:
  nothing in the assistant requires it.

Opting out ("dur", "stop", the unsubscribe button) stops *every* proactive message at once: the channel
identity is marked opted out, and if it is linked to a customer, that customer's opt-out is set and both
consents are withdrawn. It works for senders we never identified. Answers to the customer's own messages are
not proactive and continue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import ChannelIdentity, Customer
from bot.services import audit
from bot.services.errors import InvalidInput
from bot.services.identity import get_or_create_channel_identity
from bot.services.tx import transaction, utcnow


@dataclass(frozen=True)
class ConsentState:
    customer_id: int
    checkin_consent: bool
    checkin_consent_at: datetime | None
    marketing_consent: bool
    marketing_consent_at: datetime | None
    opted_out: bool


def _state(customer: Customer) -> ConsentState:
    return ConsentState(
        customer_id=customer.id,
        checkin_consent=customer.checkin_consent,
        checkin_consent_at=customer.checkin_consent_at,
        marketing_consent=customer.marketing_consent,
        marketing_consent_at=customer.marketing_consent_at,
        opted_out=customer.opted_out_at is not None,
    )


def _customer(session: Session, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None or customer.erased_at is not None:
        raise InvalidInput("unknown_customer", "no such customer")
    return customer


def _check_source(source: str) -> str:
    if not source or len(source) > 64:
        raise InvalidInput("invalid_source", "consent source must be 1-64 characters, e.g. 'telegram:chat'")
    return source


def get_consent(customer_id: int) -> ConsentState:
    """The customer's current consents."""
    with transaction() as session:
        return _state(_customer(session, customer_id))


def set_checkin_consent(customer_id: int, granted: bool, source: str, *, now: datetime | None = None) -> ConsentState:
    """Record consent for satisfaction check-ins (timestamp + source). Granting clears an earlier opt-out."""
    return _set(customer_id, "checkin", granted, source, now)


def set_marketing_consent(customer_id: int, granted: bool, source: str, *, now: datetime | None = None) -> ConsentState:
    """Record consent for commercial electronic messages (separate; never a condition of service)."""
    return _set(customer_id, "marketing", granted, source, now)


def _set(customer_id: int, kind: str, granted: bool, source: str, now: datetime | None) -> ConsentState:
    _check_source(source)
    now = now or utcnow()
    with transaction(write=True) as session:
        customer = _customer(session, customer_id)
        if getattr(customer, f"{kind}_consent") != granted:
            setattr(customer, f"{kind}_consent", granted)
            setattr(customer, f"{kind}_consent_at", now)
            setattr(customer, f"{kind}_consent_source", source)
            audit.record_in(
                session, "customer", f"consent.{kind}", "customer", customer.id, {"granted": granted, "source": source}
            )
        if granted and customer.opted_out_at is not None:
            # An explicit new consent is a newer, specific decision than the earlier blanket opt-out.
            customer.opted_out_at = None
        return _state(customer)


def opt_out_channel(channel: str, external_id: str, source: str, *, now: datetime | None = None) -> None:
    """Stop every proactive message to this sender now (works for unidentified senders too)."""
    _check_source(source)
    now = now or utcnow()
    with transaction(write=True) as session:
        identity = get_or_create_channel_identity(session, channel, external_id, now, lock=True)
        if identity.opted_out_at is None:
            identity.opted_out_at = now
        identity.last_seen = now
        if identity.customer_id is not None:
            customer = session.get(Customer, identity.customer_id)
            if customer is not None and customer.erased_at is None:
                customer.opted_out_at = customer.opted_out_at or now
                for kind in ("checkin", "marketing"):
                    if getattr(customer, f"{kind}_consent"):
                        setattr(customer, f"{kind}_consent", False)
                        setattr(customer, f"{kind}_consent_at", now)
                        setattr(customer, f"{kind}_consent_source", source)
        audit.record_in(
            session,
            "customer",
            "consent.opt_out",
            "channel_identity",
            identity.id,
            {"channel": channel, "source": source, "customer_id": identity.customer_id},
        )


def opt_in_channel(channel: str, external_id: str, source: str, *, now: datetime | None = None) -> None:
    """Undo a channel opt-out ("start again"); consents stay withdrawn until granted again explicitly."""
    _check_source(source)
    now = now or utcnow()
    with transaction(write=True) as session:
        identity = get_or_create_channel_identity(session, channel, external_id, now, lock=True)
        identity.opted_out_at = None
        identity.last_seen = now
        if identity.customer_id is not None:
            customer = session.get(Customer, identity.customer_id)
            if customer is not None:
                customer.opted_out_at = None
        audit.record_in(
            session,
            "customer",
            "consent.opt_in",
            "channel_identity",
            identity.id,
            {"channel": channel, "source": source},
        )


def is_opted_out(channel: str, external_id: str) -> bool:
    """True if this sender, or the customer linked to it, opted out."""
    with transaction() as session:
        identity = session.scalars(
            select(ChannelIdentity).where(
                ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
            )
        ).one_or_none()
        if identity is None:
            return False
        if identity.opted_out_at is not None:
            return True
        if identity.customer_id is None:
            return False
        customer = session.get(Customer, identity.customer_id)
        return customer is not None and customer.opted_out_at is not None
