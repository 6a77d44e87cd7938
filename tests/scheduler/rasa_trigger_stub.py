"""A stand-in for Rasa's ``POST /conversations/<sender>/trigger_intent`` on 127.0.0.1 (real HTTP).

The outbox sender asks Rasa what to say for a check-in intent; this stub answers the way our domain does
(the text from the ``message_tr``/``message_en`` entity in the customer's language, score buttons for
surveys) and records every call. It runs in a thread with the standard library's HTTP server, so it keeps
answering while a test blocks on a subprocess (the kill -9 tests) and is usable from any event loop.

Faults: ``fail_next(count, status)`` answers server errors (Rasa down), ``reject_next(count)`` 4xx.
It checks the ``token`` query parameter like Rasa started with ``--auth-token``.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse


@dataclass(frozen=True)
class TriggerCall:
    sender: str
    intent: str
    entities: dict[str, Any]
    output_channel: str
    at: float


def checkin_messages(intent: str, entities: dict[str, Any]) -> list[dict[str, Any]]:
    """What our assistant says for each check-in intent (mirrors the domain's responses)."""
    language = entities.get("checkin_language") or "tr"
    text = entities.get(f"message_{language}") or entities.get("message_tr") or ""
    if intent == "EXTERNAL_csat_checkin":
        buttons = [{"title": "⭐" * score, "payload": f'/csat_score{{"score":{score}}}'} for score in range(5, 0, -1)]
        return [{"text": text, "buttons": buttons}]
    if intent == "EXTERNAL_nps_checkin":
        hint = "0 (hiç) - 10 (kesinlikle)" if language == "tr" else "0 (not at all) - 10 (extremely likely)"
        return [{"text": text}, {"text": hint}]
    if intent == "EXTERNAL_ticket_followup":
        yes, no = ("Evet", "Hayır") if language == "tr" else ("Yes", "No")
        return [{"text": text, "buttons": [{"title": yes, "payload": "/affirm"}, {"title": no, "payload": "/deny"}]}]
    return [{"text": text}]


class RasaTriggerStub:
    """``with RasaTriggerStub(token) as rasa: rasa.port``; ``rasa.calls`` lists what Rasa was asked."""

    def __init__(self, token: str = "test-rasa-token") -> None:  # noqa: S107 - a test token
        self.token = token
        self.calls: list[TriggerCall] = []
        self.attempts = 0
        self._fail: list[tuple[int, int]] = []  # (remaining, status)
        self._lock = threading.Lock()
        self.delay_s = 0.0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # one request per connection: no keep-alive races

            def log_message(self, *args: Any) -> None:  # quiet
                return

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                stub._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="rasa-trigger-stub", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RasaTriggerStub:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, count: int, status: int = 503) -> None:
        with self._lock:
            self._fail.append((count, status))

    def reject_next(self, count: int) -> None:
        self.fail_next(count, 400)

    def calls_for(self, sender: str) -> list[TriggerCall]:
        with self._lock:
            return [call for call in self.calls if call.sender == sender]

    def _reply(self, handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        url = urlparse(handler.path)
        query = parse_qs(url.query)
        parts = url.path.strip("/").split("/")
        with self._lock:
            self.attempts += 1
            failing = None
            if self._fail:
                remaining, status = self._fail[0]
                failing = status
                self._fail[0] = (remaining - 1, status)
                if remaining - 1 <= 0:
                    self._fail.pop(0)
        if failing is not None:
            self._reply(handler, failing, {"status": "failure", "message": "stub failure"})
            return
        if query.get("token", [""])[0] != self.token:
            self._reply(handler, 401, {"status": "failure", "reason": "NotAuthenticated"})
            return
        if len(parts) != 3 or parts[0] != "conversations" or parts[2] != "trigger_intent":
            self._reply(handler, 404, {"status": "failure"})
            return
        body = json.loads(raw or b"{}")
        sender = unquote(parts[1])
        intent = str(body.get("name") or "")
        entities = dict(body.get("entities") or {})
        if self.delay_s:
            time.sleep(self.delay_s)
        call = TriggerCall(sender, intent, entities, query.get("output_channel", [""])[0], time.monotonic())
        with self._lock:
            self.calls.append(call)
        messages = [{"recipient_id": sender, **m} for m in checkin_messages(intent, entities)]
        self._reply(handler, 200, {"tracker": {"sender_id": sender}, "messages": messages})
