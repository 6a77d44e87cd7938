"""The few texts the connector writes itself (everything else comes from Rasa), in Turkish and English.

They are used when Rasa cannot answer (it is down, or the update is not something to forward): a
customer should never be met with silence. The language comes from the customer's Telegram app language;
when that is neither Turkish nor English both versions are shown, Turkish first.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["tr", "en"]

SHARE_CONTACT_BUTTON = "📱 Numaramı paylaş / Share my number"

_TEXTS: dict[str, dict[str, str]] = {
    "wait": {
        "tr": "Bir saniye, hemen dönüyorum 🙏",
        "en": "One moment please, I'll be right back 🙏",
    },
    "foreign_contact": {
        "tr": "Güvenliğiniz için yalnızca kendi telefon numaranızı paylaşabilirsiniz. Lütfen aşağıdaki "
        "“📱 Numaramı paylaş” düğmesini kullanın ya da müşteri numaranızı yazın.",
        "en": "For your security, you can only share your own phone number. Please use the "
        "“📱 Share my number” button below, or type your customer number.",
    },
    "share_contact_prompt": {
        "tr": "Numaranızı paylaşmak için aşağıdaki düğmeye dokunun.",
        "en": "Tap the button below to share your number.",
    },
    "choose_language": {
        "tr": "Hangi dilde konuşalım?",
        "en": "Which language would you like to use?",
    },
    "unsupported_message": {
        "tr": "Şimdilik yalnızca yazılı mesajları okuyabiliyorum. İsteğinizi yazar mısınız?",
        "en": "For now I can only read text messages. Could you type your request, please?",
    },
    "help": {
        "tr": "Size şu konularda yardımcı olabilirim: puan ve üyelik durumunuz, sipariş ve kargo takibi, "
        "iade, şikâyet ve talep takibi, görüş ve öneriler.\n\n"
        "Komutlar: /start yeniden başla, /language dil seç, /stop bilgilendirme mesajlarını durdur.",
        "en": "I can help with your points and membership, order and delivery tracking, returns, "
        "complaints and ticket status, and your feedback.\n\n"
        "Commands: /start start over, /language choose a language, /stop stop check-in messages.",
    },
    "button_expired": {
        "tr": "Bu seçenek artık geçerli değil.",
        "en": "This option is no longer available.",
    },
}


def language_from_code(language_code: str | None) -> Language | None:
    """``tr``/``tr-TR`` -> tr, ``en-GB`` -> en, anything else (or nothing) -> None (unknown)."""
    if not language_code:
        return None
    primary = language_code.split("-")[0].split("_")[0].lower()
    if primary in ("tr", "en"):
        return primary  # type: ignore[return-value]
    return None


def text(key: str, language: Language | None) -> str:
    """The text ``key`` in ``language``, or both languages (Turkish first) when the language is unknown."""
    variants = _TEXTS[key]
    if language is None:
        return f"{variants['tr']}\n\n{variants['en']}"
    return variants[language]
