"""A stand-in for the Rasa server, speaking exactly what the chat page relies on — over real sockets.

It is a real socket.io server (python-socketio) that behaves like Rasa 3.6's ``socketio`` input channel with
``session_persistence: true``: ``session_request`` joins the room of the session id and answers
``session_confirm``; ``user_uttered`` (``{"message", "session_id", "metadata"}``) is answered with
``bot_uttered`` events in the socket.io output channel's format (``quick_replies`` for buttons, an
``attachment`` for images) sent to that room, and the socket.io acknowledgement comes after the answers,
as Rasa's handler returns only once the message is processed. It also serves
``GET /conversations/{id}/tracker`` (token-checked) from the events it recorded, so the page's history
endpoint reads a tracker the way it reads Rasa's.

The "dialogue" is a short script in Turkish and English; the real assistant is tested end to end by the lead.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
from collections import defaultdict
from typing import Any

import socketio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.channels.webchat.live_server import LiveServer

TEST_RASA_TOKEN = "test-rasa-token"
CHANGE_LANGUAGE = re.compile(r'^/change_language\{"target_language":\s*"(tr|en)"\}$')

SCRIPT: dict[str, dict[str, Any]] = {
    "tr": {
        "greet": {
            "text": "Merhaba! Size nasıl yardımcı olabilirim?",
            "buttons": [
                {"title": "Sadakat puanım", "payload": "/loyalty_status"},
                {"title": "Sipariş takibi", "payload": "/order_status"},
            ],
        },
        "loyalty": "**Gold** üyesiniz ve 5.240 puanınız var. Ayrıntılar: https://memnun.example/sadakat",
        "order": "Sipariş numaranızı yazar mısınız? (örnek: SP1234567)",
        "language": "Tamam, Türkçe devam edelim.",
        "fallback": "Bunu tam anlayamadım. Sipariş, puan veya şikâyet konusunda yardımcı olabilirim.",
        # What a careless response template could contain: must show as text, never as markup or a link.
        "markup": '<img src=x onerror="window.__pwned=1"> [tıkla](javascript:window.__pwned=2)',
    },
    "en": {
        "greet": {
            "text": "Hello! How can I help you today?",
            "buttons": [
                {"title": "My loyalty points", "payload": "/loyalty_status"},
                {"title": "Track my order", "payload": "/order_status"},
            ],
        },
        "loyalty": "You are a **Gold** member with 5,240 points. Details: https://memnun.example/loyalty",
        "order": "Could you type your order number? (e.g. SP1234567)",
        "language": "Sure, let's continue in English.",
        "fallback": "Sorry, I didn't quite get that. I can help with orders, points or complaints.",
        "markup": '<img src=x onerror="window.__pwned=1"> [click](javascript:window.__pwned=2)',
    },
}


def _card_png() -> bytes:
    """A small loyalty-card picture, drawn here so the test needs no files or network."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (320, 120), (17, 118, 111))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((12, 12, 308, 108), radius=14, outline=(232, 102, 79), width=4)
    draw.text((28, 30), "MEMNUN GOLD", fill=(255, 255, 255))
    draw.text((28, 62), "5.240", fill=(255, 210, 122))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


class FakeRasa:
    """Scripted Rasa stand-in; ``received`` holds every ``user_uttered`` payload in arrival order."""

    def __init__(self, token: str | None = None, reply_delay_s: float = 0.4) -> None:
        self.token = token or TEST_RASA_TOKEN
        self.reply_delay_s = reply_delay_s
        self.events: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.received: list[dict[str, Any]] = []
        self.language: dict[str, str] = {}
        self.session_requests: list[str] = []
        self._card = _card_png()
        self.server = LiveServer(app_factory=self._build_app)

    # -- lifecycle ---------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    def start(self) -> FakeRasa:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def user_texts(self, sender_id: str) -> list[str]:
        return [e["text"] for e in self.events[sender_id] if e["event"] == "user"]

    # -- the dialogue -----------------------------------------------------------------------------
    def _answer(self, sender_id: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        match = CHANGE_LANGUAGE.match(text)
        if match:
            self.language[sender_id] = match.group(1)
            return [{"text": SCRIPT[match.group(1)]["language"]}]
        language = self.language.get(sender_id) or metadata.get("language_hint") or "tr"
        script = SCRIPT[language]
        lowered = text.lower()
        if re.search(r"\b(merhaba|selam|hello|hi)\b", lowered):
            return [dict(script["greet"])]
        if text == "/loyalty_status":
            return [{"text": script["loyalty"]}, {"image": f"{self.url}/media/gold-card.png"}]
        if "html" in lowered:
            return [{"text": script["markup"]}]
        if text == "/order_status":
            return [{"text": script["order"]}]
        return [{"text": script["fallback"]}]

    @staticmethod
    def _socket_format(reply: dict[str, Any]) -> dict[str, Any]:
        """What Rasa's SocketIOOutput emits for a response (see rasa/core/channels/socketio.py)."""
        if "image" in reply:
            return {"attachment": {"type": "image", "payload": {"src": reply["image"]}}}
        if reply.get("buttons"):
            return {
                "text": reply["text"],
                "quick_replies": [
                    {"content_type": "text", "title": b["title"], "payload": b["payload"]} for b in reply["buttons"]
                ],
            }
        return {"text": reply["text"]}

    # -- servers ------------------------------------------------------------------------------------
    def _build_app(self) -> Any:
        # A fresh socket.io server per start: its background tasks belong to that run's event loop.
        sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")

        @sio.on("session_request")
        async def session_request(sid: str, data: dict[str, Any] | None) -> None:
            session_id = (data or {}).get("session_id")
            self.session_requests.append(session_id)
            await sio.enter_room(sid, session_id)
            await sio.emit("session_confirm", session_id, room=sid)

        @sio.on("user_uttered")
        async def user_uttered(sid: str, data: dict[str, Any]) -> None:
            sender_id = data.get("session_id")
            if not sender_id:
                return
            metadata = data.get("metadata") or {}
            if isinstance(metadata, str):
                metadata = json.loads(metadata)
            text = data.get("message", "")
            self.received.append(data)
            self.events[sender_id].append(
                {
                    "event": "user",
                    "timestamp": time.time(),
                    "text": text,
                    "metadata": metadata,
                    "input_channel": "socketio",
                    "parse_data": {"intent": {"name": "scripted"}},
                }
            )
            for reply in self._answer(sender_id, text, metadata):
                await asyncio.sleep(self.reply_delay_s)
                self.events[sender_id].append(
                    {
                        "event": "bot",
                        "timestamp": time.time(),
                        "text": reply.get("text"),
                        "data": {"buttons": reply.get("buttons"), "image": reply.get("image")},
                        "metadata": {},
                    }
                )
                await sio.emit("bot_uttered", self._socket_format(reply), room=sender_id)

        async def tracker(request: Request) -> Response:
            if request.query_params.get("token") != self.token:
                return JSONResponse({"status": "failure", "reason": "NotAuthenticated"}, status_code=401)
            sender_id = request.path_params["sender_id"]
            return JSONResponse({"sender_id": sender_id, "events": list(self.events.get(sender_id, []))})

        async def card(_: Request) -> Response:
            return Response(self._card, media_type="image/png")

        http = Starlette(
            routes=[
                Route("/conversations/{sender_id}/tracker", tracker),
                Route("/media/gold-card.png", card),
            ]
        )
        return socketio.ASGIApp(sio, other_asgi_app=http, socketio_path="socket.io")
