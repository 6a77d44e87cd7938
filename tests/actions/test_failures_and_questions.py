"""Every action that needs the database apologises when it is down, in both languages, and every
form question exists in both languages."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Action

from actions.complaints import (
    ActionAskComplaintDescription,
    ActionAskComplaintOrderNumber,
    ActionTicketFollowupResult,
    ActionTicketStatus,
    ValidateComplaintForm,
)
from actions.feedback import ActionAskFeedbackText
from actions.identity import ActionAskBirthDate, ActionIdentifyByContact
from actions.orders import ActionReturnGuidance, ActionTrackOrder
from actions.privacy import ActionDeleteMyData, ActionExportMyData, ActionOptIn, ActionOptOut
from actions.rewards import ActionListRewards, ActionRedeemReward, ValidateRedeemForm
from bot.services import identity
from tests.actions.support import Turn, make_tracker, run_action, run_form

UNAVAILABLE = {
    "tr": "Şu an sistemimize ulaşamıyorum, birazdan tekrar dener misiniz?",
    "en": "I can't reach our system right now. Could you try again in a moment?",
}

IDENTIFIED: dict[str, Any] = {"customer_id": 1, "customer_first_name": "Ayşe"}

ACTIONS_NEEDING_THE_DATABASE: list[tuple[type[Action], dict[str, Any]]] = [
    (ActionListRewards, IDENTIFIED),
    (ActionRedeemReward, {**IDENTIFIED, "reward_id": "2", "redeem_confirmed": True}),
    (ActionTicketStatus, {"ticket_id": "T-2026-000001"}),
    (ActionTicketFollowupResult, {"ticket_id": "T-2026-000001", "followup_resolved": False}),
    (ActionTrackOrder, {"order_number": "SP1000001"}),
    (ActionReturnGuidance, {"order_number": "SP1000002"}),
    (ActionOptOut, {}),
    (ActionOptIn, IDENTIFIED),
    (ActionDeleteMyData, {**IDENTIFIED, "delete_confirmed": True}),
    (ActionExportMyData, IDENTIFIED),
]


@pytest.mark.parametrize("language", ["tr", "en"])
@pytest.mark.parametrize(("action", "slots"), ACTIONS_NEEDING_THE_DATABASE, ids=lambda v: getattr(v, "__name__", ""))
async def test_database_outage_is_answered(
    unreachable_db: str, action: type[Action], slots: dict[str, Any], language: str
) -> None:
    result = await run_action(action(), make_tracker(slots={**slots, "language": language}))
    assert result.texts == [UNAVAILABLE[language]]


async def test_contact_share_with_the_database_down(unreachable_db: str) -> None:
    sender = "tg-9"
    turn = Turn(
        "/share_contact",
        "share_contact",
        metadata={"contact": {"phone": "+905321234567", "signature": identity.sign_contact(sender, "+905321234567")}},
    )
    result = await run_action(ActionIdentifyByContact(), make_tracker(turn, sender=sender))
    assert result.texts == [UNAVAILABLE["tr"]]


@pytest.mark.parametrize("language", ["tr", "en"])
async def test_forms_end_politely_when_the_database_is_down(unreachable_db: str, language: str) -> None:
    complaint = await run_form(
        ValidateComplaintForm(),
        "complaint_form",
        Turn("SP1000001"),
        requested="complaint_order_number",
        slots={"language": language, "complaint_category": "delivery"},
    )
    assert complaint.texts == [UNAVAILABLE[language]]
    assert complaint.slot("form_status") == "unavailable" and complaint.slot("requested_slot") is None
    redeem = await run_form(
        ValidateRedeemForm(),
        "redeem_form",
        Turn("/redeem_reward", "redeem_reward"),
        activation=True,
        slots={**IDENTIFIED, "language": language},
    )
    assert redeem.texts == [UNAVAILABLE[language]]


QUESTIONS = [
    (ActionAskBirthDate, "doğum tarihinizi", "date of birth"),
    (ActionAskComplaintOrderNumber, "sipariş numarasını", "order number"),
    (ActionAskComplaintDescription, "kısaca anlatır mısınız", "briefly describe"),
    (ActionAskFeedbackText, "Görüşleriniz", "Your opinion"),
]


@pytest.mark.parametrize(("action", "turkish", "english"), QUESTIONS, ids=lambda v: getattr(v, "__name__", ""))
async def test_questions_in_both_languages(action: type[Action], turkish: str, english: str) -> None:
    assert turkish in (await run_action(action(), make_tracker())).text
    assert english in (await run_action(action(), make_tracker(slots={"language": "en"}))).text


async def test_no_order_button_answers_the_order_question() -> None:
    result = await run_action(ActionAskComplaintOrderNumber(), make_tracker(slots={"language": "en"}))
    assert result.buttons == [{"title": "Not about an order", "payload": "/deny"}]
