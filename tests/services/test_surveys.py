"""Survey storage: idempotency, low-score recovery tickets, comments."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from bot.db.models import SurveyResponse, Ticket, TicketNote
from bot.db.session import session_scope
from bot.services import surveys, tickets
from bot.services.errors import InvalidInput


def test_high_score_opens_no_ticket(make_customer: Callable[..., int]) -> None:
    customer_id = make_customer()
    result = surveys.record_survey_response("nps", 9, None, customer_id, "tg-1", 12, "telegram", "s-1")
    assert (result.kind, result.score, result.low_score, result.recovery_ticket_ref) == ("nps", 9, False, None)
    with session_scope() as session:
        row = session.get(SurveyResponse, result.response_id)
        assert row is not None and row.campaign_id == 12 and row.channel == "telegram"
        assert session.scalars(select(Ticket)).all() == []


@pytest.mark.parametrize(("kind", "score", "category"), [("csat", 2, "staff"), ("nps", 6, "other")])
def test_low_score_opens_high_priority_recovery_ticket(
    make_customer: Callable[..., int], kind: str, score: int, category: str
) -> None:
    customer_id = make_customer()
    result = surveys.record_survey_response(
        kind,
        score,
        "Kargo geç geldi, kart 4111 1111 1111 1111",
        customer_id,  # type: ignore[arg-type]
        "web-9",
        None,
        "web",
        "s-low",
        language="en",
    )
    assert result.low_score and result.recovery_ticket_ref
    ticket = tickets.get_ticket(result.recovery_ticket_ref, customer_id)
    assert ticket is not None
    assert (ticket.priority, ticket.category, ticket.source, ticket.language) == ("high", category, "survey", "en")
    duplicate = surveys.record_survey_response(kind, score, None, customer_id, "web-9", None, "web", "s-low")  # type: ignore[arg-type]
    assert duplicate.duplicate and duplicate.recovery_ticket_ref == result.recovery_ticket_ref
    with session_scope() as session:
        assert len(session.scalars(select(Ticket)).all()) == 1
        assert len(session.scalars(select(SurveyResponse)).all()) == 1
        description = session.scalars(select(Ticket.description)).one()
        assert "4111" not in description and "**** **** **** 1111" in description


def test_boundaries(migrated_db: str) -> None:
    assert not surveys.record_survey_response("csat", 3, None, None, "c", None, "web", "b1").low_score
    assert surveys.record_survey_response("csat", 1, None, None, "c", None, "web", "b2").low_score
    assert not surveys.record_survey_response("nps", 7, None, None, "c", None, "web", "b3").low_score
    assert surveys.record_survey_response("nps", 0, None, None, "c", None, "web", "b4").low_score


def test_invalid_scores_are_rejected_before_storing(migrated_db: str) -> None:
    for kind, score in (("csat", 0), ("csat", 6), ("nps", 11), ("nps", -1), ("ces", 3), ("nps", True)):
        with pytest.raises(InvalidInput):
            surveys.record_survey_response(kind, score, None, None, "c", None, "web", f"x-{kind}-{score}")  # type: ignore[arg-type]
    with session_scope() as session:
        assert session.scalars(select(SurveyResponse)).all() == []


def test_attach_comment_appends_and_notes_recovery_ticket(migrated_db: str) -> None:
    low = surveys.record_survey_response("csat", 1, None, None, "tg-2", None, "telegram", "c-1")
    surveys.attach_comment(low.response_id, "Ürün kırık geldi")
    surveys.attach_comment(low.response_id, "TC 10000000146")
    with session_scope() as session:
        row = session.get(SurveyResponse, low.response_id)
        assert row is not None and row.comment == "Ürün kırık geldi\nTC ***********"
        notes = session.scalars(select(TicketNote.body).order_by(TicketNote.id)).all()
        assert notes == ["Müşteri yorumu: Ürün kırık geldi", "Müşteri yorumu: TC ***********"]
    with pytest.raises(InvalidInput):
        surveys.attach_comment(999, "x")
