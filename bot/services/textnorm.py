"""Turkish-aware text folding shared by the rule-based parsers (priority, sentiment, scores, dates).

Customers write Turkish with or without its letters ("değilim"/"degilim", "AVUKAT"/"avukatıma"), so every
rule matches on a folded form: Turkish lower-casing (İ->i, I->ı) followed by removal of diacritics
(ç ğ ı ö ş ü -> c g i o s u). English text folds to plain lower case.
"""

from __future__ import annotations

import re
import unicodedata

_TURKISH_ASCII = str.maketrans(
    {"ç": "c", "ğ": "g", "ı": "i", "ö": "o", "ş": "s", "ü": "u", "â": "a", "î": "i", "û": "u"}
)
_WORD = re.compile(r"[a-z0-9]+")


def turkish_lower(text: str) -> str:
    """Lower-case with Turkish dotted/dotless I rules ("İSTANBUL" -> "istanbul", "IRMAK" -> "ırmak")."""
    return text.replace("İ", "i").replace("I", "ı").lower()


def fold(text: str) -> str:
    """Turkish lower case without diacritics: "AVUKATIMA" -> "avukatima", "Değilim" -> "degilim"."""
    lowered = turkish_lower(unicodedata.normalize("NFC", text)).translate(_TURKISH_ASCII)
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    """Folded alphanumeric words of ``text`` (punctuation and emoji dropped)."""
    return _WORD.findall(fold(text))
