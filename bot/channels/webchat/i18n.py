"""The chat page's own interface strings, Turkish first.

One source for both the server-rendered first paint and the widget's language toggle: the page template
renders the strings of the initial language and embeds both tables in its JSON config, so switching
language in the browser never needs a round trip and never drifts from what the server rendered.
"""

from __future__ import annotations

from typing import Final

LANGUAGES: Final = ("tr", "en")

STRINGS: Final[dict[str, dict[str, str | list[str]]]] = {
    "tr": {
        "page_title": "Memnun — Canlı Destek",
        "title": "Memnun Asistan",
        "subtitle": "Sipariş, puan ve şikâyetleriniz için buradayız",
        "log_label": "Sohbet geçmişi",
        "input_label": "Mesajınız",
        "placeholder": "Mesajınızı yazın…",
        "send": "Gönder",
        "language_group": "Dil seçimi",
        "language_tr": "Türkçe",
        "language_en": "English",
        "typing": "Asistan yazıyor…",
        "connecting": "Bağlanıyor…",
        "offline": "Bağlantı koptu, yeniden bağlanıyor…",
        "reconnected": "Bağlantı yeniden kuruldu.",
        "queued": "Gönderilmeyi bekliyor",
        "agent_label": "Müşteri temsilcisi",
        "bot_label": "Memnun Asistan",
        "you_label": "Siz",
        "image_alt": "Asistanın gönderdiği görsel",
        "welcome": "Merhaba! Ben Memnun'un dijital asistanıyım. Siparişleriniz, sadakat puanlarınız ya da "
        "bir şikâyetiniz için buradayım. Size nasıl yardımcı olabilirim?",
        "suggestions_label": "Önerilen sorular",
        "suggestions": ["Siparişim nerede?", "Puanım ne kadar?", "Şikâyet bildirmek istiyorum"],
        "quick_replies_label": "Hızlı yanıtlar",
        "opens_new_tab": "(yeni sekmede açılır)",
        "noscript": "Sohbet için tarayıcınızda JavaScript'in açık olması gerekir.",
        "privacy_note": "Lütfen kart numarası veya şifre paylaşmayın.",
    },
    "en": {
        "page_title": "Memnun — Live Support",
        "title": "Memnun Assistant",
        "subtitle": "Here for your orders, points and complaints",
        "log_label": "Conversation",
        "input_label": "Your message",
        "placeholder": "Type your message…",
        "send": "Send",
        "language_group": "Language",
        "language_tr": "Türkçe",
        "language_en": "English",
        "typing": "The assistant is typing…",
        "connecting": "Connecting…",
        "offline": "Connection lost, reconnecting…",
        "reconnected": "Connection restored.",
        "queued": "Waiting to send",
        "agent_label": "Support agent",
        "bot_label": "Memnun Assistant",
        "you_label": "You",
        "image_alt": "Image sent by the assistant",
        "welcome": "Hello! I'm Memnun's digital assistant. I can help with your orders, loyalty points or a "
        "complaint. How can I help you?",
        "suggestions_label": "Suggested questions",
        "suggestions": ["Where is my order?", "How many points do I have?", "I want to make a complaint"],
        "quick_replies_label": "Quick replies",
        "opens_new_tab": "(opens in a new tab)",
        "noscript": "Please enable JavaScript in your browser to use the chat.",
        "privacy_note": "Please do not share card numbers or passwords.",
    },
}


def pick_language(requested: str | None, default: str) -> str:
    """``requested`` if we speak it, else ``default`` (else Turkish)."""
    if requested in LANGUAGES:
        return requested
    return default if default in LANGUAGES else "tr"
