"""The chat page in a real headless Chromium, against our web app and a real socket.io Rasa stand-in.

What a visitor does: converse in Turkish, answer with a quick-reply button, reload and find the
conversation again, switch to English, receive a support agent's message, lose the connection and keep
typing; on a desktop and on a 360px-wide phone, by mouse and by keyboard. Screenshots land in
docs/screenshots/ for the documentation (and for a person to look at).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from bot.services import web_inbox
from tests.channels.webchat.browser import PHONE_VIEWPORT
from tests.channels.webchat.fake_rasa import FakeRasa
from tests.channels.webchat.live_server import LiveServer

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"


def wait_until(condition: Callable[[], Any], timeout_s: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def open_chat(page: Page, server: LiveServer, rasa: FakeRasa, query: str = "") -> str:
    """Open /chat and wait until the page has joined its Rasa session; returns the session id."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{server.url}/chat{query}")
    session_id = page.evaluate("() => localStorage.getItem('memnun.webchat.session')")
    assert session_id and web_inbox.is_web_sender(session_id)
    wait_until(lambda: session_id in rasa.session_requests, what="session_request")
    assert errors == []
    return str(session_id)


def send(page: Page, text: str) -> None:
    page.get_by_label("Mesajınız").or_(page.get_by_label("Your message")).fill(text)
    page.keyboard.press("Enter")


def bubbles(page: Page, role: str) -> list[str]:
    return page.locator(f".msg--{role}:not([data-welcome]) .msg__bubble").all_inner_texts()


def test_conversation_buttons_reload_language_and_inbox(
    chat_server: LiveServer, fake_rasa: FakeRasa, browser_context: Any
) -> None:
    page = browser_context.new_page()
    session_id = open_chat(page, chat_server, fake_rasa)

    # -- accessibility basics -----------------------------------------------------------------------------
    log = page.get_by_role("log", name="Sohbet geçmişi")
    expect(log).to_have_attribute("aria-live", "polite")
    textbox = page.get_by_role("textbox", name="Mesajınız")
    expect(textbox).to_be_focused()  # desktop: ready to type
    expect(page.get_by_role("button", name="Gönder")).to_be_visible()
    expect(page.get_by_role("group", name="Dil seçimi")).to_be_visible()
    expect(page.get_by_role("button", name="Türkçe")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("group", name="Önerilen sorular")).to_be_visible()
    snapshot = page.locator("body").aria_snapshot()
    assert 'log "Sohbet geçmişi"' in snapshot and 'textbox "Mesajınız"' in snapshot

    # -- Turkish conversation with a quick reply ----------------------------------------------------------
    send(page, "merhaba")
    expect(page.locator(".msg--user .msg__bubble").last).to_have_text("merhaba")
    expect(page.locator("#chat-typing")).to_be_visible()
    expect(page.locator(".msg--bot .msg__bubble").last).to_have_text("Merhaba! Size nasıl yardımcı olabilirim?")
    expect(page.locator("#chat-typing")).to_be_hidden()
    expect(page.get_by_role("group", name="Önerilen sorular")).to_have_count(0)
    first = fake_rasa.received[0]
    assert first["message"] == "merhaba" and first["session_id"] == session_id
    assert first["metadata"]["channel"] == "web" and first["metadata"]["language_hint"] == "tr"
    assert first["metadata"]["client_message_id"]

    quick_replies = page.get_by_role("group", name="Hızlı yanıtlar")
    page.get_by_role("button", name="Sadakat puanım").click()
    expect(page.locator(".msg--user .msg__bubble").last).to_have_text("Sadakat puanım")
    expect(quick_replies.get_by_role("button")).to_have_count(2)
    for button in quick_replies.get_by_role("button").all():
        expect(button).to_be_disabled()
    expect(textbox).to_be_focused()  # focus is not lost with the disabled button
    loyalty = page.locator(".msg--bot .msg__bubble", has_text="üyesiniz")
    expect(loyalty).to_be_visible()
    expect(loyalty.locator("strong")).to_have_text("Gold")
    link = loyalty.get_by_role("link")
    expect(link).to_have_attribute("href", "https://memnun.example/sadakat")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    card = page.get_by_role("img", name="Asistanın gönderdiği görsel")
    expect(card).to_be_visible()
    wait_until(lambda: card.evaluate("img => img.complete && img.naturalWidth > 0"), what="image loaded")
    button_message = fake_rasa.received[1]
    assert button_message["message"] == "/loyalty_status"
    assert button_message["metadata"]["display_text"] == "Sadakat puanım"

    page.screenshot(path=str(SCREENSHOTS / "webchat-tr.png"))

    # -- reload: the conversation comes back from the Rasa tracker (local copy removed first) ------------
    page.evaluate(f"() => localStorage.removeItem('memnun.webchat.history.{session_id}')")
    page.reload()
    wait_until(lambda: fake_rasa.session_requests.count(session_id) >= 2, what="second session_request")
    expect(page.locator(".msg--user .msg__bubble")).to_have_text(["merhaba", "Sadakat puanım"])
    expect(page.get_by_role("button", name="Sadakat puanım")).to_be_disabled()
    expect(page.get_by_role("button", name="Sadakat puanım")).to_have_class("chip is-chosen")
    expect(page.get_by_role("img", name="Asistanın gönderdiği görsel")).to_be_visible()
    assert len(fake_rasa.user_texts(session_id)) == 2  # nothing was sent again by the reload

    # -- switch to English ------------------------------------------------------------------------------
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("button", name="English")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("textbox", name="Your message")).to_have_attribute("placeholder", "Type your message…")
    expect(page.get_by_role("log", name="Conversation")).to_be_visible()
    expect(page.locator(".msg--bot .msg__bubble").last).to_have_text("Sure, let's continue in English.")
    switch = fake_rasa.received[-1]
    assert switch["message"] == '/change_language{"target_language":"en"}'
    assert switch["metadata"]["silent"] is True
    assert "change_language" not in " ".join(bubbles(page, "user"))

    send(page, "hello")
    expect(page.locator(".msg--bot .msg__bubble").last).to_have_text("Hello! How can I help you today?")
    expect(page.get_by_role("button", name="Track my order")).to_be_enabled()
    assert fake_rasa.received[-1]["metadata"]["language_hint"] == "en"

    # -- a support agent writes through the web inbox (human takeover) -----------------------------------
    posted = web_inbox.post_to_web(
        session_id,
        [{"text": "Hello, this is Deniz from Memnun support. I'm checking your order now."}],
        source="agent",
        idempotency_key="agent-msg:browser-1",
    )
    agent = page.locator(".msg--agent")
    expect(agent.locator(".msg__sender")).to_have_text("Support agent")
    expect(agent.locator(".msg__bubble")).to_have_text(
        "Hello, this is Deniz from Memnun support. I'm checking your order now."
    )
    wait_until(lambda: web_inbox.pending_for(session_id) == [], what="inbox acknowledged")
    assert [m.id for m in web_inbox.delivered_for(session_id)] == list(posted.ids)
    page.screenshot(path=str(SCREENSHOTS / "webchat-en.png"))

    # Reloading shows the agent's message once (from the server's history), not again as new.
    page.reload()
    expect(page.locator(".msg--agent")).to_have_count(1)
    expect(page.locator("html")).to_have_attribute("lang", "en")

    # Markup in a bot response is shown as text; a javascript: link stays plain text.
    send(page, "html test")
    markup = page.locator(".msg--bot .msg__bubble", has_text="onerror")
    expect(markup).to_have_text('<img src=x onerror="window.__pwned=1"> [click](javascript:window.__pwned=2)')
    expect(markup.locator("img, a")).to_have_count(0)
    # So is markup the visitor types.
    send(page, "<b>kalın</b>")
    expect(page.locator(".msg--user .msg__bubble").last).to_have_text("<b>kalın</b>")
    expect(page.locator(".msg--user .msg__bubble b")).to_have_count(0)
    assert page.evaluate("() => window.__pwned") is None


def test_connection_loss_queues_messages_and_sends_them_once(
    chat_server: LiveServer, fake_rasa: FakeRasa, browser_context: Any
) -> None:
    page = browser_context.new_page()
    session_id = open_chat(page, chat_server, fake_rasa)
    send(page, "merhaba")
    expect(page.locator(".msg--bot .msg__bubble").last).to_have_text("Merhaba! Size nasıl yardımcı olabilirim?")

    fake_rasa.stop()
    status = page.get_by_role("status").filter(has_text="Bağlantı")
    expect(status).to_have_text("Bağlantı koptu, yeniden bağlanıyor…")

    send(page, "siparişim nerede")
    queued = page.locator(".msg--user", has_text="siparişim nerede")
    expect(queued.locator(".msg__pending")).to_have_text("· Gönderilmeyi bekliyor")
    # The queue survives a reload while offline.
    page.reload()
    expect(page.get_by_role("status").filter(has_text="Bağlantı")).to_have_text("Bağlantı koptu, yeniden bağlanıyor…")
    expect(page.locator(".msg--user", has_text="siparişim nerede").locator(".msg__pending")).to_be_visible()

    fake_rasa.start()
    expect(page.get_by_role("status")).to_have_text("Bağlantı yeniden kuruldu.", timeout=20_000)
    expect(page.locator(".msg--bot .msg__bubble").last).to_contain_text("Bunu tam anlayamadım", timeout=10_000)
    expect(page.locator(".msg--user", has_text="siparişim nerede").locator(".msg__pending")).to_have_count(0)
    assert fake_rasa.user_texts(session_id) == ["merhaba", "siparişim nerede"]
    outbox = page.evaluate(f"() => localStorage.getItem('memnun.webchat.outbox.{session_id}')")
    assert outbox == "[]"
    # The "restored" notice goes away by itself (an empty status bar is not displayed at all).
    expect(page.locator("#chat-status")).to_be_empty(timeout=6_000)
    expect(page.locator("#chat-status")).to_be_hidden()


def test_phone_viewport_keyboard_and_motion(
    chat_server: LiveServer, fake_rasa: FakeRasa, chromium_browser: Any
) -> None:
    context = chromium_browser.new_context(
        viewport=PHONE_VIEWPORT,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="tr-TR",
        timezone_id="Europe/Istanbul",
        reduced_motion="reduce",
    )
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        open_chat(page, chat_server, fake_rasa)
        # Suggestion chips send their text, like typing it.
        page.get_by_role("button", name="Puanım ne kadar?").click()
        expect(page.locator(".msg--bot .msg__bubble").last).to_contain_text("Bunu tam anlayamadım")
        send(page, "selam")
        first_chip = page.get_by_role("button", name="Sadakat puanım")
        expect(first_chip).to_be_enabled()

        # Keyboard: a quick reply is reachable and shows a visible focus ring; Enter activates it.
        first_chip.focus()
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Tab")
        expect(first_chip).to_be_focused()
        outline = first_chip.evaluate("b => getComputedStyle(b).outlineStyle + ' ' + getComputedStyle(b).outlineWidth")
        assert outline == "solid 3px"
        page.keyboard.press("Enter")
        expect(page.locator(".msg--user .msg__bubble").last).to_have_text("Sadakat puanım")
        expect(page.get_by_role("img", name="Asistanın gönderdiği görsel")).to_be_visible()

        # Nothing is wider than the phone; composer and send button stay on screen and touch-sized.
        assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"]
        send_box = page.get_by_role("button", name="Gönder").bounding_box()
        assert send_box and send_box["x"] + send_box["width"] <= PHONE_VIEWPORT["width"]
        assert send_box["y"] + send_box["height"] <= PHONE_VIEWPORT["height"]
        assert send_box["width"] >= 44 and send_box["height"] >= 44
        # prefers-reduced-motion: no animation on new messages or the typing dots.
        assert page.locator(".msg").last.evaluate("m => getComputedStyle(m).animationName") == "none"
        page.wait_for_timeout(300)
        page.screenshot(path=str(SCREENSHOTS / "webchat-mobile.png"))
    finally:
        context.close()
