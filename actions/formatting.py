"""Numbers, dates and labels the way a Turkish or English customer expects to read them.

Dates are stored in UTC and shown in the shop's time zone (settings.timezone, Europe/Istanbul). Turkish
sentences avoid suffixes on dates and numbers ("... tarihinde", "son kullanma tarihi ...") because the
right suffix depends on how the number is pronounced.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from actions.i18n import normalize_language, t
from bot.settings import get_settings

_MONTHS = {
    "tr": [
        "Ocak",
        "Şubat",
        "Mart",
        "Nisan",
        "Mayıs",
        "Haziran",
        "Temmuz",
        "Ağustos",
        "Eylül",
        "Ekim",
        "Kasım",
        "Aralık",
    ],
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
}

#: Tier names in settings.tier_thresholds are English; Turkish customers see the programme's Turkish names.
_TIERS_TR = {"bronze": "Bronz", "silver": "Gümüş", "gold": "Altın", "platinum": "Platin"}

_TICKET_STATUS = {
    "open": {"tr": "Açık – sırada", "en": "Open – in the queue"},
    "in_progress": {"tr": "İnceleniyor", "en": "In progress"},
    "resolved": {"tr": "Çözüldü", "en": "Resolved"},
    "closed": {"tr": "Kapatıldı", "en": "Closed"},
}


def local_zone() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def to_local(moment: datetime) -> datetime:
    """A stored (UTC, or naive meaning UTC) timestamp in the shop's time zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(local_zone())


def local_today() -> date:
    return datetime.now(local_zone()).date()


def format_number(value: int, language: str) -> str:
    """1250 -> "1.250" (tr) / "1,250" (en)."""
    grouped = f"{value:,}"
    return grouped.replace(",", ".") if normalize_language(language) == "tr" else grouped


def format_points(value: int, language: str) -> str:
    """1250 -> "1.250 puan" / "1,250 points"."""
    number = format_number(value, language)
    if normalize_language(language) == "tr":
        return f"{number} puan"
    return f"{number} point" if value == 1 else f"{number} points"


def format_date(value: date | datetime, language: str) -> str:
    """14 Mart 2026 / 14 March 2026 (timestamps first converted to the shop's time zone)."""
    if isinstance(value, datetime):
        value = to_local(value).date()
    month = _MONTHS[normalize_language(language)][value.month - 1]
    return f"{value.day} {month} {value.year}"


def format_time(value: datetime) -> str:
    """Local wall-clock time, 24-hour, as used in Turkey and in our English texts: "14:05"."""
    return to_local(value).strftime("%H:%M")


def tier_name(tier: str | None, language: str) -> str:
    if not tier:
        return ""
    if normalize_language(language) == "tr":
        return _TIERS_TR.get(tier.lower(), tier)
    return tier


def ticket_status_label(status: str, language: str) -> str:
    labels = _TICKET_STATUS.get(status)
    return labels[normalize_language(language)] if labels else status


def order_status_label(status: str, language: str) -> str:
    key = f"order_status_{status}"
    try:
        return t(key, language)
    except KeyError:
        return status


def category_label(category: str | None, language: str) -> str:
    from bot.services.tickets import COMPLAINT_CATEGORIES

    if not category:
        return ""
    labels = COMPLAINT_CATEGORIES.get(category)
    return labels[normalize_language(language)] if labels else category


def shorten(text: str, limit: int = 200) -> str:
    """Long free text cut at a word boundary for echoing back in a summary."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + "…"
