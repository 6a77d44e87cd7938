"""Feedback: deterministic TR/EN sentiment and idempotent, masked storage."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from bot.db.models import Feedback
from bot.db.session import session_scope
from bot.services import feedback
from bot.services.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("Çok memnunum, teşekkürler!", "tr", "positive"),
        ("cok memnunum tesekkurler", "tr", "positive"),
        ("Harika hizmet", "tr", "positive"),
        ("memnun değilim", "tr", "negative"),
        ("hiç memnun kalmadım", "tr", "negative"),
        ("Kargo çok geç geldi, rezalet", "tr", "negative"),
        ("memnuniyetsizim", "tr", "negative"),
        ("Ürün iyi değil", "tr", "negative"),
        ("kötü değil", "tr", "neutral"),
        ("siparişimle ilgili bilgi almak istiyorum", "tr", "neutral"),
        ("Great service, thanks", "en", "positive"),
        ("The delivery was late and the box was damaged", "en", "negative"),
        ("not good at all", "en", "negative"),
        ("I don't like it", "en", "negative"),
        ("not bad", "en", "neutral"),
        ("I received my order", "en", "neutral"),
        ("süper 👍", "tr", "positive"),
        ("😡😡", "tr", "negative"),
    ],
)
def test_classify_sentiment(text: str, language: str, expected: str) -> None:
    assert feedback.classify_sentiment(text, language) == expected


def test_classifier_is_deterministic_and_intensifiers_count() -> None:
    assert feedback.sentiment_score("çok memnunum", "tr") > feedback.sentiment_score("memnunum", "tr") > 0
    assert feedback.sentiment_score("very bad", "en") < feedback.sentiment_score("bad", "en") < 0
    assert [feedback.classify_sentiment("fena değil ama yavaş", "tr") for _ in range(5)] == ["negative"] * 5


def test_record_feedback_masks_and_is_idempotent(make_customer: Callable[..., int]) -> None:
    customer_id = make_customer()
    info = feedback.record_feedback(
        "Kasiyer çok kaba davrandı, TC 10000000146", None, "telegram", "tg-1", customer_id, "tr", "fb-1"
    )
    assert info.sentiment == "negative" and info.rating is None
    again = feedback.record_feedback("whatever", 5, "telegram", "tg-1", customer_id, "tr", "fb-1")
    assert again.id == info.id and again.sentiment == "negative"
    rated = feedback.record_feedback("berbat ama", 5, "web", "web-1", None, "tr", "fb-2")
    assert rated.sentiment == "positive"  # an explicit rating outweighs the text
    with session_scope() as session:
        rows = session.scalars(select(Feedback).order_by(Feedback.id)).all()
        assert len(rows) == 2 and "10000000146" not in rows[0].text and "***********" in rows[0].text


def test_record_feedback_validation(migrated_db: str) -> None:
    with pytest.raises(InvalidInput) as error:
        feedback.record_feedback(" ", None, "web", "web-1", None, "tr", "k")
    assert error.value.code == "empty_feedback"
    with pytest.raises(InvalidInput) as error:
        feedback.record_feedback("ok", 6, "web", "web-1", None, "tr", "k")
    assert error.value.code == "invalid_rating"
