"""A stand-in for Rasa's REST channel (``POST /webhooks/rest/webhook``) on 127.0.0.1, answering from a script.

Used to test channel connectors in isolation (the end-to-end tests use the real Rasa). It speaks Rasa's
protocol — request ``{"sender", "message", "metadata"}``, answer a JSON list of
``{"recipient_id", "text"?, "buttons"?, "image"?, "custom"?}`` — keeps a tracker per sender like Rasa's
(``GET /conversations/{sender}/tracker``: a ``user`` event with the request's metadata, a ``bot`` event per
answered message, then ``action_listen``, all saved together when the message has been handled), and can be
made to misbehave:

- ``fail_next(count, status=503)`` / ``fail_until_recovered(status)`` answer with a server error before
  handling the message; ``fail_next(count, status, after_handling=True)`` handles it (it is in the
  tracker) and then answers with the error, like a proxy failing on the way back;
- ``delay = seconds`` is slow *before* handling the message; a client that gives up meanwhile abandons it,
  as with Rasa's server (Sanic cancels the handling of a request whose connection is closed);
- ``answer_delay = seconds`` handles the message at once (it is in the tracker) but answers only after
  the delay: Rasa was slow to reply, a client that gives up meanwhile misses an answer Rasa did record;
- ``await go_down()`` closes the port (connection refused, like a stopped Rasa) and ``await come_back()``
  listens on the same port again.

``requests`` records every message that was handled (what Rasa would have stored), ``tracker_reads`` counts
tracker requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass(frozen=True)
class RasaRequest:
    sender: str
    message: str
    metadata: dict[str, Any]
    at: float


Script = Callable[[RasaRequest], "list[dict[str, Any]] | Awaitable[list[dict[str, Any]]]"]


def echo_script(request: RasaRequest) -> list[dict[str, Any]]:
    return [{"text": f"echo: {request.message}"}]


class RasaStub:
    """See the module docstring. ``async with RasaStub(script) as rasa: rasa.url``."""

    def __init__(self, script: Script = echo_script) -> None:
        self.script = script
        self.requests: list[RasaRequest] = []
        self.attempts = 0  # every HTTP call, including the ones answered with an error
        self.delay = 0.0
        self.answer_delay = 0.0
        self.abandoned = 0  # requests whose client hung up during ``delay`` (never handled)
        self.tracker_reads = 0
        self.events: dict[str, list[dict[str, Any]]] = {}
        self._fail_remaining = 0
        self._fail_status = 503
        self._fail_forever = False
        self._fail_after_handling = False
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def messages_from(self, sender: str) -> list[str]:
        return [r.message for r in self.requests if r.sender == sender]

    def user_events(self, sender: str) -> list[dict[str, Any]]:
        """The ``user`` events in the sender's tracker (each stored customer message)."""
        return [event for event in self.events.get(sender, []) if event["event"] == "user"]

    # -- faults ---------------------------------------------------------------------------------------------

    def fail_next(self, count: int, status: int = 503, *, after_handling: bool = False) -> None:
        self._fail_remaining, self._fail_status, self._fail_after_handling = count, status, after_handling

    def fail_until_recovered(self, status: int = 503) -> None:
        self._fail_forever, self._fail_status = True, status

    def recover(self) -> None:
        self._fail_forever, self._fail_remaining, self._fail_after_handling = False, 0, False

    async def go_down(self) -> None:
        await self._stop_server()

    async def come_back(self) -> None:
        await self._start_server(self.port)

    # -- lifecycle ---------------------------------------------------------------------------------------------

    async def __aenter__(self) -> RasaStub:
        await self._start_server(0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stop_server()

    async def _start_server(self, port: int) -> None:
        app = Starlette(
            routes=[
                Route("/webhooks/rest/webhook", self._webhook, methods=["POST"]),
                Route("/conversations/{sender:path}/tracker", self._tracker, methods=["GET"]),
            ]
        )
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        self._socket = sock
        self.port = sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off",
                                                     timeout_graceful_shutdown=1))
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        deadline = time.monotonic() + 5
        while not self._server.started:
            if self._task.done():
                self._task.result()
            if time.monotonic() > deadline:
                raise RuntimeError("Rasa stub did not start")
            await asyncio.sleep(0.01)

    async def _stop_server(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, 5)
        if self._socket is not None:
            self._socket.close()
        self._server = self._task = self._socket = None

    # -- the endpoint ----------------------------------------------------------------------------------------

    async def _webhook(self, request: Request) -> Response:
        self.attempts += 1
        body = await request.json()
        failing = self._fail_forever or self._fail_remaining > 0
        if failing and not self._fail_after_handling:
            self._fail_remaining = max(0, self._fail_remaining - 1)
            return JSONResponse({"error": "stub failure"}, status_code=self._fail_status)
        if self.delay:
            await asyncio.sleep(self.delay)
            if await request.is_disconnected():
                self.abandoned += 1  # Rasa's handler would have been cancelled: nothing stored
                return Response(status_code=499)
        call = RasaRequest(
            sender=str(body["sender"]), message=str(body.get("message") or ""),
            metadata=dict(body.get("metadata") or {}), at=time.monotonic(),
        )
        result = self.script(call)
        if inspect.isawaitable(result):
            result = await result
        # Stored together, as Rasa saves the tracker once the whole turn is done.
        self.requests.append(call)
        self.events.setdefault(call.sender, []).extend(_turn_events(call, result))
        if failing:
            self._fail_remaining = max(0, self._fail_remaining - 1)
            return JSONResponse({"error": "stub failure after handling"}, status_code=self._fail_status)
        if self.answer_delay:
            await asyncio.sleep(self.answer_delay)
        return JSONResponse([{"recipient_id": call.sender, **message} for message in result])

    async def _tracker(self, request: Request) -> JSONResponse:
        self.tracker_reads += 1
        sender = request.path_params["sender"]
        events = self.events.get(sender, [])
        latest = next((e for e in reversed(events) if e["event"] == "user"), None)
        return JSONResponse({"sender_id": sender, "events": events, "latest_message": latest, "paused": False})


def _turn_events(call: RasaRequest, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events Rasa 3.6 stores for a handled message (``BotUttered`` as ``create_bot_utterance`` builds it)."""
    events: list[dict[str, Any]] = [
        {"event": "user", "timestamp": call.at, "text": call.message, "metadata": call.metadata,
         "parse_data": {"text": call.message}, "input_channel": "rest"},
    ]
    for message in messages:
        data = {
            "elements": message.get("elements"), "quick_replies": message.get("quick_replies"),
            "buttons": message.get("buttons"), "attachment": message.get("attachment") or message.get("image"),
            "image": message.get("image"), "custom": message.get("custom"),
        }
        events.append({"event": "bot", "timestamp": call.at, "text": message.get("text"), "data": data,
                       "metadata": {}})
    events.append({"event": "action", "timestamp": call.at, "name": "action_listen"})
    return events
