"""A stand-in for Rasa's HTTP API endpoint ``POST /conversations/{id}/tracker/events`` on 127.0.0.1.

Real HTTP (uvicorn), checks the ``token`` query parameter like ``rasa run --auth-token``, records every
appended event and, like Rasa, stores it in the tracker store (via ``on_events``) so the transcript shows it.
``fail_with = 503`` makes it answer with a server error.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class RasaEventsStub:
    def __init__(self, token: str, on_events: Callable[[str, list[dict[str, Any]]], None] | None = None) -> None:
        self.token = token
        self.on_events = on_events
        self.appended: list[tuple[str, dict[str, Any]]] = []
        self.fail_with: int | None = None
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None

    async def _events(self, request: Request) -> JSONResponse:
        if request.query_params.get("token") != self.token:
            return JSONResponse({"status": "failure", "reason": "NotAuthenticated"}, status_code=401)
        if self.fail_with:
            return JSONResponse({"status": "failure"}, status_code=self.fail_with)
        sender = request.path_params["sender"]
        body = await request.json()
        events = body if isinstance(body, list) else [body]
        for event in events:
            self.appended.append((sender, event))
        if self.on_events is not None:
            await asyncio.to_thread(self.on_events, sender, events)
        return JSONResponse({"sender_id": sender, "events": events, "paused": events[-1].get("event") == "pause"})

    async def start(self) -> None:
        app = Starlette(routes=[Route("/conversations/{sender}/tracker/events", self._events, methods=["POST"])])
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        deadline = time.monotonic() + 5
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("Rasa stub did not start")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, 5)
        if self._socket is not None:
            self._socket.close()

    def events_for(self, sender: str) -> list[str]:
        return [e.get("event", "") for s, e in self.appended if s == sender]
