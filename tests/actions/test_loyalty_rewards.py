"""Loyalty status, rewards list and redemption (with confirmation and idempotency)."""

from __future__ import annotations

import json
from typing import Any

from actions.loyalty import ActionLoyaltyStatus
from actions.rewards import (
    ActionAskRedeemConfirmed,
    ActionAskRewardId,
    ActionListRewards,
    ActionRedeemReward,
    ValidateRedeemForm,
)
from bot.services import loyalty
from tests.actions.support import Turn, make_tracker, run_action, run_form


def reward_id(customer_id: int, code: str) -> int:
    return next(o.id for o in loyalty.list_rewards(customer_id, "tr") if o.code == code)


async def test_loyalty_status_in_turkish(demo_customer: dict[str, Any]) -> None:
    tracker = make_tracker(Turn("puanım", "check_loyalty"), slots={**demo_customer, "pending_request": "check_loyalty"})
    result = await run_action(ActionLoyaltyStatus(), tracker)
    status = loyalty.get_loyalty_status(demo_customer["customer_id"])
    assert "Ayşe, üyelik durumunuz:" in result.text
    assert "Seviye: Altın" in result.text
    assert f"Kullanılabilir puan: {status.balance:,}".replace(",", ".") + " puan" in result.text
    assert "Platin seviyesine" in result.text
    assert "tarihinde sona erecek" in result.text  # the demo customer has points expiring soon
    assert status.birthday_coupon_code and status.birthday_coupon_code in result.text  # born this month
    assert result.slot("pending_request") is None
    assert result.buttons == [{"title": "🎁 Ödülleri göster", "payload": "/ask_rewards"}]


async def test_loyalty_status_in_english(demo_customer: dict[str, Any]) -> None:
    tracker = make_tracker(Turn("my points", "check_loyalty"), slots={**demo_customer, "language": "en"})
    result = await run_action(ActionLoyaltyStatus(), tracker)
    assert "Tier: Gold" in result.text
    assert "to go until Platinum" in result.text
    assert "Happy birthday!" in result.text


async def test_loyalty_status_is_silent_when_identification_failed(seeded_db: str) -> None:
    tracker = make_tracker(slots={"pending_request": "check_loyalty", "form_status": "locked"})
    result = await run_action(ActionLoyaltyStatus(), tracker)
    assert result.messages == []
    assert result.slot("pending_request") is None
    assert result.slot("form_status") is None


async def test_rewards_are_offered_as_buttons(demo_customer: dict[str, Any]) -> None:
    result = await run_action(ActionListRewards(), make_tracker(slots=demo_customer))
    assert result.text.startswith("Puanınızla alabileceğiniz ödüller")
    payloads = [b["payload"] for b in result.buttons]
    coffee = reward_id(demo_customer["customer_id"], "KAHVE")
    assert "/redeem_reward" + json.dumps({"reward_id": str(coffee)}) in payloads
    assert any(b["title"] == "Kafede ücretsiz kahve – 250 puan" for b in result.buttons)
    english = await run_action(ActionListRewards(), make_tracker(slots={**demo_customer, "language": "en"}))
    assert any(b["title"] == "Free coffee at the café – 250 points" for b in english.buttons)


async def test_redeem_with_confirmation_is_idempotent(demo_customer: dict[str, Any]) -> None:
    customer_id = demo_customer["customer_id"]
    coffee = reward_id(customer_id, "KAHVE")
    before = loyalty.get_loyalty_status(customer_id).balance
    form = ValidateRedeemForm()

    start = await run_form(
        form,
        "redeem_form",
        Turn(f'/redeem_reward{{"reward_id":"{coffee}"}}', "redeem_reward"),
        activation=True,
        candidates={"reward_id": str(coffee)},
        slots=demo_customer,
    )
    assert start.slot("reward_id") == str(coffee)
    assert start.slot("requested_slot") == "redeem_confirmed"

    ask = await run_action(ActionAskRedeemConfirmed(), make_tracker(slots={**demo_customer, "reward_id": str(coffee)}))
    assert "“Kafede ücretsiz kahve” için 250 puan kullanılacak" in ask.text
    assert [b["payload"] for b in ask.buttons] == ["/affirm", "/deny"]

    yes = await run_form(
        form,
        "redeem_form",
        Turn("evet", "affirm"),
        requested="redeem_confirmed",
        candidates={},
        slots={**demo_customer, "reward_id": str(coffee)},
    )
    assert yes.slot("redeem_confirmed") is True
    assert yes.slot("requested_slot") is None

    confirming = make_tracker(
        Turn("evet", "affirm"),
        timestamp=1_700_000_000.5,
        slots={**demo_customer, "reward_id": str(coffee), "redeem_confirmed": True, "pending_request": "redeem_reward"},
    )
    first = await run_action(ActionRedeemReward(), confirming)
    again = await run_action(ActionRedeemReward(), confirming)  # Rasa retried the same "yes"
    assert "kupon kodunuz: MMN-" in first.text
    assert first.text == again.text
    assert loyalty.get_loyalty_status(customer_id).balance == before - 250
    assert first.slot("reward_id") is None and first.slot("pending_request") is None


async def test_redeem_declined_keeps_points(demo_customer: dict[str, Any]) -> None:
    before = loyalty.get_loyalty_status(demo_customer["customer_id"]).balance
    tracker = make_tracker(Turn("hayır", "deny"), slots={**demo_customer, "reward_id": "2", "redeem_confirmed": False})
    result = await run_action(ActionRedeemReward(), tracker)
    assert "puanlarınız yerinde duruyor" in result.text
    assert loyalty.get_loyalty_status(demo_customer["customer_id"]).balance == before


async def test_insufficient_points_after_spending(demo_customer: dict[str, Any]) -> None:
    customer_id = demo_customer["customer_id"]
    voucher = reward_id(customer_id, "IND250")  # 2000 points
    balance = loyalty.get_loyalty_status(customer_id).balance
    for n in range(balance // 2000):
        tracker = make_tracker(
            Turn("evet", "affirm"),
            timestamp=1_700_000_100.0 + n,
            slots={**demo_customer, "reward_id": str(voucher), "redeem_confirmed": True},
        )
        assert "kupon kodunuz" in (await run_action(ActionRedeemReward(), tracker)).text
    # The form refuses it up front...
    refused = await run_form(
        ValidateRedeemForm(),
        "redeem_form",
        Turn(str(voucher)),
        requested="reward_id",
        candidates={"reward_id": str(voucher)},
        slots=demo_customer,
    )
    assert "250 TL indirim çeki” için 2.000 puan gerekiyor" in refused.text
    assert refused.slot("form_status") == "not_affordable"
    # ...and the service refuses it if the balance changed in the meantime.
    tracker = make_tracker(
        Turn("yes", "affirm"),
        slots={**demo_customer, "language": "en", "reward_id": str(voucher), "redeem_confirmed": True},
    )
    result = await run_action(ActionRedeemReward(), tracker)
    assert "You don't have enough points" in result.text


async def test_out_of_stock_and_expired_rewards(demo_customer: dict[str, Any], seeded_db: str) -> None:
    from sqlalchemy import select

    from bot.db.models import Reward
    from bot.db.session import session_scope

    with session_scope() as session:
        ids = {r.code: r.id for r in session.scalars(select(Reward))}
    umbrella = make_tracker(
        Turn("evet", "affirm"), slots={**demo_customer, "reward_id": str(ids["SEMSIYE"]), "redeem_confirmed": True}
    )
    assert "stoku tükendi" in (await run_action(ActionRedeemReward(), umbrella)).text
    gift_box = make_tracker(
        Turn("evet", "affirm"), slots={**demo_customer, "reward_id": str(ids["YILBASI"]), "redeem_confirmed": True}
    )
    assert "süresi sona ermiş" in (await run_action(ActionRedeemReward(), gift_box)).text


async def test_typed_reward_name_is_matched(demo_customer: dict[str, Any]) -> None:
    result = await run_form(
        ValidateRedeemForm(), "redeem_form", Turn("termos"), requested="reward_id", candidates={}, slots=demo_customer
    )
    assert result.slot("reward_id") == str(reward_id(demo_customer["customer_id"], "TERMOS"))
    unknown = await run_form(
        ValidateRedeemForm(),
        "redeem_form",
        Turn("uçak bileti"),
        requested="reward_id",
        candidates={},
        slots=demo_customer,
    )
    assert "listeden seçin" in unknown.text
    assert unknown.slot("reward_id") is None


async def test_ask_reward_lists_rewards(demo_customer: dict[str, Any]) -> None:
    result = await run_action(ActionAskRewardId(), make_tracker(slots=demo_customer))
    assert result.buttons and all(b["payload"].startswith("/redeem_reward{") for b in result.buttons)


async def test_unclear_confirmation_is_asked_again(demo_customer: dict[str, Any]) -> None:
    result = await run_form(
        ValidateRedeemForm(),
        "redeem_form",
        Turn("hmm bilemedim"),
        requested="redeem_confirmed",
        candidates={},
        slots={**demo_customer, "reward_id": "2"},
    )
    assert "“Evet” ya da “Hayır”" in result.text
    assert result.slot("redeem_confirmed") is None
    assert result.slot("requested_slot") == "redeem_confirmed"


async def test_loyalty_status_when_the_database_is_down(unreachable_db: str) -> None:
    tracker = make_tracker(slots={"customer_id": 1, "pending_request": "check_loyalty", "language": "en"})
    result = await run_action(ActionLoyaltyStatus(), tracker)
    assert result.text == "I can't reach our system right now. Could you try again in a moment?"
    assert result.slot("pending_request") is None
