"""Marketers' campaigns: create, validate, preview, dry-run, schedule, pause/resume/cancel, run, results.

The ``campaigns`` table is the source of truth; the scheduler process mirrors it into APScheduler jobs
(``bot.scheduler.jobs.sync_campaign_jobs``). A run only *queues* outbox rows (one per recipient, unique
per campaign + run + customer), so running the same occurrence twice is harmless; the outbox sender does
the delivery. Every validation error is an ``InvalidInput`` with a stable ``code`` and a bilingual
"Türkçe / English" message that the console and the CLI can show as is, raised before anything is stored
or scheduled.

Statuses: draft -> scheduled -> (running) -> completed; scheduled <-> paused; any -> cancelled; a one-off
campaign whose time passed while the scheduler was down for longer than the misfire grace becomes
``missed`` (it can be rescheduled with a new time).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from bot.db.models import Conversation, Customer, SurveyResponse, Ticket
from bot.db.models_outreach import Campaign, CampaignRun, OutboxMessage
from bot.services import audit, outreach, segments
from bot.services.errors import InvalidInput
from bot.services.outreach import INTENTS, OutreachConfig
from bot.services.tx import transaction, utcnow
from bot.settings import get_settings

SurveyType = Literal["csat", "nps", "message"]
ScheduleKind = Literal["once", "cron", "after_ticket_resolved", "after_conversation"]
RELATIVE_KINDS = ("after_ticket_resolved", "after_conversation")
ACTIVE_STATUSES = ("scheduled", "running")
EDITABLE_STATUSES = ("draft", "missed")
#: A one-off campaign must be at least this far in the future when it is scheduled.
MIN_LEAD = timedelta(minutes=1)
MAX_DELAY_HOURS = 24 * 30


def _invalid(code: str, tr: str, en: str) -> InvalidInput:
    return InvalidInput(code, f"{tr} / {en}")


# --------------------------------------------------------------------------------------------------------------
# Data passed in and out
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignSpec:
    """What a marketer fills in. Times may be aware datetimes, ISO strings, or naive (= campaign timezone)."""

    name: str
    survey_type: SurveyType
    template_tr: str
    template_en: str
    schedule_kind: ScheduleKind = "once"
    segment: Mapping[str, Any] = field(default_factory=dict)
    run_at: datetime | str | None = None
    cron: str | None = None
    delay_hours: int | None = None
    starts_at: datetime | str | None = None
    ends_at: datetime | str | None = None
    timezone: str | None = None
    commercial: bool | None = None  # default: True for "message", False for surveys
    reminder_after_hours: int | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> CampaignSpec:
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise _invalid(
                "invalid_campaign",
                f"Bilinmeyen alan(lar): {', '.join(unknown)}",
                f"Unknown field(s): {', '.join(unknown)}",
            )
        missing = [name for name in ("name", "survey_type", "template_tr", "template_en") if not data.get(name)]
        if missing:
            raise _invalid(
                "invalid_campaign", f"Eksik alan(lar): {', '.join(missing)}", f"Missing field(s): {', '.join(missing)}"
            )
        return cls(**{key: value for key, value in data.items() if key in known})


@dataclass(frozen=True)
class CampaignInfo:
    id: int
    name: str
    survey_type: str
    commercial: bool
    segment: Mapping[str, Any]
    segment_description_tr: str
    segment_description_en: str
    template_tr: str
    template_en: str
    schedule_kind: str
    run_at: datetime | None
    cron: str | None
    delay_hours: int | None
    starts_at: datetime | None
    ends_at: datetime | None
    timezone: str
    reminder_after_hours: int | None
    status: str
    schedule_version: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    scheduled_at: datetime | None
    last_run_at: datetime | None
    finished_at: datetime | None
    next_run_at: datetime | None
    stats: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PreviewRecipient:
    masked_name: str
    tier: str | None
    points: int
    language: str
    channel: str | None
    would_send: bool
    skip_reason: str | None


@dataclass(frozen=True)
class CampaignPreview:
    audience_size: int
    eligible: int
    skipped_by_reason: Mapping[str, int]
    sample: Sequence[PreviewRecipient]
    example_tr: str
    example_en: str


@dataclass(frozen=True)
class DryRunEntry:
    customer_id: int
    customer_number: str
    masked_name: str
    language: str
    channel: str | None
    would_send: bool
    skip_reason: str | None
    send_at: datetime | None
    message: str | None


@dataclass(frozen=True)
class DryRunReport:
    campaign_id: int
    audience_size: int
    would_send: int
    skipped_by_reason: Mapping[str, int]
    entries: Sequence[DryRunEntry]


@dataclass(frozen=True)
class RunSummary:
    campaign_id: int
    run_key: str
    status: str
    audience: int = 0
    queued: int = 0
    skipped: int = 0
    skipped_by_reason: Mapping[str, int] = field(default_factory=dict)
    note: str | None = None


@dataclass(frozen=True)
class WeeklyPoint:
    week_start: date
    responses: int
    csat_average: float | None
    nps: float | None


@dataclass(frozen=True)
class CommentItem:
    created_at: datetime
    kind: str
    score: int
    comment: str
    language: str


@dataclass(frozen=True)
class CampaignResults:
    campaign_id: int
    name: str
    survey_type: str
    status: str
    recipients: int
    by_state: Mapping[str, int]
    skipped_by_reason: Mapping[str, int]
    sent: int  # reached the channel: sent + delivered + responded (+ failed after a part went out)
    delivered: int
    failed: int
    responded: int
    reminders_sent: int
    response_rate: float | None
    csat_average: float | None
    csat_distribution: Mapping[int, int]
    nps: float | None
    promoters: int
    passives: int
    detractors: int
    nps_distribution: Mapping[int, int]
    weekly: Sequence[WeeklyPoint]
    comments: Sequence[CommentItem]


@dataclass(frozen=True)
class ScheduledCampaign:
    """What the scheduler needs to build (or drop) a campaign's APScheduler job."""

    id: int
    status: str
    schedule_kind: str
    run_at: datetime | None
    cron: str | None
    timezone: str
    starts_at: datetime | None
    ends_at: datetime | None
    schedule_version: int


# --------------------------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------------------------

_DOW_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_DOW_NUMBERS = {name: number for number, name in enumerate(_DOW_NAMES)}


def _dow_number(token: str) -> int:
    token = token.strip().lower()
    if token.isdigit() and int(token) <= 7:
        return int(token)
    if token[:3] in _DOW_NUMBERS:
        return _DOW_NUMBERS[token[:3]]
    raise ValueError(f"bad day of week {token!r}")


def _translate_dow(field_text: str) -> str:
    """Crontab day-of-week (0 or 7 = Sunday, 1 = Monday) -> an explicit list of day names.

    APScheduler 3 numbers days from Monday = 0, so ``CronTrigger.from_crontab("0 9 * * 1")`` fires on
    *Tuesdays*. Marketers who write crontab mean Monday; names mean the same thing to both, so the field is
    expanded (lists, ranges, steps) into names.
    """
    if field_text in ("*", "?"):
        return "*"
    days: set[int] = set()
    for item in field_text.split(","):
        base, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError("step must be positive")
        if base == "*":
            low, high = 0, 6
        elif "-" in base:
            low, high = (_dow_number(part) for part in base.split("-", 1))
        else:
            low = _dow_number(base)
            high = 6 if step_text else low
        if low > high:
            raise ValueError(f"bad day-of-week range {base!r}")
        days.update(number % 7 for number in range(low, high + 1, step))
    return ",".join(_DOW_NAMES[number] for number in sorted(days))


def crontab_trigger(
    expression: str, timezone: str, start: datetime | None = None, end: datetime | None = None
) -> CronTrigger:
    """A CronTrigger for a standard 5-field crontab line, validated; raises ``InvalidInput`` (``invalid_cron``)."""
    text = (expression or "").strip()
    fields = text.split()
    if len(fields) != 5:
        raise _invalid(
            "invalid_cron",
            f"Geçersiz cron ifadesi {text!r}: 5 alan gerekir (dakika saat gün ay haftanın-günü), örn. '0 10 * * 1'",
            f"Invalid cron expression {text!r}: 5 fields needed (minute hour day month day-of-week), e.g. '0 10 * * 1'",
        )
    try:
        minute, hour, day, month, dow = fields
        weekdays = _translate_dow(dow)
        # Syntax and ranges as APScheduler parses them (day of week already as names, see above).
        CronTrigger.from_crontab(f"{minute} {hour} {day} {month} {weekdays}", timezone=timezone)
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=weekdays,
            timezone=timezone,
            start_date=start,
            end_date=end,
        )
    except ValueError as error:
        raise _invalid(
            "invalid_cron",
            f"Geçersiz cron ifadesi {text!r} ({error})",
            f"Invalid cron expression {text!r} ({error})",
        ) from None


def _timezone(name: str | None) -> str:
    name = name or get_settings().timezone
    try:
        ZoneInfo(name)
    except (KeyError, ValueError):
        raise _invalid("invalid_timezone", f"Bilinmeyen saat dilimi: {name!r}", f"Unknown timezone: {name!r}") from None
    except Exception:  # noqa: BLE001 - ZoneInfoNotFoundError and friends
        raise _invalid("invalid_timezone", f"Bilinmeyen saat dilimi: {name!r}", f"Unknown timezone: {name!r}") from None
    return name


def _moment(value: datetime | str | None, tz: str, label: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip().replace(" ", "T", 1)
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise _invalid(
                "invalid_datetime",
                f"{label}: tarih/saat anlaşılamadı ({value!r}); örn. 2026-12-01T10:00",
                f"{label}: could not read the date/time ({value!r}); e.g. 2026-12-01T10:00",
            ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(tz))
    return value.astimezone(UTC)


@dataclass(frozen=True)
class _Validated:
    name: str
    survey_type: str
    commercial: bool
    segment: dict[str, Any]
    template_tr: str
    template_en: str
    schedule_kind: str
    run_at: datetime | None
    cron: str | None
    delay_hours: int | None
    starts_at: datetime | None
    ends_at: datetime | None
    timezone: str
    reminder_after_hours: int | None


def validate_spec(spec: CampaignSpec | Mapping[str, Any]) -> _Validated:
    """Everything that can be checked without looking at the clock or the audience."""
    if not isinstance(spec, CampaignSpec):
        spec = CampaignSpec.from_mapping(spec)
    name = (spec.name or "").strip()
    if not name or len(name) > 120:
        raise _invalid(
            "invalid_name", "Kampanya adı 1-120 karakter olmalı", "The campaign name must be 1-120 characters"
        )
    if spec.survey_type not in ("csat", "nps", "message"):
        raise _invalid(
            "invalid_survey_type",
            "Tür 'csat', 'nps' ya da 'message' olmalı",
            "The type must be 'csat', 'nps' or 'message'",
        )
    template_tr = outreach.validate_template(spec.template_tr, "tr")
    template_en = outreach.validate_template(spec.template_en, "en")
    segment = segments.validate_segment(spec.segment)
    tz = _timezone(spec.timezone)
    kind = spec.schedule_kind
    if kind not in ("once", "cron", *RELATIVE_KINDS):
        raise _invalid(
            "invalid_schedule",
            "Zamanlama 'once', 'cron', 'after_ticket_resolved' ya da 'after_conversation' olmalı",
            "The schedule must be 'once', 'cron', 'after_ticket_resolved' or 'after_conversation'",
        )
    run_at = _moment(spec.run_at, tz, "run_at")
    starts_at = _moment(spec.starts_at, tz, "starts_at")
    ends_at = _moment(spec.ends_at, tz, "ends_at")
    cron = None
    delay = None
    if kind == "once":
        if run_at is None:
            raise _invalid(
                "invalid_schedule",
                "Tek seferlik kampanya için gönderim zamanı gerekli",
                "A one-off campaign needs a send time",
            )
    elif kind == "cron":
        cron = " ".join((spec.cron or "").split())
        crontab_trigger(cron, tz)
    else:
        delay = spec.delay_hours
        if isinstance(delay, bool) or not isinstance(delay, int) or not 1 <= delay <= MAX_DELAY_HOURS:
            raise _invalid(
                "invalid_schedule",
                f"Olaydan sonra bekleme süresi 1-{MAX_DELAY_HOURS} saat olmalı",
                f"The delay after the event must be 1-{MAX_DELAY_HOURS} hours",
            )
    if starts_at and ends_at and starts_at >= ends_at:
        raise _invalid("invalid_schedule", "Başlangıç bitişten önce olmalı", "The start must be before the end")
    if run_at and ends_at and run_at > ends_at:
        raise _invalid(
            "invalid_schedule", "Gönderim zamanı bitişten sonra olamaz", "The send time cannot be after the end"
        )
    reminder = spec.reminder_after_hours
    if reminder is not None:
        if spec.survey_type == "message":
            raise _invalid("invalid_reminder", "Hatırlatma yalnızca anketler için", "Reminders are for surveys only")
        window_hours = OutreachConfig.load().answer_window_days * 24
        if isinstance(reminder, bool) or not isinstance(reminder, int) or not 1 <= reminder < window_hours:
            raise _invalid(
                "invalid_reminder",
                f"Hatırlatma 1 ile {window_hours - 1} saat arasında olmalı (yanıt süresi içinde)",
                f"The reminder must be 1 to {window_hours - 1} hours after sending (within the answer window)",
            )
    commercial = spec.commercial if spec.commercial is not None else spec.survey_type == "message"
    return _Validated(
        name=name,
        survey_type=spec.survey_type,
        commercial=bool(commercial),
        segment=segment,
        template_tr=template_tr,
        template_en=template_en,
        schedule_kind=kind,
        run_at=run_at,
        cron=cron,
        delay_hours=delay,
        starts_at=starts_at,
        ends_at=ends_at,
        timezone=tz,
        reminder_after_hours=reminder,
    )


def next_run_time(campaign: Campaign | ScheduledCampaign, now: datetime | None = None) -> datetime | None:
    """When the campaign fires next (None for event-driven or finished campaigns)."""
    now = now or utcnow()
    if campaign.schedule_kind == "once":
        return campaign.run_at if campaign.run_at and campaign.run_at > now else None
    if campaign.schedule_kind == "cron" and campaign.cron:
        trigger = crontab_trigger(campaign.cron, campaign.timezone, campaign.starts_at, campaign.ends_at)
        fire = trigger.get_next_fire_time(None, now.astimezone(ZoneInfo(campaign.timezone)))
        return fire.astimezone(UTC) if fire else None
    return None


def _check_schedulable(validated: _Validated, now: datetime) -> None:
    """The clock-dependent checks, done when scheduling (a draft may be written days ahead)."""
    if validated.schedule_kind == "once" and validated.run_at is not None and validated.run_at < now + MIN_LEAD:
        raise _invalid(
            "time_in_past",
            "Gönderim zamanı geçmişte (ya da bir dakikadan yakın); ileri bir zaman seçin",
            "The send time is in the past (or less than a minute away); choose a later time",
        )
    if validated.ends_at is not None and validated.ends_at <= now:
        raise _invalid("time_in_past", "Bitiş zamanı geçmişte", "The end time is in the past")
    if validated.schedule_kind == "cron":
        trigger = crontab_trigger(validated.cron or "", validated.timezone, validated.starts_at, validated.ends_at)
        if trigger.get_next_fire_time(None, now.astimezone(ZoneInfo(validated.timezone))) is None:
            raise _invalid(
                "time_in_past",
                "Bu cron ifadesi bitiş tarihinden önce hiç çalışmıyor",
                "This cron expression never fires before the end date",
            )


# --------------------------------------------------------------------------------------------------------------
# CRUD
# --------------------------------------------------------------------------------------------------------------


def _info(campaign: Campaign, stats: Mapping[str, int] | None = None, now: datetime | None = None) -> CampaignInfo:
    upcoming = next_run_time(campaign, now) if campaign.status in ("scheduled", "paused") else None
    return CampaignInfo(
        id=campaign.id,
        name=campaign.name,
        survey_type=campaign.survey_type,
        commercial=campaign.commercial,
        segment=dict(campaign.segment or {}),
        segment_description_tr=segments.describe_segment(campaign.segment or {}, "tr"),
        segment_description_en=segments.describe_segment(campaign.segment or {}, "en"),
        template_tr=campaign.template_tr,
        template_en=campaign.template_en,
        schedule_kind=campaign.schedule_kind,
        run_at=campaign.run_at,
        cron=campaign.cron,
        delay_hours=campaign.delay_hours,
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        timezone=campaign.timezone,
        reminder_after_hours=campaign.reminder_after_hours,
        status=campaign.status,
        schedule_version=campaign.schedule_version,
        created_by=campaign.created_by,
        created_at=campaign.created_at,
        updated_at=campaign.updated_at,
        scheduled_at=campaign.scheduled_at,
        last_run_at=campaign.last_run_at,
        finished_at=campaign.finished_at,
        next_run_at=upcoming,
        stats=dict(stats or {}),
    )


def _get(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, int(campaign_id))
    if campaign is None:
        raise _invalid("unknown_campaign", f"Kampanya bulunamadı: {campaign_id}", f"No such campaign: {campaign_id}")
    return campaign


def _apply(campaign: Campaign, validated: _Validated) -> None:
    for key, value in asdict(validated).items():
        setattr(campaign, key, value)


def create_campaign(spec: CampaignSpec | Mapping[str, Any], actor: str) -> CampaignInfo:
    """Store a validated draft (nothing is scheduled yet; see :func:`schedule_campaign`)."""
    validated = validate_spec(spec)
    now = utcnow()
    with transaction(write=True) as session:
        campaign = Campaign(status="draft", schedule_version=1, created_by=actor[:64], created_at=now, updated_at=now)
        _apply(campaign, validated)
        session.add(campaign)
        session.flush()
        info = _info(campaign, now=now)
        audit.record_in(session, actor, "campaign.create", "campaign", info.id, {"survey_type": info.survey_type})
    return info


def update_campaign(campaign_id: int, spec: CampaignSpec | Mapping[str, Any], actor: str) -> CampaignInfo:
    """Replace a draft's (or a missed campaign's) definition. Scheduled campaigns are not edited in place
    (cancel and create a new one), so results always belong to exactly one definition."""
    validated = validate_spec(spec)
    now = utcnow()
    with transaction(write=True) as session:
        campaign = _get(session, campaign_id)
        if campaign.status not in EDITABLE_STATUSES:
            raise _invalid(
                "not_editable",
                f"'{campaign.status}' durumundaki kampanya değiştirilemez (yalnızca taslak)",
                f"A campaign in status '{campaign.status}' cannot be edited (drafts only)",
            )
        _apply(campaign, validated)
        campaign.status = "draft"
        campaign.schedule_version += 1
        campaign.updated_at = now
        info = _info(campaign, now=now)
        audit.record_in(session, actor, "campaign.update", "campaign", campaign_id, {})
    return info


def _stats(session: Session, campaign_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    result: dict[int, dict[str, int]] = {}
    if not campaign_ids:
        return result
    rows = session.execute(
        select(OutboxMessage.campaign_id, OutboxMessage.state, func.count())
        .where(OutboxMessage.campaign_id.in_(campaign_ids), OutboxMessage.is_reminder.is_(False))
        .group_by(OutboxMessage.campaign_id, OutboxMessage.state)
    )
    for campaign_id, state, count in rows:
        result.setdefault(campaign_id, {})[state] = int(count)
    return result


def get_campaign(campaign_id: int) -> CampaignInfo | None:
    """One campaign with its outbox counts per state (``stats``), or None."""
    with transaction() as session:
        campaign = session.get(Campaign, int(campaign_id))
        if campaign is None:
            return None
        return _info(campaign, _stats(session, [campaign.id]).get(campaign.id))


def list_campaigns(
    status: str | Sequence[str] | None = None, *, limit: int = 200, offset: int = 0
) -> list[CampaignInfo]:
    """Newest first, optionally filtered by status, each with its outbox counts per state."""
    with transaction() as session:
        query = select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id.desc())
        if status:
            query = query.where(Campaign.status.in_([status] if isinstance(status, str) else list(status)))
        campaigns = session.scalars(query.limit(max(1, min(limit, 1000))).offset(max(0, offset))).all()
        stats = _stats(session, [c.id for c in campaigns])
        return [_info(c, stats.get(c.id)) for c in campaigns]


# --------------------------------------------------------------------------------------------------------------
# Audience: preview and dry run
# --------------------------------------------------------------------------------------------------------------


def _needs_marketing(campaign: Campaign | _Validated) -> bool:
    return bool(campaign.commercial)


def _cap_group(campaign: Campaign | _Validated) -> str | None:
    if campaign.survey_type in ("csat", "nps"):
        return "survey"
    return "marketing" if campaign.commercial else None


def _evaluate(
    session: Session,
    campaign: Campaign | _Validated,
    customer_ids: Sequence[int],
    now: datetime,
    config: OutreachConfig,
) -> tuple[dict[int, outreach.RecipientFacts], dict[int, str | None]]:
    facts = outreach.load_recipient_facts(session, customer_ids, channel=campaign.segment.get("channel"))
    capped = outreach.capped_customers(session, customer_ids, _cap_group(campaign), now, config)
    reasons: dict[int, str | None] = {}
    for customer_id in customer_ids:
        reason = outreach.guard_skip_reason(facts.get(customer_id), needs_marketing_consent=_needs_marketing(campaign))
        if reason is None and customer_id in capped:
            reason = "capped"
        reasons[customer_id] = reason
    return facts, reasons


def _context(facts: outreach.RecipientFacts) -> dict[str, Any]:
    return {"first_name": facts.first_name, "tier": facts.tier, "points": facts.points}


def preview_campaign(campaign: int | CampaignSpec | Mapping[str, Any], *, sample_size: int = 10) -> CampaignPreview:
    """Audience size, how many would pass the guard rails right now, and a masked sample of 10.

    Accepts a stored campaign id or an unsaved spec (the console previews while the marketer types).
    """
    now = utcnow()
    config = OutreachConfig.load()
    with transaction() as session:
        definition: Campaign | _Validated
        definition = _get(session, campaign) if isinstance(campaign, int) else validate_spec(campaign)
        ids = list(session.scalars(segments.audience_select(definition.segment, now)))
        facts, reasons = _evaluate(session, definition, ids, now, config)
        names = dict(
            session.execute(
                select(Customer.id, Customer.last_name).where(Customer.id.in_(ids[: sample_size * 5]))
            ).all()
        )
    skipped: dict[str, int] = {}
    for reason in reasons.values():
        if reason:
            skipped[reason] = skipped.get(reason, 0) + 1
    sample = []
    for customer_id in ids[:sample_size]:
        f = facts.get(customer_id)
        if f is None:
            continue
        sample.append(
            PreviewRecipient(
                masked_name=outreach.mask_name(f.first_name, names.get(customer_id)),
                tier=f.tier,
                points=f.points,
                language=f.language,
                channel=f.channel,
                would_send=reasons[customer_id] is None,
                skip_reason=reasons[customer_id],
            )
        )
    example_context = {"first_name": "Ayşe", "tier": "Gold", "points": 1250}
    return CampaignPreview(
        audience_size=len(ids),
        eligible=len(ids) - sum(skipped.values()),
        skipped_by_reason=skipped,
        sample=sample,
        example_tr=outreach.render_template(definition.template_tr, "tr", example_context),
        example_en=outreach.render_template(definition.template_en, "en", {**example_context, "first_name": "Alex"}),
    )


def dry_run(campaign_id: int, *, now: datetime | None = None, limit: int | None = None) -> DryRunReport:
    """Exactly who would get what if the campaign ran now: per recipient the rendered message in their
    language and the planned send time (quiet hours applied), or the skip reason. Nothing is stored."""
    now = now or utcnow()
    config = OutreachConfig.load()
    with transaction() as session:
        campaign = _get(session, campaign_id)
        ids = list(session.scalars(segments.audience_select(campaign.segment, now)))
        facts, reasons = _evaluate(session, campaign, ids, now, config)
        shown = ids if limit is None else ids[:limit]
        people = {
            row.id: row
            for start in range(0, len(shown), 5000)
            for row in session.execute(
                select(Customer.id, Customer.customer_number, Customer.last_name).where(
                    Customer.id.in_(shown[start : start + 5000])
                )
            )
        }
        templates = {"tr": campaign.template_tr, "en": campaign.template_en}
    skipped: dict[str, int] = {}
    for reason in reasons.values():
        if reason:
            skipped[reason] = skipped.get(reason, 0) + 1
    entries = []
    for customer_id in shown:
        f = facts.get(customer_id)
        person = people.get(customer_id)
        reason = reasons[customer_id]
        language = f.language if f else "tr"
        send_at = None
        message = None
        if reason is None and f is not None:
            send_at = outreach.earliest_send_time(now, outreach.zone(f.timezone, config.timezone), config)
            message = outreach.render_template(templates[language], language, _context(f))
        entries.append(
            DryRunEntry(
                customer_id=customer_id,
                customer_number=person.customer_number if person else "",
                masked_name=outreach.mask_name(f.first_name if f else None, person.last_name if person else None),
                language=language,
                channel=f.channel if f else None,
                would_send=reason is None,
                skip_reason=reason,
                send_at=send_at,
                message=message,
            )
        )
    return DryRunReport(campaign_id, len(ids), len(ids) - sum(skipped.values()), skipped, entries)


# --------------------------------------------------------------------------------------------------------------
# Control
# --------------------------------------------------------------------------------------------------------------


def schedule_campaign(campaign_id: int, actor: str, *, now: datetime | None = None) -> CampaignInfo:
    """Validate against the clock and the audience, then mark the campaign scheduled.

    Raises ``InvalidInput``: ``time_in_past``, ``empty_audience`` (the segment selects nobody),
    ``no_eligible_recipients`` (everybody would be skipped: no consent, opted out, ...), ``not_schedulable``.
    The scheduler process picks the change up within its sync interval (30 s).
    """
    now = now or utcnow()
    config = OutreachConfig.load()
    with transaction(write=True) as session:
        campaign = _get(session, campaign_id)
        if campaign.status not in EDITABLE_STATUSES:
            raise _invalid(
                "not_schedulable",
                f"'{campaign.status}' durumundaki kampanya zamanlanamaz",
                f"A campaign in status '{campaign.status}' cannot be scheduled",
            )
        validated = validate_spec(_spec_of(campaign))
        _check_schedulable(validated, now)
        ids = list(session.scalars(segments.audience_select(validated.segment, now)))
        if not ids:
            raise _invalid(
                "empty_audience",
                "Bu segmente uyan müşteri yok; kuralları genişletin",
                "No customer matches this segment; widen the rules",
            )
        if campaign.schedule_kind in ("once", "cron"):
            _facts, reasons = _evaluate(session, validated, ids, now, config)
            # "capped" is temporary (the send may be weeks away): only lasting reasons make it pointless.
            if all(reason not in (None, "capped") for reason in reasons.values()):
                counts: dict[str, int] = {}
                for reason in reasons.values():
                    counts[str(reason)] = counts.get(str(reason), 0) + 1
                shown = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
                raise _invalid(
                    "no_eligible_recipients",
                    f"Segmentteki {len(ids)} müşterinin hiçbirine gönderilemez ({shown})",
                    f"None of the segment's {len(ids)} customers can be messaged ({shown})",
                )
        campaign.status = "scheduled"
        campaign.scheduled_at = now
        campaign.schedule_version += 1
        campaign.updated_at = now
        campaign.finished_at = None
        info = _info(campaign, now=now)
        audit.record_in(
            session, actor, "campaign.schedule", "campaign", campaign_id, {"schedule_kind": info.schedule_kind}
        )
    return info


def _spec_of(campaign: Campaign) -> CampaignSpec:
    return CampaignSpec(
        name=campaign.name,
        survey_type=campaign.survey_type,  # type: ignore[arg-type]
        template_tr=campaign.template_tr,
        template_en=campaign.template_en,
        schedule_kind=campaign.schedule_kind,  # type: ignore[arg-type]
        segment=campaign.segment or {},
        run_at=campaign.run_at,
        cron=campaign.cron,
        delay_hours=campaign.delay_hours,
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        timezone=campaign.timezone,
        commercial=campaign.commercial,
        reminder_after_hours=campaign.reminder_after_hours,
    )


def pause_campaign(campaign_id: int, actor: str) -> CampaignInfo:
    """Stop firing and hold queued messages (they stay queued; nothing is lost)."""
    return _transition(campaign_id, actor, "pause", allowed=ACTIVE_STATUSES, new_status="paused")


def resume_campaign(campaign_id: int, actor: str) -> CampaignInfo:
    """Continue a paused campaign. Occurrences missed while paused are not caught up: cron campaigns fire
    again at their next occurrence; held queued messages go out (subject to quiet hours and send-by)."""
    return _transition(campaign_id, actor, "resume", allowed=("paused",), new_status="scheduled")


def cancel_campaign(campaign_id: int, actor: str) -> CampaignInfo:
    """Stop for good: no more runs, every queued message becomes skipped ``cancelled``."""
    return _transition(
        campaign_id,
        actor,
        "cancel",
        allowed=("draft", "scheduled", "running", "paused", "missed"),
        new_status="cancelled",
    )


def _transition(campaign_id: int, actor: str, action: str, *, allowed: Sequence[str], new_status: str) -> CampaignInfo:
    now = utcnow()
    with transaction(write=True) as session:
        campaign = _get(session, campaign_id)
        if campaign.status not in allowed:
            raise _invalid(
                "invalid_transition",
                f"'{campaign.status}' durumundaki kampanyaya '{action}' uygulanamaz",
                f"Cannot {action} a campaign in status '{campaign.status}'",
            )
        campaign.status = new_status
        campaign.updated_at = now
        cancelled = 0
        if new_status == "cancelled":
            campaign.finished_at = now
            cancelled = int(
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.campaign_id == campaign.id, OutboxMessage.state == "queued")
                    .values(state="skipped", skip_reason="cancelled", updated_at=now, finished_at=now)
                ).rowcount
                or 0
            )
        info = _info(campaign, _stats(session, [campaign.id]).get(campaign.id), now)
        audit.record_in(
            session, actor, f"campaign.{action}", "campaign", campaign_id, {"cancelled_messages": cancelled}
        )
    return info


# --------------------------------------------------------------------------------------------------------------
# Runs (called by the scheduler process)
# --------------------------------------------------------------------------------------------------------------


def schedules(include_inactive: bool = False) -> list[ScheduledCampaign]:
    """Campaigns the scheduler must have jobs for (scheduled/running/paused), newest schedule first."""
    statuses = (
        ("scheduled", "running", "paused")
        if not include_inactive
        else tuple(s for s in ("draft", "scheduled", "running", "paused", "completed", "cancelled", "missed"))
    )
    with transaction() as session:
        rows = session.scalars(select(Campaign).where(Campaign.status.in_(statuses))).all()
        return [
            ScheduledCampaign(
                c.id,
                c.status,
                c.schedule_kind,
                c.run_at,
                c.cron,
                c.timezone,
                c.starts_at,
                c.ends_at,
                c.schedule_version,
            )
            for c in rows
        ]


def occurrence_key(
    campaign: ScheduledCampaign | Campaign, now: datetime, lookback: timedelta
) -> tuple[str, datetime | None]:
    """The run key of the occurrence being executed now: ``once``, or the latest cron fire time <= now
    (within ``lookback``), as ``cron:<UTC ISO minute>``. Coalesced misfires map to the latest occurrence."""
    if campaign.schedule_kind == "once":
        return "once", campaign.run_at
    trigger = crontab_trigger(campaign.cron or "", campaign.timezone, campaign.starts_at, campaign.ends_at)
    tz = ZoneInfo(campaign.timezone)
    cursor = (now - lookback).astimezone(tz)
    latest = None
    fire = trigger.get_next_fire_time(None, cursor)
    while fire is not None and fire <= now:
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    if latest is None:
        latest = now.replace(second=0, microsecond=0)
    return "cron:" + latest.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ"), latest.astimezone(UTC)


def run_campaign(
    campaign_id: int,
    *,
    run_key: str | None = None,
    scheduled_for: datetime | None = None,
    now: datetime | None = None,
    config: OutreachConfig | None = None,
) -> RunSummary:
    """Queue one occurrence of a campaign: one outbox row per segment member (queued, or skipped with its
    reason). Idempotent: a completed run returns its first summary; an interrupted one completes."""
    now = now or utcnow()
    config = config or OutreachConfig.load()
    with transaction(write=True) as session:
        campaign = _get(session, campaign_id)
        if campaign.status not in ACTIVE_STATUSES:
            return RunSummary(campaign.id, run_key or "", "not_run", note=f"campaign is {campaign.status}")
        if campaign.schedule_kind in RELATIVE_KINDS:
            return RunSummary(campaign.id, run_key or "", "not_run", note="event-driven campaign")
        if campaign.ends_at is not None and now > campaign.ends_at:
            return RunSummary(campaign.id, run_key or "", "not_run", note="campaign ended")
        if run_key is None:
            run_key, scheduled_for = occurrence_key(
                campaign, now, timedelta(seconds=config.campaign_misfire_grace_s + 120)
            )
        existing = session.scalars(
            select(CampaignRun).where(CampaignRun.campaign_id == campaign.id, CampaignRun.run_key == run_key)
        ).one_or_none()
        if existing is not None and existing.status in ("completed", "missed"):
            return RunSummary(
                campaign.id,
                run_key,
                existing.status,
                existing.audience,
                existing.queued,
                existing.skipped,
                note="already run",
            )
        if existing is None:
            existing = CampaignRun(
                campaign_id=campaign.id,
                run_key=run_key,
                status="running",
                scheduled_for=scheduled_for,
                started_at=now,
                audience=0,
                queued=0,
                skipped=0,
            )
            session.add(existing)
        if campaign.schedule_kind == "once":
            campaign.status = "running"
        campaign.last_run_at = now
        campaign.updated_at = now
        ids = list(session.scalars(segments.audience_select(campaign.segment, now)))
        snapshot = _snapshot(campaign)
    queued = skipped = 0
    by_reason: dict[str, int] = {}
    for start in range(0, len(ids), 2000):
        chunk = ids[start : start + 2000]
        with transaction(write=True) as session:
            summary = _enqueue(session, snapshot, [(cid, run_key, None) for cid in chunk], now, config)
        queued += summary.queued
        skipped += summary.skipped
        for reason, count in summary.by_reason.items():
            by_reason[reason] = by_reason.get(reason, 0) + count
    with transaction(write=True) as session:
        run = session.scalars(
            select(CampaignRun).where(CampaignRun.campaign_id == campaign_id, CampaignRun.run_key == run_key)
        ).one()
        run.status = "completed"
        run.finished_at = utcnow()
        run.audience = len(ids)
        # An interrupted-and-resumed run counts what it inserted now plus what it had inserted before.
        run.queued = run.queued + queued
        run.skipped = run.skipped + skipped
        totals = (run.audience, run.queued, run.skipped)
    return RunSummary(campaign_id, run_key, "completed", *totals, skipped_by_reason=by_reason)


@dataclass(frozen=True)
class _CampaignSnapshot:
    id: int
    survey_type: str
    commercial: bool
    segment: Mapping[str, Any]
    ends_at: datetime | None


def _snapshot(campaign: Campaign) -> _CampaignSnapshot:
    return _CampaignSnapshot(
        campaign.id, campaign.survey_type, campaign.commercial, dict(campaign.segment or {}), campaign.ends_at
    )


def _enqueue(
    session: Session,
    campaign: _CampaignSnapshot,
    recipients: Sequence[tuple[int, str, int | None]],
    now: datetime,
    config: OutreachConfig,
) -> outreach.EnqueueSummary:
    """Rows for (customer_id, run_key, ticket_id) recipients of one campaign, with guard rails applied."""
    customer_ids = sorted({customer_id for customer_id, _, _ in recipients})
    facts = outreach.load_recipient_facts(session, customer_ids, channel=campaign.segment.get("channel"))
    cap_group = _cap_group(campaign)  # type: ignore[arg-type]
    capped = outreach.capped_customers(session, customer_ids, cap_group, now, config)
    send_by = now + timedelta(days=3)
    if campaign.ends_at is not None:
        send_by = min(send_by, campaign.ends_at)
    survey_kind = campaign.survey_type if campaign.survey_type in ("csat", "nps") else None
    rows = []
    for customer_id, run_key, ticket_id in recipients:
        customer_facts = facts.get(customer_id)
        reason = outreach.guard_skip_reason(customer_facts, needs_marketing_consent=campaign.commercial)
        if reason is None and customer_id in capped:
            reason = "capped"
        rows.append(
            outreach.new_row(
                now,
                dedupe_key=f"campaign:{campaign.id}:{run_key}:{customer_id}",
                occasion="campaign",
                intent=INTENTS[campaign.survey_type],
                customer_id=customer_id,
                facts=customer_facts,
                config=config,
                skip_reason=reason,
                campaign_id=campaign.id,
                run_key=run_key,
                ticket_id=ticket_id,
                survey_kind=survey_kind,
                cap_group=cap_group,
                payload={"commercial": True} if campaign.commercial else {},
                send_by=send_by,
            )
        )
    return outreach.summarize("campaign", len(recipients), outreach.insert_rows(session, rows))


def record_missed_run(campaign_id: int, scheduled_for: datetime, *, now: datetime | None = None) -> None:
    """The scheduler could not run an occurrence within the misfire grace (it was down): record it, and
    mark a one-off campaign ``missed`` so the marketer sees it and can reschedule."""
    now = now or utcnow()
    run_key = "once"
    with transaction(write=True) as session:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None:
            return
        if campaign.schedule_kind == "cron":
            run_key = "cron:" + scheduled_for.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
        existing = session.scalars(
            select(CampaignRun).where(CampaignRun.campaign_id == campaign_id, CampaignRun.run_key == run_key)
        ).one_or_none()
        if existing is None:
            session.add(
                CampaignRun(
                    campaign_id=campaign_id,
                    run_key=run_key,
                    status="missed",
                    scheduled_for=scheduled_for,
                    started_at=now,
                    finished_at=now,
                    audience=0,
                    queued=0,
                    skipped=0,
                    note="scheduler was not running within the misfire grace time",
                )
            )
        if campaign.schedule_kind == "once" and campaign.status == "scheduled":
            campaign.status = "missed"
            campaign.updated_at = now


def runs(campaign_id: int) -> list[RunSummary]:
    """Every run of a campaign, newest first."""
    with transaction() as session:
        rows = session.scalars(
            select(CampaignRun).where(CampaignRun.campaign_id == campaign_id).order_by(CampaignRun.started_at.desc())
        ).all()
        return [
            RunSummary(r.campaign_id, r.run_key, r.status, r.audience, r.queued, r.skipped, note=r.note) for r in rows
        ]


def enqueue_relative_campaigns(
    *, now: datetime | None = None, config: OutreachConfig | None = None
) -> list[RunSummary]:
    """Event-driven campaigns: queue a message ``delay_hours`` after each resolved ticket / quiet
    conversation of a segment member, for events after the campaign was scheduled (never retroactively)."""
    now = now or utcnow()
    config = config or OutreachConfig.load()
    summaries = []
    with transaction() as session:
        active = session.scalars(
            select(Campaign).where(Campaign.status.in_(ACTIVE_STATUSES), Campaign.schedule_kind.in_(RELATIVE_KINDS))
        ).all()
        specs = [
            (c.id, c.schedule_kind, c.delay_hours or 1, c.scheduled_at or c.created_at, c.starts_at, c.ends_at)
            for c in active
        ]
    for campaign_id, kind, delay_hours, scheduled_at, starts_at, ends_at in specs:
        if ends_at is not None and now > ends_at + timedelta(hours=delay_hours):
            continue
        window_start = max(d for d in (scheduled_at, starts_at) if d is not None)
        due_before = now - timedelta(hours=delay_hours)
        with transaction(write=True) as session:
            campaign = _get(session, campaign_id)
            members = segments.audience_select(campaign.segment, now).order_by(None).subquery()
            recipients: list[tuple[int, str, int | None]] = []
            if kind == "after_ticket_resolved":
                tickets = session.execute(
                    select(Ticket.id, Ticket.customer_id).where(
                        Ticket.status.in_(outreach.RESOLVED_TICKET_STATUSES),
                        Ticket.resolved_at <= due_before,
                        Ticket.resolved_at >= max(window_start, due_before - timedelta(days=7)),
                        Ticket.customer_id.in_(select(members.c.id)),
                    )
                ).all()
                recipients = [(t.customer_id, f"ticket:{t.id}", t.id) for t in tickets]
            else:
                conversations = session.execute(
                    select(Conversation.id, Conversation.customer_id, Conversation.last_seen).where(
                        Conversation.customer_id.in_(select(members.c.id)),
                        Conversation.last_seen <= due_before,
                        Conversation.last_seen >= max(window_start, due_before - timedelta(days=1)),
                    )
                ).all()
                recipients = [
                    (c.customer_id, f"conv:{c.id}:{c.last_seen.strftime('%Y%m%d%H%M')}", None) for c in conversations
                ]
            if not recipients:
                continue
            summary = _enqueue(session, _snapshot(campaign), recipients, now, config)
            campaign.last_run_at = now
        summaries.append(
            RunSummary(
                campaign_id,
                "events",
                "completed",
                summary.considered,
                summary.queued,
                summary.skipped,
                summary.by_reason,
            )
        )
    return summaries


def complete_finished_campaigns(*, now: datetime | None = None) -> list[int]:
    """Mark campaigns completed when nothing more will be sent: one-off campaigns after their run once no
    message is queued or being sent; cron and event campaigns once their end date passed likewise."""
    now = now or utcnow()
    pending = (
        select(OutboxMessage.id)
        .where(OutboxMessage.campaign_id == Campaign.id, OutboxMessage.state.in_(outreach.ACTIVE_STATES))
        .exists()
    )
    done: list[int] = []
    with transaction(write=True) as session:
        candidates = session.scalars(
            select(Campaign).where(
                or_(
                    and_(Campaign.schedule_kind == "once", Campaign.status == "running"),
                    and_(Campaign.status.in_(ACTIVE_STATUSES), Campaign.ends_at.is_not(None), Campaign.ends_at < now),
                ),
                ~pending,
            )
        ).all()
        for campaign in candidates:
            campaign.status = "completed"
            campaign.finished_at = now
            campaign.updated_at = now
            done.append(campaign.id)
    return done


# --------------------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------------------


def nps_score(scores: Sequence[int]) -> float | None:
    """Net Promoter Score: % promoters (9-10) minus % detractors (0-6), one decimal; None without answers."""
    if not scores:
        return None
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    return round((promoters - detractors) * 100 / len(scores), 1)


def _week_start(moment: datetime, tz: ZoneInfo) -> date:
    local = moment.astimezone(tz).date()
    return local - timedelta(days=local.weekday())


def _responses(session: Session, campaign_id: int) -> list[Any]:
    own_rows = select(OutboxMessage.id).where(OutboxMessage.campaign_id == campaign_id)
    return list(
        session.execute(
            select(
                SurveyResponse.id,
                SurveyResponse.kind,
                SurveyResponse.score,
                SurveyResponse.comment,
                SurveyResponse.language,
                SurveyResponse.created_at,
                SurveyResponse.outbox_id,
            )
            .where(or_(SurveyResponse.campaign_id == campaign_id, SurveyResponse.outbox_id.in_(own_rows)))
            .order_by(SurveyResponse.created_at)
        ).all()
    )


def campaign_results(campaign_id: int, *, comments_limit: int = 50) -> CampaignResults:
    """Counts per state and skip reason, response rate, CSAT average + distribution, NPS with promoters /
    passives / detractors, a weekly trend (Monday-based weeks, Istanbul time) and the latest comments."""
    tz = ZoneInfo(get_settings().timezone)
    with transaction() as session:
        campaign = _get(session, campaign_id)
        by_state: dict[str, int] = {}
        reminders_sent = 0
        for state, is_reminder, count in session.execute(
            select(OutboxMessage.state, OutboxMessage.is_reminder, func.count())
            .where(OutboxMessage.campaign_id == campaign_id)
            .group_by(OutboxMessage.state, OutboxMessage.is_reminder)
        ):
            if is_reminder:
                if state in outreach.DELIVERED_STATES:
                    reminders_sent += int(count)
                continue
            by_state[state] = by_state.get(state, 0) + int(count)
        reasons = {
            reason: int(count)
            for reason, count in session.execute(
                select(OutboxMessage.skip_reason, func.count())
                .where(
                    OutboxMessage.campaign_id == campaign_id,
                    OutboxMessage.state == "skipped",
                    OutboxMessage.is_reminder.is_(False),
                )
                .group_by(OutboxMessage.skip_reason)
            )
        }
        failed_after_send = int(
            session.scalar(
                select(func.count()).where(
                    OutboxMessage.campaign_id == campaign_id,
                    OutboxMessage.is_reminder.is_(False),
                    OutboxMessage.state == "failed",
                    OutboxMessage.delivered_parts > 0,
                )
            )
            or 0
        )
        responses = _responses(session, campaign_id)
        name, survey_type, status = campaign.name, campaign.survey_type, campaign.status
    responded_rows = by_state.get("responded", 0)
    sent = by_state.get("sent", 0) + by_state.get("delivered", 0) + responded_rows + failed_after_send
    csat = [r.score for r in responses if r.kind == "csat"]
    nps = [r.score for r in responses if r.kind == "nps"]
    weekly: dict[date, list[Any]] = {}
    for response in responses:
        weekly.setdefault(_week_start(response.created_at, tz), []).append(response)
    trend = []
    for week in sorted(weekly):
        items = weekly[week]
        week_csat = [r.score for r in items if r.kind == "csat"]
        trend.append(
            WeeklyPoint(
                week_start=week,
                responses=len(items),
                csat_average=round(sum(week_csat) / len(week_csat), 2) if week_csat else None,
                nps=nps_score([r.score for r in items if r.kind == "nps"]),
            )
        )
    comments = [
        CommentItem(r.created_at, r.kind, r.score, r.comment, r.language)
        for r in reversed(responses)
        if r.comment and r.comment.strip()
    ][:comments_limit]
    responded = max(responded_rows, len({r.outbox_id for r in responses if r.outbox_id is not None}))
    return CampaignResults(
        campaign_id=campaign_id,
        name=name,
        survey_type=survey_type,
        status=status,
        recipients=sum(by_state.values()),
        by_state=by_state,
        skipped_by_reason=reasons,
        sent=sent,
        delivered=by_state.get("delivered", 0) + responded_rows,
        failed=by_state.get("failed", 0),
        responded=responded,
        reminders_sent=reminders_sent,
        response_rate=round(responded / sent, 4) if sent else None,
        csat_average=round(sum(csat) / len(csat), 2) if csat else None,
        csat_distribution={score: csat.count(score) for score in range(1, 6)},
        nps=nps_score(nps),
        promoters=sum(1 for s in nps if s >= 9),
        passives=sum(1 for s in nps if 7 <= s <= 8),
        detractors=sum(1 for s in nps if s <= 6),
        nps_distribution={score: nps.count(score) for score in range(0, 11)},
        weekly=trend,
        comments=comments,
    )


CSV_COLUMNS = (
    "outbox_id",
    "customer_number",
    "channel",
    "language",
    "state",
    "skip_reason",
    "reminder",
    "queued_at",
    "sent_at",
    "delivered_at",
    "responded_at",
    "survey_kind",
    "score",
    "comment",
)


def export_results_csv(campaign_id: int) -> str:
    """One line per outbox row: customer number (not name/phone), state, times (Istanbul), score, comment.

    Comments were masked when stored; the export is for staff with the marketer role.
    """
    tz = ZoneInfo(get_settings().timezone)

    def when(moment: datetime | None) -> str:
        return moment.astimezone(tz).isoformat(timespec="seconds") if moment else ""

    with transaction() as session:
        _get(session, campaign_id)
        responses = {r.outbox_id: r for r in _responses(session, campaign_id) if r.outbox_id is not None}
        rows = session.execute(
            select(OutboxMessage, Customer.customer_number)
            .outerjoin(Customer, Customer.id == OutboxMessage.customer_id)
            .where(OutboxMessage.campaign_id == campaign_id)
            .order_by(OutboxMessage.id)
        ).all()
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        for message, customer_number in rows:
            response = responses.get(message.id)
            writer.writerow(
                [
                    message.id,
                    customer_number or "",
                    message.channel or "",
                    message.language,
                    message.state,
                    message.skip_reason or "",
                    "yes" if message.is_reminder else "",
                    when(message.created_at),
                    when(message.sent_at),
                    when(message.delivered_at),
                    when(message.responded_at),
                    response.kind if response else (message.survey_kind or ""),
                    response.score if response else "",
                    _csv_safe(response.comment) if response and response.comment else "",
                ]
            )
    return buffer.getvalue()


_FORMULA_START = re.compile(r"^[=+\-@\t\r]")


def _csv_safe(text: str) -> str:
    """Neutralise spreadsheet formulas in free text (CSV injection: a comment starting with '=')."""
    return "'" + text if _FORMULA_START.match(text) else text


__all__ = [
    "CSV_COLUMNS",
    "CampaignInfo",
    "CampaignPreview",
    "CampaignResults",
    "CampaignSpec",
    "CommentItem",
    "DryRunEntry",
    "DryRunReport",
    "PreviewRecipient",
    "RunSummary",
    "ScheduledCampaign",
    "WeeklyPoint",
    "campaign_results",
    "cancel_campaign",
    "complete_finished_campaigns",
    "create_campaign",
    "crontab_trigger",
    "dry_run",
    "enqueue_relative_campaigns",
    "export_results_csv",
    "get_campaign",
    "list_campaigns",
    "next_run_time",
    "nps_score",
    "occurrence_key",
    "pause_campaign",
    "preview_campaign",
    "record_missed_run",
    "resume_campaign",
    "run_campaign",
    "runs",
    "schedule_campaign",
    "schedules",
    "update_campaign",
    "validate_spec",
]
