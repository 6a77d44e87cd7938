"""Append-only audit trail of who did what (ids and codes only, never personal data).

KVKK requires that we can show who accessed or changed personal data; the trail itself must not become a
second copy of that data, so ``details`` keys that usually carry personal data are refused outright.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bot.db.models import AuditLog
from bot.services.errors import InvalidInput
from bot.services.tx import transaction, utcnow

#: Keys that would put personal data or free text in the audit trail.
FORBIDDEN_DETAIL_KEYS = frozenset(
    {
        "name",
        "first_name",
        "last_name",
        "full_name",
        "phone",
        "email",
        "birth_date",
        "address",
        "text",
        "message",
        "description",
        "comment",
        "body",
        "note",
        "tc",
        "tc_kimlik",
        "card",
        "password",
    }
)


def _check_details(details: dict[str, Any]) -> dict[str, Any]:
    for key, value in details.items():
        if key.lower() in FORBIDDEN_DETAIL_KEYS:
            raise InvalidInput("personal_data_in_audit", f"audit details must not contain {key!r}")
        if isinstance(value, dict):
            _check_details(value)
    return details


def record_in(
    session: Session,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | int | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append an audit entry inside the caller's transaction (it commits or rolls back with the change)."""
    session.add(
        AuditLog(
            actor=actor[:64],
            action=action[:64],
            entity=entity[:32],
            entity_id=None if entity_id is None else str(entity_id)[:64],
            details=_check_details(dict(details or {})),
            created_at=utcnow(),
        )
    )


def record(
    actor: str, action: str, entity: str, entity_id: str | int | None, details: dict[str, Any] | None = None
) -> None:
    """Append an audit entry in its own transaction (``actor``: staff username, ``system``, ``customer``...)."""
    with transaction(write=True) as session:
        record_in(session, actor, action, entity, entity_id, details)
