"""APScheduler wiring: persistent jobs for campaigns and automatic check-ins, and their misfire policy.

Jobs live in ``SQLAlchemyJobStore`` on the application database (table ``apscheduler_jobs``, created by
migration 0004), so they survive restarts. Only one process runs the scheduler at a time (the
``scheduler`` lease in ``scheduler_leases``); a second one stands by and takes over when the first stops
renewing it. Every job only queues outbox rows with unique keys, so even a duplicated run sends nothing
twice.

Misfire policy (what happens when the scheduler was not running at a job's time):

* Every job has ``coalesce=True``: however many occurrences were missed, the job runs at most once on
  restart (for a cron campaign, that run is the latest missed occurrence).
* Campaign runs (``campaign:<id>``): ``misfire_grace_time`` = ``OUTREACH_CAMPAIGN_MISFIRE_GRACE_S``
  (default 1 hour). Down for less: the campaign runs right after the restart. Down for longer: the
  occurrence is skipped and recorded as a ``missed`` campaign run; a one-off campaign becomes ``missed``
  (the console shows it; reschedule it), a cron campaign continues at its next occurrence. A marketing
  message hours late is worse than none (it may land in the evening, or after the offer ended).
* Automatic scans and bookkeeping: grace ``OUTREACH_SCAN_MISFIRE_GRACE_S`` (default 1 day). The scans
  look back over their own window anyway, so a late run catches up on everything still worth asking.
* Sending itself is not a scheduled job: the outbox sender loop runs beside the scheduler and simply
  drains what is due; quiet hours and send-by deadlines are properties of each outbox row.

Everything is timezone-aware: the scheduler runs in ``settings.timezone`` (Europe/Istanbul), cron
campaigns in their own timezone, quiet hours and birthdays in each customer's timezone when known.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.scheduler import automatic
from bot.services import campaigns, outreach, privacy
from bot.services.campaigns import ScheduledCampaign
from bot.services.errors import ServiceError
from bot.services.outreach import OutreachConfig
from bot.services.tx import utcnow
from bot.settings import Settings, get_settings

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
CAMPAIGN_JOB_PREFIX = "campaign:"


# --------------------------------------------------------------------------------------------------------------
# Job functions (module level: the job store pickles a reference to them)
# --------------------------------------------------------------------------------------------------------------


def run_campaign_job(campaign_id: int, schedule_version: int) -> None:
    """Fire one campaign occurrence (queues its outbox rows)."""
    summary = campaigns.run_campaign(campaign_id)
    log.info(
        "campaign %s run %s: %s audience=%d queued=%d skipped=%d (schedule v%d)",
        campaign_id,
        summary.run_key,
        summary.status,
        summary.audience,
        summary.queued,
        summary.skipped,
        schedule_version,
    )


def automatic_scan_job(kind: str) -> None:
    automatic.run_scan(kind)


def relative_campaigns_job() -> None:
    for summary in campaigns.enqueue_relative_campaigns():
        log.info("event campaign %s: queued=%d skipped=%d", summary.campaign_id, summary.queued, summary.skipped)


def reconcile_job() -> None:
    """Answers -> responded, web acknowledgements -> delivered, stale queued rows -> expired, reminders,
    finished campaigns -> completed."""
    result = outreach.reconcile()
    done = campaigns.complete_finished_campaigns()
    if any((result.responded, result.web_delivered, result.expired, result.reminders, done)):
        log.info(
            "reconcile: responded=%d web_delivered=%d expired=%d reminders=%d completed_campaigns=%s",
            result.responded,
            result.web_delivered,
            result.expired,
            result.reminders,
            done,
        )


def console_sync_job() -> None:
    """Keep the console's conversation summaries and review queue current from Rasa's tracker events."""
    from bot.console.jobs import sync_summaries_job

    sync_summaries_job(time_budget_s=25.0)


def tracker_purge_job(now: datetime | None = None) -> privacy.PurgeReport:
    """Erased conversations whose delayed purge is due: delete their tracker events (which Rasa may have
    re-saved after an in-chat erasure) and console copies again; failures stay queued and are retried."""
    report = privacy.purge_due_tracker_events(now=now)
    if report.due:
        log.info(
            "tracker purge: due=%d purged=%d failed=%d events=%d console_records=%d",
            report.due,
            report.purged,
            report.failed,
            report.tracker_events_deleted,
            report.console_records_deleted,
        )
    return report


def handover_expiry_job() -> None:
    """Requests for a human nobody took in time: tell the customer when to expect an answer, open a ticket."""
    import asyncio

    from bot.console.jobs import expire_stale_handovers_job

    # Runs in a worker thread (a plain function), so it gets its own event loop.
    asyncio.run(expire_stale_handovers_job())


# --------------------------------------------------------------------------------------------------------------
# The scheduler
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SystemJob:
    id: str
    func: str
    trigger: BaseTrigger
    kwargs: dict[str, Any]
    grace_s: int


def system_jobs(config: OutreachConfig, settings: Settings) -> list[SystemJob]:
    """The fixed jobs: automatic scans, event-driven campaigns, reconciliation, console sync, handover expiry
    and the delayed tracker purge of erased conversations."""
    tz = ZoneInfo(settings.timezone)
    scan = config.scan_misfire_grace_s
    return [
        SystemJob(
            "auto:csat",
            f"{__name__}:automatic_scan_job",
            IntervalTrigger(minutes=settings.outreach_csat_scan_minutes, timezone=tz),
            {"kind": "csat"},
            scan,
        ),
        SystemJob(
            "auto:ticket_followup",
            f"{__name__}:automatic_scan_job",
            IntervalTrigger(minutes=30, timezone=tz),
            {"kind": "ticket_followup"},
            scan,
        ),
        # Hourly, because customers in other timezones reach their birthday at other hours.
        SystemJob(
            "auto:birthday",
            f"{__name__}:automatic_scan_job",
            CronTrigger(minute=5, timezone=tz),
            {"kind": "birthday"},
            scan,
        ),
        SystemJob(
            "auto:nps",
            f"{__name__}:automatic_scan_job",
            CronTrigger(hour=10, minute=15, timezone=tz),
            {"kind": "nps"},
            scan,
        ),
        SystemJob(
            "system:relative_campaigns",
            f"{__name__}:relative_campaigns_job",
            IntervalTrigger(minutes=settings.outreach_event_scan_minutes, timezone=tz),
            {},
            scan,
        ),
        SystemJob(
            "system:console_sync",
            f"{__name__}:console_sync_job",
            IntervalTrigger(minutes=1, timezone=tz),
            {},
            300,
        ),
        SystemJob(
            "system:tracker_purge",
            f"{__name__}:tracker_purge_job",
            IntervalTrigger(minutes=1, timezone=tz),
            {},
            300,
        ),
        SystemJob(
            "system:handover_expiry",
            f"{__name__}:handover_expiry_job",
            IntervalTrigger(minutes=1, timezone=tz),
            {},
            300,
        ),
        SystemJob(
            "system:reconcile",
            f"{__name__}:reconcile_job",
            IntervalTrigger(minutes=settings.outreach_reconcile_minutes, timezone=tz),
            {},
            scan,
        ),
    ]


def create_scheduler(settings: Settings | None = None) -> AsyncIOScheduler:
    """An AsyncIOScheduler on the persistent job store, in the configured timezone, coalescing misfires."""
    from bot.db.session import create_memnun_engine

    settings = settings or get_settings()
    store = SQLAlchemyJobStore(engine=create_memnun_engine(settings.database_url), tablename="apscheduler_jobs")
    return AsyncIOScheduler(
        jobstores={"default": store},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        timezone=ZoneInfo(settings.timezone),
    )


def campaign_trigger(campaign: ScheduledCampaign) -> BaseTrigger | None:
    if campaign.schedule_kind == "once" and campaign.run_at is not None:
        return DateTrigger(run_date=campaign.run_at, timezone=ZoneInfo(campaign.timezone))
    if campaign.schedule_kind == "cron" and campaign.cron:
        return campaigns.crontab_trigger(campaign.cron, campaign.timezone, campaign.starts_at, campaign.ends_at)
    return None


class OutreachScheduler:
    """Runs the APScheduler part of the outreach process while holding the leader lease."""

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        config: OutreachConfig | None = None,
        holder: str | None = None,
        sync_interval_s: float | None = None,
        lease_ttl_s: float | None = None,
    ) -> None:
        from bot.scheduler.outbox import new_worker_id

        self.settings = settings or get_settings()
        self.config = config or OutreachConfig.load(self.settings)
        self.holder = holder or new_worker_id()
        self.sync_interval_s = sync_interval_s or self.settings.outreach_sync_interval_s
        self.lease_ttl_s = lease_ttl_s or self.settings.outreach_leader_ttl_s
        self.scheduler: AsyncIOScheduler | None = None

    # -- jobs ------------------------------------------------------------------------------------------------

    def ensure_system_jobs(self) -> None:
        """Add missing system jobs; replace one only if its trigger changed (keeping next_run_time otherwise,
        so a restart after downtime is a misfire, handled by the policy above, not a silent reset)."""
        assert self.scheduler is not None
        for spec in system_jobs(self.config, self.settings):
            job = self.scheduler.get_job(spec.id)
            if job is not None and str(job.trigger) == str(spec.trigger) and job.kwargs == spec.kwargs:
                continue
            self.scheduler.add_job(
                spec.func,
                trigger=spec.trigger,
                id=spec.id,
                kwargs=spec.kwargs,
                replace_existing=True,
                misfire_grace_time=spec.grace_s,
                coalesce=True,
                max_instances=1,
            )

    def sync_campaign_jobs(self, active: list[ScheduledCampaign], now: datetime | None = None) -> dict[str, int]:
        """Make the job store mirror the campaigns table (add, reschedule, pause, resume, remove)."""
        assert self.scheduler is not None
        now = now or utcnow()
        counts = {"added": 0, "replaced": 0, "paused": 0, "resumed": 0, "removed": 0, "missed": 0}
        existing = {job.id: job for job in self.scheduler.get_jobs() if job.id.startswith(CAMPAIGN_JOB_PREFIX)}
        wanted: set[str] = set()
        grace = timedelta(seconds=self.config.campaign_misfire_grace_s)
        for campaign in active:
            if campaign.schedule_kind not in ("once", "cron"):
                continue
            if campaign.schedule_kind == "once" and campaign.status == "running":
                continue  # it fired; the sender is working through its rows
            job_id = f"{CAMPAIGN_JOB_PREFIX}{campaign.id}"
            wanted.add(job_id)
            job = existing.get(job_id)
            if campaign.status == "paused":
                if job is not None and job.next_run_time is not None:
                    self.scheduler.pause_job(job_id)
                    counts["paused"] += 1
                continue
            if job is not None and job.kwargs.get("schedule_version") == campaign.schedule_version:
                if job.next_run_time is None:
                    self.scheduler.resume_job(job_id)  # next occurrence from now: paused ones are not caught up
                    counts["resumed"] += 1
                continue
            if (
                campaign.schedule_kind == "once"
                and job is None
                and campaign.run_at is not None
                and campaign.run_at + grace < now
            ):
                campaigns.record_missed_run(campaign.id, campaign.run_at, now=now)
                counts["missed"] += 1
                continue
            trigger = campaign_trigger(campaign)
            if trigger is None:
                continue
            self.scheduler.add_job(
                f"{__name__}:run_campaign_job",
                trigger=trigger,
                id=job_id,
                kwargs={"campaign_id": campaign.id, "schedule_version": campaign.schedule_version},
                replace_existing=True,
                misfire_grace_time=self.config.campaign_misfire_grace_s,
                coalesce=True,
                max_instances=1,
            )
            counts["replaced" if job is not None else "added"] += 1
        for job_id in set(existing) - wanted:
            self.scheduler.remove_job(job_id)
            counts["removed"] += 1
        return counts

    def _on_event(self, event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_MISSED:
            log.warning(
                "job %s missed its run at %s (scheduler was down too long)", event.job_id, event.scheduled_run_time
            )
            if event.job_id.startswith(CAMPAIGN_JOB_PREFIX):
                try:
                    campaigns.record_missed_run(int(event.job_id[len(CAMPAIGN_JOB_PREFIX) :]), event.scheduled_run_time)
                except ServiceError:
                    log.warning("could not record the missed run of %s", event.job_id)
        elif event.code == EVENT_JOB_ERROR:
            log.error("job %s failed: %s", event.job_id, type(event.exception).__name__)

    # -- process ---------------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Wait for the leader lease, then schedule until ``stop`` is set or the lease is lost."""
        while not stop.is_set():
            if not await self._acquire():
                await _sleep_or_stop(stop, self.lease_ttl_s / 3)
                continue
            log.info("scheduler %s is the leader", self.holder)
            self.scheduler = create_scheduler(self.settings)
            self.scheduler.add_listener(self._on_event, EVENT_JOB_MISSED | EVENT_JOB_ERROR)
            # Paused first: the jobs are brought in line with the campaigns table before anything fires.
            self.scheduler.start(paused=True)
            try:
                await self._sync()
                self.ensure_system_jobs()
                self.scheduler.resume()
                last_sync = asyncio.get_running_loop().time()
                while not stop.is_set():
                    await _sleep_or_stop(stop, min(self.sync_interval_s, self.lease_ttl_s / 3))
                    if stop.is_set():
                        break
                    if not await self._acquire():
                        log.warning("scheduler %s lost the leader lease; standing by", self.holder)
                        break
                    if asyncio.get_running_loop().time() - last_sync >= self.sync_interval_s:
                        await self._sync()
                        last_sync = asyncio.get_running_loop().time()
            finally:
                self.scheduler.shutdown(wait=False)
                self.scheduler = None
        await asyncio.to_thread(_release_quietly, self.holder)

    async def _acquire(self) -> bool:
        try:
            return await asyncio.to_thread(outreach.acquire_lease, LEASE_NAME, self.holder, self.lease_ttl_s)
        except ServiceError:
            log.warning("scheduler: database unavailable while renewing the lease")
            return False

    async def _sync(self) -> None:
        try:
            active = await asyncio.to_thread(campaigns.schedules)
            counts = self.sync_campaign_jobs(active)
        except ServiceError:
            log.warning("scheduler: database unavailable; campaign jobs not synced this time")
            return
        if any(counts.values()):
            log.info("campaign jobs synced: %s", counts)


def _release_quietly(holder: str) -> None:
    with contextlib.suppress(ServiceError):
        outreach.release_lease(LEASE_NAME, holder)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
