"""Aggregates for the console's analytics page (marketers and admins): numbers only, no personal data.

Definitions (also shown on the page, Turkish first):

* **Containment** - conversations in which nobody asked for or was handed to a person (no handover
  request) / all conversations. "The assistant kept the conversation."
* **Deflection** - conversations that created no work for staff at all: no handover *and* no ticket /
  all conversations. Lower than containment, because the assistant may open a complaint ticket by itself.
* **Resolution** - tickets opened in the period that are resolved or closed now / tickets opened in the
  period, with the median hours from opening to resolution. It measures staff follow-through, not the bot.
* **Fallback rate** - customer turns the assistant did not understand (NLU fallback or a fallback action)
  / all customer turns, by the day the conversation started.
* **CSAT** - share of 4-5 answers among 1-5 answers (and the mean); **NPS** - % promoters (9-10) minus
  % detractors (0-6) among 0-10 answers.

Conversation numbers come from ``conversation_summaries`` (kept current by the tracker sync); days are
calendar days in ``settings.timezone``.
"""

from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, cast, func, literal_column, select

from bot.db.models import LoyaltyAccount, SurveyResponse, Ticket
from bot.db.models_console import ConversationIntent, ConversationSummary
from bot.services.tx import transaction
from bot.settings import get_settings

CAMPAIGN_SERIES = ("recipients", "sent", "delivered", "responded", "failed")
CHART_NAMES = (
    "conversations_by_channel",
    "conversations_by_language",
    "outcomes",
    "top_intents",
    "fallback_rate",
    "csat",
    "nps",
    "tiers",
    "campaigns",
)


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[float | int | None, ...]


@dataclass(frozen=True)
class Chart:
    name: str
    kind: str  # line | bar | doughnut
    labels: tuple[str, ...]
    series: tuple[Series, ...]
    unit: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["label", *[s.name for s in self.series]])
        for index, label in enumerate(self.labels):
            writer.writerow([label, *["" if s.values[index] is None else s.values[index] for s in self.series]])
        return buffer.getvalue()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "labels": list(self.labels),
            "series": [{"name": s.name, "values": list(s.values)} for s in self.series],
            "unit": self.unit,
        }


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def bounds(self) -> tuple[datetime, datetime]:
        tz = ZoneInfo(get_settings().timezone)
        lo = datetime.combine(self.start, time.min, tzinfo=tz).astimezone(UTC)
        hi = datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC)
        return lo, hi


def default_period(today: date | None = None, days: int = 30) -> Period:
    today = today or datetime.now(ZoneInfo(get_settings().timezone)).date()
    return Period(today - timedelta(days=days - 1), today)


def _local_day(session: Any, column: Any) -> Any:
    """The calendar day of a UTC timestamp in the configured timezone, on either backend."""
    tz = get_settings().timezone
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone(tz, column), Date)
    # SQLite has no time zones: apply the zone's current offset (Türkiye has no DST since 2016).
    offset = datetime.now(ZoneInfo(tz)).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    return func.date(column, literal_column(f"'{minutes:+d} minutes'"))


def _as_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _per_day(rows: list[tuple[Any, str, int]], period: Period, names: list[str]) -> tuple[Series, ...]:
    table: dict[str, dict[date, int]] = {n: {} for n in names}
    for day, key, n in rows:
        table.setdefault(key, {})[_as_date(day)] = int(n)
    return tuple(Series(name, tuple(table.get(name, {}).get(d, 0) for d in period.days)) for name in table)


def conversations_by(dimension: str, period: Period) -> Chart:
    column = ConversationSummary.channel if dimension == "channel" else ConversationSummary.language
    lo, hi = period.bounds()
    with transaction() as session:
        day = _local_day(session, ConversationSummary.first_event_at)
        key = func.coalesce(column, literal_column("'unknown'"))
        rows = session.execute(
            select(day, key, func.count())
            .where(ConversationSummary.first_event_at >= lo, ConversationSummary.first_event_at < hi)
            .group_by(day, key)
        ).all()
    defaults = ["telegram", "web", "rest"] if dimension == "channel" else ["tr", "en"]
    series = _per_day([tuple(r) for r in rows], period, defaults)
    series = tuple(s for s in series if s.name in defaults or any(s.values))
    return Chart(f"conversations_by_{dimension}", "bar", tuple(d.isoformat() for d in period.days), series)


@dataclass(frozen=True)
class Outcomes:
    conversations: int
    contained: int
    deflected: int
    tickets_opened: int
    tickets_resolved: int
    median_hours_to_resolve: float | None

    @property
    def containment_rate(self) -> float | None:
        return round(self.contained / self.conversations, 4) if self.conversations else None

    @property
    def deflection_rate(self) -> float | None:
        return round(self.deflected / self.conversations, 4) if self.conversations else None

    @property
    def resolution_rate(self) -> float | None:
        return round(self.tickets_resolved / self.tickets_opened, 4) if self.tickets_opened else None


def outcomes(period: Period) -> Outcomes:
    lo, hi = period.bounds()
    s = ConversationSummary
    with transaction() as session:
        in_period = (s.first_event_at >= lo, s.first_event_at < hi)
        total = session.scalar(select(func.count()).select_from(s).where(*in_period)) or 0
        contained = (
            session.scalar(select(func.count()).select_from(s).where(*in_period, s.has_handover.is_(False))) or 0
        )
        deflected = (
            session.scalar(
                select(func.count())
                .select_from(s)
                .where(*in_period, s.has_handover.is_(False), s.has_ticket.is_(False))
            )
            or 0
        )
        tickets = session.execute(
            select(Ticket.status, Ticket.created_at, Ticket.resolved_at).where(
                Ticket.created_at >= lo, Ticket.created_at < hi
            )
        ).all()
    resolved = [t for t in tickets if t.status in ("resolved", "closed")]
    hours = [(t.resolved_at - t.created_at).total_seconds() / 3600 for t in resolved if t.resolved_at and t.created_at]
    return Outcomes(
        conversations=total,
        contained=contained,
        deflected=deflected,
        tickets_opened=len(tickets),
        tickets_resolved=len(resolved),
        median_hours_to_resolve=round(statistics.median(hours), 1) if hours else None,
    )


def outcomes_chart(period: Period) -> Chart:
    o = outcomes(period)

    def pct(v: float | None) -> float | None:
        return None if v is None else round(100 * v, 1)

    return Chart(
        "outcomes",
        "bar",
        ("containment", "deflection", "resolution"),
        (Series("percent", (pct(o.containment_rate), pct(o.deflection_rate), pct(o.resolution_rate))),),
        unit="%",
        extra={"outcomes": o},
    )


def top_intents(period: Period, limit: int = 15) -> Chart:
    lo, hi = period.bounds()
    with transaction() as session:
        rows = session.execute(
            select(ConversationIntent.intent, func.sum(ConversationIntent.count).label("n"))
            .join(ConversationSummary, ConversationSummary.sender_id == ConversationIntent.sender_id)
            .where(ConversationSummary.first_event_at >= lo, ConversationSummary.first_event_at < hi)
            .group_by(ConversationIntent.intent)
            .order_by(func.sum(ConversationIntent.count).desc(), ConversationIntent.intent)
            .limit(limit)
        ).all()
    return Chart("top_intents", "bar", tuple(r.intent for r in rows), (Series("turns", tuple(int(r.n) for r in rows)),))


def fallback_rate(period: Period) -> Chart:
    lo, hi = period.bounds()
    with transaction() as session:
        day = _local_day(session, ConversationSummary.first_event_at)
        rows = session.execute(
            select(day, func.sum(ConversationSummary.fallback_turns), func.sum(ConversationSummary.turns))
            .where(ConversationSummary.first_event_at >= lo, ConversationSummary.first_event_at < hi)
            .group_by(day)
        ).all()
    by_day = {_as_date(d): (int(f or 0), int(t or 0)) for d, f, t in rows}
    values = tuple(
        round(100 * by_day[d][0] / by_day[d][1], 2) if d in by_day and by_day[d][1] else None for d in period.days
    )
    return Chart(
        "fallback_rate", "line", tuple(d.isoformat() for d in period.days), (Series("fallback %", values),), unit="%"
    )


def _survey_rows(kind: str, period: Period) -> dict[date, list[int]]:
    lo, hi = period.bounds()
    with transaction() as session:
        day = _local_day(session, SurveyResponse.created_at)
        rows = session.execute(
            select(day, SurveyResponse.score).where(
                SurveyResponse.kind == kind, SurveyResponse.created_at >= lo, SurveyResponse.created_at < hi
            )
        ).all()
    per: dict[date, list[int]] = {}
    for d, score in rows:
        per.setdefault(_as_date(d), []).append(int(score))
    return per


def csat(period: Period) -> Chart:
    per = _survey_rows("csat", period)
    satisfied = tuple(
        round(100 * sum(1 for s in per[d] if s >= 4) / len(per[d]), 1) if per.get(d) else None for d in period.days
    )
    mean = tuple(round(statistics.mean(per[d]), 2) if per.get(d) else None for d in period.days)
    answers = tuple(len(per.get(d, [])) for d in period.days)
    return Chart(
        "csat",
        "line",
        tuple(d.isoformat() for d in period.days),
        (Series("CSAT %", satisfied), Series("mean", mean), Series("answers", answers)),
        unit="%",
    )


def nps(period: Period) -> Chart:
    per = _survey_rows("nps", period)

    def score(values: list[int]) -> float:
        promoters = sum(1 for v in values if v >= 9)
        detractors = sum(1 for v in values if v <= 6)
        return round(100 * (promoters - detractors) / len(values), 1)

    values = tuple(score(per[d]) if per.get(d) else None for d in period.days)
    answers = tuple(len(per.get(d, [])) for d in period.days)
    return Chart(
        "nps", "line", tuple(d.isoformat() for d in period.days), (Series("NPS", values), Series("answers", answers))
    )


def tier_distribution() -> Chart:
    order = [name for name, _ in get_settings().tier_table()]
    with transaction() as session:
        rows = dict(session.execute(select(LoyaltyAccount.tier, func.count()).group_by(LoyaltyAccount.tier)).all())
    labels = [*order, *sorted(k for k in rows if k not in order)]
    return Chart("tiers", "doughnut", tuple(labels), (Series("members", tuple(int(rows.get(t, 0)) for t in labels)),))


def campaign_results_chart(limit: int = 10) -> Chart:
    """Sent / delivered / answered per recent campaign, from the scheduler's campaign service."""
    try:
        from bot.services import campaigns as campaign_service
    except ImportError:
        return Chart("campaigns", "bar", (), (), extra={"unavailable": True})
    labels: list[str] = []
    columns: dict[str, list[int]] = {}
    for item in _campaign_results(campaign_service, limit):
        labels.append(item["name"])
        for key, value in item["counts"].items():
            columns.setdefault(key, [0] * (len(labels) - 1)).append(int(value))
        for key in columns:
            if len(columns[key]) < len(labels):
                columns[key].append(0)
    return Chart("campaigns", "bar", tuple(labels), tuple(Series(k, tuple(v)) for k, v in columns.items()))


def _campaign_results(campaign_service: Any, limit: int) -> list[dict[str, Any]]:
    """Adapter over the scheduler's API (list campaigns, then results per campaign)."""
    lister = getattr(campaign_service, "list_campaigns", None)
    results = getattr(campaign_service, "campaign_results", None) or getattr(campaign_service, "results", None)
    if lister is None or results is None:
        return []
    out = []
    for campaign in list(lister())[:limit]:
        campaign_id = getattr(campaign, "id", None)
        if campaign_id is None:
            continue
        result = results(campaign_id)
        counts = _numeric_fields(result)
        out.append({"name": str(getattr(campaign, "name", campaign_id)), "counts": counts})
    return out


def _numeric_fields(result: Any) -> dict[str, int]:
    from dataclasses import asdict, is_dataclass

    data = asdict(result) if is_dataclass(result) else dict(result) if isinstance(result, dict) else {}
    return {k: int(data[k]) for k in CAMPAIGN_SERIES if isinstance(data.get(k), int)}


def chart(name: str, period: Period) -> Chart:
    if name == "conversations_by_channel":
        return conversations_by("channel", period)
    if name == "conversations_by_language":
        return conversations_by("language", period)
    if name == "outcomes":
        return outcomes_chart(period)
    if name == "top_intents":
        return top_intents(period)
    if name == "fallback_rate":
        return fallback_rate(period)
    if name == "csat":
        return csat(period)
    if name == "nps":
        return nps(period)
    if name == "tiers":
        return tier_distribution()
    if name == "campaigns":
        return campaign_results_chart()
    raise KeyError(name)
