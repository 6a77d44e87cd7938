"""Automatic check-ins: the periodic scans that queue CSAT, ticket follow-up, birthday and NPS messages.

Each scan only INSERTs outbox rows with a unique key (``csat:ticket:<id>``, ``followup:ticket:<id>``,
``birthday:<customer>:<year>``, ``nps:<customer>:<date>``), so running a scan twice, late, or after a
coalesced misfire never queues a second message. Each is switched and tuned through ``OUTREACH_*``
settings (:class:`bot.services.outreach.OutreachConfig`); a disabled scan queues nothing.

Scans look back over a bounded window (CSAT: conversations that went quiet within the last day; ticket
follow-ups: resolved within the last week), so after downtime they catch up on what is still relevant
and silently drop what is too old to ask about.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.services import outreach
from bot.services.outreach import EnqueueSummary, OutreachConfig

log = logging.getLogger(__name__)

SCANS: dict[str, Callable[..., EnqueueSummary]] = {
    "csat": outreach.enqueue_csat_checkins,
    "ticket_followup": outreach.enqueue_ticket_followups,
    "birthday": outreach.enqueue_birthdays,
    "nps": outreach.enqueue_nps_checkins,
}


def run_scan(kind: str, *, now: datetime | None = None, config: OutreachConfig | None = None) -> EnqueueSummary:
    """Run one automatic scan now; logs counts only (never who)."""
    summary = SCANS[kind](now=now, config=config)
    if summary.considered:
        log.info(
            "automatic %s: considered=%d queued=%d skipped=%d %s",
            kind,
            summary.considered,
            summary.queued,
            summary.skipped,
            dict(summary.by_reason),
        )
    return summary


def run_all(*, now: datetime | None = None, config: OutreachConfig | None = None) -> dict[str, EnqueueSummary]:
    """Every scan once (``memnun scheduler scan``)."""
    config = config or OutreachConfig.load()
    return {kind: run_scan(kind, now=now, config=config) for kind in SCANS}
