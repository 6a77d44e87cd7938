"""Turkish-aware text normalisation shared by the NLU components and our services.

Why not `str.lower()`: Python lowercases `I` to `i` and `İ` to `i̇` (i + combining dot), both wrong for
Turkish, where `I`→`ı` and `İ`→`i`. Customers also type Turkish without its letters ("sikayet", "puanim"),
so features are computed on an ASCII-folded form in which "şikayet" and "sikayet" are the same word.
"""

from __future__ import annotations

import unicodedata

_TR_UPPER_TO_LOWER = str.maketrans({"I": "ı", "İ": "i"})
_FOLD = str.maketrans(
    {
        "ı": "i", "İ": "i", "I": "i", "ş": "s", "Ş": "s", "ğ": "g", "Ğ": "g",
        "ç": "c", "Ç": "c", "ö": "o", "Ö": "o", "ü": "u", "Ü": "u",
        "â": "a", "Â": "a", "î": "i", "Î": "i", "û": "u", "Û": "u",
    }
)
# Apostrophes customers use before Turkish case suffixes: siparişim'in, SP1234567’nin, T-2026-000123`ü
APOSTROPHES = "'’‘`´"


def turkish_lower(text: str) -> str:
    """Lowercase with Turkish rules for I/İ, then the usual Unicode lowercasing."""
    lowered = text.translate(_TR_UPPER_TO_LOWER).lower()
    # Remove stray combining dots (from text lowercased elsewhere with str.lower()).
    return lowered.replace("i\u0307", "i")


def fold(text: str) -> str:
    """Lowercase (Turkish rules) and strip Turkish diacritics: "ŞİKAYET" → "sikayet"."""
    lowered = turkish_lower(text).translate(_FOLD)
    # Any other accent (é, ñ ...) is removed too; emoji and other symbols are kept as they are.
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def split_apostrophe_suffix(word: str) -> tuple[str, str | None]:
    """Split a Turkish case suffix written after an apostrophe: "siparişim'in" → ("siparişim", "'in").

    Only splits when the part after the apostrophe is short and alphabetic (a suffix), so names such as
    "O'Neil" or English contractions like "don't" are split only in the same way spaCy splits them.
    """
    for index, char in enumerate(word):
        if char in APOSTROPHES and 0 < index < len(word) - 1:
            head, tail = word[:index], word[index + 1 :]
            if tail.isalpha() and len(tail) <= 5:
                return head, word[index:]
            return word, None
    return word, None
