"""A whole customer conversation through the connector, in Turkish and in English.

greet -> "my points" button -> share contact -> loyalty status -> complaint -> ticket id, with real PTB
against the fake Bot API and a scripted Rasa (the real assistant is tested end-to-end elsewhere).
The script checks what a real assistant relies on: channel metadata, and a contact signature that verifies.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.services.identity import verify_contact
from tests.channels.telegram.conftest import journal_rows
from tests.fakes.rasa_stub import RasaRequest
from tests.fakes.telegram_api import FakeTelegramAPI

TICKET = "T-2026-000123"

LINES = {
    "tr": {
        "greet": "Merhaba {name}! Size nasıl yardımcı olabilirim?",
        "points_button": "Puan durumum",
        "complaint_button": "Şikâyet",
        "identify": "Önce sizi tanıyalım: numaranızı paylaşır mısınız?",
        "identified": "Teşekkürler Ayşe! Gold üyesiniz, 5.230 puanınız var.",
        "unverified": "Numaranızı doğrulayamadım.",
        "ask_details": "Üzgünüm. Ne oldu, kısaca yazar mısınız?",
        "ticket": f"Şikâyetiniz alındı. Talep numaranız: {TICKET}. 24 saat içinde dönüyoruz.",
    },
    "en": {
        "greet": "Hello {name}! How can I help you?",
        "points_button": "My points",
        "complaint_button": "Complaint",
        "identify": "Let me identify you first: could you share your number?",
        "identified": "Thank you John! You are a Gold member with 5,230 points.",
        "unverified": "I could not verify your number.",
        "ask_details": "I'm sorry. What happened? Please describe it briefly.",
        "ticket": f"Your complaint is recorded. Ticket number: {TICKET}. We reply within 24 hours.",
    },
}


class ScriptedAssistant:
    """Just enough dialogue to walk the journey, keyed on what the connector sends."""

    def __init__(self) -> None:
        self.state: dict[str, str] = {}

    def __call__(self, request: RasaRequest) -> list[dict[str, Any]]:
        meta = request.metadata
        assert meta["channel"] == "telegram"
        assert request.sender == f"tg-{meta['telegram_user_id']}"
        lang = "en" if meta.get("language_hint") == "en" else "tr"
        lines = LINES[lang]
        message = request.message
        if message == "/greet":
            name = "Ayşe" if lang == "tr" else "John"
            return [{
                "text": lines["greet"].format(name=name),
                "buttons": [
                    {"title": lines["points_button"], "payload": "/check_loyalty"},
                    {"title": lines["complaint_button"], "payload": "/complaint"},
                ],
            }]
        if message == "/check_loyalty":
            return [{"text": lines["identify"]}, {"custom": {"request_contact": True}}]
        if message == "/share_contact":
            contact = meta["contact"]
            ok = verify_contact(request.sender, contact["phone"], contact["signature"]) and (
                contact["phone"] == "+905321234567" and contact["user_id"] == meta["telegram_user_id"]
            )
            if ok:
                self.state[request.sender] = "identified"
                return [{"text": lines["identified"]}]
            return [{"text": lines["unverified"]}]
        if "şikayet" in message.lower() or "complain" in message.lower():
            self.state[request.sender] = "complaint"
            return [{"text": lines["ask_details"]}]
        if self.state.get(request.sender) == "complaint":
            self.state[request.sender] = "done"
            return [{"text": lines["ticket"]}]
        return [{"text": "?"}]


@pytest.fixture
def rasa_script() -> ScriptedAssistant:
    return ScriptedAssistant()


JOURNEYS = {
    "tr": {
        "user": (5551001, "Ayşe", "tr"),
        "phone": "0532 123 45 67",
        "complaint": "Kargom gelmedi, şikayet etmek istiyorum",
        "details": "SP1234567 numaralı siparişim iki haftadır gelmedi",
    },
    "en": {
        "user": (5551002, "John", "en-US"),
        "phone": "+90 532 123 4567",
        "complaint": "I want to complain, my parcel never arrived",
        "details": "Order SP1234567 has been missing for two weeks",
    },
}


@pytest.mark.parametrize("language", ["tr", "en"])
async def test_greet_identify_loyalty_complaint_ticket(
    language: str, start_connector: Any, telegram_api: FakeTelegramAPI, rasa: Any
) -> None:
    journey = JOURNEYS[language]
    lines = LINES[language]
    user_id, first_name, code = journey["user"]
    user = telegram_api.user(user_id, first_name, code)
    await start_connector()

    # 1. /start -> greeting with two buttons.
    telegram_api.enqueue_command(user, "start")
    [greeting] = await telegram_api.wait_for_messages(user_id, 1)
    name = "Ayşe" if language == "tr" else "John"
    assert greeting.text == lines["greet"].format(name=name)
    assert greeting.button_titles == [lines["points_button"], lines["complaint_button"]]

    # 2. Press "my points": the payload goes to Rasa, the keyboard disappears, Rasa asks for the number.
    telegram_api.press(user, greeting, lines["points_button"])
    sent = await telegram_api.wait_for_messages(user_id, 2)
    await telegram_api.wait_for(lambda: greeting.inline_keyboard is None, message="keyboard removed")
    assert greeting.edits == [None]
    ask = sent[1]
    assert ask.text == lines["identify"]
    assert ask.reply_markup == {
        "keyboard": [[{"text": "📱 Numaramı paylaş / Share my number", "request_contact": True}]],
        "resize_keyboard": True,
        "one_time_keyboard": True,
    }

    # 3. Share the own contact: normalised, signed, verified by the assistant; the keyboard goes away.
    telegram_api.enqueue_contact(user, journey["phone"])
    sent = await telegram_api.wait_for_messages(user_id, 3)
    assert sent[2].text == lines["identified"]
    assert sent[2].reply_markup == {"remove_keyboard": True}

    # 4-5. Complaint and its details -> ticket id.
    telegram_api.enqueue_text(user, journey["complaint"])
    await telegram_api.wait_for_messages(user_id, 4)
    telegram_api.enqueue_text(user, journey["details"])
    sent = await telegram_api.wait_for_messages(user_id, 5)

    assert telegram_api.texts(user_id) == [
        lines["greet"].format(name=name),
        lines["identify"],
        lines["identified"],
        lines["ask_details"],
        lines["ticket"],
    ]
    assert TICKET in sent[4].text  # type: ignore[operator]

    # What Rasa received, in order, each exactly once.
    sender = f"tg-{user_id}"
    assert rasa.messages_from(sender) == [
        "/greet", "/check_loyalty", "/share_contact", journey["complaint"], journey["details"],
    ]
    contact_request = rasa.requests[2]
    assert contact_request.metadata["contact"]["phone"] == "+905321234567"
    assert contact_request.metadata["language_hint"] == language
    # "typing…" was shown while Rasa was thinking, and the button spinner was stopped.
    assert any(chat == user_id and action == "typing" for chat, action, _ in telegram_api.chat_actions)
    assert [c.status for c in telegram_api.calls_of("answerCallbackQuery")] == [200]

    # The journal closed every update and kept no customer text.
    await telegram_api.wait_for(lambda: all(r.status == "replied" for r in journal_rows()), message="replied")
    rows = journal_rows()
    assert len(rows) == 5
    assert all(r.payload is None and r.replies is None for r in rows)


async def test_start_deep_link_reaches_rasa_as_metadata(
    start_connector: Any, telegram_api: FakeTelegramAPI, rasa: Any
) -> None:
    user = telegram_api.user(5551003, "Ayşe", "tr")
    await start_connector()
    telegram_api.enqueue_command(user, "start", "order_SP1234567")
    await telegram_api.wait_for_messages(5551003, 1)
    [request] = rasa.requests
    assert request.message == "/greet"
    assert request.metadata["start_payload"] == "order_SP1234567"


async def test_someone_elses_contact_never_reaches_rasa(
    start_connector: Any, telegram_api: FakeTelegramAPI, rasa: Any
) -> None:
    user = telegram_api.user(5551004, "Ayşe", "tr")
    await start_connector()
    telegram_api.enqueue_contact(user, "+905329998877", contact_user_id=777, first_name="Mehmet")
    [refusal] = await telegram_api.wait_for_messages(5551004, 1)
    assert refusal.text is not None and "yalnızca kendi telefon numaranızı" in refusal.text
    # The share-my-number keyboard is offered again.
    assert refusal.reply_markup is not None
    assert refusal.reply_markup["keyboard"][0][0]["request_contact"] is True
    assert rasa.requests == []


async def test_language_menu_press_changes_language_in_rasa(
    start_connector: Any, telegram_api: FakeTelegramAPI, rasa: Any
) -> None:
    user = telegram_api.user(5551005, "Ayşe", None)
    await start_connector()
    telegram_api.enqueue_command(user, "language")
    [menu] = await telegram_api.wait_for_messages(5551005, 1)
    # Unknown app language: the question is asked in both languages, Turkish first.
    assert menu.text == "Hangi dilde konuşalım?\n\nWhich language would you like to use?"
    assert menu.button_titles == ["🇹🇷 Türkçe", "🇬🇧 English"]
    telegram_api.press(user, menu, "🇬🇧 English")
    await telegram_api.wait_for_messages(5551005, 2)
    assert rasa.messages_from("tg-5551005") == ['/change_language{"target_language":"en"}']
    assert menu.inline_keyboard is None


async def test_help_falls_back_to_built_in_text_and_stop_opts_out_at_once(
    start_connector: Any, telegram_api: FakeTelegramAPI, rasa: Any
) -> None:
    from bot.services.consent import is_opted_out

    rasa.script = lambda request: []  # an assistant with nothing to say
    user = telegram_api.user(5551006, "John", "en")
    await start_connector()
    telegram_api.enqueue_command(user, "help")
    [help_text] = await telegram_api.wait_for_messages(5551006, 1)
    assert help_text.text is not None and help_text.text.startswith("I can help with your points")
    telegram_api.enqueue_command(user, "stop")
    await telegram_api.wait_for(lambda: rasa.messages_from("tg-5551006") == ["/help", "/opt_out"], message="opt_out")
    await telegram_api.wait_for(lambda: is_opted_out("telegram", "tg-5551006"), message="opted out")


async def test_long_answer_is_split_and_escaped_html_reaches_the_customer_intact(
    start_connector: Any, telegram_api: FakeTelegramAPI, rasa: Any
) -> None:
    paragraph = "Kampanya koşulları: <%50> indirim & ücretsiz kargo. " * 40
    long_text = "\n\n".join([paragraph.strip()] * 5)
    rasa.script = lambda request: [{"text": long_text, "buttons": [{"title": "Tamam", "payload": "/affirm"}]}]
    user = telegram_api.user(5551007, "Ayşe", "tr")
    await start_connector()
    telegram_api.enqueue_text(user, "kampanya")
    await telegram_api.wait_for(lambda: telegram_api.sent(5551007) and telegram_api.sent(5551007)[-1].inline_keyboard,
                                message="last part with buttons")
    parts = telegram_api.sent(5551007)
    assert len(parts) >= 3
    assert all(p.parse_mode == "HTML" for p in parts)
    assert all(len(p.text or "") <= 4096 for p in parts)
    assert "\n\n".join(p.text or "" for p in parts) == long_text
    assert [bool(p.inline_keyboard) for p in parts] == [False] * (len(parts) - 1) + [True]
    assert all(c.status == 200 for c in telegram_api.calls_of("sendMessage"))


async def test_long_button_payload_round_trip(
    start_connector: Any, telegram_api: FakeTelegramAPI, rasa: Any
) -> None:
    payload = '/redeem_reward{"reward_id": 12, "idempotency_key": "tg-5551008-redeem-confirmation-0001"}'

    def script(request: RasaRequest) -> list[dict[str, Any]]:
        if request.message == "ödül":
            return [{"text": "Onaylıyor musunuz?", "buttons": [{"title": "Evet", "payload": payload},
                                                               {"title": "Hayır", "payload": "/deny"}]}]
        return [{"text": f"got {request.message}"}]

    rasa.script = script
    user = telegram_api.user(5551008, "Ayşe", "tr")
    await start_connector()
    telegram_api.enqueue_text(user, "ödül")
    [question] = await telegram_api.wait_for_messages(5551008, 1)
    data = question.callback_data("Evet")
    assert data != payload and len(data.encode()) <= 64
    telegram_api.press(user, question, "Evet")
    sent = await telegram_api.wait_for_messages(5551008, 2)
    assert sent[1].text == f"got {payload}"
    assert rasa.messages_from("tg-5551008") == ["ödül", payload]


async def test_images_are_sent_as_photos_and_unfetchable_ones_as_links(
    start_connector: Any, telegram_api: FakeTelegramAPI, rasa: Any
) -> None:
    telegram_api.unfetchable_photos.add("https://cdn.example/broken.png")
    rasa.script = lambda request: [
        {"text": "Kuponunuz", "image": "https://cdn.example/coupon.png"},
        {"image": "https://cdn.example/broken.png"},
    ]
    user = telegram_api.user(5551009, "Ayşe", "tr")
    await start_connector()
    telegram_api.enqueue_text(user, "kupon")
    sent = await telegram_api.wait_for_messages(5551009, 2)
    assert (sent[0].photo, sent[0].text) == ("https://cdn.example/coupon.png", "Kuponunuz")
    assert (sent[1].photo, sent[1].text) == (None, "https://cdn.example/broken.png")
