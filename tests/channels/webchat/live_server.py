"""Run an ASGI app on a real 127.0.0.1 port in a background thread (uvicorn), for browser and socket tests.

Reusable by any area that needs a real HTTP server in a test (the chat page, the console, a stand-in
Rasa): ``with LiveServer(app) as server: server.url``. ``stop()`` and ``start()`` again on the same port
simulate a server going away and coming back.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """uvicorn serving ``app_factory()`` (or a fixed ``app``) on 127.0.0.1:``port`` in a daemon thread."""

    def __init__(
        self,
        app: Any = None,
        *,
        app_factory: Callable[[], Any] | None = None,
        port: int | None = None,
        graceful_shutdown_s: float = 1.0,
    ) -> None:
        if (app is None) == (app_factory is None):
            raise ValueError("pass exactly one of app or app_factory")
        self._app_factory = app_factory or (lambda: app)
        self.port = port or free_port()
        self._graceful_shutdown_s = graceful_shutdown_s
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 15.0) -> LiveServer:
        config = uvicorn.Config(
            self._app_factory(),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=int(max(1, self._graceful_shutdown_s)),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=f"live-server-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"server on port {self.port} failed to start")
            if time.monotonic() > deadline:
                raise TimeoutError(f"server on port {self.port} did not start in {timeout_s}s")
            time.sleep(0.02)
        return self

    def stop(self, timeout_s: float = 15.0) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            # Open streaming responses can outlive the graceful window; force the loop to end.
            self._server.force_exit = True
            self._thread.join(timeout_s)
        self._server = None
        self._thread = None

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
