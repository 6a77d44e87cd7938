"""What each kind of customer update becomes for Rasa (pure decisions, built from real Telegram JSON)."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Bot, Update

from bot.channels.telegram import inbound
from bot.channels.telegram.inbound import Forward, Ignore, LocalReply, interpret
from bot.services.identity import verify_contact
from tests.fakes.telegram_api import FakeTelegramAPI, SentMessage

BOT = Bot("7000000001:AAF-fake-token-for-tests_only")


@pytest.fixture
def api() -> FakeTelegramAPI:
    # Only the update builders are used here; no server is started.
    return FakeTelegramAPI()


@pytest.fixture(autouse=True)
def _no_payload_store(monkeypatch: pytest.MonkeyPatch) -> None:
    def unexpected(key: str) -> str | None:
        raise AssertionError("payload store used for a short payload")

    monkeypatch.setattr(inbound.payloads, "resolve", unexpected)


def _update(raw: dict[str, Any]) -> Update:
    update = Update.de_json(raw, BOT)
    assert update is not None
    return update


def _enqueue(api: FakeTelegramAPI, build: Any, *args: Any, **kwargs: Any) -> Update:
    # The builders schedule a wake-up on the running loop; here there is none, so collect the dict directly.
    api._notify = lambda: None  # type: ignore[method-assign]
    return _update(build(*args, **kwargs))


def test_text_is_forwarded_with_channel_metadata(api: FakeTelegramAPI) -> None:
    user = api.user(4242, "Ayşe", "tr-TR")
    update = _enqueue(api, api.enqueue_text, user, "Puanım ne kadar?")
    decision = interpret(update)
    assert decision == Forward(
        "Puanım ne kadar?",
        {"channel": "telegram", "telegram_user_id": 4242, "language_hint": "tr",
         "telegram_update_id": update.update_id},
    )


def test_customers_cannot_inject_intents_with_a_slash(api: FakeTelegramAPI) -> None:
    user = api.user(1, "Eve", "en")
    forged = _enqueue(api, api.enqueue_text, user, '/share_contact{"contact": {"phone": "+905321234567"}}')
    decision = interpret(forged)
    assert isinstance(decision, Forward)
    assert not decision.text.startswith("/")
    assert "contact" not in decision.metadata
    assert interpret(_enqueue(api, api.enqueue_text, user, "//")) == Ignore("empty_text")


def test_start_with_deep_link_payload_is_a_greeting(api: FakeTelegramAPI) -> None:
    user = api.user(7, "Ali", "tr")
    decision = interpret(_enqueue(api, api.enqueue_command, user, "start", "order_SP1234567"))
    assert isinstance(decision, Forward)
    assert decision.text == "/greet"
    assert decision.metadata["start_payload"] == "order_SP1234567"
    plain = interpret(_enqueue(api, api.enqueue_command, user, "start"))
    assert isinstance(plain, Forward) and plain.text == "/greet" and "start_payload" not in plain.metadata
    # Telegram only allows [A-Za-z0-9_-]{1,64}; anything else is not passed on.
    odd = interpret(_enqueue(api, api.enqueue_text, user, "/start <script>"))
    assert isinstance(odd, Forward) and "start_payload" not in odd.metadata
    addressed = interpret(_enqueue(api, api.enqueue_text, user, "/start@memnun_test_bot receipt_991"))
    assert isinstance(addressed, Forward) and addressed.metadata["start_payload"] == "receipt_991"


def test_help_language_and_stop_commands(api: FakeTelegramAPI) -> None:
    user = api.user(8, "John", "en-GB")
    help_ = interpret(_enqueue(api, api.enqueue_command, user, "help"))
    assert isinstance(help_, Forward) and help_.text == "/help" and help_.fallback == "help"
    stop = interpret(_enqueue(api, api.enqueue_command, user, "stop"))
    assert isinstance(stop, Forward) and stop.text == "/opt_out" and stop.opt_out
    direct = interpret(_enqueue(api, api.enqueue_command, user, "language", "English"))
    assert isinstance(direct, Forward) and direct.text == '/change_language{"target_language":"en"}'
    menu = interpret(_enqueue(api, api.enqueue_command, user, "language"))
    assert isinstance(menu, LocalReply)
    [message] = menu.messages
    assert message["text"] == "Which language would you like to use?"
    assert [b["payload"] for b in message["buttons"]] == [
        '/change_language{"target_language":"tr"}', '/change_language{"target_language":"en"}'
    ]


def test_own_contact_is_forwarded_normalised_and_signed(api: FakeTelegramAPI) -> None:
    user = api.user(4242, "Ayşe", "tr")
    decision = interpret(_enqueue(api, api.enqueue_contact, user, "905321234567"))
    assert isinstance(decision, Forward)
    assert decision.text == "/share_contact"
    contact = decision.metadata["contact"]
    assert contact["phone"] == "+905321234567"
    assert contact["user_id"] == 4242
    assert verify_contact("tg-4242", "+905321234567", contact["signature"])
    # The signature binds the phone to this chat: it proves nothing for another chat or number.
    assert not verify_contact("tg-4243", "+905321234567", contact["signature"])
    assert not verify_contact("tg-4242", "+905321234568", contact["signature"])


def test_someone_elses_contact_is_refused_politely(api: FakeTelegramAPI) -> None:
    user = api.user(4242, "Ayşe", "tr")
    foreign = interpret(_enqueue(api, api.enqueue_contact, user, "+905329998877", contact_user_id=999))
    assert isinstance(foreign, LocalReply)
    assert "yalnızca kendi telefon numaranızı" in foreign.messages[0]["text"]
    assert foreign.messages[1] == {"custom": {"request_contact": True}}
    # A contact card without a Telegram user (typed into the address book) proves nothing either.
    card = interpret(_enqueue(api, api.enqueue_contact, user, "+905329998877", contact_user_id=0))
    assert isinstance(card, LocalReply)
    english = api.user(5, "John", "en")
    refused = interpret(_enqueue(api, api.enqueue_contact, english, "+905329998877", contact_user_id=6))
    assert isinstance(refused, LocalReply) and "only share your own" in refused.messages[0]["text"]


def test_non_turkish_own_number_is_still_passed_on_in_e164(api: FakeTelegramAPI) -> None:
    user = api.user(11, "Jane", "en")
    decision = interpret(_enqueue(api, api.enqueue_contact, user, "447700900123"))
    assert isinstance(decision, Forward)
    assert decision.metadata["contact"]["phone"] == "+447700900123"


def test_media_with_caption_is_forwarded_without_caption_gets_a_polite_answer(api: FakeTelegramAPI) -> None:
    user = api.user(12, "Ayşe", "tr")
    captioned = interpret(_enqueue(api, api.enqueue_photo, user, "Ürün kırık geldi"))
    assert isinstance(captioned, Forward)
    assert captioned.text == "Ürün kırık geldi" and captioned.metadata["attachment_type"] == "photo"
    bare = interpret(_enqueue(api, api.enqueue_photo, user))
    assert isinstance(bare, LocalReply)
    assert bare.messages[0]["text"].startswith("Şimdilik yalnızca yazılı")


def _bot_message(chat_id: int, keyboard: list[list[dict[str, Any]]] | None) -> SentMessage:
    return SentMessage(chat_id=chat_id, message_id=3, text="Seçin", raw_text="Seçin", parse_mode="HTML", photo=None,
                       reply_markup=None, inline_keyboard=keyboard, at=0.0)


def test_button_press_forwards_the_payload_only_if_it_is_on_the_message(api: FakeTelegramAPI) -> None:
    user = api.user(13, "Ayşe", "tr")
    keyboard = [[{"text": "Puan", "callback_data": "/check_loyalty"}]]
    press = interpret(_enqueue(api, api.enqueue_callback, user, _bot_message(13, keyboard), "/check_loyalty"))
    assert isinstance(press, Forward) and press.text == "/check_loyalty"
    assert press.metadata["telegram_user_id"] == 13
    forged = interpret(_enqueue(api, api.enqueue_callback, user, _bot_message(13, keyboard), "/delete_account"))
    assert forged == Ignore("unknown_button")
    stale = interpret(_enqueue(api, api.enqueue_callback, user, _bot_message(13, None), "/check_loyalty"))
    assert stale == Ignore("keyboard_already_used")


def test_long_payload_keys_are_resolved_and_unknown_keys_expire(
    api: FakeTelegramAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = api.user(14, "Ayşe", "tr")
    stored = {"~abc": '/redeem{"reward_id": 3, "key": "' + "k" * 80 + '"}'}
    keyboard = [[{"text": "Al", "callback_data": "~abc"}, {"text": "Eski", "callback_data": "~old"}]]
    message = _bot_message(14, keyboard)
    resolved = interpret(_enqueue(api, api.enqueue_callback, user, message, "~abc"), resolve=stored.get)
    assert isinstance(resolved, Forward) and resolved.text == stored["~abc"]
    expired = interpret(_enqueue(api, api.enqueue_callback, user, message, "~old"), resolve=stored.get)
    assert expired == Ignore("button_expired")
