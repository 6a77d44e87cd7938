"""Conversation list filters, the transcript, review actions, corrections and exports."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta

import yaml
from sqlalchemy import select

from bot.db.models import AuditLog
from bot.db.session import session_scope
from bot.services import review, tracker_events
from tests.console.conftest import Tracker, seed_conversation


def _audit(action: str) -> list[AuditLog]:
    with session_scope() as session:
        rows = session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)).all()
        for row in rows:
            session.expunge(row)
        return rows


def _senders(page_html: str, candidates: list[str]) -> set[str]:
    return {c for c in candidates if f'data-sender="{c}"' in page_html}


def test_filters(tracker: Tracker, as_role) -> None:
    seeded = seed_conversation(tracker)
    old = "tg-777"
    tracker.turn(old, "iade nasıl yapılır", "ask_refund", "İade için...", at=tracker.clock - 40 * 86400)
    tracker.action(old, "action_listen")
    tracker_events.sync_summaries()
    all_ids = [seeded.sender_id, seeded.web_sender_id, old]
    agent = as_role("agent")

    def listed(**params: str) -> set[str]:
        response = agent.get("/console/conversations", params=params)
        assert response.status_code == 200, response.text[:300]
        return _senders(response.text, all_ids)

    assert listed() == set(all_ids)
    assert listed(channel="telegram") == {seeded.sender_id, old}
    assert listed(channel="web") == {seeded.web_sender_id}
    assert listed(language="en") == {seeded.web_sender_id}
    assert listed(intent="track_order") == {seeded.sender_id}
    assert listed(intent="ask_refund") == {seeded.web_sender_id, old}
    assert listed(problem="fallback") == {seeded.sender_id}
    assert listed(problem="low_confidence") == {seeded.sender_id}
    assert listed(complaint="1") == {seeded.sender_id}
    assert listed(complaint="0") == {seeded.web_sender_id, old}
    assert listed(score_kind="csat", score_max="2") == {seeded.sender_id}
    assert listed(score_kind="csat", score_min="4") == set()
    assert listed(q="ezik") == {seeded.sender_id}
    assert listed(q="refund") == {seeded.web_sender_id}
    assert listed(q="iade nasıl") == {old}
    today = date.today()
    assert listed(**{"from": (today - timedelta(days=2)).isoformat()}) == {seeded.sender_id, seeded.web_sender_id}
    assert listed(**{"to": (today - timedelta(days=30)).isoformat()}) == {old}
    assert listed(reviewed="1") == set()
    agent.post(f"/console/conversations/{old}/reviewed", {"reviewed": "1"})
    agent.post(f"/console/conversations/{old}/tags", {"tag": "İade"})
    assert listed(reviewed="1") == {old}
    assert listed(reviewed="0") == {seeded.sender_id, seeded.web_sender_id}
    assert listed(tag="iade") == {old}
    # Sorting by turns ascending puts the one-turn conversations first.
    page = agent.get("/console/conversations", params={"sort": "turns", "dir": "asc"}).text
    assert page.index(f'data-sender="{seeded.sender_id}"') > page.index(f'data-sender="{old}"')
    # An htmx filter request gets only the results fragment.
    fragment = agent.get(
        "/console/conversations", params={"channel": "web"}, headers={"HX-Request": "true", "HX-Target": "results"}
    )
    assert "<html" not in fragment.text and seeded.web_sender_id in fragment.text
    views = _audit("conversation.list")
    assert views and views[-1].actor.startswith("staff:")


def test_keyset_pagination_walks_every_row_once(tracker: Tracker, migrated_db: str) -> None:
    for n in range(23):
        tracker.turn(f"tg-{5000 + n}", f"mesaj {n}", "greet", "Merhaba", confidence=0.5 + n / 100)
    tracker_events.sync_summaries()
    for sort in ("last", "first", "turns", "confidence"):
        for direction in ("asc", "desc"):
            filters = review.ConversationFilters(sort=sort, direction=direction)
            seen: list[str] = []
            cursor = None
            while True:
                page = review.list_conversations(filters, cursor=cursor, page_size=5)
                seen.extend(r.sender_id for r in page.rows)
                cursor = page.next_cursor
                if cursor is None:
                    break
            assert len(seen) == 23 and len(set(seen)) == 23, (sort, direction)
            assert page.total == 23


def test_transcript_shows_turns_actions_forms_and_our_data(tracker: Tracker, as_role) -> None:
    seeded = seed_conversation(tracker)
    agent = as_role("agent")
    page = agent.get(f"/console/conversations/{seeded.sender_id}")
    assert page.status_code == 200
    html = page.text
    for expected in (
        "SP1234567 siparişim nerede",  # customer text
        "track_order",
        "0.97",  # intent and confidence
        "order_number=SP1234567",  # entity
        "action_track_order",  # bot action
        "Siparişiniz kargoda",  # bot text
        "Teşekkürler",  # its button
        "complaint_form",  # form activation
        "Form bitti",  # form ended
        "CSAT 1",
        "çok kötü",  # survey answer inline
        seeded.ticket_ref,  # ticket inline
        "complain",  # what the model would have chosen instead of nlu_fallback
    ):
        assert expected in html, expected
    assert "action_listen" not in html
    # Personal slot values are masked until revealed; the profile too.
    assert "+905321234567" not in html
    assert "Ayşe Yılmaz" not in html and "Gold" in html
    views = _audit("conversation.view")
    assert views[-1].entity_id == seeded.sender_id


def test_script_in_a_message_is_shown_as_text(tracker: Tracker, as_role) -> None:
    seeded = seed_conversation(tracker)
    agent = as_role("agent")
    html = agent.get(f"/console/conversations/{seeded.sender_id}").text
    assert "<script>alert(" not in html
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt; paket ezik geldi" in html
    listing = agent.get("/console/conversations").text
    assert "<script>alert(" not in listing
    review_page = agent.get("/console/review", params={"status": "new"}).text
    assert "<script>alert(" not in review_page


def test_reveal_personal_data_is_audited(tracker: Tracker, as_role) -> None:
    seeded = seed_conversation(tracker)
    agent = as_role("agent")
    masked = agent.get(f"/console/conversations/{seeded.sender_id}").text
    assert "+905321234567" not in masked and "+905•••••••67" in masked
    revealed = agent.post(f"/console/conversations/{seeded.sender_id}/reveal", headers={"HX-Request": "true"})
    assert revealed.status_code == 200
    assert "+905321234567" in revealed.text and "Ayşe Yılmaz" in revealed.text
    entry = _audit("customer.reveal")[-1]
    assert entry.entity == "customer" and entry.entity_id == str(seeded.customer_id)
    assert entry.details == {"conversation": seeded.sender_id}


def test_tags_notes_and_reviewed(tracker: Tracker, as_role) -> None:
    seeded = seed_conversation(tracker)
    agent = as_role("agent")
    s = seeded.sender_id
    assert agent.post(f"/console/conversations/{s}/tags", {"tag": "  Kargo  Gecikmesi "}).status_code == 303
    assert agent.post(f"/console/conversations/{s}/tags", {"tag": "<b>"}).status_code == 303  # refused quietly
    assert (
        agent.post(f"/console/conversations/{s}/notes", {"body": "Kart 4111 1111 1111 1111 yazmış"}).status_code == 303
    )
    fragment = agent.post(f"/console/conversations/{s}/reviewed", {"reviewed": "1"}, headers={"HX-Request": "true"})
    assert "kargo gecikmesi" in fragment.text and "reviewed-badge" in fragment.text
    assert "4111 1111 1111 1111" not in fragment.text  # the note was masked before storing
    summary = review.get_summary(s)
    assert summary is not None and summary.reviewed and summary.tags == ("kargo gecikmesi",)
    assert review.list_flags(status="new").total == 0 or all(
        f.sender_id != s for f in review.list_flags(status="new").rows
    )
    actions = {
        a.action for a in _audit("conversation.tag") + _audit("conversation.note") + _audit("conversation.reviewed")
    }
    assert actions == {"conversation.tag", "conversation.note", "conversation.reviewed"}
    assert "body" not in json.dumps([a.details for a in _audit("conversation.note")])


def test_correct_intent_and_export_nlu_yaml(tracker: Tracker, as_role) -> None:
    seeded = seed_conversation(tracker)
    agent = as_role("agent")
    s = seeded.sender_id
    fallback_event = seeded.user_event_ids["fallback"]
    response = agent.post(
        f"/console/conversations/{s}/turns/{fallback_event}/intent",
        {"intent": "complain"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200 and "complain" in response.text and "corrected-intent" in response.text
    agent.post(f"/console/conversations/{s}/turns/{seeded.user_event_ids['low']}/intent", {"intent": "complain"})
    web_event = next(i.event_id for i in review.load_transcript(seeded.web_sender_id).items if i.kind == "user")
    agent.post(f"/console/conversations/{seeded.web_sender_id}/turns/{web_event}/intent", {"intent": "ask_refund"})
    # Invalid: a bot event, another conversation's event, a bad intent name.
    bad = agent.post(
        f"/console/conversations/{seeded.web_sender_id}/turns/{fallback_event}/intent",
        {"intent": "complain"},
        headers={"HX-Request": "true"},
    )
    assert bad.status_code == 400
    bad = agent.post(
        f"/console/conversations/{s}/turns/{fallback_event}/intent",
        {"intent": "no spaces"},
        headers={"HX-Request": "true"},
    )
    assert bad.status_code == 400

    exported = agent.get("/console/review/corrections.yml")
    assert exported.status_code == 200
    data = yaml.safe_load(exported.text)
    assert data["version"] == "3.1"
    blocks = {(b["intent"], b["metadata"]["lang"]): b["examples"] for b in data["nlu"]}
    assert set(blocks) == {("complain", "tr"), ("ask_refund", "en")}
    complain = [line[2:] for line in blocks[("complain", "tr")].splitlines()]
    assert complain == ["kargom hala yok ne iş", "şikayet etmek istiyorum"]
    assert blocks[("ask_refund", "en")].strip() == "- hello, where is my refund"
    # The flag of the corrected turn was reviewed; marking applied moves it on.
    applied = agent.post("/console/review/corrections/applied")
    assert applied.status_code == 303
    flags = review.list_flags(status="applied")
    assert {f.event_id for f in flags.rows} >= {fallback_event}
    assert yaml.safe_load(agent.get("/console/review/corrections.yml", params={"new": "1"}).text)["nlu"] == []
    assert _audit("turn.intent_corrected") and _audit("corrections.export") and _audit("corrections.applied")


def test_story_export_is_a_rasa_test_story(tracker: Tracker, as_role) -> None:
    seeded = seed_conversation(tracker)
    agent = as_role("agent")
    s = seeded.sender_id
    agent.post(f"/console/conversations/{s}/turns/{seeded.user_event_ids['fallback']}/intent", {"intent": "complain"})
    response = agent.get(f"/console/conversations/{s}/story")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/x-yaml")
    story = yaml.safe_load(response.text)
    steps = story["stories"][0]["steps"]
    users = [step for step in steps if "user" in step]
    assert users[0] == {"user": "merhaba", "intent": "greet"}
    assert users[1] == {"user": "[SP1234567](order_number) siparişim nerede", "intent": "track_order"}
    assert users[2] == {"user": "kargom hala yok ne iş", "intent": "complain"}  # the corrected intent
    assert {"action": "action_track_order"} in steps
    assert {"active_loop": "complaint_form"} in steps and {"active_loop": None} in steps
    assert all(step.get("action") not in ("action_listen", "action_session_start") for step in steps)
    index_greet = steps.index({"user": "merhaba", "intent": "greet"})
    assert steps[index_greet + 1] == {"action": "utter_greet"}


def test_json_and_csv_exports(tracker: Tracker, as_role) -> None:
    seeded = seed_conversation(tracker)
    agent = as_role("agent")
    data = agent.get(f"/console/conversations/{seeded.sender_id}/export.json").json()
    kinds = [item["kind"] for item in data["items"]]
    assert {"user", "bot", "action", "slot", "form", "survey", "ticket"} <= set(kinds)
    assert data["summary"]["turns"] == 6
    text = agent.get(f"/console/conversations/{seeded.sender_id}/export.csv").text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and {"time_utc", "kind", "text", "intent"} <= set(rows[0])
    assert any(r["text"] == "SP1234567 siparişim nerede" and r["intent"] == "track_order" for r in rows)
    exports = _audit("conversation.export")
    assert {e.details["format"] for e in exports} == {"json", "csv"}


def test_csv_export_defuses_formulas(tracker: Tracker, as_role) -> None:
    tracker.turn("tg-66", '=HYPERLINK("http://evil")', "inform", "?")
    tracker_events.sync_summaries()
    agent = as_role("agent")
    text = agent.get("/console/conversations/tg-66/export.csv").text
    assert "'=HYPERLINK" in text


def test_saved_filters_are_per_user(tracker: Tracker, as_role) -> None:
    seed_conversation(tracker)
    ayse, mehmet = as_role("agent"), as_role("agent2")
    response = ayse.post(
        "/console/filters",
        {"page": "conversations", "name": "Telegram şikayetleri", "query": "channel=telegram&complaint=1"},
    )
    assert response.status_code == 303 and response.headers["location"].endswith("?channel=telegram&complaint=1")
    assert "Telegram şikayetleri" in ayse.get("/console/conversations").text
    assert "Telegram şikayetleri" not in mehmet.get("/console/conversations").text


def test_unknown_conversation_is_404(tracker: Tracker, as_role) -> None:
    agent = as_role("agent")
    response = agent.get("/console/conversations/tg-404404")
    assert response.status_code == 404
