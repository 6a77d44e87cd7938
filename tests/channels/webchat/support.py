"""Small helpers shared by the web chat tests (kept out of conftest.py so tests can import them)."""

from __future__ import annotations

import uuid

from fastapi import FastAPI


def make_chat_app(**router_options: float) -> FastAPI:
    """Our web app as far as the chat is concerned: the router mounted at the root, as bot/web.py does."""
    from bot.channels.webchat.routes import build_router

    app = FastAPI()
    app.include_router(build_router(**router_options))
    return app


def new_session_id() -> str:
    """A web chat sender id as the page makes it: ``web-`` + a random UUID."""
    return f"web-{uuid.uuid4()}"
