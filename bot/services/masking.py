"""Masks payment card numbers and T.C. kimlik numbers in free text before it is stored.

Customers paste card numbers into complaints ("kartımdan iki kez çekildi 4111 1111 1111 1111") and their
national id; neither may be stored (KVKK, PCI DSS). We find digit groups with a spaCy ``Matcher`` on
``spacy.blank("tr")`` tokens and mask only numbers that *validate* (Luhn for cards, the official checksum for
T.C. kimlik), so order numbers, phone numbers, prices and dates stay readable for staff.

The blank Turkish tokenizer keeps "4111111111111111." (ordinal rule), "1111'den" (apostrophe suffix) and
"kartım4111..." as single tokens; we add tokenizer rules that split digits from letters and punctuation so
every digit group is its own token.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

CARD_MIN_DIGITS = 13
CARD_MAX_DIGITS = 19
TC_KIMLIK_DIGITS = 11
#: Longest card layout we recognise is six groups (e.g. "4111 1111 1111 1111 111").
_MAX_GROUPS = 6

TC_KIMLIK_MASK = "*" * TC_KIMLIK_DIGITS
_DIGITS = re.compile(r"^[0-9]+$")
# Groups separated by exactly one space or hyphen: "4111 1111-1111 1111" yes, "4111,1111" or "4111\n1111" no.
_CARD_LAYOUT = re.compile(r"^[0-9]+(?:[ -][0-9]+)*$")


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check every payment card number satisfies."""
    if not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def tc_kimlik_valid(digits: str) -> bool:
    """The official T.C. kimlik checksum: 11 digits, no leading 0, digits 10 and 11 are check digits."""
    if len(digits) != TC_KIMLIK_DIGITS or not digits.isdigit() or digits[0] == "0":
        return False
    d = [int(c) for c in digits]
    tenth = ((d[0] + d[2] + d[4] + d[6] + d[8]) * 7 - (d[1] + d[3] + d[5] + d[7])) % 10
    eleventh = sum(d[:10]) % 10
    return d[9] == tenth and d[10] == eleventh


def mask_card(digits: str) -> str:
    """``**** **** **** 1234``: the last four digits are what customers and staff use to tell cards apart."""
    return f"**** **** **** {digits[-4:]}"


@lru_cache(maxsize=1)
def _pipeline() -> tuple[Any, Any]:
    # Imported lazily: spaCy takes about a second to import, and most callers of this module's neighbours
    # never mask anything.
    import spacy
    from spacy.matcher import Matcher
    from spacy.util import compile_infix_regex, compile_suffix_regex

    nlp = spacy.blank("tr")
    tokenizer: Any = nlp.tokenizer  # spaCy's Tokenizer (typed as a plain callable)
    # Turkish token_match keeps "1111'den" / "3." whole; we need every digit group as its own token.
    tokenizer.token_match = None
    infixes = [
        *list(nlp.Defaults.infixes or []),
        r"(?<=[0-9])(?=[^\W\d_])",  # "4111kart" -> "4111" "kart"
        r"(?<=[^\W\d_])(?=[0-9])",  # "kartım4111" -> "kartım" "4111"
        r"(?<=[0-9])['’:.,;/]",  # "1111'den", "1111."
        r"['’:.,;/](?=[0-9])",  # "kart:4111"
        r"(?<=[0-9])-(?=[0-9])",  # "4111-1111"
    ]
    tokenizer.infix_finditer = compile_infix_regex(infixes).finditer
    tokenizer.suffix_search = compile_suffix_regex([*list(nlp.Defaults.suffixes or []), r"(?<=[0-9])[.,;:!?]"]).search

    matcher = Matcher(nlp.vocab)
    digit_group = {"TEXT": {"REGEX": r"^[0-9]+$"}}
    for groups in range(1, _MAX_GROUPS + 1):
        pattern: list[dict[str, Any]] = [digit_group]
        for _ in range(groups - 1):
            pattern += [{"ORTH": "-", "OP": "?"}, digit_group]
        matcher.add(f"DIGIT_GROUPS_{groups}", [pattern])
    return nlp, matcher


def _classify(candidate: str) -> str | None:
    """``"card"``, ``"tc"`` or None for a run of digit groups as written in the text."""
    if not _CARD_LAYOUT.match(candidate):
        return None
    digits = re.sub(r"[ -]", "", candidate)
    if CARD_MIN_DIGITS <= len(digits) <= CARD_MAX_DIGITS and luhn_valid(digits):
        return "card"
    if len(digits) == TC_KIMLIK_DIGITS and tc_kimlik_valid(digits):
        return "tc"
    return None


def find_sensitive_spans(text: str) -> list[tuple[int, int, str]]:
    """Character spans ``(start, end, kind)`` of valid card / T.C. kimlik numbers, non-overlapping, in order."""
    if not text or not any(ch.isdigit() for ch in text):
        return []
    nlp, matcher = _pipeline()
    doc = nlp(text)
    candidates: list[tuple[int, int, str]] = []
    seen: set[tuple[int, int]] = set()
    for _match_id, start, end in matcher(doc):
        span = doc[start:end]
        key = (span.start_char, span.end_char)
        if key in seen:
            continue
        seen.add(key)
        kind = _classify(text[span.start_char : span.end_char])
        if kind is not None:
            candidates.append((span.start_char, span.end_char, kind))
    # Longest valid run wins (a 16-digit card beats an 11-digit piece of it), then leftmost.
    candidates.sort(key=lambda item: (-(item[1] - item[0]), item[0]))
    chosen: list[tuple[int, int, str]] = []
    for start, end, kind in candidates:
        if all(end <= other_start or start >= other_end for other_start, other_end, _ in chosen):
            chosen.append((start, end, kind))
    return sorted(chosen)


def mask_sensitive(text: str) -> str:
    """Return ``text`` with valid card numbers as ``**** **** **** 1234`` and T.C. numbers as ``***********``.

    Numbers that do not validate are left untouched (they are order numbers, phones, amounts...).
    """
    spans = find_sensitive_spans(text)
    if not spans:
        return text
    pieces: list[str] = []
    cursor = 0
    for start, end, kind in spans:
        pieces.append(text[cursor:start])
        digits = re.sub(r"[ -]", "", text[start:end])
        pieces.append(mask_card(digits) if kind == "card" else TC_KIMLIK_MASK)
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)
