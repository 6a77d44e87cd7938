"""Periodic jobs the console needs; the lead's scheduler calls them (see docs/console.md).

* :func:`sync_summaries_job` - every 30-60 s: folds new Rasa tracker events into the conversation
  summaries and the review queue (synchronous; run it in a worker thread).
* :func:`expire_stale_handovers_job` - every minute: requests for a person that nobody took within
  ``settings.handover_timeout_minutes`` become tickets and the customer is told when to expect an answer.
  Notices that could not be delivered are retried on the next run (for up to a day).
"""

from __future__ import annotations

import asyncio
import logging

from bot.console import delivery
from bot.services import handover, staff
from bot.services.tracker_events import SyncReport, sync_summaries

log = logging.getLogger(__name__)


def sync_summaries_job(time_budget_s: float = 25.0) -> SyncReport:
    report = sync_summaries(time_budget_s=time_budget_s)
    staff.purge_expired_sessions()
    if report.events_read:
        log.info(
            "tracker sync: %s events, %s conversations, %s flags in %ss (cursor %s)",
            report.events_read,
            report.conversations_touched,
            report.flags_created,
            report.seconds,
            report.cursor,
        )
    return report


async def expire_stale_handovers_job() -> dict[str, int]:
    """Expire stale requests, then deliver every pending notice; returns counts for logging/tests."""
    notices = await asyncio.to_thread(handover.expire_stale_handovers)
    delivered = failed = 0
    for notice in notices:
        if notice.ticket_ref:
            text = delivery.customer_text(
                "handover_expired", notice.language, ref=notice.ticket_ref, hours=notice.expected_response_hours or 24
            )
        else:
            text = delivery.customer_text("handover_expired_no_ticket", notice.language)
        result = await delivery.send_text(
            notice.sender_id,
            text,
            source="system",
            idempotency_key=f"handover-expired-{notice.handover_id}",
            language=notice.language,
        )
        if result.ok or result.error_code in ("channel_unsupported", "recipient_unreachable", "invalid_sender"):
            # Delivered, or can never be delivered: either way stop retrying.
            await asyncio.to_thread(handover.mark_notified, notice.handover_id)
            delivered += int(result.ok)
            failed += int(not result.ok)
        else:
            failed += 1
            log.warning("handover %s expiry notice not delivered: %s", notice.handover_id, result.error_code)
    return {"notices": len(notices), "delivered": delivered, "failed": failed}
