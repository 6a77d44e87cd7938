"""The outbox sender: takes due rows, asks Rasa what to say, delivers it to Telegram or the web chat.

Exactly-once towards the customer (the protocol is spelled out in :mod:`bot.services.outreach`):

* rows are claimed atomically with a lease, and every state change is fenced by the claim, so several
  sender processes (or a restarted one) never work on the same row at the same time;
* Rasa's answer is stored before delivery, and each delivered part is recorded with its Telegram
  ``message_id`` right after Telegram accepted it, so a restarted sender resumes after the last recorded
  part instead of starting over;
* the only window that cannot be closed is between Telegram accepting a part and us recording it (the Bot
  API has no idempotency key). A row abandoned inside that window is *uncertain*; the default policy
  (``OUTREACH_UNCERTAIN_DELIVERY=at_most_once``) marks it ``failed``/``delivery_uncertain`` rather than risk
  asking a customer the same survey twice. A network timeout during the call is treated the same way.
  Web chat delivery is idempotent by key, so it is exactly-once even across that window.

Telegram's flood limits (30 messages/s overall, ~1/s per chat, 429 ``retry_after``) are enforced by
:class:`bot.channels.telegram.sender.TelegramSender`'s rate limiter; a 429 that survives its retries puts
the row back in the queue for ``retry_after`` seconds. The limit is per process: with N sender processes
set ``OUTREACH_TELEGRAM_RATE`` to 30/N.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from bot.channels.rasa_client import RasaClient, RasaRequestRejected, RasaUnavailable
from bot.scheduler import failpoints
from bot.services import loyalty, outreach
from bot.services.errors import InvalidInput, ServiceError, ServiceUnavailable
from bot.services.outreach import ClaimedMessage, LeaseLost, OutreachConfig, SendPlan

log = logging.getLogger(__name__)
T = TypeVar("T")


def new_worker_id() -> str:
    """Unique per process start: a restarted process must not inherit the leases of its previous life."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class SenderOptions:
    worker_id: str = field(default_factory=new_worker_id)
    batch_size: int = 50
    concurrency: int = 16
    poll_interval_s: float = 2.0
    #: Stop once nothing is due and nothing is in flight (CLI ``scheduler drain``, benchmarks, tests).
    drain: bool = False
    #: Telegram messages per second for this process (the Bot API allows 30 per bot).
    telegram_rate: float = 30.0


@dataclass
class SenderStats:
    outcomes: Counter[str] = field(default_factory=Counter)
    claimed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"claimed": self.claimed, **dict(self.outcomes)}


class OutboxSender:
    """Drains the outbox. Build with a :class:`RasaClient` and (optionally) a ``TelegramSender``."""

    def __init__(
        self,
        options: SenderOptions,
        *,
        rasa: RasaClient,
        telegram: Any | None = None,
        config: OutreachConfig | None = None,
    ) -> None:
        self.options = options
        self.rasa = rasa
        self.telegram = telegram
        self.config = config or OutreachConfig.load()
        self.stats = SenderStats()
        # Our own threads for database calls: the loop's default executor is shared with APScheduler.
        self._executor = ThreadPoolExecutor(max_workers=options.concurrency + 4, thread_name_prefix="outbox")

    async def _call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(function, *args, **kwargs))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- main loop -------------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> SenderStats:
        stop = stop or asyncio.Event()
        heartbeat = asyncio.create_task(self._heartbeat(stop), name="outbox-heartbeat")
        inflight: set[asyncio.Task[None]] = set()
        log.info("outbox sender %s started", self.options.worker_id)
        try:
            while not stop.is_set():
                capacity = self.options.concurrency - len(inflight)
                claimed: list[ClaimedMessage] = []
                if capacity > 0:
                    try:
                        claimed = await self._call(
                            outreach.claim_due,
                            self.options.worker_id,
                            min(self.options.batch_size, capacity),
                            lease_seconds=self.config.lease_seconds,
                        )
                    except ServiceUnavailable:
                        log.warning("outbox: database unavailable; retrying in %ss", self.options.poll_interval_s)
                self.stats.claimed += len(claimed)
                for message in claimed:
                    failpoints.hit("claimed")
                    task = asyncio.create_task(self._process_safely(message), name=f"outbox-{message.outbox_id}")
                    inflight.add(task)
                    task.add_done_callback(inflight.discard)
                full = len(inflight) >= self.options.concurrency
                if claimed and not full:
                    continue  # more may be due right now
                if not claimed and not inflight and self.options.drain:
                    break
                # Full: wait for a slot. Idle: wait for the next poll (or a finishing task, or stop).
                await self._wait(stop, inflight, None if full else self.options.poll_interval_s)
            if inflight:
                # Finish what was started: a task interrupted here would leave its row to the lease expiry.
                await asyncio.gather(*inflight, return_exceptions=True)
        finally:
            heartbeat.cancel()
        log.info("outbox sender %s stopped: %s", self.options.worker_id, self.stats.as_dict())
        return self.stats

    @staticmethod
    async def _wait(stop: asyncio.Event, inflight: set[asyncio.Task[None]], timeout: float | None) -> None:
        stop_waiter = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({stop_waiter, *inflight}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop_waiter.cancel()

    async def _heartbeat(self, stop: asyncio.Event) -> None:
        """Renew the leases of rows we hold, so a slow send (429 pause) is not mistaken for a crash."""
        interval = max(0.2, self.config.lease_seconds / 3)
        while not stop.is_set():
            await asyncio.sleep(interval)
            try:
                await self._call(outreach.renew_leases, self.options.worker_id, lease_seconds=self.config.lease_seconds)
            except ServiceError:
                log.warning("outbox: could not renew leases (database unavailable)")

    async def _process_safely(self, message: ClaimedMessage) -> None:
        try:
            outcome = await self.process(message)
        except LeaseLost:
            outcome = "lease_lost"
            log.warning("outbox %s: lease lost to another worker; leaving the row to it", message.outbox_id)
        except ServiceUnavailable:
            outcome = "db_unavailable"
            log.warning("outbox %s: database unavailable; the lease will expire and the row resume", message.outbox_id)
        except Exception:  # noqa: BLE001 - one bad row must not stop the sender
            outcome = "error"
            log.exception("outbox %s: unexpected error", message.outbox_id)
            try:
                await self._call(outreach.retry_later, message.outbox_id, self.options.worker_id, "internal_error")
            except Exception:  # noqa: BLE001
                log.exception("outbox %s: could not reschedule", message.outbox_id)
        self.stats.outcomes[outcome] += 1

    # -- one row ---------------------------------------------------------------------------------------------

    async def process(self, message: ClaimedMessage) -> str:
        """Deliver one claimed row; returns an outcome label for the stats."""
        worker = self.options.worker_id
        plan = await self._call(outreach.prepare_send, message.outbox_id, worker, config=self.config)
        failpoints.hit("prepared")
        if plan.action == "done":
            await self._call(outreach.finish_delivery, plan.outbox_id, worker, confirmed=plan.channel == "telegram")
            return "resumed_done"
        if plan.action != "send":
            return f"{plan.action}:{plan.reason}"
        messages = plan.rasa_messages
        if messages is None:
            messages_or_outcome = await self._ask_rasa(plan)
            if isinstance(messages_or_outcome, str):
                return messages_or_outcome
            messages = messages_or_outcome
        if plan.channel == "telegram":
            return await self._deliver_telegram(plan, messages)
        if plan.channel == "web":
            return await self._deliver_web(plan, messages)
        await self._call(outreach.fail, plan.outbox_id, worker, f"unsupported_channel:{plan.channel}")
        return "failed:unsupported_channel"

    async def _ask_rasa(self, plan: SendPlan) -> list[dict[str, Any]] | str:
        worker = self.options.worker_id
        if plan.channel == "telegram" and self.telegram is None:
            await self._call(outreach.retry_later, plan.outbox_id, worker, "telegram_not_configured", delay_s=300)
            return "deferred:telegram_not_configured"
        if plan.needs_coupon and plan.customer_id is not None:
            plan = outreach.with_coupon(plan, await self._birthday_coupon(plan))
        try:
            messages = await self.rasa.trigger_intent(plan.sender_id or "", plan.intent or "", dict(plan.entities))
        except RasaUnavailable as error:
            state = await self._call(outreach.retry_later, plan.outbox_id, worker, f"rasa_unavailable:{error}"[:80])
            return f"retry:rasa_unavailable:{state}"
        except RasaRequestRejected:
            await self._call(outreach.fail, plan.outbox_id, worker, "rasa_rejected")
            return "failed:rasa_rejected"
        failpoints.hit("after_rasa")
        messages = [dict(m) for m in messages if isinstance(m, Mapping) and _has_content(m)]
        if not messages:
            # The assistant has nothing to say for this intent: a configuration problem, not worth retrying.
            await self._call(outreach.fail, plan.outbox_id, worker, "empty_bot_response")
            return "failed:empty_bot_response"
        total = len(self._render(plan, messages)) if plan.channel == "telegram" else 1
        await self._call(outreach.store_rasa_messages, plan.outbox_id, worker, messages, total_parts=total)
        failpoints.hit("after_store")
        return messages

    async def _birthday_coupon(self, plan: SendPlan) -> str | None:
        """This year's birthday coupon, issued now (idempotent per customer and year) on the local date."""
        local_date = plan.payload.get("local_date")
        today = date.fromisoformat(local_date) if isinstance(local_date, str) else None
        try:
            return await self._call(loyalty.issue_birthday_coupon, int(plan.customer_id or 0), today)
        except InvalidInput:  # the customer vanished (erased) between queueing and sending
            return None

    def _render(self, plan: SendPlan, messages: Sequence[Mapping[str, Any]]) -> list[Any]:
        assert self.telegram is not None
        language = plan.language if plan.language in ("tr", "en") else None
        return list(self.telegram.render(messages, language=language))

    async def _deliver_telegram(self, plan: SendPlan, messages: Sequence[Mapping[str, Any]]) -> str:
        from bot.channels.telegram.ids import chat_id_from_sender
        from bot.channels.telegram.sender import DeliveryDeferred, MessageRejected, RecipientUnreachable

        worker = self.options.worker_id
        if self.telegram is None:
            await self._call(outreach.retry_later, plan.outbox_id, worker, "telegram_not_configured", delay_s=300)
            return "deferred:telegram_not_configured"
        chat_id = chat_id_from_sender(plan.sender_id or "")
        if chat_id is None:
            await self._call(outreach.skip_claimed, plan.outbox_id, worker, "unreachable")
            return "skipped:unreachable"
        parts = self._render(plan, messages)
        await self.telegram.prepare(messages)
        for index in range(plan.delivered_parts, len(parts)):
            await self._call(
                outreach.mark_part_inflight, plan.outbox_id, worker, index, lease_seconds=self.config.lease_seconds
            )
            failpoints.hit("before_send")
            try:
                message_id = await self.telegram.deliver(chat_id, parts[index])
            except RecipientUnreachable:
                await self._call(outreach.skip_claimed, plan.outbox_id, worker, "unreachable")
                return "skipped:unreachable"
            except MessageRejected:
                await self._call(outreach.fail, plan.outbox_id, worker, "telegram_rejected")
                return "failed:telegram_rejected"
            except DeliveryDeferred as error:
                if "TimedOut" in error.reason and self.config.uncertain_policy == "at_most_once":
                    # Telegram may have accepted it before the timeout: do not risk a duplicate.
                    await self._call(outreach.fail, plan.outbox_id, worker, outreach.DELIVERY_UNCERTAIN)
                    return "failed:delivery_uncertain"
                state = await self._call(
                    outreach.retry_later,
                    plan.outbox_id,
                    worker,
                    error.reason,
                    delay_s=error.retry_after,
                    count_attempt=error.retry_after is None,
                )
                return f"retry:{error.reason}:{state}"
            failpoints.hit("after_send")
            # The last receipt completes the row in the same transaction (one commit less per message).
            state = await self._call(
                outreach.record_part_delivered,
                plan.outbox_id,
                worker,
                index,
                str(message_id or ""),
                finish=index == len(parts) - 1,
                confirmed=True,
                expires_at=plan.expires_at,
            )
            failpoints.hit("after_record")
        if plan.delivered_parts >= len(parts):  # resumed after the last receipt: only the completion is left
            failpoints.hit("before_finish")
            state = await self._call(
                outreach.finish_delivery, plan.outbox_id, worker, confirmed=True, expires_at=plan.expires_at
            )
        return f"ok:{state}"

    async def _deliver_web(self, plan: SendPlan, messages: Sequence[Mapping[str, Any]]) -> str:
        from bot.services import web_inbox

        worker = self.options.worker_id
        await self._call(
            outreach.mark_part_inflight, plan.outbox_id, worker, 0, lease_seconds=self.config.lease_seconds
        )
        failpoints.hit("before_send")
        try:
            result = await self._call(
                web_inbox.post_to_web,
                plan.sender_id or "",
                messages,
                "campaign" if plan.payload.get("commercial") else "checkin",
                f"outbox:{plan.outbox_id}",
                expires_at=plan.expires_at,
            )
        except InvalidInput as error:
            await self._call(outreach.fail, plan.outbox_id, worker, f"web_rejected:{error.code}")
            return "failed:web_rejected"
        failpoints.hit("after_send")
        state = await self._call(
            outreach.record_part_delivered,
            plan.outbox_id,
            worker,
            0,
            ",".join(str(i) for i in result.ids),
            finish=True,
            confirmed=False,
            expires_at=plan.expires_at,
        )
        return f"ok:{state}"


def _has_content(message: Mapping[str, Any]) -> bool:
    return bool(message.get("text") or message.get("image") or message.get("buttons") or message.get("custom"))


async def run_sender(options: SenderOptions, stop: asyncio.Event | None = None) -> SenderStats:
    """Build the Rasa client and (when TELEGRAM_TOKEN is set) the Telegram sender, then run until stopped."""
    from bot.settings import get_settings

    settings = get_settings()
    config = OutreachConfig.load()
    telegram = None
    if settings.telegram_token is not None:
        from bot.channels.telegram.ratelimit import PerChatRateLimiter
        from bot.channels.telegram.sender import TelegramSender, build_bot

        # A bucket of one refilled every 1/rate s: no initial burst, so no 1-second window exceeds the rate
        # (a bucket of 30 per second would allow ~60 within a second after an idle spell).
        # 3 % headroom absorbs timer jitter, so a sliding 1-second window never holds rate + 1 messages.
        limiter = PerChatRateLimiter(overall_max_rate=1, overall_time_period=1.03 / max(options.telegram_rate, 0.1))
        bot = build_bot(settings, rate_limiter=limiter)
        telegram = TelegramSender(bot, owns_bot=True)
    async with RasaClient(settings) as rasa:
        sender = OutboxSender(options, rasa=rasa, telegram=telegram, config=config)
        try:
            if telegram is None:
                return await sender.run(stop)
            async with telegram:
                return await sender.run(stop)
        finally:
            sender.close()
