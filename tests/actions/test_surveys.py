"""CSAT / NPS check-ins and campaign messages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from actions.surveys import (
    ActionAskCsatScore,
    ActionAskNpsScore,
    ActionAskSurveyComment,
    ActionRecordSurvey,
    ActionSendCampaignMessage,
    ValidateCsatForm,
    ValidateNpsForm,
)
from bot.db.models import SurveyResponse
from bot.db.session import session_scope
from bot.services import tickets
from tests.actions.support import Turn, make_tracker, run_action, run_form


def stored_responses() -> list[SurveyResponse]:
    with session_scope() as session:
        rows = list(session.scalars(select(SurveyResponse).order_by(SurveyResponse.id)))
        session.expunge_all()
        return rows


async def test_checkin_question_uses_the_campaign_text(seeded_db: str) -> None:
    tracker = make_tracker(
        Turn("EXTERNAL: EXTERNAL_csat_checkin", "EXTERNAL_csat_checkin"),
        slots={
            "message_tr": "Merhaba Ayşe! Dünkü alışverişinizi 1-5 arası puanlar mısınız?",
            "message_en": "Hi Ayşe! Would you rate yesterday's visit from 1 to 5?",
        },
    )
    tr = await run_action(ActionAskCsatScore(), tracker)
    assert tr.text == "Merhaba Ayşe! Dünkü alışverişinizi 1-5 arası puanlar mısınız?"
    assert [b["payload"] for b in tr.buttons] == ["1", "2", "3", "4", "5"]
    tracker.slots["language"] = "en"
    assert (await run_action(ActionAskCsatScore(), tracker)).text.startswith("Hi Ayşe!")
    default = await run_action(ActionAskNpsScore(), make_tracker())
    assert "0 (hiç) ile 10 (kesinlikle)" in default.text
    assert len(default.buttons) == 11


async def test_score_answers_and_hints(seeded_db: str) -> None:
    form = ValidateCsatForm()
    word = await run_form(form, "csat_form", Turn("beş"), requested="csat_score", candidates={"csat_score": "beş"})
    assert word.slot("csat_score") == 5
    assert word.slot("requested_slot") == "survey_comment"
    with_comment = await run_form(
        form,
        "csat_form",
        Turn("2, kargo çok geç geldi"),
        requested="csat_score",
        candidates={"csat_score": "2, kargo çok geç geldi"},
    )
    assert with_comment.slot("csat_score") == 2
    assert with_comment.slot("survey_comment") == "kargo çok geç geldi"
    assert with_comment.slot("requested_slot") is None
    unclear = await run_form(
        form, "csat_form", Turn("bilmem"), requested="csat_score", candidates={"csat_score": "bilmem"}
    )
    assert unclear.slot("csat_score") is None and unclear.slot("reask_count") == 1
    hint = await run_action(ActionAskCsatScore(), make_tracker(slots={"reask_count": 1, "language": "en"}))
    assert hint.text == "Could you give a number from 1 to 5? For example: 4"


async def test_three_reasks_then_the_survey_is_dropped(seeded_db: str) -> None:
    result = await run_form(
        ValidateNpsForm(),
        "nps_form",
        Turn("bilmem"),
        requested="nps_score",
        candidates={"nps_score": "bilmem"},
        slots={"reask_count": 3},
    )
    assert result.slot("form_status") == "aborted"
    assert result.slot("requested_slot") is None
    assert "zaman ayırdığınız için teşekkür" in result.text
    assert result.buttons == []
    before = len(stored_responses())
    after = await run_action(
        ActionRecordSurvey(), make_tracker(latest_action_name="nps_form", slots={"form_status": "aborted"})
    )
    assert after.messages == []
    assert len(stored_responses()) == before


async def test_comment_question_depends_on_the_score(seeded_db: str) -> None:
    low = await run_action(ActionAskSurveyComment(), make_tracker(slots={"csat_score": 2}))
    assert "duyduğumuza üzüldük" in low.text
    assert low.buttons == [{"title": "Geç", "payload": "geç"}]
    high = await run_action(ActionAskSurveyComment(), make_tracker(slots={"nps_score": 9, "language": "en"}))
    assert "why you gave this score" in high.text
    skipped = await run_form(
        ValidateNpsForm(),
        "nps_form",
        Turn("skip"),
        requested="survey_comment",
        candidates={"survey_comment": "skip"},
        slots={"nps_score": 9},
    )
    assert skipped.slot("survey_comment") == "skipped"
    late = await run_form(
        ValidateNpsForm(),
        "nps_form",
        Turn("çok geç geldi"),
        requested="survey_comment",
        candidates={"survey_comment": "çok geç geldi"},
        slots={"nps_score": 3},
    )
    assert late.slot("survey_comment") == "çok geç geldi"  # "geç" inside a comment is not "skip"


async def test_high_score_is_stored_with_campaign_and_outbox(demo_customer: dict[str, Any]) -> None:
    tracker = make_tracker(
        Turn("geç"),
        latest_action_name="csat_form",
        slots={**demo_customer, "csat_score": 5, "survey_comment": "skipped", "campaign_id": None, "outbox_id": None},
    )
    result = await run_action(ActionRecordSurvey(), tracker)
    assert result.text == "Değerlendirmeniz için teşekkür ederiz! 🙏"
    row = stored_responses()[-1]
    assert (row.kind, row.score, row.comment, row.customer_id) == ("csat", 5, None, demo_customer["customer_id"])
    assert result.slot("csat_score") is None and result.slot("campaign_id") is None


async def test_low_score_apologises_with_a_recovery_ticket(seeded_db: str) -> None:
    tracker = make_tracker(
        Turn("kargo çok geç geldi"),
        sender="web-survey",
        latest_action_name="nps_form",
        slots={"nps_score": 3, "survey_comment": "kargo çok geç geldi", "language": "en"},
    )
    result = await run_action(ActionRecordSurvey(), tracker)
    assert "We're truly sorry" in result.text
    ref = result.text.split("your reference is ")[1].split(".")[0]
    ticket = tickets.get_ticket(ref)
    assert ticket is not None and ticket.priority == "high"
    assert [b["payload"] for b in result.buttons] == ["/request_human", "/deny"]
    again = await run_action(ActionRecordSurvey(), tracker)  # retried: still one response
    assert again.text == result.text
    assert sum(1 for r in stored_responses() if r.conversation_id == "web-survey") == 1


async def test_campaign_message_in_the_customer_language(seeded_db: str) -> None:
    slots = {"message_tr": "Hafta sonuna özel %20 indirim!", "message_en": "20% off this weekend!", "campaign_id": "7"}
    tr = await run_action(
        ActionSendCampaignMessage(), make_tracker(Turn("EXTERNAL", "EXTERNAL_campaign_message"), slots=slots)
    )
    assert tr.text == "Hafta sonuna özel %20 indirim!\n\nBu tür mesajları almak istemezseniz DUR yazmanız yeterli."
    en = await run_action(ActionSendCampaignMessage(), make_tracker(slots={**slots, "language": "en"}))
    assert en.text.startswith("20% off this weekend!") and "Reply STOP" in en.text
    only_tr = await run_action(
        ActionSendCampaignMessage(), make_tracker(slots={"message_tr": "Merhaba", "language": "en"})
    )
    assert only_tr.text.startswith("Merhaba")
    assert only_tr.slot("message_tr") is None


async def test_survey_when_the_database_is_down(unreachable_db: str) -> None:
    tracker = make_tracker(latest_action_name="csat_form", slots={"csat_score": 4, "survey_comment": "skipped"})
    result = await run_action(ActionRecordSurvey(), tracker)
    assert result.text == "Şu an sistemimize ulaşamıyorum, birazdan tekrar dener misiniz?"
    assert result.slot("csat_score") is None


async def test_question_wording_follows_the_context(seeded_db: str) -> None:
    greeting_only = make_tracker(slots={"message_tr": "Merhaba Ayşe, dünkü alışverişiniz nasıldı?"})
    result = await run_action(ActionAskCsatScore(), greeting_only)
    assert result.text == (
        "Merhaba Ayşe, dünkü alışverişiniz nasıldı?\n1 (hiç memnun değilim) ile 5 (çok memnunum) arasında bir puan "
        "yazabilirsiniz."
    )
    after_ticket = await run_action(
        ActionAskCsatScore(), make_tracker(slots={"ticket_id": "T-2026-000001", "language": "en"})
    )
    assert after_ticket.text.startswith("How satisfied were you with how our team handled your request?")
