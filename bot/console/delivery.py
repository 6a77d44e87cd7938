"""Talking to the customer and to Rasa from the console: agent replies, notices, pause/resume.

Routing by sender id (the shared convention): ``tg-<chat id>`` goes through the Telegram helper's
:class:`TelegramSender` (rate limits, retries, unreachable marking), ``web-<uuid>`` into the web chat inbox
(:func:`bot.services.web_inbox.post_to_web`, picked up live by the chat page). Other senders (REST/API
clients) cannot be reached from here; the caller shows that to the agent.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from bot.channels.rasa_client import RasaClient, RasaRequestRejected, RasaUnavailable
from bot.settings import get_settings

log = logging.getLogger(__name__)

CUSTOMER_TEXTS: dict[str, dict[str, str]] = {
    "agent_label": {"tr": "Müşteri temsilcisi", "en": "Support agent"},
    "ticket_resolved": {
        "tr": "{ref} numaralı kaydınız çözüldü olarak işaretlendi.",
        "en": "Your request {ref} has been marked as resolved.",
    },
    "ticket_resolved_with_note": {
        "tr": "{ref} numaralı kaydınız çözüldü olarak işaretlendi: {note}",
        "en": "Your request {ref} has been marked as resolved: {note}",
    },
    "ticket_note": {"tr": "{ref} numaralı kaydınızla ilgili: {note}", "en": "About your request {ref}: {note}"},
    "handover_expired": {
        "tr": "Şu anda tüm temsilcilerimiz meşgul. Talebinizi {ref} numarasıyla kaydettik; en geç {hours} saat "
        "içinde size dönüş yapacağız.",
        "en": "All our agents are busy right now. We have recorded your request as {ref} and will get back to you "
        "within {hours} hours at the latest.",
    },
    "handover_expired_no_ticket": {
        "tr": "Şu anda tüm temsilcilerimiz meşgul. Talebinizi aldık; en kısa sürede size dönüş yapacağız.",
        "en": "All our agents are busy right now. We have your request and will get back to you as soon as possible.",
    },
    "handover_released": {
        "tr": "Görüşmeniz için teşekkürler. Asistanımız yeniden sizinle; başka bir konuda yardımcı olabilir miyim?",
        "en": "Thank you for your patience. Our assistant is back with you; can I help with anything else?",
    },
}


def customer_text(key: str, language: str, **values: Any) -> str:
    texts = CUSTOMER_TEXTS[key]
    return texts.get(language, texts["tr"]).format(**values)


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    channel: str
    error_code: str | None = None


async def send_text(
    sender_id: str, text: str, *, source: str, idempotency_key: str, language: str = "tr"
) -> DeliveryResult:
    """Deliver one text message to the customer of ``sender_id`` on their channel."""
    if sender_id.startswith("tg-"):
        return await _send_telegram(sender_id, text, language)
    if sender_id.startswith("web-"):
        return await _send_web(sender_id, text, source=source, idempotency_key=idempotency_key)
    return DeliveryResult(False, "rest", "channel_unsupported")


async def _send_telegram(sender_id: str, text: str, language: str) -> DeliveryResult:
    from bot.channels.telegram.ids import chat_id_from_sender
    from bot.channels.telegram.sender import (
        DeliveryDeferred,
        MessageRejected,
        RecipientUnreachable,
        TelegramSender,
    )

    chat_id = chat_id_from_sender(sender_id)
    if chat_id is None:
        return DeliveryResult(False, "telegram", "invalid_sender")
    settings = get_settings()
    if settings.telegram_token is None:
        return DeliveryResult(False, "telegram", "telegram_not_configured")
    try:
        async with TelegramSender.from_settings(settings) as sender:
            await sender.send_rasa_messages(chat_id, [{"text": text}], language=language)  # type: ignore[arg-type]
    except RecipientUnreachable:
        return DeliveryResult(False, "telegram", "recipient_unreachable")
    except DeliveryDeferred:
        return DeliveryResult(False, "telegram", "telegram_unavailable")
    except MessageRejected:
        return DeliveryResult(False, "telegram", "message_rejected")
    except Exception as error:  # noqa: BLE001 - network/config problems must not break the console page
        log.warning("telegram delivery failed: %s", type(error).__name__)
        return DeliveryResult(False, "telegram", "telegram_error")
    return DeliveryResult(True, "telegram")


async def _send_web(sender_id: str, text: str, *, source: str, idempotency_key: str) -> DeliveryResult:
    from bot.services import web_inbox
    from bot.services.errors import InvalidInput, ServiceUnavailable

    try:
        await asyncio.to_thread(web_inbox.post_to_web, sender_id, [{"text": text}], source, idempotency_key)
    except InvalidInput as error:
        return DeliveryResult(False, "web", error.code)
    except ServiceUnavailable:
        return DeliveryResult(False, "web", "database_unavailable")
    return DeliveryResult(True, "web")


async def pause_assistant(sender_id: str) -> str | None:
    """Pause Rasa for this conversation; returns an error code or None."""
    return await _append(sender_id, [{"event": "pause"}])


async def resume_assistant(sender_id: str) -> str | None:
    return await _append(sender_id, [{"event": "resume"}])


async def _append(sender_id: str, events: list[dict[str, Any]]) -> str | None:
    try:
        async with RasaClient(get_settings()) as client:
            await client.append_events(sender_id, events)
    except RasaUnavailable:
        return "rasa_unavailable"
    except RasaRequestRejected:
        return "rasa_rejected"
    return None
