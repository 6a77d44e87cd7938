"""The console's router (everything under ``/console``) and a stand-alone app factory.

Wiring (lead): ``app.mount("/console", create_console_app())`` or ``app.include_router(bot.console.app.router)``
(the router already carries the ``/console`` prefix: include it *without* ``prefix=``). Both behave the
same: errors (login redirect, 403, CSRF) are rendered by the routes' own route class, static files are
served by a route below, so nothing needs app-level handlers.
"""

from __future__ import annotations

import mimetypes

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, Response

from bot.console.auth import PREFIX, ConsoleRoute
from bot.console.routes import admin, analytics, auth_pages, campaigns, conversations, live, review_queue, tickets
from bot.console.templating import STATIC_DIR


def _static_route(router: APIRouter) -> None:
    root = STATIC_DIR.resolve()

    @router.get("/static/{path:path}", include_in_schema=False)
    async def static(path: str) -> Response:
        target = (root / path).resolve()
        if not target.is_file() or root not in target.parents:
            return Response(status_code=404)
        media_type = mimetypes.guess_type(str(target))[0] or "application/octet-stream"
        # Vendored files never change under a name; our own CSS/JS carry ?v=<mtime> in the templates.
        return FileResponse(target, media_type=media_type, headers={"Cache-Control": "public, max-age=3600"})


def build_router(prefix: str = PREFIX) -> APIRouter:
    router = APIRouter(prefix=prefix, route_class=ConsoleRoute, include_in_schema=False)
    for module in (auth_pages, conversations, review_queue, tickets, live, analytics, campaigns, admin):
        router.include_router(module.router)
    _static_route(router)
    return router


router = build_router()


def create_console_app(*, standalone: bool = False) -> FastAPI:
    """A FastAPI app serving the console.

    Default: to be mounted by the parent app with ``app.mount("/console", create_console_app())`` (routes
    without the prefix; links always use ``/console``). ``standalone=True``: serves ``/console/...`` itself
    (tests, benchmark, running the console alone).
    """
    app = FastAPI(title="Memnun Console", docs_url=None, redoc_url=None, openapi_url=None)
    if not standalone:
        app.include_router(build_router(prefix=""))
        return app
    app.include_router(router)

    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        from fastapi.responses import RedirectResponse

        return RedirectResponse(PREFIX + "/", status_code=303)

    return app


__all__ = ["create_console_app", "router"]
