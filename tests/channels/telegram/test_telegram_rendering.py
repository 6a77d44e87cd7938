"""Rasa messages -> Telegram messages: escaping, splitting, keyboards, images (pure rendering rules)."""

from __future__ import annotations

import html

from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyKeyboardRemove

from bot.channels.telegram import rendering
from bot.channels.telegram.rendering import (
    MAX_TEXT,
    callback_data_for,
    long_payload_key,
    long_payloads,
    render,
    split_text,
    utf16_len,
)
from tests.fakes.telegram_api import parse_html


def test_text_is_escaped_so_telegram_shows_it_literally() -> None:
    original = "Fiyat <100 TL> & %20 indirim <b>kalın değil</b> 5 < 6 > 4 &amp;"
    [message] = render([{"text": original}])
    assert message.text is not None
    # The fake Bot API parses HTML the way Telegram does: the customer sees exactly the original text.
    assert parse_html(message.text) == original
    assert "<b>" not in message.text


def test_unescaped_text_would_be_rejected_by_the_fake_like_by_telegram() -> None:
    # Guard for the test above: the fake really is strict about HTML.
    import pytest

    from tests.fakes.telegram_api import TelegramError

    with pytest.raises(TelegramError):
        parse_html("5 < 6 & <blink>")


def test_markdown_links_become_readable_text() -> None:
    [message] = render([{"text": "Kargo takibi: [buradan](https://kargo.example/track?id=1&x=2)"}])
    assert parse_html(message.text or "") == "Kargo takibi: buradan (https://kargo.example/track?id=1&x=2)"


def test_long_text_is_split_at_paragraphs_and_every_part_fits() -> None:
    paragraph = "Bu bir paragraf. " * 150  # ~2550 characters
    text = "\n\n".join([paragraph.strip()] * 4)
    parts = split_text(text)
    assert len(parts) >= 3
    assert all(utf16_len(part) <= MAX_TEXT for part in parts)
    # Paragraph boundaries are preferred: no part starts or ends in the middle of a sentence.
    assert all(part.endswith("paragraf.") for part in parts)
    assert all(part.startswith("Bu bir") for part in parts)
    assert "\n\n".join(parts) == text


def test_split_prefers_sentences_then_words_never_cuts_words() -> None:
    text = ("Kelime " * 700).strip() + ". " + ("Başka cümle burada. " * 100).strip()
    parts = split_text(text, limit=1000)
    assert all(utf16_len(part) <= 1000 for part in parts)
    words = text.split()
    assert " ".join(" ".join(part.split()) for part in parts).split() == words


def test_split_counts_utf16_units_like_telegram() -> None:
    text = "😀" * 3000  # 6000 UTF-16 units, no spaces at all
    parts = split_text(text)
    assert [utf16_len(part) for part in parts] == [4096, 1904]
    assert "".join(parts) == text


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab <>&.\n😀ç ")), min_size=0, max_size=3000), st.integers(50, 500))
def test_split_never_loses_text_and_respects_the_limit(text: str, limit: int) -> None:
    parts = split_text(text, limit=limit)
    assert all(0 < utf16_len(part) <= limit for part in parts)
    assert "".join("".join(part.split()) for part in parts) == "".join(text.split())


def test_long_message_with_buttons_puts_buttons_under_the_last_part() -> None:
    messages = render([{"text": "A. " * 3000, "buttons": [{"title": "Evet", "payload": "/affirm"}]}])
    assert len(messages) == 3
    assert all(m.reply_markup is None for m in messages[:-1])
    assert isinstance(messages[-1].reply_markup, InlineKeyboardMarkup)
    assert all(utf16_len(html.unescape(m.text or "")) <= MAX_TEXT for m in messages)


def test_buttons_become_an_inline_keyboard_with_payloads() -> None:
    [message] = render([{
        "text": "Nasıl yardımcı olabilirim?",
        "buttons": [
            {"title": "Puan durumum", "payload": "/check_loyalty"},
            {"title": "Şikâyet", "payload": "/complaint"},
            {"title": "Web sitemiz", "url": "https://example.com"},
        ],
    }])
    markup = message.reply_markup
    assert isinstance(markup, InlineKeyboardMarkup)
    buttons = [button for row in markup.inline_keyboard for button in row]
    assert [(b.text, b.callback_data, b.url) for b in buttons] == [
        ("Puan durumum", "/check_loyalty", None),
        ("Şikâyet", "/complaint", None),
        ("Web sitemiz", None, "https://example.com"),
    ]


def test_short_buttons_share_rows_long_ones_do_not() -> None:
    [scale] = render([{"text": "Puan?", "buttons": [{"title": str(i), "payload": f"/score{{\"s\":{i}}}"}
                                                    for i in range(1, 6)]}])
    assert isinstance(scale.reply_markup, InlineKeyboardMarkup)
    assert [len(row) for row in scale.reply_markup.inline_keyboard] == [5]
    [nps] = render([{"text": "0-10?", "buttons": [{"title": str(i), "payload": str(i)} for i in range(11)]}])
    assert isinstance(nps.reply_markup, InlineKeyboardMarkup)
    assert [len(row) for row in nps.reply_markup.inline_keyboard] == [4, 4, 3]
    [long] = render([{"text": "?", "buttons": [{"title": "Siparişimin kargo durumunu öğrenmek istiyorum",
                                                 "payload": "/track"}, {"title": "Hayır", "payload": "/deny"}]}])
    assert isinstance(long.reply_markup, InlineKeyboardMarkup)
    assert [len(row) for row in long.reply_markup.inline_keyboard] == [1, 1]


def test_payloads_longer_than_64_bytes_are_replaced_by_a_stable_short_key() -> None:
    payload = '/redeem_reward{"reward_id": 12, "idempotency_key": "tg-4242-523000001-redeem-confirmation"}'
    assert len(payload.encode()) > 64
    key = callback_data_for(payload)
    assert key == long_payload_key(payload) == callback_data_for(payload)
    assert key.startswith("~") and len(key.encode()) <= 64
    short = '/change_language{"target_language":"en"}'
    assert callback_data_for(short) == short
    # Multi-byte characters count in bytes: 40 Turkish letters are more than 64 bytes.
    assert callback_data_for("ş" * 40) != "ş" * 40
    messages = [{"text": "?", "buttons": [{"title": "Al", "payload": payload}, {"title": "Dil", "payload": short}]}]
    assert long_payloads(messages) == {key: payload}
    [rendered] = render(messages)
    assert isinstance(rendered.reply_markup, InlineKeyboardMarkup)
    assert [b.callback_data for row in rendered.reply_markup.inline_keyboard for b in row] == [key, short]


def test_request_contact_keyboard_attaches_to_the_question() -> None:
    messages = render([
        {"text": "Sizi tanımam için numaranızı paylaşır mısınız?"},
        {"custom": {"request_contact": True}},
    ])
    assert len(messages) == 1
    markup = messages[0].reply_markup
    assert isinstance(markup, ReplyKeyboardMarkup)
    [[button]] = markup.keyboard
    assert button.text == "📱 Numaramı paylaş / Share my number"
    assert button.request_contact is True
    assert markup.one_time_keyboard and markup.resize_keyboard


def test_request_contact_alone_gets_its_own_prompt_and_never_overrides_inline_buttons() -> None:
    alone = render([{"custom": {"request_contact": True}}], language="en")
    assert [m.text for m in alone] == ["Tap the button below to share your number."]
    assert isinstance(alone[0].reply_markup, ReplyKeyboardMarkup)
    with_buttons = render([
        {"text": "Seçin", "buttons": [{"title": "A", "payload": "/a"}]},
        {"custom": {"request_contact": True}},
    ], language="tr")
    assert isinstance(with_buttons[0].reply_markup, InlineKeyboardMarkup)
    assert isinstance(with_buttons[1].reply_markup, ReplyKeyboardMarkup)
    assert with_buttons[1].text == "Numaranızı paylaşmak için aşağıdaki düğmeye dokunun."


def test_after_a_contact_share_the_first_plain_reply_removes_the_keyboard() -> None:
    messages = render(
        [{"text": "Seçin", "buttons": [{"title": "A", "payload": "/a"}]}, {"text": "Teşekkürler"}],
        remove_reply_keyboard=True,
    )
    assert isinstance(messages[0].reply_markup, InlineKeyboardMarkup)
    assert isinstance(messages[1].reply_markup, ReplyKeyboardRemove)
    # ...unless the answer asks for the number again.
    again = render([{"text": "Tekrar?"}, {"custom": {"request_contact": True}}], remove_reply_keyboard=True)
    assert isinstance(again[0].reply_markup, ReplyKeyboardMarkup)


def test_images_become_photos_with_caption_when_it_fits() -> None:
    [photo] = render([{"text": "Kuponunuz <%20>", "image": "https://cdn.example/c.png"}])
    assert photo.kind == "photo" and photo.photo == "https://cdn.example/c.png"
    assert parse_html(photo.text or "") == "Kuponunuz <%20>"
    long_caption = render([{"text": "x " * 700, "image": "https://cdn.example/c.png",
                            "buttons": [{"title": "Tamam", "payload": "/affirm"}]}])
    assert [m.kind for m in long_caption] == ["photo", "text"]
    assert long_caption[0].text is None
    assert isinstance(long_caption[1].reply_markup, InlineKeyboardMarkup)


def test_buttons_without_text_still_render_and_empty_messages_are_dropped() -> None:
    messages = render([{"text": ""}, {"buttons": [{"title": "Evet", "payload": "/affirm"}]}, {"custom": {}}])
    assert [m.text for m in messages] == [rendering.EMPTY_TEXT_WITH_BUTTONS]


def test_rendering_is_deterministic() -> None:
    messages = [{"text": "a" * 5000, "buttons": [{"title": "x", "payload": "/x" + "y" * 80}]},
                {"custom": {"request_contact": True}}]
    assert render(messages) == render(messages)
