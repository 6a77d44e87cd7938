"""CSAT / NPS survey answers: score parsing, storage, and service recovery for low scores.

Score parsing rule (:func:`parse_score`): an answer gives a score only when it is *only* a score. The text is
folded (Turkish lower case, no diacritics) and split into words; every word must be either the single score
(digits, a Turkish or English number word, or ``N/10``/``N/5``/``8 out of 10``/``10 üzerinden 8``), or
filler ("puan", "yıldız", "veriyorum", "benden", "points", "I give"...), or together form a known CSAT phrase
("çok memnunum" = 5 ... "hiç memnun değilim" = 1, CSAT only), or be star emoji (their count is the score).
Anything else — two different numbers, a number inside a sentence ("3 gün gecikti"), decimals, negative
numbers, an out-of-range value — returns None, so the caller asks again rather than guessing.

The Turkish word "on" (10) only counts when no English filler is present: "on" and "on puan" are 10, "on it"
is not. A score at the very start followed by a separator and a comment ("8, kargo biraz gecikti") is accepted
by :func:`split_score_comment`, which also returns the comment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.db.models import SurveyResponse, Ticket, TicketNote
from bot.services import tickets as tickets_service
from bot.services.errors import InvalidInput
from bot.services.masking import mask_sensitive
from bot.services.textnorm import fold
from bot.services.tx import transaction, utcnow

SurveyKind = Literal["csat", "nps"]

SCORE_RANGE: dict[str, tuple[int, int]] = {"csat": (1, 5), "nps": (0, 10)}
#: A score at or below this is "low" and opens a service-recovery ticket.
LOW_SCORE_MAX: dict[str, int] = {"csat": 2, "nps": 6}
#: Recovery-ticket category per survey kind: CSAT asks about a service interaction, NPS about the relationship.
RECOVERY_CATEGORY: dict[str, str] = {"csat": "staff", "nps": "other"}
MAX_COMMENT_CHARS = 2000


@dataclass(frozen=True)
class SurveyResult:
    response_id: int
    kind: SurveyKind
    score: int
    low_score: bool
    recovery_ticket_ref: str | None
    duplicate: bool = False


# --- parsing -------------------------------------------------------------------------------------------------

TURKISH_NUMBER_WORDS = {
    "sifir": 0,
    "bir": 1,
    "iki": 2,
    "uc": 3,
    "dort": 4,
    "bes": 5,
    "alti": 6,
    "yedi": 7,
    "sekiz": 8,
    "dokuz": 9,
    "on": 10,
}
ENGLISH_NUMBER_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}
_TR_FILLER = frozenset(
    {
        "puan",
        "puanim",
        "puani",
        "puanimiz",
        "puanlik",
        "yildiz",
        "yildizli",
        "veriyorum",
        "verdim",
        "veririm",
        "verirdim",
        "verecegim",
        "benden",
        "bizden",
        "size",
        "sizlere",
        "sizi",
        "bence",
        "sanirim",
        "tam",
        "skor",
        "skorum",
        "olarak",
        "diyorum",
        "derim",
        "kesinlikle",
        "tabii",
        "tabi",
        "tesekkurler",
        "tesekkur",
        "ederim",
        "evet",
        "ben",
        "de",
        "da",
    }
)
_EN_FILLER = frozenset(
    {
        "i",
        "id",
        "would",
        "give",
        "it",
        "you",
        "a",
        "my",
        "is",
        "score",
        "rating",
        "rate",
        "points",
        "point",
        "stars",
        "star",
        "thanks",
        "thank",
        "definitely",
        "solid",
        "for",
        "sure",
        "yes",
    }
)
_FILLER = _TR_FILLER | _EN_FILLER

#: CSAT phrases (folded words, fillers removed) -> score.
CSAT_PHRASES: dict[str, int] = {
    # 5
    "cok memnunum": 5,
    "cok cok memnunum": 5,
    "cok memnun kaldim": 5,
    "cok memnun": 5,
    "gercekten memnunum": 5,
    "harika": 5,
    "mukemmel": 5,
    "super": 5,
    "cok iyi": 5,
    "muhtesem": 5,
    "sahane": 5,
    "very satisfied": 5,
    "extremely satisfied": 5,
    "excellent": 5,
    "great": 5,
    "amazing": 5,
    "perfect": 5,
    "very good": 5,
    # 4
    "memnunum": 4,
    "memnun": 4,
    "memnun kaldim": 4,
    "iyi": 4,
    "satisfied": 4,
    "good": 4,
    "happy": 4,
    # 3
    "idare eder": 3,
    "fena degil": 3,
    "orta": 3,
    "normal": 3,
    "eh iste": 3,
    "ortalama": 3,
    "okay": 3,
    "ok": 3,
    "neutral": 3,
    "average": 3,
    "so so": 3,
    "not bad": 3,
    # 2
    "memnun degilim": 2,
    "memnun kalmadim": 2,
    "pek memnun degilim": 2,
    "kotu": 2,
    "not satisfied": 2,
    "unsatisfied": 2,
    "dissatisfied": 2,
    "bad": 2,
    "poor": 2,
    # 1
    "hic memnun degilim": 1,
    "hic memnun kalmadim": 1,
    "cok kotu": 1,
    "berbat": 1,
    "rezalet": 1,
    "felaket": 1,
    "very dissatisfied": 1,
    "very unsatisfied": 1,
    "very bad": 1,
    "terrible": 1,
    "awful": 1,
    "horrible": 1,
}

_STARS = ("⭐", "🌟", "★")
_TOKEN = re.compile(r"[a-z]+|\d+")
_OUT_OF = re.compile(r"(?<![\d.,])(\d{1,2})\s*(?:/|out of)\s*(\d{1,2})(?![\d.,])")
_UZERINDEN = re.compile(r"(?<![\d.,])(\d{1,2})\s*uzerinden\s*(\d{1,2})(?![\d.,])")
_LEADING_SCORE = re.compile(
    r"^\s*(\d{1,2})(?:\s*/\s*(\d{1,2}))?\s*(?:puan|yildiz|points?|stars?)?\s*[,;:!\n\-–—]+\s*([^\d\s].*)$", re.DOTALL
)
_DECIMAL_OR_NEGATIVE = re.compile(r"\d\s*[.,]\s*\d|(?:^|\s)[-−]\s*\d")


def _in_range(score: int, kind: str) -> bool:
    low, high = SCORE_RANGE[kind]
    return low <= score <= high


def _fraction(match: re.Match[str], kind: str, *, denominator_first: bool = False) -> int | None:
    first, second = int(match.group(1)), int(match.group(2))
    value, scale = (second, first) if denominator_first else (first, second)
    return value if scale == SCORE_RANGE[kind][1] else None


def _score_only(text: str, kind: str) -> int | None:
    """The score if ``text`` consists of nothing but a score (see module docstring), else None."""
    folded = fold(text)
    if _DECIMAL_OR_NEGATIVE.search(folded):
        return None
    candidates: set[int] = set()
    star_count = sum(text.count(star) for star in _STARS)
    if star_count:
        candidates.add(star_count)
    for pattern, denominator_first in ((_OUT_OF, False), (_UZERINDEN, True)):
        if match := pattern.search(folded):
            value = _fraction(match, kind, denominator_first=denominator_first)
            if value is None:
                return None
            candidates.add(value)
            folded = folded[: match.start()] + " " + folded[match.end() :]
    numbers: list[int] = []
    other: list[str] = []
    english_filler = False
    uses_on = False
    for word in _TOKEN.findall(folded):
        if word.isdigit():
            numbers.append(int(word))
        elif word in TURKISH_NUMBER_WORDS:
            numbers.append(TURKISH_NUMBER_WORDS[word])
            uses_on = uses_on or word == "on"
        elif word in ENGLISH_NUMBER_WORDS:
            numbers.append(ENGLISH_NUMBER_WORDS[word])
        elif word in _FILLER:
            english_filler = english_filler or word in _EN_FILLER
        else:
            other.append(word)
    if other:
        phrase = " ".join(other)
        if kind != "csat" or phrase not in CSAT_PHRASES or numbers:
            return None
        candidates.add(CSAT_PHRASES[phrase])
    if len(set(numbers)) > 1 or (uses_on and english_filler):
        return None
    candidates.update(numbers)
    if len(candidates) != 1:
        return None
    score = candidates.pop()
    return score if _in_range(score, kind) else None


def split_score_comment(text: str, kind: SurveyKind) -> tuple[int | None, str | None]:
    """``(score, comment)``: a pure score answer, or a leading score followed by a separator and a comment.

    "8" -> (8, None); "8, kargo biraz gecikti" -> (8, "kargo biraz gecikti"); "3 gün gecikti" -> (None, None).
    """
    if kind not in SCORE_RANGE:
        raise InvalidInput("invalid_kind", "kind must be csat or nps")
    if not text or len(text) > 500:
        return None, None
    score = _score_only(text, kind)
    if score is not None:
        return score, None
    if match := _LEADING_SCORE.match(fold(text)):
        value = int(match.group(1))
        if match.group(2) is not None and int(match.group(2)) != SCORE_RANGE[kind][1]:
            return None, None
        if _in_range(value, kind):
            # The prefix before the separator holds no separator characters, so the first separator in the
            # original text is the same one; cut the comment there to keep its original spelling.
            cut = re.search(r"[,;:!\n\-–—]+", text)
            comment = text[cut.end() :].strip() if cut else match.group(3).strip()
            return value, comment or None
    return None, None


def parse_score(text: str, kind: SurveyKind) -> int | None:
    """A score from a free-text answer (digits, words, CSAT phrases, stars); None if absent or ambiguous."""
    return split_score_comment(text, kind)[0]


# --- storage -------------------------------------------------------------------------------------------------


def _result(row: SurveyResponse, *, duplicate: bool) -> SurveyResult:
    return SurveyResult(
        response_id=row.id,
        kind=row.kind,  # type: ignore[arg-type]
        score=row.score,
        low_score=row.score <= LOW_SCORE_MAX[row.kind],
        recovery_ticket_ref=row.recovery_ticket_ref,
        duplicate=duplicate,
    )


def recovery_description(kind: str, score: int, comment: str | None) -> str:
    scale = SCORE_RANGE[kind][1]
    label = "Memnuniyet anketi (CSAT)" if kind == "csat" else "Tavsiye anketi (NPS)"
    text = f"{label}: düşük puan {score}/{scale}. Hizmet telafisi için müşteriyle iletişime geçin."
    if comment:
        text += f"\nMüşteri yorumu: {comment}"
    return text


def record_survey_response(
    kind: SurveyKind,
    score: int,
    comment: str | None,
    customer_id: int | None,
    conversation_id: str,
    campaign_id: int | None,
    channel: str,
    idempotency_key: str,
    *,
    outbox_id: int | None = None,
    ticket_ref: str | None = None,
    language: str = "tr",
    now: datetime | None = None,
) -> SurveyResult:
    """Store the answer once per key; a low score (CSAT<=2, NPS<=6) opens a high-priority recovery ticket.

    ``ticket_ref`` is the ticket the survey asked about (if any). The recovery ticket is opened in the same
    transaction as the response, so there is never a low score without its ticket.
    """
    if kind not in SCORE_RANGE:
        raise InvalidInput("invalid_kind", "kind must be csat or nps")
    if not isinstance(score, int) or isinstance(score, bool) or not _in_range(score, kind):
        raise InvalidInput("invalid_score", f"{kind} score out of range")
    if not idempotency_key or len(idempotency_key) > 128:
        raise InvalidInput("invalid_idempotency_key", "idempotency key must be 1-128 characters")
    now = now or utcnow()
    masked_comment = mask_sensitive(comment.strip()[:MAX_COMMENT_CHARS]) if comment and comment.strip() else None
    try:
        with transaction(write=True) as session:
            existing = session.scalars(
                select(SurveyResponse).where(SurveyResponse.idempotency_key == idempotency_key)
            ).first()
            if existing is not None:
                return _result(existing, duplicate=True)
            row = SurveyResponse(
                kind=kind,
                score=score,
                comment=masked_comment,
                campaign_id=campaign_id,
                outbox_id=outbox_id,
                ticket_ref=ticket_ref,
                conversation_id=conversation_id,
                customer_id=customer_id,
                channel=channel,
                language=language if language in ("tr", "en") else "tr",
                idempotency_key=idempotency_key,
                created_at=now,
            )
            session.add(row)
            session.flush()
            if score <= LOW_SCORE_MAX[kind]:
                ticket = tickets_service.create_ticket_in(
                    session,
                    customer_id=customer_id,
                    category=RECOVERY_CATEGORY[kind],
                    description=recovery_description(kind, score, masked_comment),
                    order_number=None,
                    channel=channel,
                    conversation_id=conversation_id,
                    language=row.language,
                    idempotency_key=f"survey-recovery:{row.id}",
                    priority="high",
                    source="survey",
                    actor="system",
                    now=now,
                )
                row.recovery_ticket_ref = ticket.ref
            return _result(row, duplicate=False)
    except IntegrityError:
        with transaction() as session:
            existing = session.scalars(
                select(SurveyResponse).where(SurveyResponse.idempotency_key == idempotency_key)
            ).first()
            if existing is None:
                raise
            return _result(existing, duplicate=True)


def attach_comment(response_id: int, comment: str) -> None:
    """Add (or append to) the comment of a stored response, masked; also noted on its recovery ticket."""
    text = (comment or "").strip()
    if not text:
        raise InvalidInput("empty_comment", "comment needs text")
    masked = mask_sensitive(text[:MAX_COMMENT_CHARS])
    with transaction(write=True) as session:
        row = session.get(SurveyResponse, response_id)
        if row is None:
            raise InvalidInput("unknown_response", "no such survey response")
        row.comment = f"{row.comment}\n{masked}" if row.comment else masked
        if row.recovery_ticket_ref:
            ticket = session.scalars(select(Ticket).where(Ticket.ref == row.recovery_ticket_ref)).first()
            if ticket is not None:
                now = utcnow()
                session.add(
                    TicketNote(
                        ticket_id=ticket.id,
                        author="customer",
                        body=f"Müşteri yorumu: {masked}",
                        internal=True,
                        created_at=now,
                    )
                )
                ticket.updated_at = now
