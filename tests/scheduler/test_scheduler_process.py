"""The APScheduler side: persistent jobs, sync with the campaigns table, misfires after downtime, leader lease."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.db.models_outreach import Campaign, CampaignRun
from bot.db.session import session_scope
from bot.scheduler.jobs import OutreachScheduler, create_scheduler
from bot.services import campaigns, outreach
from tests.scheduler.conftest import ROOT, World, campaign_spec


def _runs(campaign_id: int) -> list[CampaignRun]:
    with session_scope() as session:
        return list(session.scalars(select(CampaignRun).where(CampaignRun.campaign_id == campaign_id)))


def _status(campaign_id: int) -> str:
    with session_scope() as session:
        return session.get(Campaign, campaign_id).status  # type: ignore[union-attr]


async def _with_scheduler(body):  # type: ignore[no-untyped-def]
    """A real AsyncIOScheduler on the persistent job store, started paused (nothing fires)."""
    service = OutreachScheduler(holder="test")
    service.scheduler = create_scheduler()
    service.scheduler.start(paused=True)
    try:
        return await body(service)
    finally:
        service.scheduler.shutdown(wait=False)
        await asyncio.sleep(0)


async def test_jobs_follow_the_campaigns_table(world: World) -> None:
    world.customer()
    once = campaigns.create_campaign(campaign_spec(), "m")
    campaigns.schedule_campaign(once.id, "m")
    weekly = campaigns.create_campaign(campaign_spec(schedule_kind="cron", cron="0 11 * * 1", run_at=None), "m")
    campaigns.schedule_campaign(weekly.id, "m")

    async def body(service: OutreachScheduler) -> None:
        scheduler = service.scheduler
        assert service.sync_campaign_jobs(campaigns.schedules())["added"] == 2
        job = scheduler.get_job(f"campaign:{weekly.id}")
        assert job.next_run_time.strftime("%A %H:%M") == "Monday 11:00"
        assert str(job.next_run_time.tzinfo) == "Europe/Istanbul"
        assert scheduler.get_job(f"campaign:{once.id}").next_run_time == once.run_at
        # Nothing changed: nothing touched (a restart must not reset next_run_time).
        assert not any(service.sync_campaign_jobs(campaigns.schedules()).values())
        campaigns.pause_campaign(weekly.id, "m")
        assert service.sync_campaign_jobs(campaigns.schedules())["paused"] == 1
        assert scheduler.get_job(f"campaign:{weekly.id}").next_run_time is None
        campaigns.resume_campaign(weekly.id, "m")
        assert service.sync_campaign_jobs(campaigns.schedules())["resumed"] == 1
        campaigns.cancel_campaign(once.id, "m")
        assert service.sync_campaign_jobs(campaigns.schedules())["removed"] == 1
        assert scheduler.get_job(f"campaign:{once.id}") is None
        service.ensure_system_jobs()
        ids = {job.id for job in scheduler.get_jobs()}
        assert {
            "auto:csat",
            "auto:ticket_followup",
            "auto:birthday",
            "auto:nps",
            "system:reconcile",
            "system:tracker_purge",
        } <= ids
        purge = scheduler.get_job("system:tracker_purge")
        assert (purge.coalesce, purge.trigger.interval.total_seconds()) == (True, 60)
        nps = scheduler.get_job("auto:nps")
        assert (nps.coalesce, nps.misfire_grace_time) == (True, 86400)

    await _with_scheduler(body)
    # The jobs are in the database, not in memory: a new scheduler sees them.
    assert await _with_scheduler(lambda s: _ids(s)) >= {f"campaign:{weekly.id}", "auto:csat"}


async def _ids(service: OutreachScheduler) -> set[str]:
    return {job.id for job in service.scheduler.get_jobs()}


async def test_misfire_after_downtime_runs_once_or_is_recorded_missed(world: World, migrated_db: str) -> None:
    """The scheduler was down: an hourly campaign missed 3 occurrences (last one inside the 1 h grace) and a
    one-off campaign's time passed 2 h ago (outside it). A restarted scheduler process runs the hourly one
    exactly once (coalesced) and records the one-off one as missed."""
    customers = [world.customer() for _ in range(3)]
    now = datetime.now(UTC)
    minute = (now.minute + 30) % 60  # far from the current minute: no legitimate firing during the test
    hourly = campaigns.create_campaign(campaign_spec(schedule_kind="cron", cron=f"{minute} * * * *", run_at=None), "m")
    campaigns.schedule_campaign(hourly.id, "m")
    once = campaigns.create_campaign(campaign_spec(name="Tek sefer", survey_type="nps"), "m")
    campaigns.schedule_campaign(once.id, "m")

    async def stop_the_clock(service: OutreachScheduler) -> None:
        service.sync_campaign_jobs(campaigns.schedules())
        # What the job store looks like after the scheduler was down for three hours.
        last_occurrence = now.replace(minute=minute, second=0, microsecond=0)
        if last_occurrence > now:
            last_occurrence -= timedelta(hours=1)
        service.scheduler.modify_job(f"campaign:{hourly.id}", next_run_time=last_occurrence - timedelta(hours=2))
        service.scheduler.modify_job(f"campaign:{once.id}", next_run_time=now - timedelta(hours=2))

    await _with_scheduler(stop_the_clock)
    with session_scope(write=True) as session:
        session.get(Campaign, once.id).run_at = now - timedelta(hours=2)  # type: ignore[union-attr]

    env = dict(os.environ, PYTHONPATH=str(ROOT), DATABASE_URL=migrated_db, LOG_LEVEL="INFO")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.scheduler", "--no-sender"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if any(r.status == "completed" for r in _runs(hourly.id)) and _status(once.id) == "missed":
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.5)  # would a second (uncoalesced) run follow? give it the chance
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=20)[0].decode()
    assert process.returncode == 0, output

    runs = _runs(hourly.id)
    assert [r.status for r in runs] == ["completed"], output
    assert runs[0].queued == len(customers)
    assert len(world.outbox(campaign_id=hourly.id)) == len(customers)
    assert _status(once.id) == "missed"
    assert [r.status for r in _runs(once.id)] == ["missed"]
    assert world.outbox(campaign_id=once.id) == []
    assert "missed" in output
    # The lease was released on SIGTERM: a standby can take over at once.
    assert outreach.acquire_lease("scheduler", "standby", 30)


def test_only_one_scheduler_holds_the_lease(outreach_env: str) -> None:
    assert outreach.acquire_lease("scheduler", "a", 30)
    assert not outreach.acquire_lease("scheduler", "b", 30)
    assert outreach.acquire_lease("scheduler", "a", 30)  # renewal
    later = datetime.now(UTC) + timedelta(seconds=31)
    assert outreach.acquire_lease("scheduler", "b", 30, now=later)  # a stopped renewing: b takes over
    outreach.release_lease("scheduler", "b")
    assert outreach.acquire_lease("scheduler", "c", 30)


def test_occurrence_keys_name_the_latest_cron_fire(world: World) -> None:
    info = campaigns.create_campaign(campaign_spec(schedule_kind="cron", cron="0 9 * * *", run_at=None), "m")
    with session_scope() as session:
        campaign = session.get(Campaign, info.id)
        key, when = campaigns.occurrence_key(campaign, datetime(2030, 5, 2, 6, 40, tzinfo=UTC), timedelta(hours=1))
    assert key == "cron:2030-05-02T06:00Z"  # 09:00 Istanbul
    assert when == datetime(2030, 5, 2, 6, 0, tzinfo=UTC)
