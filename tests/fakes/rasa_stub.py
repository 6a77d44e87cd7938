"""A stand-in for Rasa's REST channel (``POST /webhooks/rest/webhook``) on 127.0.0.1, answering from a script.

Used to test channel connectors in isolation (the end-to-end tests use the real Rasa). It speaks Rasa's
protocol — request ``{"sender", "message", "metadata"}``, answer a JSON list of
``{"recipient_id", "text"?, "buttons"?, "image"?, "custom"?}`` — and can be made to misbehave:

- ``fail_next(count, status=503)`` / ``fail_until_recovered(status)`` answer with a server error;
- ``delay = seconds`` answers slowly (exceed the client's timeout to simulate a hung Rasa);
- ``await go_down()`` closes the port (connection refused, like a stopped Rasa) and ``await come_back()``
  listens on the same port again.

``requests`` records every call that reached the script (i.e. that Rasa would have processed).
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
from starlette.responses import JSONResponse
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
        self._fail_remaining = 0
        self._fail_status = 503
        self._fail_forever = False
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def messages_from(self, sender: str) -> list[str]:
        return [r.message for r in self.requests if r.sender == sender]

    # -- faults ---------------------------------------------------------------------------------------------

    def fail_next(self, count: int, status: int = 503) -> None:
        self._fail_remaining, self._fail_status = count, status

    def fail_until_recovered(self, status: int = 503) -> None:
        self._fail_forever, self._fail_status = True, status

    def recover(self) -> None:
        self._fail_forever, self._fail_remaining = False, 0

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
        app = Starlette(routes=[Route("/webhooks/rest/webhook", self._webhook, methods=["POST"])])
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

    async def _webhook(self, request: Request) -> JSONResponse:
        self.attempts += 1
        body = await request.json()
        if self._fail_forever or self._fail_remaining > 0:
            self._fail_remaining = max(0, self._fail_remaining - 1)
            return JSONResponse({"error": "stub failure"}, status_code=self._fail_status)
        if self.delay:
            await asyncio.sleep(self.delay)
        call = RasaRequest(
            sender=str(body["sender"]), message=str(body.get("message") or ""),
            metadata=dict(body.get("metadata") or {}), at=time.monotonic(),
        )
        self.requests.append(call)
        result = self.script(call)
        if inspect.isawaitable(result):
            result = await result
        return JSONResponse([{"recipient_id": call.sender, **message} for message in result])
