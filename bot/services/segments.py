"""Campaign audiences: JSON segment rules, their validation, and the SQL that selects the customers.

A segment is a small JSON object that marketers build in the console or pass to the CLI, e.g.::

    {"tier_in": ["Gold", "Platinum"], "points_min": 500, "language": "tr", "channel": "telegram",
     "purchased_within_days": 90, "no_conversation_for_days": 30, "last_survey_score_max": 6,
     "last_survey_kind": "nps", "has_open_ticket": false, "birthday_month": 3}

Every rule narrows the audience (logical AND); an empty object means "every customer". Rules are validated
strictly (unknown keys, wrong types and impossible ranges raise ``InvalidInput``) because a typo in a rule
would otherwise silently widen a campaign to everybody. The audience never contains erased customers;
consent, opt-out, reachability and frequency caps are NOT segment rules: they are guard rails applied to
every recipient (``bot.services.outreach``) so that skips are counted and reported with their reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, exists, extract, func, select

from bot.db.models import ChannelIdentity, Conversation, Customer, LoyaltyAccount, Order, SurveyResponse, Ticket
from bot.services.errors import InvalidInput
from bot.services.tx import transaction, utcnow
from bot.settings import get_settings

OPEN_TICKET_STATUSES = ("open", "in_progress")
CHANNELS = ("telegram", "web")


@dataclass(frozen=True)
class SegmentField:
    """Describes one rule so the console can build its form and the CLI its help."""

    key: str
    kind: str  # "tiers" | "int" | "language" | "channel" | "bool" | "month" | "survey_kind"
    label_tr: str
    label_en: str


SEGMENT_FIELDS: tuple[SegmentField, ...] = (
    SegmentField("tier_in", "tiers", "Seviye (biri)", "Tier (any of)"),
    SegmentField("points_min", "int", "En az puan", "Minimum points"),
    SegmentField("points_max", "int", "En çok puan", "Maximum points"),
    SegmentField("language", "language", "Dil", "Language"),
    SegmentField("channel", "channel", "Kanal", "Channel"),
    SegmentField("purchased_within_days", "int", "Son N günde alışveriş yapmış", "Purchased in the last N days"),
    SegmentField("no_purchase_for_days", "int", "N gündür alışveriş yapmamış", "No purchase for N days"),
    SegmentField("conversed_within_days", "int", "Son N günde yazışmış", "Chatted in the last N days"),
    SegmentField("no_conversation_for_days", "int", "N gündür yazışmamış", "No chat for N days"),
    SegmentField("last_survey_score_min", "int", "Son anket puanı en az", "Last survey score at least"),
    SegmentField("last_survey_score_max", "int", "Son anket puanı en çok", "Last survey score at most"),
    SegmentField("last_survey_kind", "survey_kind", "Son anket türü", "Last survey type"),
    SegmentField("has_open_ticket", "bool", "Açık şikayeti var", "Has an open ticket"),
    SegmentField("birthday_month", "month", "Doğum ayı", "Birthday month"),
)
_FIELD_KINDS = {field.key: field.kind for field in SEGMENT_FIELDS}
_MAX_DAYS = 3650


def _invalid(code: str, tr: str, en: str) -> InvalidInput:
    # Bilingual: the console shows it as is to Turkish and English speaking staff alike.
    return InvalidInput(code, f"{tr} / {en}")


def _tier_names() -> dict[str, str]:
    return {name.lower(): name for name, _ in get_settings().tier_table()}


def validate_segment(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check and normalise segment rules; raises ``InvalidInput`` (code ``invalid_segment``) when wrong.

    Returns a new dict with canonical values (tier names as configured, ints as ints) that is safe to
    store as JSON and to pass to :func:`audience_select`.
    """
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise _invalid("invalid_segment", "Segment bir JSON nesnesi olmalı", "The segment must be a JSON object")
    rules: dict[str, Any] = {}
    for key, value in raw.items():
        kind = _FIELD_KINDS.get(key)
        if kind is None:
            known = ", ".join(sorted(_FIELD_KINDS))
            raise _invalid(
                "invalid_segment",
                f"Bilinmeyen segment kuralı: {key!r} (geçerli olanlar: {known})",
                f"Unknown segment rule: {key!r} (valid rules: {known})",
            )
        if value is None:
            continue
        rules[key] = _validate_value(key, kind, value)
    _check_ranges(rules)
    return rules


def _validate_value(key: str, kind: str, value: Any) -> Any:
    if kind == "tiers":
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise _invalid(
                "invalid_segment", f"{key}: seviye adları listesi olmalı", f"{key}: must be a list of tier names"
            )
        names = _tier_names()
        canonical = []
        for item in values:
            name = names.get(item.strip().lower())
            if name is None:
                valid = ", ".join(names.values())
                raise _invalid(
                    "invalid_segment",
                    f"Bilinmeyen seviye: {item!r} (geçerli: {valid})",
                    f"Unknown tier: {item!r} (valid: {valid})",
                )
            if name not in canonical:
                canonical.append(name)
        return canonical
    if kind == "bool":
        if not isinstance(value, bool):
            raise _invalid("invalid_segment", f"{key}: true/false olmalı", f"{key}: must be true or false")
        return value
    if kind == "language":
        if value not in ("tr", "en"):
            raise _invalid("invalid_segment", f"{key}: 'tr' ya da 'en' olmalı", f"{key}: must be 'tr' or 'en'")
        return value
    if kind == "channel":
        if value not in CHANNELS:
            raise _invalid(
                "invalid_segment", f"{key}: 'telegram' ya da 'web' olmalı", f"{key}: must be 'telegram' or 'web'"
            )
        return value
    if kind == "survey_kind":
        if value not in ("csat", "nps"):
            raise _invalid("invalid_segment", f"{key}: 'csat' ya da 'nps' olmalı", f"{key}: must be 'csat' or 'nps'")
        return value
    # Integers: JSON may bring 3.0 or "3" from a form; accept whole numbers only.
    number = _as_int(value)
    if number is None or number < 0:
        raise _invalid(
            "invalid_segment", f"{key}: sıfır ya da pozitif tam sayı olmalı", f"{key}: must be a whole number >= 0"
        )
    if kind == "month" and not 1 <= number <= 12:
        raise _invalid("invalid_segment", f"{key}: 1 ile 12 arasında olmalı", f"{key}: must be between 1 and 12")
    if key.endswith("_days") and not 1 <= number <= _MAX_DAYS:
        raise _invalid(
            "invalid_segment", f"{key}: 1 ile {_MAX_DAYS} gün arasında olmalı", f"{key}: must be 1..{_MAX_DAYS} days"
        )
    if key.startswith("last_survey_score") and number > 10:
        raise _invalid("invalid_segment", f"{key}: 0 ile 10 arasında olmalı", f"{key}: must be between 0 and 10")
    return number


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _check_ranges(rules: dict[str, Any]) -> None:
    pairs = (
        ("points_min", "points_max"),
        ("last_survey_score_min", "last_survey_score_max"),
    )
    for low, high in pairs:
        if low in rules and high in rules and rules[low] > rules[high]:
            raise _invalid(
                "invalid_segment",
                f"{low} ({rules[low]}) {high} ({rules[high]}) değerinden büyük olamaz",
                f"{low} ({rules[low]}) cannot be greater than {high} ({rules[high]})",
            )
    if (
        "purchased_within_days" in rules
        and "no_purchase_for_days" in rules
        and rules["no_purchase_for_days"] >= rules["purchased_within_days"]
    ):
        raise _invalid(
            "invalid_segment",
            "Son alışveriş hem N gün içinde hem de daha eski olamaz",
            "The last purchase cannot be both within and older than the given days",
        )
    if (
        "conversed_within_days" in rules
        and "no_conversation_for_days" in rules
        and rules["no_conversation_for_days"] >= rules["conversed_within_days"]
    ):
        raise _invalid(
            "invalid_segment",
            "Son yazışma hem N gün içinde hem de daha eski olamaz",
            "The last chat cannot be both within and older than the given days",
        )


def audience_select(rules: Mapping[str, Any], now: datetime | None = None) -> Select[tuple[int]]:
    """``SELECT customers.id`` for the (already validated) rules, ordered by id; erased customers excluded.

    "No purchase for N days" means: has bought before, but not in the last N days (a win-back audience);
    customers who never bought are not "lapsed". The same holds for conversations. "Last survey score"
    looks at the customer's most recent answer (of ``last_survey_kind`` when given).
    """
    now = now or utcnow()
    query = select(Customer.id).where(Customer.erased_at.is_(None))
    if "tier_in" in rules or "points_min" in rules or "points_max" in rules:
        query = query.join(LoyaltyAccount, LoyaltyAccount.customer_id == Customer.id)
        if "tier_in" in rules:
            query = query.where(LoyaltyAccount.tier.in_(rules["tier_in"]))
        if "points_min" in rules:
            query = query.where(LoyaltyAccount.balance >= rules["points_min"])
        if "points_max" in rules:
            query = query.where(LoyaltyAccount.balance <= rules["points_max"])
    if "language" in rules:
        query = query.where(Customer.preferred_language == rules["language"])
    if "channel" in rules:
        query = query.where(
            exists().where(
                ChannelIdentity.customer_id == Customer.id,
                ChannelIdentity.channel == rules["channel"],
            )
        )
    last_purchase = select(func.max(Order.placed_at)).where(Order.customer_id == Customer.id).scalar_subquery()
    if "purchased_within_days" in rules:
        query = query.where(last_purchase >= now - timedelta(days=rules["purchased_within_days"]))
    if "no_purchase_for_days" in rules:
        query = query.where(last_purchase < now - timedelta(days=rules["no_purchase_for_days"]))
    last_chat = (
        select(func.max(Conversation.last_seen)).where(Conversation.customer_id == Customer.id).scalar_subquery()
    )
    if "conversed_within_days" in rules:
        query = query.where(last_chat >= now - timedelta(days=rules["conversed_within_days"]))
    if "no_conversation_for_days" in rules:
        query = query.where(last_chat < now - timedelta(days=rules["no_conversation_for_days"]))
    if "last_survey_score_min" in rules or "last_survey_score_max" in rules or "last_survey_kind" in rules:
        latest = select(SurveyResponse.score).where(SurveyResponse.customer_id == Customer.id)
        if "last_survey_kind" in rules:
            latest = latest.where(SurveyResponse.kind == rules["last_survey_kind"])
        latest_score = (
            latest.order_by(SurveyResponse.created_at.desc(), SurveyResponse.id.desc()).limit(1).scalar_subquery()
        )
        if "last_survey_score_min" in rules:
            query = query.where(latest_score >= rules["last_survey_score_min"])
        if "last_survey_score_max" in rules:
            query = query.where(latest_score <= rules["last_survey_score_max"])
        if "last_survey_score_min" not in rules and "last_survey_score_max" not in rules:
            query = query.where(latest_score.is_not(None))
    if "has_open_ticket" in rules:
        open_ticket = exists().where(and_(Ticket.customer_id == Customer.id, Ticket.status.in_(OPEN_TICKET_STATUSES)))
        query = query.where(open_ticket if rules["has_open_ticket"] else ~open_ticket)
    if "birthday_month" in rules:
        query = query.where(extract("month", Customer.birth_date) == rules["birthday_month"])
    return query.order_by(Customer.id)


def count_audience(rules: Mapping[str, Any], now: datetime | None = None) -> int:
    """How many customers the segment selects (validates the rules first)."""
    validated = validate_segment(rules)
    with transaction() as session:
        subquery = audience_select(validated, now).order_by(None).subquery()
        return int(session.scalar(select(func.count()).select_from(subquery)) or 0)


def audience_ids(rules: Mapping[str, Any], now: datetime | None = None) -> list[int]:
    """Every customer id of the segment, ascending (validates the rules first)."""
    validated = validate_segment(rules)
    with transaction() as session:
        return list(session.scalars(audience_select(validated, now)))


def describe_segment(rules: Mapping[str, Any], language: str = "tr") -> str:
    """A one-line human description of the rules, for the console, the CLI and audit screens."""
    if not rules:
        return "tüm müşteriler" if language == "tr" else "all customers"
    parts = []
    labels = {field.key: (field.label_tr if language == "tr" else field.label_en) for field in SEGMENT_FIELDS}
    for key, value in rules.items():
        shown = ", ".join(value) if isinstance(value, list) else value
        if isinstance(value, bool):
            shown = ("evet" if value else "hayır") if language == "tr" else ("yes" if value else "no")
        parts.append(f"{labels.get(key, key)}: {shown}")
    return "; ".join(parts)
