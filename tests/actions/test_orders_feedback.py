"""Order tracking, return guidance and feedback."""

from __future__ import annotations

from typing import Any

from actions.feedback import ActionAskFeedbackRating, ActionRecordFeedback, ValidateFeedbackForm
from actions.orders import ActionReturnGuidance, ActionTrackOrder
from bot.services import orders
from tests.actions.support import Turn, make_tracker, run_action, run_form


async def test_track_shipped_order_by_number_without_identification(seeded_db: str) -> None:
    tracker = make_tracker(
        Turn("SP1000001 nerede", "track_order"),
        sender="web-guest",
        slots={"order_number": "SP1000001", "pending_request": "track_order"},
    )
    result = await run_action(ActionTrackOrder(), tracker)
    order = orders.find_order("SP1000001")
    assert order is not None
    assert "SP1000001 numaralı siparişiniz" in result.text and "kargoya verildi" in result.text
    assert f"Kargo: {order.carrier} · Takip numarası: {order.tracking_code}" in result.text
    assert result.slot("order_number") is None and result.slot("pending_request") is None


async def test_track_delivered_order_in_english(seeded_db: str) -> None:
    result = await run_action(ActionTrackOrder(), make_tracker(slots={"order_number": "sp 1000002", "language": "en"}))
    assert "Your order SP1000002 was delivered on" in result.text


async def test_unknown_order_number(seeded_db: str) -> None:
    result = await run_action(ActionTrackOrder(), make_tracker(slots={"order_number": "SP7654321"}))
    assert "SP7654321 numaralı bir sipariş bulamadım" in result.text


async def test_recent_orders_of_the_identified_customer(demo_customer: dict[str, Any]) -> None:
    result = await run_action(ActionTrackOrder(), make_tracker(slots=demo_customer))
    assert result.text.startswith("Son siparişleriniz:")
    assert "SP1000001 – Kargoda" in result.text
    assert result.buttons[0]["payload"] == '/track_order{"order_number": "SP1000001"}'


async def test_tracking_stays_silent_when_identification_failed(seeded_db: str) -> None:
    result = await run_action(ActionTrackOrder(), make_tracker(slots={"form_status": "cancelled"}))
    assert result.messages == []


async def test_return_guidance_from_the_real_status(seeded_db: str) -> None:
    delivered = await run_action(ActionReturnGuidance(), make_tracker(slots={"order_number": "SP1000002"}))
    assert "SP1000002 numaralı siparişinizi iade etmek için 11 gününüz var" in delivered.text  # delivered 3 days ago
    shipped = await run_action(
        ActionReturnGuidance(), make_tracker(slots={"order_number": "SP1000001", "language": "en"})
    )
    assert "hasn't been delivered yet" in shipped.text


async def test_return_guidance_asks_which_order(demo_customer: dict[str, Any]) -> None:
    result = await run_action(ActionReturnGuidance(), make_tracker(slots=demo_customer))
    assert "Hangi siparişiniz için" in result.text
    assert all(b["payload"].startswith("/refund_return{") for b in result.buttons)


async def test_feedback_in_the_first_message_is_used(seeded_db: str) -> None:
    text = "kasiyeriniz çok kaba davrandı"
    result = await run_form(ValidateFeedbackForm(), "feedback_form", Turn(text, "give_feedback"), activation=True)
    assert result.slot("feedback_text") == text
    assert result.slot("requested_slot") == "feedback_rating"
    plain = await run_form(
        ValidateFeedbackForm(), "feedback_form", Turn("görüş bildirmek istiyorum", "give_feedback"), activation=True
    )
    assert plain.slot("requested_slot") == "feedback_text"


async def test_rating_can_be_skipped(seeded_db: str) -> None:
    ask = await run_action(ActionAskFeedbackRating(), make_tracker())
    assert [b["payload"] for b in ask.buttons] == ["1", "2", "3", "4", "5", "geç"]
    skipped = await run_form(
        ValidateFeedbackForm(),
        "feedback_form",
        Turn("geç"),
        requested="feedback_rating",
        candidates={"feedback_rating": "geç"},
        slots={"feedback_text": "güzel mağaza"},
    )
    assert skipped.slot("feedback_rating") == "skipped"
    stars = await run_form(
        ValidateFeedbackForm(),
        "feedback_form",
        Turn("⭐⭐⭐⭐"),
        requested="feedback_rating",
        candidates={"feedback_rating": "⭐⭐⭐⭐"},
        slots={"feedback_text": "güzel mağaza"},
    )
    assert stars.slot("feedback_rating") == 4


async def test_feedback_thanks_follow_the_sentiment(seeded_db: str) -> None:
    positive = await run_action(
        ActionRecordFeedback(),
        make_tracker(slots={"feedback_text": "Mağazanız harika, çalışanlar çok ilgili", "feedback_rating": "skipped"}),
    )
    assert "Güzel sözleriniz için" in positive.text
    negative = await run_action(
        ActionRecordFeedback(),
        make_tracker(
            slots={
                "language": "en",
                "feedback_text": "The staff was rude and the store was dirty",
                "feedback_rating": 1,
            }
        ),
    )
    assert "We're sorry about your experience" in negative.text
    assert negative.buttons == [{"title": "📝 Open a complaint", "payload": "/complain"}]
    assert negative.slot("feedback_text") is None


async def test_feedback_when_the_database_is_down(unreachable_db: str) -> None:
    result = await run_action(
        ActionRecordFeedback(), make_tracker(slots={"feedback_text": "çok güzel", "language": "en"})
    )
    assert "I can't reach our system right now" in result.text
