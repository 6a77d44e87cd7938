"""The console in a real headless Chromium (Debian's package, never a downloaded browser) via Playwright.

The console runs under uvicorn on 127.0.0.1 with a real migrated database; Rasa's HTTP API and Telegram's
Bot API are real HTTP stand-ins on 127.0.0.1. Screenshots go to docs/screenshots/console-*.png.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.console.conftest import PASSWORD, Seeded, ThreadedServer, Tracker, seed_conversation
from tests.console.rasa_events_stub import RasaEventsStub
from tests.fakes.telegram_api import FakeTelegramAPI

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# The UI is the same on both databases; the data paths are covered on both by the other console tests.
pytestmark = [pytest.mark.browser, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]


@pytest.fixture(scope="module")
def chromium_path() -> str:
    if CHROMIUM is None:
        if IN_CI:
            pytest.fail("chromium is required in CI (apt-get install -y chromium chromium-driver)")
        pytest.skip("chromium is not installed (apt-get install -y chromium chromium-driver)")
    return CHROMIUM


class ConsoleServer:
    def __init__(self) -> None:
        import uvicorn

        from bot.console.app import create_console_app

        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.server = uvicorn.Server(
            uvicorn.Config(create_console_app(standalone=True), log_level="warning", lifespan="off")
        )
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ConsoleServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("console server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.socket.close()


@pytest.fixture
def stack(tracker: Tracker, staff_users: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    from bot.settings import get_settings

    def store(sender: str, events: list[dict[str, Any]]) -> None:
        for event in events:
            getattr(tracker, event["event"])(sender)

    rasa = RasaEventsStub("browser-token", on_events=store)
    telegram = FakeTelegramAPI()
    with ThreadedServer(rasa), ThreadedServer(telegram):
        monkeypatch.setenv("RASA_PORT", str(rasa.port))
        monkeypatch.setenv("RASA_TOKEN", "browser-token")
        monkeypatch.setenv("TELEGRAM_TOKEN", telegram.token)
        monkeypatch.setenv("TELEGRAM_BASE_URL", telegram.base_url)
        get_settings.cache_clear()
        seeded = seed_conversation(tracker)
        telegram.user(seeded.chat_id)
        for n, (text, intent) in enumerate(
            [
                ("puanım ne kadar", "check_points"),
                ("kampanya var mı", "ask_offers"),
                ("iade süresi kaç gün", "ask_refund"),
            ]
        ):
            tracker.turn(f"tg-{7000 + n}", text, intent, "Tabii, hemen bakıyorum.", confidence=0.9 - n * 0.2)
        with ConsoleServer() as console:
            yield {"url": console.url, "seeded": seeded, "rasa": rasa, "telegram": telegram}


@pytest.fixture
def browser(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=chromium_path,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield instance
        instance.close()


def _page(browser: Any) -> Any:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="tr-TR", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


def _login(page: Any, base: str, email: str) -> None:
    page.goto(f"{base}/console/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"console-{name}.png"), full_page=False)


def test_login_page_and_language_toggle(stack: dict[str, Any], browser: Any) -> None:
    page = _page(browser)
    page.goto(f"{stack['url']}/console/login")
    assert page.locator("h1").inner_text() == "Giriş yap"
    _shot(page, "login")
    page.click("text=English")
    assert page.locator("h1").inner_text() == "Sign in"
    page.fill("input[name=email]", "ayse@memnun.test")
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    assert "Wrong e-mail or password." in page.locator(".alert").inner_text()


def test_agent_reviews_corrects_exports_and_takes_over(stack: dict[str, Any], browser: Any) -> None:
    from bot.services import handover

    seeded: Seeded = stack["seeded"]
    base = stack["url"]
    page = _page(browser)
    _login(page, base, "ayse@memnun.test")
    assert page.url.endswith("/console/conversations")
    rows = page.locator("[data-testid=conversation-table] tbody tr")
    assert rows.count() == 5
    _shot(page, "conversations")

    # Filter through htmx: only the web conversation remains, the URL follows.
    page.select_option("[data-testid=filter-channel]", "web")
    page.wait_for_function("document.querySelectorAll('[data-testid=conversation-table] tbody tr').length === 1")
    assert "channel=web" in page.url
    page.select_option("[data-testid=filter-channel]", "")
    page.select_option("[data-testid=filter-problem]", "fallback")
    page.wait_for_function("document.querySelectorAll('[data-testid=conversation-table] tbody tr').length === 1")
    page.click(f"a.conv-link[href$='{seeded.sender_id}']")
    page.wait_for_load_state("networkidle")
    transcript = page.locator("[data-testid=transcript]")
    assert "SP1234567 siparişim nerede" in transcript.inner_text()
    # The customer's <script> is text on the page, not a script that ran.
    assert "<script>alert('xss')</script> paket ezik geldi" in transcript.inner_text()
    assert page.evaluate("document.querySelectorAll('[data-testid=transcript] script').length") == 0

    # Tag it.
    page.fill("[data-testid=tag-input]", "kargo")
    page.click("[data-testid=tag-submit]")
    page.wait_for_selector("[data-testid=tags] >> text=#kargo")

    # Correct the fallback turn's intent.
    turn = page.locator(f"#e{seeded.user_event_ids['fallback']}")
    turn.locator("summary").click()
    turn.locator("[data-testid=correct-input]").fill("complain")
    turn.locator("[data-testid=correct-submit]").click()
    page.wait_for_selector(f"#e{seeded.user_event_ids['fallback']} [data-testid=corrected-intent]")
    _shot(page, "transcript")

    # Export the corrections as NLU YAML.
    page.goto(f"{base}/console/review/corrections")
    with page.expect_download() as download_info:
        page.click("[data-testid=export-yaml]")
    data = yaml.safe_load(Path(download_info.value.path()).read_text(encoding="utf-8"))
    assert data["nlu"][0]["intent"] == "complain" and "kargom hala yok ne iş" in data["nlu"][0]["examples"]
    page.goto(f"{base}/console/review")
    _shot(page, "review-queue")

    # A customer asks for a person: it shows up live, the agent takes it and writes.
    handover.request_handover(seeded.sender_id, "customer_request")
    page.goto(f"{base}/console/live")
    page.wait_for_selector(f"[data-testid='waiting-{seeded.sender_id}']")
    _shot(page, "live")
    page.click(f"[data-testid='waiting-{seeded.sender_id}']")
    page.click("[data-testid=take]")
    page.wait_for_selector("[data-testid=held-by-me]")
    assert stack["rasa"].events_for(seeded.sender_id) == ["pause"]
    page.fill("[data-testid=reply-text]", "Merhaba, ben Ayşe; paketinizi hemen inceliyorum.")
    page.click("[data-testid=reply-send]")
    telegram: FakeTelegramAPI = stack["telegram"]
    deadline = time.monotonic() + 10
    while not any("paketinizi hemen inceliyorum" in t for t in telegram.texts(seeded.chat_id)):
        assert time.monotonic() < deadline, telegram.texts(seeded.chat_id)
        time.sleep(0.05)
    page.wait_for_selector("#transcript >> text=paketinizi hemen inceliyorum")
    _shot(page, "takeover")
    page.click("[data-testid=release]")
    page.wait_for_selector("[data-testid=take]")
    assert stack["rasa"].events_for(seeded.sender_id) == ["pause", "resume"]


def test_marketer_sees_charts_creates_a_campaign_and_no_transcripts(stack: dict[str, Any], browser: Any) -> None:
    base = stack["url"]
    page = _page(browser)
    _login(page, base, "zeynep@memnun.test")
    assert page.url.endswith("/console/analytics")
    page.wait_for_function("document.querySelectorAll('canvas[data-chart][data-rendered=\"1\"]').length >= 8")
    rendered = page.evaluate("[...document.querySelectorAll('canvas[data-chart]')].map(c => c.dataset.chart)")
    assert {"conversations_by_channel", "outcomes", "top_intents", "fallback_rate", "csat", "nps", "tiers"} <= set(
        rendered
    )
    _shot(page, "analytics")

    page.goto(f"{base}/console/campaigns/new")
    page.fill("input[name=name]", "Gümüş üyelere memnuniyet")
    page.select_option("select[name=survey_type]", "csat")
    page.fill("textarea[name=template_tr]", "Merhaba {first_name}, son deneyiminizi 1-5 arası puanlar mısınız?")
    page.fill("textarea[name=template_en]", "Hi {first_name}, how would you rate your last visit (1-5)?")
    page.fill("input[name=run_at]", "2099-05-01T10:00")
    page.click("[data-testid=campaign-submit]")
    page.wait_for_selector("[data-testid=campaign-status]")
    assert page.locator("[data-testid=campaign-status]").inner_text() == "draft"
    _shot(page, "campaign")

    denied = page.goto(f"{base}/console/conversations/{stack['seeded'].sender_id}")
    assert denied is not None and denied.status == 403
    assert "SP1234567" not in page.content()


def test_admin_pages(stack: dict[str, Any], browser: Any) -> None:
    base = stack["url"]
    page = _page(browser)
    _login(page, base, "admin@memnun.test")
    page.goto(f"{base}/console/admin/users")
    assert page.locator("[data-testid=user-table] tbody tr").count() == 4
    _shot(page, "users")
    page.goto(f"{base}/console/tickets/{stack['seeded'].ticket_ref}")
    _shot(page, "ticket")
    page.goto(f"{base}/console/admin/audit")
    assert "console.login" in page.locator("[data-testid=audit-table]").inner_text()
