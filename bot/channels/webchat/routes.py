"""The web chat page (``/chat``), its assets, and the small JSON API the page needs from us.

The conversation itself runs browser <-> Rasa over Rasa's socket.io channel (``credentials.yml``:
``socketio`` with ``user_uttered``/``bot_uttered`` and ``session_persistence``). Our web app only
serves what Rasa cannot:

- ``GET /chat``: the page, with the Rasa socket URL and both languages' interface strings in its config;
- ``GET /chat/static/...``: our JS/CSS and the socket.io client from ``node_modules`` (no CDN);
- ``GET /chat/api/history``: the visible history, read from the Rasa tracker (the source of truth) plus
  delivered web-inbox messages, so a reload or a second tab shows the whole conversation;
- ``GET /chat/api/inbox``, ``GET /chat/api/inbox/stream`` (server-sent events), ``POST /chat/api/inbox/ack``:
  messages that reach the visitor outside Rasa's socket (agent replies during a takeover, check-ins).

The visitor's session id (``web-<uuid>``, random, kept in the browser) is the bearer of the conversation,
exactly as it is for Rasa's socket.io channel: every API call is scoped to it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

from bot.channels.rasa_client import RasaClient, RasaRequestRejected, RasaUnavailable
from bot.channels.webchat.i18n import LANGUAGES, STRINGS, pick_language
from bot.channels.webchat.transcript import build_transcript, inbox_item
from bot.services import web_inbox
from bot.services.errors import InvalidInput, ServiceUnavailable
from bot.settings import Settings, get_settings

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
STATIC_DIR = PACKAGE_DIR / "static"
TEMPLATES_DIR = PACKAGE_DIR / "templates"
SOCKET_IO_DIST = PACKAGE_DIR / "node_modules" / "socket.io-client" / "dist"
#: Vendor files are served by name only: nothing else under node_modules is reachable.
VENDOR_FILES = {
    "socket.io.min.js": SOCKET_IO_DIST / "socket.io.min.js",
    "socket.io.min.js.map": SOCKET_IO_DIST / "socket.io.min.js.map",
}
STATIC_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".map": "application/json",
}
#: How many messages the page shows (and keeps locally) at most.
HISTORY_LIMIT = 100
DEFAULT_SOCKET_PATH = "/socket.io"
API_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


class AckRequest(BaseModel):
    session: str
    ids: list[int]


def _socket_urls(settings: Settings) -> list[str]:
    """The Rasa socket.io URLs as the *browser* must reach them, one per Rasa process.

    ``rasa_urls`` are where our services reach Rasa (usually 127.0.0.1); behind a reverse proxy the browser
    needs the public address instead, hence the optional ``WEBCHAT_SOCKET_URL`` setting (the proxy then owns
    the routing). Without it the widget picks the process by the same CRC-32 of its session id as
    ``Settings.rasa_url_for``, so a web conversation always lands on the process that also receives its
    check-ins and console messages (Rasa's open-source lock stores are not race-free across processes).
    """
    if settings.webchat_socket_url:
        return [settings.webchat_socket_url.rstrip("/")]
    return [url.rstrip("/") for url in settings.rasa_urls]


def _socket_path(settings: Settings) -> str:
    return settings.webchat_socket_path or DEFAULT_SOCKET_PATH


def _content_security_policy(socket_urls: list[str]) -> str:
    connect = ["'self'"]
    for socket_url in socket_urls:
        parts = urlsplit(socket_url)
        if parts.scheme in ("http", "https") and parts.netloc:
            ws_scheme = "wss" if parts.scheme == "https" else "ws"
            connect += [f"{parts.scheme}://{parts.netloc}", f"{ws_scheme}://{parts.netloc}"]
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            # Bot responses may show product images hosted anywhere; images cannot run code.
            "img-src 'self' data: https: http:",
            f"connect-src {' '.join(connect)}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'self'",
        ]
    )


class _AssetVersions:
    """Content hashes of static files, for cache-busting URLs (``app.js?v=1a2b3c``).

    Cached by modification time, so an edited file gets a new URL without restarting the server.
    """

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[float, str]] = {}

    def version(self, path: Path) -> str:
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return "missing"
        cached = self._cache.get(path)
        if cached and cached[0] == mtime:
            return cached[1]
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        self._cache[path] = (mtime, digest)
        return digest


def _require_session(session: str) -> str:
    if not web_inbox.is_web_sender(session):
        raise HTTPException(status_code=400, detail="invalid_session")
    return session


def _unavailable(what: str) -> JSONResponse:
    return JSONResponse({"error": what}, status_code=503, headers={**API_HEADERS, "Retry-After": "5"})


def build_router(
    *,
    stream_poll_interval_s: float = 1.5,
    stream_lifetime_s: float = 55.0,
    stream_heartbeat_s: float = 15.0,
) -> APIRouter:
    """The chat routes. Parameters tune the inbox event stream (tests shorten them).

    A stream lives under a minute and the browser's EventSource reconnects by itself: idle proxies never
    cut a long-lived response mid-way, and a server restart is not held up by old connections for long.
    """
    router = APIRouter(prefix="/chat", tags=["webchat"])
    versions = _AssetVersions()

    def asset_url(root: str, name: str) -> str:
        path = VENDOR_FILES[name[len("vendor/") :]] if name.startswith("vendor/") else STATIC_DIR / name
        return f"{root}/chat/static/{name}?v={versions.version(path)}"

    @router.get("", response_class=Response, include_in_schema=False)
    async def chat_page(request: Request, lang: str | None = Query(default=None)) -> Response:
        settings = get_settings()
        language = pick_language(lang, settings.default_language)
        root = request.scope.get("root_path", "").rstrip("/")
        socket_urls = _socket_urls(settings)
        config = {
            "socketUrls": socket_urls,
            "socketPath": _socket_path(settings),
            "apiBase": f"{root}/chat/api",
            "defaultLanguage": language,
            "languageFromUrl": lang in LANGUAGES,
            "languages": list(LANGUAGES),
            "strings": STRINGS,
            "historyLimit": HISTORY_LIMIT,
        }
        if not VENDOR_FILES["socket.io.min.js"].exists():
            log.error("socket.io client missing: run `npm ci` in bot/channels/webchat (./memnun setup does)")
        response = templates.TemplateResponse(
            request,
            "chat.html",
            {
                "lang": language,
                "t": STRINGS[language],
                "config": config,
                "css_url": asset_url(root, "chat.css"),
                "js_url": asset_url(root, "chat.js"),
                "socketio_url": asset_url(root, "vendor/socket.io.min.js"),
                "icon_url": asset_url(root, "icon.svg"),
            },
        )
        response.headers["Content-Security-Policy"] = _content_security_policy(socket_urls)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-cache"
        return response

    @router.get("/", include_in_schema=False)
    async def chat_page_slash(request: Request) -> RedirectResponse:
        target = request.url.replace(path=request.url.path.rstrip("/"))
        return RedirectResponse(str(target), status_code=307)

    @router.get("/static/{name:path}", include_in_schema=False)
    async def static_file(name: str, v: str | None = Query(default=None)) -> FileResponse:
        if name.startswith("vendor/"):
            path = VENDOR_FILES.get(name[len("vendor/") :])
            if path is None or not path.is_file():
                raise HTTPException(status_code=404)
        else:
            path = (STATIC_DIR / name).resolve()
            if not path.is_relative_to(STATIC_DIR) or not path.is_file():
                raise HTTPException(status_code=404)
        media_type = STATIC_TYPES.get(path.suffix)
        if media_type is None:
            raise HTTPException(status_code=404)
        # A versioned URL names exactly one content, so it may be cached forever; anything else revalidates.
        immutable = v is not None and v == versions.version(path)
        cache = "public, max-age=31536000, immutable" if immutable else "no-cache"
        return FileResponse(
            path, media_type=media_type, headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"}
        )

    @router.get("/api/history")
    async def history(session: str = Query(...), limit: int = Query(default=HISTORY_LIMIT, ge=1, le=200)) -> Response:
        sender_id = _require_session(session)
        try:
            async with RasaClient(get_settings()) as rasa:
                tracker = await rasa.get_tracker(sender_id)
        except RasaUnavailable:
            log.warning("history: Rasa unavailable (sender %s)", sender_id)
            return _unavailable("rasa_unavailable")
        except RasaRequestRejected:
            log.error("history: Rasa rejected the tracker request (check RASA_TOKEN)")
            return JSONResponse({"error": "rasa_rejected"}, status_code=502, headers=API_HEADERS)
        try:
            delivered = await asyncio.to_thread(web_inbox.delivered_for, sender_id, limit=limit)
        except ServiceUnavailable:
            return _unavailable("database_unavailable")
        items = build_transcript(tracker, delivered, limit=limit)
        return JSONResponse({"session": sender_id, "messages": items}, headers=API_HEADERS)

    @router.get("/api/inbox")
    async def inbox(session: str = Query(...)) -> Response:
        sender_id = _require_session(session)
        try:
            pending = await asyncio.to_thread(web_inbox.pending_for, sender_id)
        except ServiceUnavailable:
            return _unavailable("database_unavailable")
        return JSONResponse({"messages": [inbox_item(message) for message in pending]}, headers=API_HEADERS)

    @router.post("/api/inbox/ack")
    async def inbox_ack(body: AckRequest) -> Response:
        sender_id = _require_session(body.session)
        try:
            count = await asyncio.to_thread(web_inbox.mark_delivered, body.ids, sender_id=sender_id)
        except InvalidInput as error:
            return JSONResponse({"error": error.code}, status_code=400, headers=API_HEADERS)
        except ServiceUnavailable:
            return _unavailable("database_unavailable")
        return JSONResponse({"acknowledged": count}, headers=API_HEADERS)

    @router.get("/api/inbox/stream")
    async def inbox_stream(request: Request, session: str = Query(...)) -> StreamingResponse:
        sender_id = _require_session(session)

        async def events() -> AsyncIterator[str]:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + stream_lifetime_s
            last_sent = loop.time()
            last_id = 0
            # Tell EventSource how soon to come back after we end the stream (or the network drops it).
            yield "retry: 2000\n\n"
            while loop.time() < deadline:
                if await request.is_disconnected():
                    return
                try:
                    pending = await asyncio.to_thread(web_inbox.pending_for, sender_id, after_id=last_id)
                except ServiceUnavailable:
                    # End this stream; the browser reconnects after `retry` and we try again.
                    yield "event: unavailable\ndata: {}\n\n"
                    return
                if pending:
                    # Every stream starts from the first pending message: the page de-duplicates by id, and
                    # a message whose acknowledgement got lost is offered again rather than forgotten.
                    last_id = pending[-1].id
                    data = json.dumps({"messages": [inbox_item(message) for message in pending]})
                    yield f"event: inbox\ndata: {data}\n\n"
                    last_sent = loop.time()
                elif loop.time() - last_sent >= stream_heartbeat_s:
                    yield ": keep-alive\n\n"
                    last_sent = loop.time()
                await asyncio.sleep(stream_poll_interval_s)

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={**API_HEADERS, "X-Accel-Buffering": "no"},
        )

    return router


router = build_router()
