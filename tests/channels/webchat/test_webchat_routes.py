"""The chat page, its assets and its JSON API through FastAPI's TestClient (Rasa = the socket stand-in)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.channels.webchat import routes as webchat_routes
from bot.channels.webchat.routes import VENDOR_FILES
from bot.services import web_inbox
from bot.settings import Settings, get_settings
from tests.channels.webchat.fake_rasa import FakeRasa
from tests.channels.webchat.live_server import free_port
from tests.channels.webchat.support import make_chat_app, new_session_id
from tests.conftest import IN_CI


@pytest.fixture
def client() -> TestClient:
    return TestClient(make_chat_app(stream_poll_interval_s=0.05, stream_lifetime_s=0.6, stream_heartbeat_s=0.2))


def _page_config(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="memnun-chat-config">(.*?)</script>', html, re.S)
    assert match, "the page embeds its configuration as a JSON data block"
    return json.loads(match.group(1))


def test_page_renders_turkish_first_with_socket_config(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASA_HOST", "127.0.0.1")
    monkeypatch.setenv("RASA_PORT", "5999")
    monkeypatch.delenv("WEBCHAT_SOCKET_URL", raising=False)
    get_settings.cache_clear()

    response = client.get("/chat")
    assert response.status_code == 200
    html = response.text
    assert '<html lang="tr">' in html
    config = _page_config(html)
    assert config["socketUrls"] == ["http://127.0.0.1:5999"]
    assert config["socketPath"] == "/socket.io"
    assert config["apiBase"] == "/chat/api"
    assert config["strings"]["tr"]["offline"] == "Bağlantı koptu, yeniden bağlanıyor…"
    assert config["strings"]["en"]["agent_label"] == "Support agent"

    # Accessibility basics are in the markup itself.
    assert re.search(r'role="log"[^>]*aria-live="polite"', html)
    assert '<label class="visually-hidden" for="chat-input" data-i18n="input_label">Mesajınız</label>' in html
    assert 'role="status"' in html
    assert re.search(r'<button type="submit"[^>]*aria-label="Gönder"', html)
    assert 'aria-pressed="true">TR</button>' in html

    # No inline code, no CDN: the policy allows only our origin and the Rasa socket.
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "connect-src 'self' http://127.0.0.1:5999 ws://127.0.0.1:5999" in csp
    assert "cdn" not in html.lower()
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert [s.split("?")[0] for s in scripts] == ["/chat/static/vendor/socket.io.min.js", "/chat/static/chat.js"]


def test_page_in_english_and_public_socket_url(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBCHAT_SOCKET_URL", "https://chat.memnun.example/")
    get_settings.cache_clear()
    response = client.get("/chat", params={"lang": "en"})
    html = response.text
    assert '<html lang="en">' in html
    assert "Your message" in html and 'placeholder="Type your message…"' in html
    config = _page_config(html)
    assert config["defaultLanguage"] == "en" and config["languageFromUrl"] is True
    assert config["socketUrls"] == ["https://chat.memnun.example"]
    assert "wss://chat.memnun.example" in response.headers["content-security-policy"]
    # An unknown language falls back to Turkish.
    assert '<html lang="tr">' in client.get("/chat", params={"lang": "de"}).text


def test_static_assets_are_versioned_and_confined(client: TestClient) -> None:
    html = client.get("/chat").text
    js_url = re.search(r'<script src="(/chat/static/chat\.js\?v=[0-9a-f]{12})"', html).group(1)  # type: ignore[union-attr]
    css_url = re.search(r'href="(/chat/static/chat\.css\?v=[0-9a-f]{12})"', html).group(1)  # type: ignore[union-attr]

    js = client.get(js_url)
    assert js.status_code == 200
    assert js.headers["content-type"].startswith("text/javascript")
    assert "immutable" in js.headers["cache-control"]
    # Bot and user text only ever go through textContent / text nodes.
    assert not re.search(r"\.(inner|outer)HTML\s*=|insertAdjacentHTML|document\.write", js.text)
    css = client.get(css_url)
    assert css.headers["content-type"].startswith("text/css")
    assert "prefers-reduced-motion" in css.text
    # Unversioned or stale URLs revalidate instead of being cached forever.
    assert client.get("/chat/static/chat.js?v=old").headers["cache-control"] == "no-cache"

    for path in (
        "/chat/static/../routes.py",
        "/chat/static/%2e%2e/routes.py",
        "/chat/static/vendor/package.json",
        "/chat/static/nope.js",
    ):
        assert client.get(path).status_code == 404, path


def test_socket_io_client_is_served_locally(client: TestClient) -> None:
    if not VENDOR_FILES["socket.io.min.js"].exists():
        message = "run `npm ci` in bot/channels/webchat (./memnun setup does it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    response = client.get("/chat/static/vendor/socket.io.min.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "Socket.IO v4" in response.text[:200]


def test_history_reads_the_rasa_tracker(migrated_db: str, fake_rasa: FakeRasa, client: TestClient) -> None:
    visitor = new_session_id()
    now = time.time()
    fake_rasa.events[visitor] = [
        {"event": "action", "timestamp": now - 60, "name": "action_session_start"},
        {
            "event": "user",
            "timestamp": now - 50,
            "text": "merhaba",
            "metadata": {"channel": "web", "client_message_id": "m1"},
        },
        {
            "event": "bot",
            "timestamp": now - 49,
            "text": "Merhaba! Size nasıl yardımcı olabilirim?",
            "data": {"buttons": [{"title": "Sadakat puanım", "payload": "/loyalty_status"}]},
            "metadata": {},
        },
        {
            "event": "user",
            "timestamp": now - 40,
            "text": "/loyalty_status",
            "metadata": {"channel": "web", "client_message_id": "m2", "display_text": "Sadakat puanım"},
        },
        # The same message re-sent after a lost acknowledgement: shown once.
        {
            "event": "user",
            "timestamp": now - 39,
            "text": "/loyalty_status",
            "metadata": {"channel": "web", "client_message_id": "m2", "display_text": "Sadakat puanım"},
        },
        {"event": "bot", "timestamp": now - 38, "text": "Gold üyesiniz.", "data": {}, "metadata": {}},
        {
            "event": "bot",
            "timestamp": now - 37,
            "text": None,
            "data": {"image": "https://cdn.example/kart.png"},
            "metadata": {},
        },
        # A language switch and an externally triggered intent are bookkeeping, not conversation.
        {
            "event": "user",
            "timestamp": now - 30,
            "text": '/change_language{"target_language":"en"}',
            "metadata": {"channel": "web", "client_message_id": "m3", "silent": True},
        },
        {"event": "user", "timestamp": now - 20, "text": "EXTERNAL: checkin_csat", "metadata": {}},
        {
            "event": "bot",
            "timestamp": now - 19,
            "text": "How satisfied were you?",
            "data": {"buttons": [{"title": "5", "payload": '/csat{"score":5}'}]},
            "metadata": {},
        },
        {"event": "slot", "timestamp": now - 18, "name": "language", "value": "en"},
    ]
    checkin = web_inbox.post_to_web(visitor, [{"text": "Temsilciniz: siparişiniz yolda."}], "agent", "a:1")
    web_inbox.mark_delivered(checkin.ids, sender_id=visitor)
    web_inbox.post_to_web(visitor, [{"text": "henüz gösterilmedi"}], "agent", "a:2")

    response = client.get("/chat/api/history", params={"session": visitor})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    messages = response.json()["messages"]
    visible = [(m["role"], m["text"]) for m in messages]
    assert visible == [
        ("user", "merhaba"),
        ("bot", "Merhaba! Size nasıl yardımcı olabilirim?"),
        ("user", "Sadakat puanım"),
        ("bot", "Gold üyesiniz."),
        ("bot", None),
        ("bot", "How satisfied were you?"),
        ("bot", "Temsilciniz: siparişiniz yolda."),
    ]
    assert messages[0]["id"] == "c-m1"
    assert messages[1]["chosen"] == "/loyalty_status" and messages[1]["buttonsActive"] is False
    assert messages[4]["image"] == "https://cdn.example/kart.png"
    # Only the question still waiting for an answer keeps live buttons.
    assert messages[5]["buttonsActive"] is True
    assert messages[6]["source"] == "agent" and messages[6]["inboxId"] == checkin.ids[0]

    assert client.get("/chat/api/history", params={"session": visitor, "limit": 2}).json()["messages"][0]["text"] == (
        "How satisfied were you?"
    )


def test_history_errors(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    assert client.get("/chat/api/history", params={"session": "tg-1"}).status_code == 400
    assert client.get("/chat/api/history").status_code == 422

    monkeypatch.setenv("RASA_PORT", str(free_port()))  # nothing listens there
    get_settings.cache_clear()
    response = client.get("/chat/api/history", params={"session": new_session_id()})
    assert response.status_code == 503
    assert response.json() == {"error": "rasa_unavailable"}


def test_history_with_a_wrong_rasa_token(
    migrated_db: str, fake_rasa: FakeRasa, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RASA_TOKEN", "not-the-token")
    get_settings.cache_clear()
    response = client.get("/chat/api/history", params={"session": new_session_id()})
    assert response.status_code == 502


def test_inbox_fetch_and_acknowledge(migrated_db: str, client: TestClient) -> None:
    visitor, other = new_session_id(), new_session_id()
    posted = web_inbox.post_to_web(
        visitor,
        [
            {"text": "Merhaba, ben temsilciniz Deniz."},
            {"text": "Memnun kaldınız mı?", "buttons": [{"title": "Evet", "payload": "/affirm"}]},
        ],
        "agent",
        "agent-msg:55",
    )
    others = web_inbox.post_to_web(other, [{"text": "başka ziyaretçi"}], "checkin", "checkin:9")

    response = client.get("/chat/api/inbox", params={"session": visitor})
    assert response.status_code == 200
    items = response.json()["messages"]
    assert [m["inboxId"] for m in items] == list(posted.ids)
    assert items[0] == {
        "id": f"i-{posted.ids[0]}",
        "inboxId": posted.ids[0],
        "role": "bot",
        "source": "agent",
        "text": "Merhaba, ben temsilciniz Deniz.",
        "buttons": [],
        "image": None,
        "ts": items[0]["ts"],
        "buttonsActive": False,
        "chosen": None,
    }
    assert items[1]["buttons"] == [{"title": "Evet", "payload": "/affirm"}]

    # Acknowledging someone else's ids does nothing.
    ack = client.post("/chat/api/inbox/ack", json={"session": visitor, "ids": list(others.ids)})
    assert ack.json() == {"acknowledged": 0}
    assert len(client.get("/chat/api/inbox", params={"session": other}).json()["messages"]) == 1

    ack = client.post("/chat/api/inbox/ack", json={"session": visitor, "ids": list(posted.ids)})
    assert ack.status_code == 200 and ack.json() == {"acknowledged": 2}
    assert client.get("/chat/api/inbox", params={"session": visitor}).json()["messages"] == []

    assert client.post("/chat/api/inbox/ack", json={"session": "web-x", "ids": [1]}).status_code == 400
    assert client.post("/chat/api/inbox/ack", json={"session": visitor, "ids": [-1]}).status_code == 400
    assert client.post("/chat/api/inbox/ack", data={"session": visitor}).status_code == 422


def _sse_events(body: str) -> list[tuple[str, str]]:
    events = []
    for block in body.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if "event" in fields:
            events.append((fields["event"], fields.get("data", "")))
    return events


def test_inbox_stream_pushes_pending_messages(migrated_db: str, client: TestClient) -> None:
    visitor = new_session_id()
    posted = web_inbox.post_to_web(visitor, [{"text": "Kargonuz yarın geliyor."}], "agent", "agent-msg:stream")

    with client.stream("GET", "/chat/api/inbox/stream", params={"session": visitor}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        body = "".join(response.iter_text())
    assert body.startswith("retry: 2000")
    events = _sse_events(body)
    # Sent once per stream, not on every poll, although it stays pending until acknowledged.
    assert [name for name, _ in events] == ["inbox"]
    assert json.loads(events[0][1])["messages"][0]["inboxId"] == posted.ids[0]
    assert ": keep-alive" in body
    assert [m.id for m in web_inbox.pending_for(visitor)] == list(posted.ids)

    assert client.get("/chat/api/inbox/stream", params={"session": "web-1"}).status_code == 400


def test_chat_slash_redirects(client: TestClient) -> None:
    response = client.get("/chat/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"].endswith("/chat")


def test_several_rasa_processes_are_all_offered_to_the_widget(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RASA_HOST", "127.0.0.1")
    monkeypatch.setenv("RASA_PORT", "5999")
    monkeypatch.setenv("RASA_INSTANCES", "3")
    monkeypatch.delenv("WEBCHAT_SOCKET_URL", raising=False)
    get_settings.cache_clear()
    response = client.get("/chat")
    config = _page_config(response.text)
    assert config["socketUrls"] == ["http://127.0.0.1:5999", "http://127.0.0.1:6000", "http://127.0.0.1:6001"]
    csp = response.headers["content-security-policy"]
    for port in (5999, 6000, 6001):
        assert f"ws://127.0.0.1:{port}" in csp


@pytest.mark.skipif(shutil.which("node") is None, reason="node is needed to run the widget's JavaScript")
def test_widget_routes_a_session_to_the_same_process_as_the_services() -> None:
    """The widget's CRC-32 (chat.js) must pick the Rasa process Settings.rasa_url_for picks."""
    source = (Path(webchat_routes.STATIC_DIR) / "chat.js").read_text(encoding="utf-8")
    functions = "".join(
        source[source.index(f"  function {name}("): source.index("\n  }\n", source.index(f"  function {name}(")) + 4]
        for name in ("crc32", "pickSocketUrl")
    )
    sessions = ["web-" + str(uuid.UUID(int=i * 7919)) for i in range(40)] + ["web-çğüşöı-İ"]
    urls = [f"http://127.0.0.1:{5005 + i}" for i in range(3)]
    script = functions + f"\nconst urls = {json.dumps(urls)};\n" + (
        f"console.log(JSON.stringify({json.dumps(sessions)}.map(s => pickSocketUrl(urls, s))));"
    )
    completed = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30, check=True)
    picked = json.loads(completed.stdout)
    settings = Settings(rasa_host="127.0.0.1", rasa_port=5005, rasa_instances=3)
    assert picked == [settings.rasa_url_for(session) for session in sessions]
    assert len(set(picked)) == 3  # the sessions really spread over the processes
