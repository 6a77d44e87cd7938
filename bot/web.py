"""Our single web application: the customer web chat page (`/chat`) and the staff console (`/console`).

Each area contributes a router; this module only assembles them, so the console and the chat page can
be developed and tested on their own.
"""

from __future__ import annotations

import importlib
import logging

from fastapi import FastAPI
from fastapi.responses import JSONResponse, RedirectResponse

logger = logging.getLogger(__name__)


def _optional_attr(module_name: str, attr: str) -> object | None:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return None
        raise
    return getattr(module, attr, None)


def create_app() -> FastAPI:
    app = FastAPI(title="Memnun", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("/chat")

    webchat_router = _optional_attr("bot.channels.webchat.routes", "router")
    if webchat_router is not None:
        app.include_router(webchat_router)  # type: ignore[arg-type]

    console_factory = _optional_attr("bot.console.app", "create_console_app")
    console_router = _optional_attr("bot.console.app", "router")
    if callable(console_factory):
        app.mount("/console", console_factory())
    elif console_router is not None:
        app.include_router(console_router)  # type: ignore[arg-type]  # already prefixed with /console

    mount_static = _optional_attr("bot.channels.webchat.routes", "mount_static")
    if callable(mount_static):
        mount_static(app)
    return app


app = create_app()
