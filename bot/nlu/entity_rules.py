"""Shape rules for extracted entities, used by `bot.nlu.entities.EntityGuard` (see its docstring).

Kept free of Rasa imports so the application's tests can check them, and every training annotation, directly.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List

from bot.nlu.text import fold

_NUMBER_WORDS = {
    # Turkish (folded) and English words for 0..10, as customers answer surveys.
    "sifir", "bir", "iki", "uc", "dort", "bes", "alti", "yedi", "sekiz", "dokuz", "on",
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
}
_SCORE_NUMBER = re.compile(r"(10|[0-9])(\s*/\s*(10|5))?")

#: Shapes of the id entities; the same formats as data/nlu/regex.yml, anchored.
_SHAPES: Dict[str, re.Pattern[str]] = {
    "order_number": re.compile(r"([Ss][Pp][\s-]?)?\d{7}"),
    "ticket_id": re.compile(r"[Tt][\s-]?20\d{2}[\s-]?\d{1,6}|0\d{5}"),
    "customer_number": re.compile(r"[Mm][Nn][\s-]?\d{6}"),
    "phone": re.compile(r"(\+?90[\s-]?)?(0[\s-]?)?\(?5\d{2}\)?[\s.-]?\d{3}[\s.-]?\d{2}[\s.-]?\d{2}"),
    "email": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
}
#: Characters that continue a number-like token ("15/11/1990", "03.07.1991", "1979-11-30").
_NUMBER_JOINERS = "/.-"
_REGEX_EXTRACTOR = "RegexEntityExtractor"


def _value_text(entity: Dict[str, Any], text: str) -> str:
    start, end = entity.get("start"), entity.get("end")
    if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
        return text[start:end]
    return str(entity.get("value", ""))


def _is_inside_longer_number(entity: Dict[str, Any], text: str) -> bool:
    """True when the span is glued to more digits by / . - (a date or an id, not a score)."""
    start, end = entity.get("start"), entity.get("end")
    if not isinstance(start, int) or not isinstance(end, int):
        return False
    after = text[end : end + 2]
    before = text[max(0, start - 2) : start]
    glued_after = len(after) == 2 and after[0] in _NUMBER_JOINERS and after[1].isdigit()
    glued_before = len(before) == 2 and before[1] in _NUMBER_JOINERS and before[0].isdigit()
    return glued_after or glued_before or (end < len(text) and text[end].isdigit()) or (
        start > 0 and text[start - 1].isdigit()
    )


def is_well_formed(entity: Dict[str, Any], text: str) -> bool:
    """Whether an extracted entity has the shape its type requires (types without a rule always do)."""
    kind = entity.get("entity")
    value = _value_text(entity, text).strip()
    if kind == "score":
        if _is_inside_longer_number(entity, text):
            return False
        return bool(_SCORE_NUMBER.fullmatch(value)) or fold(value) in _NUMBER_WORDS
    shape = _SHAPES.get(str(kind))
    if shape is None:
        return True
    return bool(shape.fullmatch(value))


def _overlaps(a: Dict[str, Any], b: Dict[str, Any]) -> bool:
    if not all(isinstance(x.get(k), int) for x in (a, b) for k in ("start", "end")):
        return a.get("value") == b.get("value")
    return a["start"] < b["end"] and b["start"] < a["end"]


def guard_entities(entities: List[Dict[str, Any]], text: str) -> List[Dict[str, Any]]:
    """Apply both rules (see module docstring) and return the entities to keep, in text order."""
    well_formed = [e for e in entities if is_well_formed(e, text)]
    # Regex results first so that they win the overlap test below.
    ordered = sorted(well_formed, key=lambda e: 0 if e.get("extractor") == _REGEX_EXTRACTOR else 1)
    kept: List[Dict[str, Any]] = []
    for entity in ordered:
        if any(k.get("entity") == entity.get("entity") and _overlaps(k, entity) for k in kept):
            continue
        kept.append(entity)
    return sorted(kept, key=lambda e: (e.get("start") if isinstance(e.get("start"), int) else -1))
