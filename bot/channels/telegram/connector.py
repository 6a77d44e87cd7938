"""The Telegram connector process: Telegram <-> Rasa, every update exactly once, in order per chat.

Flow of one update:

1. PTB fetches it (long polling) or receives it (webhook, with the secret-token check) and puts it into
   the :class:`~.updates.JournalingQueue`, which writes it to the journal before PTB acknowledges it.
2. :meth:`TelegramConnector._on_update` (a PTB handler) answers a button press at once (stops the spinner,
   removes the keyboard so the choice cannot be made twice) and wakes the chat's worker.
3. The chat's worker (one at a time per chat, many chats concurrently) takes the chat's oldest pending
   update, decides what it means (:mod:`.inbound`), forwards it to Rasa with "typing…" shown meanwhile,
   stores Rasa's answer in the journal and delivers it part by part (:mod:`.sender`).
4. If Rasa is down or slow, the customer gets one "one moment please" and the update is retried with
   backoff; later messages of the same chat wait behind it so the conversation stays in order. A request
   that ended without an answer may still have been handled by Rasa (it was slow, not down): before such
   an update is sent again, the conversation's tracker is asked whether it already holds the message
   (``metadata.telegram_update_id``); if so its recorded answer is delivered instead. If
   Telegram is down, delivery resumes at the first undelivered part. If the customer blocked the bot, the
   chat is marked unreachable and the update is closed.
5. A scan loop wakes chats whose retries are due, and on start-up resumes whatever a previous process
   left pending.

While a support agent holds the conversation (:func:`bot.services.handover.is_held`), messages still go to
Rasa (which records them in the paused conversation) but no bot answer is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import urlparse

from sqlalchemy.exc import DBAPIError
from telegram import Update
from telegram.constants import ChatMemberStatus
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.warnings import PTBDeprecationWarning

from bot.channels import rasa_tracker
from bot.channels.rasa_client import RasaClient, RasaRequestRejected, RasaUnavailable
from bot.channels.telegram import inbound, texts, updates
from bot.channels.telegram.ids import CHANNEL, log_ref, sender_id_for
from bot.channels.telegram.ratelimit import PerChatRateLimiter
from bot.channels.telegram.sender import (
    DeliveryDeferred,
    MessageRejected,
    RecipientUnreachable,
    TelegramSender,
    bot_id_from_token,
    build_bot,
    retry_delay,
)
from bot.channels.telegram.updates import JournalEntry, JournalingQueue
from bot.services import consent, conversations, reachability
from bot.services.errors import ServiceError
from bot.services.tx import utcnow
from bot.settings import Settings, get_settings

log = logging.getLogger(__name__)

Mode = Literal["polling", "webhook"]
#: The update types we ask Telegram for (everything else is not a conversation turn).
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]

_is_held: Callable[[str], bool] | None
try:  # The console helper's takeover service; the connector works without it.
    from bot.services.handover import is_held as _is_held
except ImportError:  # pragma: no cover - depends on which parts of the product are installed
    _is_held = None


@dataclass(frozen=True)
class ConnectorOptions:
    """Timings and limits. Defaults suit production; tests shorten the waits."""

    #: First retry after this many seconds, doubling up to ``retry_max_s`` (Rasa down, Telegram down).
    retry_base_s: float = 2.0
    retry_max_s: float = 300.0
    #: How often the scan loop looks for due retries and left-over work.
    scan_interval_s: float = 1.0
    #: How long a worker's claim on an update lasts (renewed as it progresses).
    lease_s: float = 120.0
    max_concurrent_chats: int = 64
    #: "typing…" lasts about 5 s in Telegram clients; refresh it while waiting for Rasa.
    typing_interval_s: float = 4.0
    #: Long-polling timeout (seconds Telegram holds a getUpdates call open).
    poll_timeout_s: int = 10
    #: On shutdown, how long in-flight updates may take to finish before they are left for the next start.
    shutdown_grace_s: float = 10.0
    #: Quick in-place retries of one Telegram call before the journal takes over.
    send_attempts: int = 3
    send_backoff_s: float = 0.5
    #: Per-chat message rate (burst, period): on average one message per second.
    per_chat_burst: float = 3
    per_chat_period_s: float = 3
    #: A request Rasa keeps rejecting (4xx) is given up after this many attempts.
    max_rasa_rejections: int = 5
    #: How long to keep retrying a journal write that records a side effect already done (see ``_journal``).
    journal_patience_s: float = 60.0
    prune_interval_s: float = 3600.0


@dataclass(frozen=True)
class WebhookConfig:
    """Where PTB's webhook server listens and what Telegram is told (``setWebhook``)."""

    listen: str
    port: int
    url: str
    secret_token: str

    @property
    def url_path(self) -> str:
        return urlparse(self.url).path.lstrip("/")

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookConfig:
        if not settings.telegram_webhook_url:
            raise RuntimeError("TELEGRAM_MODE=webhook needs TELEGRAM_WEBHOOK_URL (the public https URL)")
        if settings.telegram_webhook_secret is None:
            # Without the secret anyone who finds the URL could post forged updates (e.g. a fake contact).
            raise RuntimeError("TELEGRAM_MODE=webhook needs TELEGRAM_WEBHOOK_SECRET (1-256 of A-Z a-z 0-9 _ -)")
        return cls(
            listen=settings.telegram_webhook_listen,
            port=settings.telegram_webhook_port,
            url=settings.telegram_webhook_url,
            secret_token=settings.telegram_webhook_secret.get_secret_value(),
        )


class TelegramConnector:
    """Connects one Telegram bot to Rasa. ``await start()``, later ``await stop()``; or :func:`run`."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        options: ConnectorOptions | None = None,
        rasa: RasaClient | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.options = options or ConnectorOptions()
        if self.settings.telegram_token is None:
            raise RuntimeError("TELEGRAM_TOKEN is not set")
        self.bot_id = bot_id_from_token(self.settings.telegram_token.get_secret_value())
        limiter = PerChatRateLimiter(
            per_chat_max_rate=self.options.per_chat_burst,
            per_chat_time_period=self.options.per_chat_period_s,
        )
        self.application: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .bot(build_bot(self.settings, rate_limiter=limiter))
            .update_queue(JournalingQueue(self.bot_id))
            # The handler only wakes workers; ordering is kept by the per-chat workers, not by PTB.
            .concurrent_updates(True)
            .build()
        )
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        self.sender = TelegramSender(
            self.application.bot, attempts=self.options.send_attempts, backoff_s=self.options.send_backoff_s
        )
        self.rasa = rasa or RasaClient(self.settings)
        self._owns_rasa = rasa is None
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lease = timedelta(seconds=self.options.lease_s)
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._dirty: set[int] = set()
        self._slots = asyncio.Semaphore(self.options.max_concurrent_chats)
        self._stopping = asyncio.Event()
        self._scanner: asyncio.Task[None] | None = None
        self.mode: Mode | None = None
        self.running = False

    # -- lifecycle -----------------------------------------------------------------------------------------------

    async def start(self, mode: Mode = "polling", webhook: WebhookConfig | None = None) -> None:
        """Connect to Telegram, resume pending work and start receiving updates."""
        self.mode = mode
        await self.application.initialize()  # getMe: fails fast on a wrong token
        await self.application.start()
        updater = self.application.updater
        assert updater is not None
        if mode == "polling":
            await updater.start_polling(
                timeout=self.options.poll_timeout_s,
                allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=False,
            )
        else:
            config = webhook or WebhookConfig.from_settings(self.settings)
            await updater.start_webhook(
                listen=config.listen,
                port=config.port,
                url_path=config.url_path,
                webhook_url=config.url,
                secret_token=config.secret_token,
                allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=False,
            )
        self._scanner = asyncio.create_task(self._scan_loop(), name="telegram-journal-scan")
        self.running = True
        log.info("telegram connector started (%s mode, bot %s)", mode, self.bot_id)

    async def stop(self) -> None:
        """Stop receiving, let in-flight updates finish (bounded), release claims, disconnect.

        Whatever is not finished stays in the journal and is resumed by the next start.
        """
        if not self.running:
            return
        self.running = False
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()  # polling: confirms the offsets of updates already journaled
        # From now on workers finish the update in hand and take no new one (it stays journaled).
        self._stopping.set()
        if self.application.running:
            await self.application.stop()
        if self._scanner is not None:
            self._scanner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scanner
        workers = [task for task in self._workers.values() if not task.done()]
        if workers:
            _, still_running = await asyncio.wait(workers, timeout=self.options.shutdown_grace_s)
            for task in still_running:
                task.cancel()
            if still_running:
                await asyncio.wait(still_running)
        try:
            await asyncio.to_thread(updates.release_leases, self.owner)
        except ServiceError:
            log.warning("could not release journal leases; they expire in %.0fs", self.options.lease_s)
        await self.application.shutdown()
        if self._owns_rasa:
            await self.rasa.aclose()
        log.info("telegram connector stopped")

    async def run_until_stopped(self, mode: Mode = "polling") -> None:
        """Run until SIGINT/SIGTERM (the process entry point)."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await self.start(mode)
        try:
            await stop.wait()
        finally:
            await self.stop()

    # -- PTB handlers --------------------------------------------------------------------------------------------

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.my_chat_member is not None:
            await self._on_membership(update)
            return
        key = updates.journal_key(update)
        if key is None:
            return
        query = update.callback_query
        if query is not None:
            # Answer at once (the spinner would otherwise run until Rasa replies) and take the buttons away
            # so the same choice cannot be sent twice; the press itself is handled by the chat's worker.
            await self.sender.answer_callback(query.id)
            if query.message is not None:
                await self.sender.remove_inline_keyboard(key.chat_id, query.message.message_id)
        self.wake(key.chat_id)

    async def _on_membership(self, update: Update) -> None:
        member = update.my_chat_member
        assert member is not None
        if member.chat.type != "private":
            return
        sender_id = sender_id_for(member.chat.id)
        try:
            if member.new_chat_member.status == ChatMemberStatus.BANNED:
                log.info("telegram chat %s blocked the bot", log_ref(member.chat.id))
                await asyncio.to_thread(reachability.mark_unreachable, CHANNEL, sender_id, "blocked")
            elif member.new_chat_member.status == ChatMemberStatus.MEMBER:
                await asyncio.to_thread(reachability.mark_reachable, CHANNEL, sender_id)
        except ServiceError:
            log.warning("could not record membership change of %s", log_ref(member.chat.id))

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # Never log the update itself: it contains what the customer wrote.
        update_id = update.update_id if isinstance(update, Update) else None
        log.error(
            "error while handling telegram update %s: %s",
            update_id,
            type(context.error).__name__,
            exc_info=context.error,
        )

    # -- per-chat workers ----------------------------------------------------------------------------------------

    def wake(self, chat_id: int) -> None:
        """Make sure the chat's worker runs (or runs once more, if it is busy)."""
        if self._stopping.is_set():
            return
        task = self._workers.get(chat_id)
        if task is not None and not task.done():
            self._dirty.add(chat_id)
            return
        self._workers[chat_id] = asyncio.create_task(self._run_chat(chat_id), name=f"telegram-chat-{chat_id}")

    async def _run_chat(self, chat_id: int) -> None:
        try:
            async with self._slots:
                while not self._stopping.is_set():
                    self._dirty.discard(chat_id)
                    await self._drain_chat(chat_id)
                    if chat_id not in self._dirty:
                        break
        except Exception:
            log.exception("telegram worker for %s crashed; the scan loop will retry", log_ref(chat_id))
        finally:
            if self._workers.get(chat_id) is asyncio.current_task():
                del self._workers[chat_id]

    async def _drain_chat(self, chat_id: int) -> None:
        """Handle the chat's pending updates oldest first; stop at one that is not due yet."""
        while not self._stopping.is_set():
            try:
                entry = await asyncio.to_thread(updates.head, self.bot_id, chat_id)
                if entry is None or entry.next_attempt_at > utcnow():
                    return
                if not await asyncio.to_thread(updates.claim, entry.id, self.owner, self._lease):
                    return  # another process is working on this chat
            except ServiceError:
                log.warning("journal unavailable while handling %s; will retry", log_ref(chat_id))
                return
            try:
                await self._process(entry)
            except ServiceError:
                log.warning("journal unavailable while handling update %s; will retry", entry.update_id)
                return
            except Exception as error:
                log.exception("update %s failed unexpectedly; will retry", entry.update_id)
                delay = self._retry_delay(entry)
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(updates.schedule_retry, entry.id, delay, f"internal:{type(error).__name__}")
                return

    async def _scan_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_prune = loop.time() + 60.0
        while not self._stopping.is_set():
            try:
                for chat_id in await asyncio.to_thread(updates.due_chats, self.bot_id, self.owner):
                    self.wake(chat_id)
                if loop.time() >= next_prune:
                    next_prune = loop.time() + self.options.prune_interval_s
                    pruned = await asyncio.to_thread(updates.prune)
                    if pruned:
                        log.info("pruned %d finished telegram updates", pruned)
            except ServiceError:
                log.warning("journal unavailable; scan retried in %.1fs", self.options.scan_interval_s)
            except Exception:
                log.exception("telegram journal scan failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.options.scan_interval_s)

    # -- one update ----------------------------------------------------------------------------------------------

    async def _process(self, entry: JournalEntry) -> None:
        try:
            update = Update.de_json(entry.payload, self.application.bot) if entry.payload else None
        except Exception:  # a journal row we cannot read will not become readable by retrying
            log.exception("update %s: journaled payload cannot be parsed", entry.update_id)
            update = None
        if update is None:
            await asyncio.to_thread(updates.mark_failed, entry.id, "unreadable_payload")
            return
        who = inbound.sender_of(update)
        replies = entry.replies or []
        if entry.status == "received":
            if entry.kind == "callback_query" and await asyncio.to_thread(
                updates.earlier_press_of_same_message, self.bot_id, entry
            ):
                log.info("update %s: second press on the same keyboard; ignored", entry.update_id)
                await asyncio.to_thread(updates.mark_replied, entry.id)
                return
            decision = await asyncio.to_thread(inbound.interpret, update)
            if isinstance(decision, inbound.Ignore):
                log.info("update %s ignored (%s)", entry.update_id, decision.reason)
                await asyncio.to_thread(updates.mark_replied, entry.id)
                return
            if isinstance(decision, inbound.LocalReply):
                replies = decision.messages
            else:
                answer = await self._forward(entry, decision, who)
                if answer is None:
                    return  # rescheduled
                replies = answer
            await self._journal(updates.mark_forwarded, entry.id, replies)
            entry_sent = 0
        else:
            entry_sent = entry.replies_sent
        await self._deliver(entry, update, who, replies, entry_sent)

    async def _forward(
        self, entry: JournalEntry, decision: inbound.Forward, who: inbound.Sender
    ) -> list[dict[str, Any]] | None:
        """Send to Rasa; returns the bot messages to deliver, or None if the update was rescheduled.

        Every message must be stored in Rasa exactly once. So the row is marked "Rasa may have it" before a
        request goes out, and the mark stays unless that request certainly never reached Rasa. A marked row
        (an earlier attempt timed out, got a 5xx, or this process stopped mid-request) is first looked up in
        the tracker: if Rasa recorded it, the answer recorded after it is delivered and nothing is re-sent.
        """
        if entry.attempts == 0:
            await self._note_sender(who, opt_out=decision.opt_out)
        held = await self._held(who.sender_id)
        typing = None if held else asyncio.create_task(self._keep_typing(who.chat_id))
        try:
            answer = await self._recorded_answer(entry, who) if entry.rasa_may_have_it else None
            if answer is None:
                if not entry.rasa_may_have_it:
                    await self._journal(updates.mark_rasa_may_have_it, entry.id)
                answer = await self.rasa.send_message(who.sender_id, decision.text, decision.metadata)
                log.info(
                    "update %s forwarded for %s: %d bot messages", entry.update_id, log_ref(who.chat_id), len(answer)
                )
        except RasaUnavailable as error:
            # Once a request may have reached Rasa the doubt stays until the tracker settles it.
            may_have_it = entry.rasa_may_have_it or error.maybe_processed
            await self._rasa_failed(entry, who, "rasa_unavailable", held, rasa_may_have_it=may_have_it)
            return None
        except RasaRequestRejected:
            log.error("update %s: Rasa rejected the request (check RASA_TOKEN / Rasa version)", entry.update_id)
            if entry.attempts + 1 >= self.options.max_rasa_rejections:
                await self._journal(updates.mark_failed, entry.id, "rasa_rejected")
                return None
            # A rejected request was not processed: only an earlier attempt can have left the message in Rasa.
            await self._rasa_failed(entry, who, "rasa_rejected", held, rasa_may_have_it=entry.rasa_may_have_it)
            return None
        finally:
            if typing is not None:
                typing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await typing
        if held:
            return []
        if not answer and decision.fallback:
            answer = [{"text": texts.text(decision.fallback, who.language)}]
        return answer

    async def _recorded_answer(self, entry: JournalEntry, who: inbound.Sender) -> list[dict[str, Any]] | None:
        """The answer Rasa recorded for this update, or None if its tracker does not hold the message.

        Reliable for Rasa's own server: when a client gives up, Sanic cancels the request's handling, and
        Rasa saves a message together with its whole turn at the end; so by the time we ask, the message
        is either stored with its answer or not stored at all.
        """
        tracker = await self.rasa.get_tracker(who.sender_id)
        answer = rasa_tracker.recorded_answer(tracker, "telegram_update_id", entry.update_id)
        if answer is None:
            log.info("update %s: not in Rasa's tracker; sending it again", entry.update_id)
        else:
            log.info(
                "update %s: already recorded by Rasa; not sent again, delivering its %d recorded bot messages",
                entry.update_id,
                len(answer),
            )
        return answer

    async def _rasa_failed(
        self,
        entry: JournalEntry,
        who: inbound.Sender,
        code: str,
        held: bool,
        *,
        rasa_may_have_it: bool | None = None,
    ) -> None:
        # One "one moment please" per outage: later retries (and later messages, which wait behind this
        # one) stay quiet. Recorded before sending so a crash cannot make it go out twice.
        if not entry.wait_notice_sent:
            await asyncio.to_thread(updates.mark_wait_notice_sent, entry.id)
            if not held:
                await self.sender.send_notice(who.chat_id, texts.text("wait", who.language))
        delay = self._retry_delay(entry)
        log.warning(
            "update %s: %s; retry %d in %.1fs", entry.update_id, code, entry.attempts + 1, delay.total_seconds()
        )
        await self._journal(updates.schedule_retry, entry.id, delay, code, rasa_may_have_it=rasa_may_have_it)

    async def _deliver(
        self,
        entry: JournalEntry,
        update: Update,
        who: inbound.Sender,
        replies: list[dict[str, Any]],
        already_sent: int,
    ) -> None:
        """Deliver the rendered answer from part ``already_sent`` on, recording progress after each part."""
        if replies and await self._held(who.sender_id):
            # An agent took over after Rasa answered: the agent speaks now, not the bot.
            await self._journal(updates.mark_replied, entry.id)
            return
        await self.sender.prepare(replies)
        parts = self.sender.render(
            replies, language=who.language, remove_reply_keyboard=inbound.removes_reply_keyboard(update)
        )
        for index in range(already_sent, len(parts)):
            try:
                await self.sender.deliver(who.chat_id, parts[index])
            except RecipientUnreachable as error:
                await self._journal(updates.mark_failed, entry.id, f"recipient_unreachable:{error.reason}")
                return
            except DeliveryDeferred as error:
                delay = self._retry_delay(entry)
                if error.retry_after is not None:
                    delay = max(delay, timedelta(seconds=error.retry_after))
                log.warning(
                    "update %s: delivery deferred (%s) at part %d/%d; retry in %.1fs",
                    entry.update_id,
                    error.reason,
                    index + 1,
                    len(parts),
                    delay.total_seconds(),
                )
                await self._journal(updates.schedule_retry, entry.id, delay, error.reason)
                return
            except MessageRejected:
                # Retrying the same malformed part cannot help; skip it rather than block the chat forever.
                log.error("update %s: part %d/%d rejected by Telegram; skipped", entry.update_id, index + 1, len(parts))
            await self._journal(updates.mark_progress, entry.id, index + 1, self.owner, self._lease)
        await self._journal(updates.mark_replied, entry.id)
        log.info("update %s replied to %s (%d parts)", entry.update_id, log_ref(who.chat_id), len(parts))

    # -- helpers -------------------------------------------------------------------------------------------------

    async def _journal(self, write: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A journal write that records something already done (Rasa answered, a part was delivered).

        If the database hiccups right then, giving up would make a retry repeat the side effect (ask Rasa
        again, send a part twice), so keep trying for a while instead; only a longer outage gives up (and
        accepts that one repetition).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.journal_patience_s
        pause = 0.1
        while True:
            try:
                return await asyncio.to_thread(write, *args, **kwargs)
            except (ServiceError, DBAPIError) as error:
                # Any database error: the write is idempotent, and giving up costs a repetition.
                if loop.time() + pause > deadline:
                    raise
                log.warning("journal write %s failed (%s); retrying", write.__name__, type(error).__name__)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)

    def _retry_delay(self, entry: JournalEntry) -> timedelta:
        return retry_delay(entry.attempts + 1, base_s=self.options.retry_base_s, max_s=self.options.retry_max_s)

    async def _keep_typing(self, chat_id: int) -> None:
        while True:
            await self.sender.send_typing(chat_id)
            await asyncio.sleep(self.options.typing_interval_s)

    async def _held(self, sender_id: str) -> bool:
        if _is_held is None:
            return False
        try:
            return bool(await asyncio.to_thread(_is_held, sender_id))
        except ServiceError:
            log.warning("takeover state unknown (database unavailable); treating as not held")
            return False

    async def _note_sender(self, who: inbound.Sender, *, opt_out: bool) -> None:
        """Record the conversation's channel, clear an "unreachable" mark, and apply /stop immediately."""
        try:
            await asyncio.to_thread(conversations.record_channel, who.sender_id, CHANNEL)
            await asyncio.to_thread(reachability.mark_reachable, CHANNEL, who.sender_id)
            if opt_out:
                await asyncio.to_thread(consent.opt_out_channel, CHANNEL, who.sender_id, "telegram:stop_command")
        except ServiceError as error:
            log.warning("could not record sender state for %s: %s", log_ref(who.chat_id), type(error).__name__)


def quiet_third_party_loggers() -> None:
    """httpx logs request URLs at INFO — for Telegram they contain the bot token, for Rasa its auth token —
    and PTB logs raw update JSON (customer texts) at DEBUG. Neither may reach our logs."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    for name in ("telegram", "telegram.ext", "tornado.access"):
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO:
            logger.setLevel(logging.INFO)


def run(mode: Mode | None = None, settings: Settings | None = None) -> int:
    """Process entry point: run the connector until SIGINT/SIGTERM. Returns an exit code."""
    settings = settings or get_settings()
    quiet_third_party_loggers()
    # PTB 22 warns about its own use of RetryAfter.retry_after on every 429; we read it version-proof.
    warnings.filterwarnings("ignore", message=".*retry_after.*", category=PTBDeprecationWarning)
    if settings.telegram_token is None:
        log.error("TELEGRAM_TOKEN is not set; the Telegram connector cannot start")
        return 2
    connector = TelegramConnector(settings)
    asyncio.run(connector.run_until_stopped(mode or settings.telegram_mode))
    return 0
