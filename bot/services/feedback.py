"""Free-text feedback with a deterministic Turkish/English sentiment classifier.

The classifier is a lexicon with rules, not a model: staff must be able to predict and explain its output,
and it must behave identically in every process. Rules, applied to fold()ed words (Turkish lower case
without diacritics):

- each lexicon hit scores +1 / -1; Turkish entries are stems matched at the start of a word ("memnun" matches
  "memnunum", "memnunuz"; the longest stem wins), English entries are whole words;
- an intensifier right before a hit ("çok", "hiç", "gerçekten", "very", "really"...) multiplies it by 1.5;
- negation flips a hit: a Turkish negator right after it ("değil", "değilim", "yok", "kalmadım", "olmadı":
  "memnun değilim", "memnun kalmadım") or English "not"/"no"/"never"/"don't" within the three words before
  it; a negated negative ("kötü değil", "not bad") counts only half;
- hits after a contrast word ("ama", "fakat", "ancak", "but", "however") count 1.5 times: the customer
  stresses what follows ("fena değil ama yavaş" is negative);
- emoji add ±1; the text is positive at a score >= 1, negative at <= -1, otherwise neutral.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.db.models import Feedback
from bot.services.errors import InvalidInput
from bot.services.masking import mask_sensitive
from bot.services.textnorm import fold
from bot.services.tx import transaction, utcnow

Sentiment = Literal["positive", "neutral", "negative"]

MAX_FEEDBACK_CHARS = 4000


@dataclass(frozen=True)
class FeedbackInfo:
    id: int
    sentiment: Sentiment
    rating: int | None
    created_at: datetime


# Turkish stems (prefix match). The longest matching stem wins, so "memnuniyetsiz" is negative although it
# starts with "memnun". Multi-word entries are matched as phrases.
_TR_POSITIVE = (
    "memnun",
    "harika",
    "mukemmel",
    "super",
    "guzel",
    "begendim",
    "begenmis",
    "tesekkur",
    "sagol",
    "hizli",
    "basarili",
    "kaliteli",
    "iyi",
    "sahane",
    "muthis",
    "bayildim",
    "tavsiye ederim",
    "yardimci",
    "kibar",
    "guler yuz",
    "sorunsuz",
    "zamaninda",
    "efsane",
    "tatmin",
    "mutlu",
)
_TR_NEGATIVE = (
    "memnuniyetsiz",
    "berbat",
    "rezalet",
    "kotu",
    "bozuk",
    "kirik",
    "gecikti",
    "gecikme",
    "gec geldi",
    "gelmedi",
    "ulasmadi",
    "yavas",
    "sikayet",
    "hayal kirikligi",
    "ilgisiz",
    "kaba",
    "saygisiz",
    "yanlis",
    "eksik",
    "hasarli",
    "begenmedim",
    "sinirlen",
    "bikt",
    "iade edilmedi",
    "cevap vermi",
    "donus yapmi",
    "dolandir",
    "sorun",
    "problem",
    "kalitesiz",
    "pahali",
    "maalesef",
    "felaket",
    "korkunc",
    "igrenc",
    "skandal",
    "magdur",
    "tatminsiz",
    "mutsuz",
    "fena",
)
_EN_POSITIVE = frozenset(
    {
        "good",
        "great",
        "excellent",
        "amazing",
        "awesome",
        "perfect",
        "love",
        "loved",
        "like",
        "liked",
        "happy",
        "satisfied",
        "thanks",
        "thank",
        "fast",
        "quick",
        "quickly",
        "helpful",
        "friendly",
        "polite",
        "recommend",
        "nice",
        "wonderful",
        "fantastic",
        "smooth",
        "easy",
        "best",
        "pleased",
    }
)
_EN_NEGATIVE = frozenset(
    {
        "bad",
        "terrible",
        "awful",
        "horrible",
        "worst",
        "poor",
        "late",
        "delayed",
        "broken",
        "damaged",
        "wrong",
        "missing",
        "rude",
        "slow",
        "disappointed",
        "disappointing",
        "angry",
        "unhappy",
        "dissatisfied",
        "useless",
        "problem",
        "problems",
        "issue",
        "complaint",
        "scam",
        "hate",
        "expensive",
        "unacceptable",
        "annoying",
        "sadly",
        "unfortunately",
    }
)
_INTENSIFIERS = frozenset(
    {
        "cok",
        "gercekten",
        "asiri",
        "cidden",
        "inanilmaz",
        "oldukca",
        "hic",
        "son",
        "very",
        "really",
        "so",
        "extremely",
        "absolutely",
        "totally",
        "too",
        "truly",
    }
)
_TR_NEGATORS_AFTER = frozenset(
    {
        "degil",
        "degilim",
        "degildi",
        "degildir",
        "degiliz",
        "degilsiniz",
        "degilmis",
        "yok",
        "olmadi",
        "olmamis",
        "kalmadim",
        "kalmadik",
        "kalmadi",
        "etmedi",
        "etmedim",
        "etmiyorum",
    }
)
_EN_NEGATORS_BEFORE = frozenset(
    {
        "not",
        "no",
        "never",
        "dont",
        "didnt",
        "doesnt",
        "isnt",
        "wasnt",
        "arent",
        "werent",
        "cant",
        "couldnt",
        "wont",
        "hardly",
        "nothing",
    }
)
_POSITIVE_EMOJI = ("😊", "😀", "😃", "😄", "😍", "🥰", "👍", "❤", "💯", "🙏", "🎉", "😁", "🤩")
_NEGATIVE_EMOJI = ("😡", "😠", "🤬", "👎", "😞", "😢", "😭", "💔", "😤", "😒", "🙁", "☹")

#: After a contrast word the rest of the text is what the customer stresses ("fena değil ama yavaş").
_CONTRAST = frozenset({"ama", "fakat", "ancak", "lakin", "yalniz", "but", "however", "although", "though"})

_WORD = re.compile(r"[a-z0-9]+")


def _longest_stem(word: str, stems: tuple[str, ...]) -> int:
    return max((len(stem) for stem in stems if " " not in stem and word.startswith(stem)), default=0)


def _word_polarity(word: str) -> int:
    """+1 / -1 / 0 for one folded word."""
    if word in _EN_NEGATIVE:
        return -1
    if word in _EN_POSITIVE:
        return 1
    negative = _longest_stem(word, _TR_NEGATIVE)
    positive = _longest_stem(word, _TR_POSITIVE)
    if not negative and not positive:
        return 0
    return -1 if negative >= positive else 1


def _phrases() -> list[tuple[list[str], int]]:
    entries = [(p.split(), 1) for p in _TR_POSITIVE if " " in p] + [(p.split(), -1) for p in _TR_NEGATIVE if " " in p]
    return sorted(entries, key=lambda entry: -len(entry[0]))


_PHRASES = _phrases()


def _phrase_at(words: list[str], index: int) -> tuple[int, int] | None:
    """(length in words, polarity) of a lexicon phrase starting at ``index`` (last word by prefix)."""
    for phrase, polarity in _PHRASES:
        size = len(phrase)
        window = words[index : index + size]
        if len(window) == size and window[:-1] == phrase[:-1] and window[-1].startswith(phrase[-1]):
            return size, polarity
    return None


def sentiment_score(text: str, language: str = "tr") -> float:
    """The signed score behind :func:`classify_sentiment` (exposed for tests and reports).

    ``language`` is accepted for symmetry with the other services; both lexicons always apply because
    customers mix languages ("kargo super fast").
    """
    del language
    folded = fold(text or "").replace("'", "").replace("’", "")
    words = _WORD.findall(folded)
    score = 0.0
    emphasis = 1.0
    index = 0
    while index < len(words):
        if words[index] in _CONTRAST:
            emphasis = 1.5
            index += 1
            continue
        phrase = _phrase_at(words, index)
        if phrase is not None:
            size, polarity = phrase
        else:
            size, polarity = 1, _word_polarity(words[index])
        if polarity:
            weight = 1.5 if index > 0 and words[index - 1] in _INTENSIFIERS else 1.0
            after = words[index + size : index + size + 2]
            negated = any(w in _TR_NEGATORS_AFTER for w in after[:1]) or (
                len(after) == 2 and after[1] in _TR_NEGATORS_AFTER and _word_polarity(after[0]) == 0
            )
            if any(w in _EN_NEGATORS_BEFORE for w in words[max(0, index - 3) : index]):
                negated = not negated
            if negated:
                # "kötü değil" / "not bad" is mildly positive; "iyi değil" / "not good" clearly negative.
                polarity = -polarity
                if polarity > 0:
                    weight *= 0.5
            score += polarity * weight * emphasis
        index += size
    score += sum(text.count(e) for e in _POSITIVE_EMOJI) - sum(text.count(e) for e in _NEGATIVE_EMOJI)
    return score


def classify_sentiment(text: str, language: str) -> Sentiment:
    """``positive`` / ``neutral`` / ``negative`` by the rules in the module docstring; deterministic."""
    score = sentiment_score(text, language)
    if score >= 1:
        return "positive"
    if score <= -1:
        return "negative"
    return "neutral"


def record_feedback(
    text: str,
    rating: int | None,
    channel: str,
    conversation_id: str,
    customer_id: int | None,
    language: str,
    idempotency_key: str,
) -> FeedbackInfo:
    """Store masked feedback with its sentiment; the same idempotency key stores it once.

    A rating (1-5), when given, outweighs the text for the sentiment: 4-5 positive, 3 neutral, 1-2 negative.
    """
    body = (text or "").strip()
    if not body:
        raise InvalidInput("empty_feedback", "feedback needs text")
    if rating is not None and not 1 <= rating <= 5:
        raise InvalidInput("invalid_rating", "rating must be 1-5")
    if not idempotency_key or len(idempotency_key) > 128:
        raise InvalidInput("invalid_idempotency_key", "idempotency key must be 1-128 characters")
    sentiment: Sentiment
    if rating is not None:
        sentiment = "positive" if rating >= 4 else "neutral" if rating == 3 else "negative"
    else:
        sentiment = classify_sentiment(body, language)
    try:
        with transaction(write=True) as session:
            existing = session.scalars(select(Feedback).where(Feedback.idempotency_key == idempotency_key)).first()
            if existing is not None:
                return _info(existing)
            row = Feedback(
                text=mask_sensitive(body[:MAX_FEEDBACK_CHARS]),
                rating=rating,
                sentiment=sentiment,
                channel=channel,
                conversation_id=conversation_id,
                customer_id=customer_id,
                language=language if language in ("tr", "en") else "tr",
                idempotency_key=idempotency_key,
                created_at=utcnow(),
            )
            session.add(row)
            session.flush()
            return _info(row)
    except IntegrityError:
        with transaction() as session:
            existing = session.scalars(select(Feedback).where(Feedback.idempotency_key == idempotency_key)).first()
            if existing is None:
                raise
            return _info(existing)


def _info(row: Feedback) -> FeedbackInfo:
    return FeedbackInfo(id=row.id, sentiment=row.sentiment, rating=row.rating, created_at=row.created_at)  # type: ignore[arg-type]
